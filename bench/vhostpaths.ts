/**
 * The vhost-user paths, as data like PATHS: each builds its rig in a private
 * directory (and, for OVS and the VM's receiver, a namespace of its own) and
 * returns a function that takes one repetition of its figure.
 *
 * Packet rate (`mpps`): testpmd A, a virtio_user frontend in txonly, sends
 * 64-byte frames (`--txpkts=64`, FCS excluded) to B's MAC (`--eth-peer`);
 * testpmd B counts what it receives in rxonly. B first sends one burst of its
 * own (`start tx_first 1`), so a learning switch knows B's MAC and A's frames
 * are known unicast (not flooded). After a warm-up, B's RX-packets (and A's
 * TX-packets, what was offered) are read at the start and the end of a window;
 * the rate is the difference over the time between the midpoints of the reads.
 *
 * CPU placement (2 CPUs): see PLACEMENT.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { request } from '../src/client.js';
import { attachTap, startContainet, type Containet } from './containet.js';
import { DPDK_RUNTIME_DIR, startTestpmd, testpmdMissing, type Testpmd } from './dpdk.js';
import { buildInitramfs, guestMissing, startGuest } from './guest.js';
import { addNetns, nsExec, readCounter, readNetAttr } from './netns.js';
import type { Settings } from './options.js';
import { OVS_VSWITCHD_DPDK, ovsDpdkMissing, startOvs } from './ovs.js';
import { cpuSeconds, errorText, sleep, start, type Proc } from './proc.js';
import type { VhostFigureKey } from './results.js';
import type { Scope } from './scope.js';

/**
 * Where the busy threads run on this 2-CPU machine. Each testpmd has its main
 * lcore free on both CPUs (it only answers commands) and one forwarding lcore
 * pinned: A's on CPU 0, B's on CPU 1. The switch under test (the containet
 * daemon, with `taskset`; OVS's PMD thread, with pmd-cpu-mask) runs on
 * CPU 0, next to the sender, so the receiver keeps a CPU of its own and takes
 * every frame the switch hands it. Three busy pollers cannot each have a CPU:
 * a switch next to the receiver starves it (B's ring stays full, the switch
 * drops), a switch free to float lands on both; next to the sender, the
 * sender and the switch take turns and nothing is lost. DPDK's own backend
 * (dpdk-vhost) is B itself, so that path has only two busy threads, one per CPU.
 */
export const PLACEMENT = {
  senderCpu: 0,
  receiverCpu: 1,
  switchCpu: 0,
};

/** EAL --lcores: main lcore on either CPU, the one forwarding lcore pinned to @cpu. */
function lcores(cpu: number): string {
  return `0@(0,1),1@${cpu}`;
}

/** MACs of the testpmd ports (locally administered). */
const MAC_A = '02:cb:00:00:00:0a';
const MAC_B = '02:cb:00:00:00:0b';

/** What a vhost-user path's setup gets. */
export interface VhostContext {
  scope: Scope;
  /** A unique prefix for names (at most 10 characters). */
  id: string;
  /** The /24 of this path (containet-vhost-tcp: the namespace is .1, the VM .2). */
  subnet: string;
  /** A private directory (sockets, configs), removed after the path. */
  dir: string;
  settings: Settings;
}

/** One repetition's figure, and what was offered (packet paths). */
export interface VhostSample {
  value: number;
  offeredMpps?: number;
  /** µs of CPU the switch's threads spent per frame B received (packet paths) */
  cpuUsPerFrame?: number;
}

/** A built rig. */
export interface VhostRig {
  /** Take repetition @rep (1-based). */
  measure(rep: number): Promise<VhostSample>;
  /** Counters and remarks for the report, read after the repetitions. */
  notes?(): Promise<string[]>;
}

/** Thrown by a setup when what it needs cannot run on this machine: the path is skipped, with the message. */
export class CannotRunHere extends Error {}

/** A vhost-user path under test. */
export interface VhostPathDef {
  key: string;
  name: string;
  title: string;
  figure: VhostFigureKey;
  /** Where its busy threads run, for the report. */
  placement: string;
  unavailable?: () => string | null;
  /** Run only when --only names it (kept out of the default run to stay under 5 minutes). */
  optional?: boolean;
  setup(ctx: VhostContext): Promise<VhostRig>;
}

/** @fn's value and the midpoint of the call, in ms of performance.now(). */
async function timed<T>(fn: () => Promise<T>): Promise<{ v: T; at: number }> {
  const t0 = performance.now();
  const v = await fn();
  return { v, at: (t0 + performance.now()) / 2 };
}

/** testpmd A: the txonly frontend on @socket, 64-byte frames to B's MAC; not started. */
function senderSpec(ctx: VhostContext, socket: string) {
  return {
    label: 'A (txonly)',
    prefix: `${ctx.id}pa`,
    lcores: lcores(PLACEMENT.senderCpu),
    vdevs: [`net_virtio_user0,path=${socket},mac=${MAC_A}`],
    mode: 'txonly' as const,
    args: ['--txpkts=64', `--eth-peer=0,${MAC_B}`],
  };
}

/** testpmd B: the rxonly frontend on @socket. */
function receiverSpec(ctx: VhostContext, socket: string) {
  return {
    label: 'B (rxonly)',
    prefix: `${ctx.id}pb`,
    lcores: lcores(PLACEMENT.receiverCpu),
    vdevs: [`net_virtio_user0,path=${socket},mac=${MAC_B}`],
    mode: 'rxonly' as const,
  };
}

/**
 * The packet-rate rig of A and B (B's counted port @bPort): links up, B
 * announces itself (one txonly burst, then rxonly), A waits for `start`.
 * With @switchPid, the switch's CPU time over the window is read too (on 2
 * CPUs frames per second mostly measures who gets a CPU; CPU per frame is the
 * switch's own cost).
 */
async function packetRig(ctx: VhostContext, a: Testpmd, b: Testpmd, notes?: () => Promise<string[]>, switchPid?: () => number | null): Promise<VhostRig> {
  await b.waitLinkUp(0);
  await a.waitLinkUp(0);
  await b.command('start tx_first 1');
  await sleep(200);
  const s = ctx.settings;
  return {
    measure: async () => {
      await a.command('start');
      try {
        await sleep(s.vhostWarmupS * 1000);
        const pid = switchPid?.() ?? null;
        const c0 = pid === null ? null : cpuSeconds(pid);
        const [a0, b0] = await Promise.all([timed(() => a.stats(0)), timed(() => b.stats(0))]);
        await sleep(s.vhostSeconds * 1000);
        const [a1, b1] = await Promise.all([timed(() => a.stats(0)), timed(() => b.stats(0))]);
        const c1 = pid === null ? null : cpuSeconds(pid);
        const frames = b1.v.rxPackets - b0.v.rxPackets;
        return {
          value: frames / ((b1.at - b0.at) / 1000) / 1e6,
          offeredMpps: (a1.v.txPackets - a0.v.txPackets) / ((a1.at - a0.at) / 1000) / 1e6,
          ...(c0 !== null && c1 !== null && frames > 0 ? { cpuUsPerFrame: ((c1 - c0) * 1e6) / frames } : {}),
        };
      } finally {
        await a.command('stop').catch(() => undefined);
        await sleep(100); // let the rings drain before the next repetition
      }
    },
    ...(notes ? { notes } : {}),
  };
}

/** Shape of the daemon's `stats` and `show` replies read here. */
interface StatsReply {
  lans: Array<{ name: string; flooded: number; unknownUnicast: number; learned: number }>;
  ports: Array<{ name: string; rxPackets: number; rxBytes: number; txPackets: number; drops: Record<string, number> }>;
}
interface ShowReply {
  objects: Array<{ name: string; offloads?: string[] }>;
}

/**
 * The daemon's lan and port counters (with the mean size of the frames a port
 * took in: about 1.5 kB from a guest not using TSO, tens of kB with it) and
 * each port's offloads, as report notes.
 */
async function containetNotes(d: Containet): Promise<string[]> {
  const st = (await request(d.sock, { stats: {} })) as unknown as StatsReply;
  const shown = (await request(d.sock, { show: {} })) as unknown as ShowReply;
  const out = st.lans.map((l) => `lan ${l.name}: learned ${l.learned}, flooded ${l.flooded}, unknown unicast ${l.unknownUnicast}`);
  for (const p of st.ports) {
    const drops = Object.entries(p.drops ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
    const mean = p.rxPackets > 0 ? ` (mean ${Math.round(p.rxBytes / p.rxPackets)} B)` : '';
    const offloads = shown.objects.find((o) => o.name === p.name)?.offloads ?? [];
    out.push(
      `port ${p.name}: rx ${p.rxPackets}${mean}, tx ${p.txPackets}, drops ${drops.length > 0 ? drops.join(' ') : 'none'}, offloads ${offloads.length > 0 ? offloads.join(',') : 'none'}`,
    );
  }
  return out;
}

/** containet with two vhost-user server ports on lan0: A on v1, B on v2. */
function containetVhostPath(o: { key: string; name: string; title: string; daemonArgs: string[]; optional?: boolean }): VhostPathDef {
  return {
    key: o.key,
    name: o.name,
    title: o.title,
    ...(o.optional ? { optional: true } : {}),
    figure: 'mpps',
    placement: `A fwd lcore CPU ${PLACEMENT.senderCpu}, B fwd lcore CPU ${PLACEMENT.receiverCpu}, containet (taskset) CPU ${PLACEMENT.switchCpu}`,
    unavailable: testpmdMissing,
    setup: async (ctx) => {
      const d = await startContainet(ctx.scope, ctx.dir, o.daemonArgs, { cpus: String(PLACEMENT.switchCpu) });
      const s1 = path.join(ctx.dir, 'v1.sock');
      const s2 = path.join(ctx.dir, 'v2.sock');
      await request(d.sock, { 'add-vhost': { name: 'v1', socket: s1 } });
      await request(d.sock, { 'add-vhost': { name: 'v2', socket: s2 } });
      const b = await startTestpmd(ctx.scope, receiverSpec(ctx, s2));
      const a = await startTestpmd(ctx.scope, senderSpec(ctx, s1));
      return packetRig(ctx, a, b, () => containetNotes(d), () => d.proc.pid);
    },
  };
}

/**
 * Open vSwitch with DPDK (ovs-vswitchd-dpdk, userspace datapath) in namespace
 * ID+"s", files in the path's directory: two dpdkvhostuser ports (OVS the
 * server, sockets DIR/vhu1 and DIR/vhu2), flows in_port=1 -> 2 and 2 -> 1
 * instead of NORMAL. DPDK runs without hugepages (`--no-huge -m 2048
 * --legacy-mem`: with 1024 MB the shared mempool of 262144 mbufs sometimes
 * cannot be made), its own --file-prefix, its main thread on either CPU and
 * one PMD thread on the switch's CPU, with load-based sleeping.
 */
const ovsDpdkPath: VhostPathDef = {
  key: 'v2',
  name: 'ovs-dpdk',
  title: 'Open vSwitch DPDK (userspace datapath), two dpdkvhostuser ports, flow in_port=1 -> output:2; testpmd A -> B',
  figure: 'mpps',
  placement: `A fwd lcore CPU ${PLACEMENT.senderCpu}, B fwd lcore CPU ${PLACEMENT.receiverCpu}, OVS PMD (pmd-cpu-mask) CPU ${PLACEMENT.switchCpu}`,
  unavailable: () => testpmdMissing() ?? ovsDpdkMissing(),
  setup: async (ctx) => {
    const sw = await addNetns(ctx.scope, `${ctx.id}s`);
    const prefix = `${ctx.id}ov`;
    // Undone after vswitchd has stopped (scopes undo in reverse order).
    ctx.scope.defer(`remove ${DPDK_RUNTIME_DIR}/${prefix}`, () => rmSync(path.join(DPDK_RUNTIME_DIR, prefix), { recursive: true, force: true }));
    const ovs = await startOvs(
      ctx.scope,
      sw,
      ctx.dir,
      {
        'dpdk-init': 'true',
        'dpdk-extra': `--no-pci --no-huge -m 2048 --legacy-mem --file-prefix=${prefix}`,
        'dpdk-lcore-mask': '0x3',
        'pmd-cpu-mask': `0x${(1 << PLACEMENT.switchCpu).toString(16)}`,
        'pmd-maxsleep': String(OVS_PMD_MAXSLEEP_US),
      },
      { vswitchd: OVS_VSWITCHD_DPDK },
    ).catch((e: unknown) => {
      throw new CannotRunHere(`OVS-DPDK does not start here: ${errorText(e)}`);
    });
    if ((await ovs.vsctl('get', 'Open_vSwitch', '.', 'dpdk_initialized')).trim() !== 'true')
      throw new CannotRunHere(`OVS-DPDK does not start here: DPDK did not initialize in ovs-vswitchd: ${ovs.log().trim().split('\n').slice(-3).join(' / ')}`);
    const br = `${ctx.id}br`;
    await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev');
    for (const [port, n] of [['vhu1', 1], ['vhu2', 2]] as const)
      await ovs.vsctl('add-port', br, port, '--', 'set', 'Interface', port, 'type=dpdkvhostuser', `ofport_request=${n}`);
    await ovs.ofctl('del-flows', br);
    await ovs.ofctl('add-flow', br, 'in_port=1,actions=output:2');
    await ovs.ofctl('add-flow', br, 'in_port=2,actions=output:1');
    const b = await startTestpmd(ctx.scope, receiverSpec(ctx, path.join(ctx.dir, 'vhu2')));
    const a = await startTestpmd(ctx.scope, senderSpec(ctx, path.join(ctx.dir, 'vhu1')));
    const rig = await packetRig(
      ctx,
      a,
      b,
      async () => {
      const flows = await ovs.ofctl('dump-flows', br).catch(() => '');
      return flows
        .split('\n')
        .filter((l) => /n_packets/.test(l))
        .map((l) => `flow ${/in_port=[^ ,]+/.exec(l)?.[0] ?? '?'}: ${/n_packets=\d+/.exec(l)?.[0] ?? '?'}`);
      },
      () => ovs.vswitchdPid(),
    );
    // A port that failed to configure (e.g. its mempool: "No buffer space available") forwards nothing.
    const errors = ovs.log().split('\n').filter((l) => /\|ERR\|/.test(l));
    if (errors.length > 0) throw new Error(`ovs-vswitchd: ${errors.slice(-2).join(' / ')}`);
    return rig;
  },
};

/**
 * OVS's `pmd-maxsleep` (µs; OVS 3.1's load-based PMD sleeping). Without it the
 * PMD never leaves its CPU, which it shares with A: the two take turns by
 * scheduler time slices and B gets about 20 kpps here; with it, the PMD
 * sleeps when its queues run dry and A runs meanwhile (about 175 kpps here).
 * The bench gives OVS the better of the two.
 */
const OVS_PMD_MAXSLEEP_US = 100;

/** DPDK's own vhost backend (net_vhost0, server) is B; A is the same txonly frontend. */
const dpdkVhostPath: VhostPathDef = {
  key: 'v3',
  name: 'dpdk-vhost',
  title: "testpmd's own vhost-user backend (net_vhost0) receiving in rxonly, straight from testpmd A: no switch",
  figure: 'mpps',
  placement: `A fwd lcore CPU ${PLACEMENT.senderCpu}, B (the backend) fwd lcore CPU ${PLACEMENT.receiverCpu}`,
  unavailable: testpmdMissing,
  setup: async (ctx) => {
    const sock = path.join(ctx.dir, 'vh.sock');
    const b = await startTestpmd(ctx.scope, {
      label: 'B (net_vhost0, rxonly)',
      prefix: `${ctx.id}pb`,
      lcores: lcores(PLACEMENT.receiverCpu),
      vdevs: [`net_vhost0,iface=${sock},client=0`],
      mode: 'rxonly',
    });
    const a = await startTestpmd(ctx.scope, senderSpec(ctx, sock));
    // B is the backend: its CPU is the "switch's" (with its receiving).
    return packetRig(ctx, a, b, undefined, () => b.proc.pid);
  },
};

/**
 * The receiver of containet-vhost-tcp: takes @n connections one after the
 * other on ADDR:PORT and prints, for each, `conn BYTES NS` where BYTES came
 * after the first read and NS is the time from the first read to the last.
 */
const RECEIVER = `import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(4)
print('ready', flush=True)
buf = bytearray(1 << 20)
for i in range(n):
    c, _ = s.accept()
    first = last = None
    after = 0
    while True:
        k = c.recv_into(buf)
        if k == 0:
            break
        now = time.monotonic_ns()
        if first is None:
            first = now
        else:
            after += k
        last = now
    c.close()
    print('conn %d %d' % (after, (last - first) if first is not None else 0), flush=True)
`;

/** TCP port of the receiver. */
const VM_PORT = 5001;

/**
 * A containet daemon (on the switch's CPU, or anywhere with @free) with its
 * private OVS-DPDK in DIR/ovs and an OVS lan "ol"; with the private
 * ovs-vswitchd's pid while it runs (its pidfile). An OVS lan that does not
 * start skips the path.
 */
async function ovsLanDaemon(ctx: VhostContext, free = false): Promise<{ d: Containet; vswitchd: () => number | null }> {
  const rundir = path.join(ctx.dir, 'ovs');
  const d = await startContainet(ctx.scope, ctx.dir, ['--ovs-rundir', rundir], free ? {} : { cpus: String(PLACEMENT.switchCpu) });
  await request(d.sock, { 'add-lan': { name: 'ol', ovs: true } }).catch((e: unknown) => {
    throw new CannotRunHere(`the OVS lan does not start here: ${errorText(e)}`);
  });
  const vswitchd = () => {
    try {
      return Number(readFileSync(path.join(rundir, 'ovs-vswitchd.pid'), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  return { d, vswitchd };
}

/**
 * A QEMU guest (TCG) on a containet vhost-user port sends MiB to a namespace
 * with a vnet tap on the same lan: one warm-up transfer of 4 MiB, then one of
 * @settings.vmMiB per repetition, 0.5 s apart (so that one has drained
 * before the next starts: what nc leaves in its socket, at most a few MB, is
 * sent after nc exits), each with busybox nc from a file in the guest's tmpfs.
 * With @o.ovs the lan is an OVS lan (the daemon's private OVS-DPDK): the
 * guest's vhost port is OVS's, and the frames cross the join to the
 * namespace on the containet side (optional, as v6).
 */
function vhostTcpPath(o: { key: string; name: string; title: string; ovs: boolean }): VhostPathDef {
  return {
    key: o.key,
    name: o.name,
    title: o.title,
    figure: 'vmtcp',
    ...(o.ovs ? { optional: true } : {}),
    placement: `all threads free on both CPUs (QEMU vCPU, containet${o.ovs ? ', OVS' : ''}, receiver)`,
    unavailable: o.ovs ? () => guestMissing() ?? ovsDpdkMissing() : guestMissing,
    setup: async (ctx) => {
      const s = ctx.settings;
      const ns = await addNetns(ctx.scope, `${ctx.id}b`);
      const d = o.ovs ? (await ovsLanDaemon(ctx, true)).d : await startContainet(ctx.scope, ctx.dir, []);
      // On an OVS lan, the guest's vhost port is OVS's and the namespace is across the join.
      const lan = o.ovs ? { lan: 'ol' } : {};
      const nsIp = `${ctx.subnet}.1`;
      const vmIp = `${ctx.subnet}.2`;
      await attachTap(d, { ns, ip: nsIp, vnetHdr: true, nodeid: 'benchB', ...lan });
      const sock = path.join(ctx.dir, 'vm.sock');
      await request(d.sock, { 'add-vhost': { name: 'vm', socket: sock, ...lan } });
      const script = path.join(ctx.dir, 'receiver.py');
      writeFileSync(script, RECEIVER);
      let rx: Proc | undefined;
      ctx.scope.defer('stop the receiver', () => rx?.stop('SIGKILL', 1000));
      rx = start('ip', ['netns', 'exec', ns, 'python3', script, nsIp, String(VM_PORT), String(s.vhostReps + 1)]);
      const recv = rx;
      const until = Date.now() + 10000;
      while (!recv.output().includes('ready')) {
        if (recv.hasExited() || Date.now() > until) throw new Error(`the receiver does not start: ${recv.output().trim()}`);
        await sleep(50);
      }
      const send = (file: string) =>
        `n=0; until nc -w 10 ${nsIp} ${VM_PORT} < ${file}; do n=$((n+1)); [ $n -gt 80 ] && { echo "@@ERROR@@ cannot connect to ${nsIp}:${VM_PORT}"; exit 1; }; sleep 0.25; done`;
      const initrd = buildInitramfs(ctx.dir, `${vmIp}/24`, [
        `head -c ${s.vmMiB * 1048576} /dev/zero > /tmp/s.bin`,
        'head -c 4194304 /dev/zero > /tmp/w.bin',
        send('/tmp/w.bin'),
        'echo "@@RESULT@@ warm"',
        'sleep 0.5',
        `i=0; while [ $i -lt ${s.vhostReps} ]; do ${send('/tmp/s.bin')}; i=$((i+1)); echo "@@RESULT@@ sent $i"; sleep 0.5; done`,
      ].join('\n'));
      const vm = startGuest(ctx.scope, sock, initrd, '52:54:00:cb:00:02');
      await vm.waitFor('@@READY@@', 120000);
      /** The @i-th (0-based) `conn` line of the receiver, once there. */
      const conn = async (i: number, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        let exitedAt: number | undefined;
        for (;;) {
          const lines = recv.output().split('\n').filter((l) => l.startsWith('conn '));
          if (lines.length > i) {
            const [, bytes, ns] = lines[i]!.split(' ').map(Number);
            if (!bytes || !ns) throw new Error(`transfer ${i} is empty: ${lines[i]}`);
            return { bytes, ns };
          }
          const failed = vm.failure();
          if (failed !== null) throw new Error(`guest: ${failed}`);
          if (vm.proc.hasExited()) exitedAt ??= Date.now();
          if (Date.now() > deadline || (exitedAt !== undefined && Date.now() - exitedAt > 5000))
            throw new Error(`no transfer ${i}${exitedAt ? ' (QEMU exited)' : ''} after ${timeoutMs} ms: ${recv.output().trim()}`);
          await sleep(100);
        }
      };
      await conn(0, 120000); // the warm-up
      return {
        measure: async (rep) => {
          const c = await conn(rep, 180000);
          return { value: (c.bytes * 8) / (c.ns / 1e9) / 1e6 };
        },
        notes: () => containetNotes(d),
      };
    },
  };
}

/**
 * An OVS lan of a containet daemon (`add lan --ovs`, the daemon's private
 * OVS-DPDK under --ovs-rundir): A and B on two of its vhost-user ports, which
 * are OVS dpdkvhostuser ports on bridge _b_<lan> (NORMAL forwarding, learning)
 * joined to the containet lan of the same name. Optional: it needs
 * openvswitch-switch-dpdk, and OVS-DPDK's PMD shares the CPUs like ovs-dpdk's.
 */
const containetOvsLanPath: VhostPathDef = {
  key: 'v6',
  name: 'containet-ovs-lan',
  title: 'containet daemon with an OVS lan (add lan --ovs: its private OVS-DPDK), two vhost-user ports on it; testpmd A (txonly) -> B (rxonly)',
  figure: 'mpps',
  optional: true,
  placement: `A fwd lcore CPU ${PLACEMENT.senderCpu}, B fwd lcore CPU ${PLACEMENT.receiverCpu}, OVS PMD where OVS puts it, containet (taskset) CPU ${PLACEMENT.switchCpu}`,
  unavailable: () => testpmdMissing() ?? ovsDpdkMissing(),
  setup: async (ctx) => {
    const { d, vswitchd } = await ovsLanDaemon(ctx);
    const s1 = path.join(ctx.dir, 'v1.sock');
    const s2 = path.join(ctx.dir, 'v2.sock');
    await request(d.sock, { 'add-vhost': { name: 'v1', lan: 'ol', socket: s1 } });
    await request(d.sock, { 'add-vhost': { name: 'v2', lan: 'ol', socket: s2 } });
    const b = await startTestpmd(ctx.scope, receiverSpec(ctx, s2));
    const a = await startTestpmd(ctx.scope, senderSpec(ctx, s1));
    return packetRig(ctx, a, b, () => containetNotes(d), vswitchd);
  },
};

/**
 * Across an OVS lan's join: testpmd A (txonly) on an OVS vhost port of a
 * containet OVS lan sends 64-byte frames to station B, a namespace on a
 * vnet tap on the containet side of that lan; the figure is what B's eth0
 * counts received. The frames cross OVS-DPDK, the join (DPDK virtio_user to a
 * containet vhost port) and containet. Switch CPU: containet's and the
 * private ovs-vswitchd's together. Optional, as v6.
 */
const containetOvsJoinPath: VhostPathDef = {
  key: 'v7',
  name: 'containet-ovs-join',
  title: 'containet OVS lan: testpmd A (txonly) on an OVS vhost port -> OVS-DPDK -> the join -> containet -> a vnet tap in namespace B',
  figure: 'mpps',
  optional: true,
  placement: `A fwd lcore CPU ${PLACEMENT.senderCpu}, OVS PMD where OVS puts it, containet (taskset) CPU ${PLACEMENT.switchCpu}, B's kernel anywhere`,
  unavailable: () => testpmdMissing() ?? ovsDpdkMissing(),
  setup: async (ctx) => {
    const { d, vswitchd } = await ovsLanDaemon(ctx);
    const s1 = path.join(ctx.dir, 'v1.sock');
    await request(d.sock, { 'add-vhost': { name: 'v1', lan: 'ol', socket: s1 } });
    const ns = await addNetns(ctx.scope, `${ctx.id}b`);
    await attachTap(d, { ns, ip: `${ctx.subnet}.2`, vnetHdr: true, nodeid: 'benchB', lan: 'ol' });
    const mac = (await readNetAttr(ns, 'eth0', 'address')).trim();
    // B speaks first (an ARP for nobody), so containet and OVS learn where it is.
    await nsExec(ns, ['ping', '-c', '2', '-i', '0.2', '-W', '1', `${ctx.subnet}.9`]);
    const a = await startTestpmd(ctx.scope, { ...senderSpec(ctx, s1), args: ['--txpkts=64', `--eth-peer=0,${mac}`] });
    await a.waitLinkUp(0);
    const s = ctx.settings;
    /** The CPU seconds of containet and the private ovs-vswitchd together. */
    const cpu = () => {
      const pid = vswitchd();
      const x = cpuSeconds(d.proc.pid);
      const y = pid === null ? null : cpuSeconds(pid);
      return x === null || y === null ? null : x + y;
    };
    return {
      measure: async () => {
        await a.command('start');
        try {
          await sleep(s.vhostWarmupS * 1000);
          const c0 = cpu();
          const [a0, b0] = await Promise.all([timed(() => a.stats(0)), readCounter(ns, 'eth0', 'rx_packets')]);
          await sleep(s.vhostSeconds * 1000);
          const [a1, b1] = await Promise.all([timed(() => a.stats(0)), readCounter(ns, 'eth0', 'rx_packets')]);
          const c1 = cpu();
          const frames = b1.value - b0.value;
          return {
            value: frames / ((b1.atMs - b0.atMs) / 1000) / 1e6,
            offeredMpps: (a1.v.txPackets - a0.v.txPackets) / ((a1.at - a0.at) / 1000) / 1e6,
            ...(c0 !== null && c1 !== null && frames > 0 ? { cpuUsPerFrame: ((c1 - c0) * 1e6) / frames } : {}),
          };
        } finally {
          await a.command('stop').catch(() => undefined);
          await sleep(100);
        }
      },
      notes: () => containetNotes(d),
    };
  },
};

/** Every vhost-user path, in table order (the optional ones only when --only names them). */
export const VHOST_PATHS: VhostPathDef[] = [
  containetVhostPath({
    key: 'v1',
    name: 'containet-vhost',
    title: 'containet daemon, two vhost-user server ports on one lan; testpmd A (txonly) -> B (rxonly)',
    daemonArgs: [],
  }),
  ovsDpdkPath,
  containetOvsLanPath,
  containetOvsJoinPath,
  dpdkVhostPath,
  vhostTcpPath({
    key: 'v4',
    name: 'containet-vhost-tcp',
    title: 'TCP from a QEMU guest (TCG, busybox nc) on a containet vhost-user port to a namespace (vnet tap) on the same lan',
    ovs: false,
  }),
  vhostTcpPath({
    key: 'v8',
    name: 'containet-ovs-vm-tcp',
    title: 'TCP from a QEMU guest (TCG, busybox nc) on an OVS vhost port of a containet OVS lan, across the join, to a namespace (vnet tap) on its containet side',
    ovs: true,
  }),
  containetVhostPath({
    key: 'v5',
    name: 'containet-vhost-nopoll',
    title: 'as containet-vhost, with --poll-us 0 (the worker sleeps as soon as its rings are drained)',
    daemonArgs: ['--poll-us', '0'],
    optional: true,
  }),
];
