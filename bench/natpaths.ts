/**
 * The NAT section: TCP from a container to a server on the host's loopback,
 * through containet's nat (libslirp in the dataplane), through slirp4netns and
 * through pasta, side by side in one run. The "host" of every path is a
 * namespace of the bench's own (ID+"h", the iperf3 server on its 127.0.0.1),
 * the "container" another (ID+"a"), so nothing touches the machine's loopback.
 */
import { request } from '../src/client.js';
import { attachTap, startContainet } from './containet.js';
import { pingRtts, startIperfServerAt, tcpGbps } from './measure.js';
import { percentile } from './stats.js';
import { addNetns, addVeth, ipIn, nsExec, waitReachable } from './netns.js';
import { onPath } from './ovs.js';
import { sleep, start, type Proc } from './proc.js';
import type { Scope } from './scope.js';
import { ratioTarget, type SectionContext, type SectionDef, type SectionPathDef, type SectionRig } from './section.js';

/** MTU of the container's interface on every path (pasta's and slirp4netns's largest, and the nat's default). */
const MTU = 65520;

/** The two namespaces of a path, the host's iperf3 server started. */
async function hostAndContainer(ctx: SectionContext): Promise<{ host: string; ctr: string }> {
  const host = await addNetns(ctx.scope, `${ctx.id}h`);
  const ctr = await addNetns(ctx.scope, `${ctx.id}a`);
  await startIperfServerAt(ctx.scope, host, '127.0.0.1');
  return { host, ctr };
}

/** iperf3 failures of a path's control connection that one retry gets past (pasta's container->host once failed so). */
const RETRIABLE = /Connection reset by peer|unable to (receive|send) control message/;

/**
 * @run(), run once more (after a second) when it fails with a reset control
 * connection (RETRIABLE); the retry is said in @retries, so the table's notes
 * show it. Any other failure, or a second one, is the figure's error.
 */
async function retryOnce(what: string, retries: string[], run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!RETRIABLE.test(msg)) throw e;
    retries.push(`${what}: retried once after "${msg}"`);
    await sleep(1000);
    return run();
  }
}

/** A rig measuring TCP from namespace @ctr to @target (the host's loopback behind the NAT). */
function tcpRig(ctx: SectionContext, host: string, ctr: string, target: string, ping: boolean, notes?: () => Promise<string[]>): SectionRig {
  const s = ctx.settings;
  const ep = { a: { ns: ctr, ifname: 'eth0', ip: '' }, b: { ns: host, ifname: 'lo', ip: target } };
  const retries: string[] = [];
  return {
    measure: async (rep) => ({
      tcp: await retryOnce(`tcp, repetition ${rep}`, retries, () => tcpGbps(ep, 1, s.natSeconds, s.omit)),
      tcpR: await retryOnce(`tcpR, repetition ${rep}`, retries, () => tcpGbps(ep, 1, s.natSeconds, s.omit, true)),
      ...(ping ? { p50: percentile((await pingRtts(ep, 100, 0.01)).rttsMs, 50)! } : {}),
    }),
    notes: async () => [...((await notes?.()) ?? []), ...retries],
  };
}

/** Start @argv (tracked, stopped by @scope by its pid) and wait until @ready() or fail naming @what. */
async function startAndWait(scope: Scope, what: string, argv: string[], ready: () => Promise<boolean>): Promise<Proc> {
  let proc: Proc | undefined;
  scope.defer(`stop ${what}`, () => proc?.stop('SIGTERM', 3000));
  proc = start(argv[0]!, argv.slice(1));
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`${what} exited: ${proc.output().trim().split('\n').slice(-3).join(' / ')}`);
    if (await ready()) return proc;
    if (Date.now() > deadline) throw new Error(`${what} not ready after 15 s: ${proc.output().trim().split('\n').slice(-3).join(' / ')}`);
    await sleep(100);
  }
}

/** Whether interface addresses in @ns include @ip. */
async function hasAddress(ns: string, ip: string): Promise<boolean> {
  const r = await nsExec(ns, ['ip', '-4', '-o', 'addr', 'show'], 5000);
  return r.stdout.includes(` ${ip}/`);
}

/** containet's nat: the daemon (with @daemonArgs) in the host namespace, a
 *  vnet tap in the container (a queue per worker), static 10.0.2.15. */
const containetNat = (key: string, name: string, title: string, daemonArgs: string[]): SectionPathDef => ({
  key,
  name,
  title,
  setup: async (ctx) => {
    const { host, ctr } = await hostAndContainer(ctx);
    const d = await startContainet(ctx.scope, ctx.dir, daemonArgs, { netns: host });
    await request(d.sock, { 'add-nat': { name: 'nat1', mtu: MTU } });
    await attachTap(d, { ns: ctr, ip: '10.0.2.15', vnetHdr: true, nodeid: 'benchA', mtu: MTU });
    await ipIn(ctr, 'route', 'add', 'default', 'via', '10.0.2.2');
    await waitReachable(ctr, '10.0.2.2');
    return tcpRig(ctx, host, ctr, '10.0.2.2', true, async () => {
      const st = (await request(d.sock, { stats: {} })) as { ports: { name: string; rxPackets: number; txPackets: number; drops?: Record<string, number>; counters?: Record<string, number> }[] };
      return st.ports.map((p) => {
        const drops = Object.entries(p.drops ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
        const other = Object.entries(p.counters ?? {}).map(([k, n]) => `${k}=${n}`);
        return `port ${p.name}: rx ${p.rxPackets}, tx ${p.txPackets}, drops ${drops.join(' ') || 'none'}${other.length > 0 ? `, ${other.join(' ')}` : ''}`;
      });
    });
  },
});

/** slirp4netns on the container's namespace (its own tap0, 10.0.2.100, host loopback through 10.0.2.2). */
const slirp4netns: SectionPathDef = {
  key: 'n2',
  name: 'slirp4netns',
  title: `slirp4netns --configure --mtu=${MTU} (libslirp in a process of its own), host loopback through 10.0.2.2`,
  unavailable: () => (onPath('slirp4netns') ? null : 'slirp4netns is not installed (apt-get install slirp4netns)'),
  setup: async (ctx) => {
    const { host, ctr } = await hostAndContainer(ctx);
    await startAndWait(ctx.scope, 'slirp4netns', ['ip', 'netns', 'exec', host, 'slirp4netns', '--configure', `--mtu=${MTU}`, '--netns-type=path', `/run/netns/${ctr}`, 'tap0'], () =>
      hasAddress(ctr, '10.0.2.100'),
    );
    await waitReachable(ctr, '10.0.2.2');
    return tcpRig(ctx, host, ctr, '10.0.2.2', true);
  },
};

/**
 * pasta (passt's namespace mode): it copies the host's interface, address and
 * default route into the container and maps the gateway address to the host's
 * loopback. The host namespace gets an interface to copy (a veth pair going
 * nowhere, 10.78.0.1/24, default route via 10.78.0.254). pasta runs as root
 * (`--runas 0`): dropping to nobody, it cannot enter a namespace made by root.
 */
const pasta: SectionPathDef = {
  key: 'n3',
  name: 'pasta',
  title: `pasta --config-net (passt, a process of its own, no libslirp), MTU ${MTU}, host loopback through the gateway 10.78.0.254`,
  unavailable: () => (onPath('pasta') ? null : 'pasta is not installed (apt-get install passt)'),
  setup: async (ctx) => {
    const { host, ctr } = await hostAndContainer(ctx);
    await addVeth({ ns: host, name: 'up0' }, { ns: host, name: 'up1' });
    await ipIn(host, 'addr', 'add', '10.78.0.1/24', 'dev', 'up0');
    await ipIn(host, 'route', 'add', 'default', 'via', '10.78.0.254', 'dev', 'up0', 'onlink');
    await startAndWait(ctx.scope, 'pasta', ['ip', 'netns', 'exec', host, 'pasta', '--config-net', '-f', '-q', '--runas', '0', '--mtu', String(MTU), '--netns', `/run/netns/${ctr}`], () =>
      hasAddress(ctr, '10.78.0.1'),
    );
    return tcpRig(ctx, host, ctr, '10.78.0.254', false);
  },
};

/** The NAT section. */
export const NAT_SECTION: SectionDef = {
  key: 'nat',
  title: 'NAT',
  figures: [
    { key: 'tcp', label: 'TCP container->host', unit: 'Gbit/s', digits: 2 },
    { key: 'tcpR', label: 'TCP host->container', unit: 'Gbit/s', digits: 2 },
    { key: 'p50', label: 'ping gateway p50', unit: 'ms', digits: 3 },
  ],
  baseline: 'slirp4netns',
  paths: [
    containetNat('n1', 'containet-nat', `containet nat (libslirp in the dataplane), vnet tap with MTU ${MTU}, default route via 10.0.2.2`, []),
    slirp4netns,
    pasta,
    containetNat('n4', 'containet-nat-2t', `as containet-nat with --threads 2 and a two-queue tap: slirp fed on the tap's two workers`, ['--threads', '2']),
  ],
  reps: (s) => s.noisyReps,
  noisy: true,
  legend: (s) => [
    `Medians of ${s.noisyReps} repetition(s) of iperf3 -t ${s.natSeconds} -O ${s.omit}, 1 stream, from the container to an iperf3 server on the host namespace's 127.0.0.1`,
    `(host->container: iperf3 -R); ping gateway: 100 echoes at 10 ms intervals. Every path: MTU ${MTU} on the container's interface, nothing pinned.`,
  ],
  targets: (paths) => [ratioTarget(paths, 'containet-nat', 'slirp4netns', 'tcp', 1.0, 'containet-nat TCP container->host >= 1.0x slirp4netns')],
};
