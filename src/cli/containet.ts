/**
 * `containet`: run the switch daemon (`containet -s PATH`) or talk to a running
 * one (`containet -s PATH show | stats | add lan | set | del`). This file only
 * wires the CLI; the daemon lives in ../daemon, the client in ../client.
 */
import path from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

import { DaemonError, request, type Reply } from '../client.js';
import { describe, type A2bDir, type A2bSettings } from '../daemon/a2b.js';
import { Daemon } from '../daemon/daemon.js';
import { bytes, table } from '../format.js';
import { Logger, type Level } from '../log.js';

/** Print the one-line reason and exit non-zero. */
function die(msg: string): never {
  process.stderr.write(`containet: ${msg}\n`);
  process.exit(1);
}

/** Parse a positive integer option. */
function posInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Parse a non-negative integer option (at most 1e6). */
function nonNegInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new InvalidArgumentError('must be an integer from 0 to 1000000');
  return n;
}

/** Parse --thread: a worker index, 0 to 7. */
function threadIndex(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 7) throw new InvalidArgumentError('must be 0 to 7');
  return n;
}

/** Parse --threads: 1 to 8. */
function threadCount(v: string): number {
  const n = posInt(v);
  if (n > 8) throw new InvalidArgumentError('must be 1 to 8');
  return n;
}

/** The socket path from -s or $CONTAINET_SOCK. */
function socketOf(cmd: Command): string {
  const s = (cmd.optsWithGlobals() as { socket?: string }).socket ?? process.env.CONTAINET_SOCK;
  if (!s) die('no switch socket: pass -s PATH (or set CONTAINET_SOCK)');
  return s;
}

/** Send a request (with --authtoken or $CONTAINET_AUTHTOKEN) and print a one-line reason on failure. */
async function call(cmd: Command, req: Reply): Promise<Reply> {
  const token = (cmd.optsWithGlobals() as { authtoken?: string }).authtoken ?? process.env.CONTAINET_AUTHTOKEN;
  try {
    return await request(socketOf(cmd), token === undefined ? req : { authtoken: token, ...req });
  } catch (e) {
    die(e instanceof DaemonError ? e.message : (e as Error).message);
  }
}

/** Run the daemon in the foreground until SIGINT or SIGTERM. */
function runDaemon(cmd: Command): void {
  const o = cmd.optsWithGlobals() as {
    aging: number;
    macTableSize: number;
    defaultLan: string;
    authtoken?: string;
    logLevel: Level;
    poolSize?: number;
    threads: number;
    pollUs: number;
  };
  const logger = new Logger(o.logLevel);
  const daemon = new Daemon({
    socket: socketOf(cmd),
    aging: o.aging,
    macTableSize: o.macTableSize,
    defaultLan: o.defaultLan,
    authtoken: o.authtoken ?? process.env.CONTAINET_AUTHTOKEN,
    poolSize: o.poolSize,
    threads: o.threads,
    pollUs: o.pollUs,
    logger,
  });
  try {
    daemon.start();
  } catch (e) {
    die((e as Error).message);
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${sig}: shutting down`);
    // Hard deadline: a stuck shutdown must not keep the process alive.
    setTimeout(() => {
      logger.error('shutdown took more than 5 s; exiting');
      process.exit(1);
    }, 5000).unref();
    daemon.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Print the objects of a show reply. */
function printShow(objects: Record<string, unknown>[]): void {
  const lans = objects.filter((o) => o.kind === 'lan');
  const ports = objects.filter((o) => o.kind === 'port');
  const a2bs = objects.filter((o) => o.kind === 'a2b') as { name: string; a2b: { a: string; b: string; a2b: A2bSettings; b2a: A2bSettings } }[];
  process.stdout.write(
    table(
      ['LAN', 'PORTS', 'MACS', 'AGING', 'MAC TABLE'],
      lans.map((l) => [String(l.name), Number(l.ports), Number(l.macs), `${l.aging}s`, Number(l.macTableSize)]),
    ),
  );
  if (ports.length) {
    process.stdout.write('\n');
    process.stdout.write(
      table(
        ['PORT', 'LAN', 'TYPE', 'IFNAME', 'NODE', 'PID', 'FRAMING', 'OFFLOADS', 'THREAD', 'STATE'],
        ports.map((p) => [
          String(p.name),
          String(p.lan),
          String(p.type),
          String(p.ifname || '-'),
          String(p.nodeid ?? '-'),
          p.pid === null ? '-' : Number(p.pid),
          [p.packetInfo ? 'packet-info' : '', p.vnetHdr ? 'vnet-hdr' : ''].filter(Boolean).join('+') || 'plain',
          ((p.offloads as string[] | undefined) ?? []).join(',') || '-',
          Number(p.thread),
          String(p.state || '-'),
        ]),
      ),
    );
  }
  if (!a2bs.length) return;
  process.stdout.write('\n');
  process.stdout.write(
    table(
      ['A2B', 'A', 'B', 'A TO B', 'B TO A'],
      a2bs.map((l) => [l.name, l.a2b.a, l.a2b.b, describe(l.a2b.a2b), describe(l.a2b.b2a)]),
    ),
  );
}

/** Print the counters of a stats reply. */
function printStats(r: Reply): void {
  const lans = r.lans as Record<string, number | string>[];
  const ports = r.ports as (Record<string, number | string> & { drops: Record<string, number> })[];
  if (lans.length)
    process.stdout.write(
      table(
        ['LAN', 'PORTS', 'MACS', 'LEARNED', 'MOVED', 'EVICTED', 'EXPIRED', 'FLOODED', 'UNKNOWN', 'FILTERED'],
        lans.map((l) => [l.name!, l.ports!, `${l.macs}/${l.macCapacity}`, l.learned!, l.moved!, l.evicted!, l.expired!, l.flooded!, l.unknownUnicast!, l.filtered!]),
      ),
    );
  const a2bs = (r.a2bs ?? []) as ({ name: string } & Record<A2bDir, Record<string, number>>)[];
  if (a2bs.length) {
    if (lans.length) process.stdout.write('\n');
    process.stdout.write(
      table(
        ['A2B', 'DIR', 'PASSED', 'BYTES', 'QUEUED', 'LOST', 'LIMIT DROPS', 'NO BUFFER', 'DUPLICATED', 'REORDERED', 'CORRUPTED'],
        a2bs.flatMap((l) =>
          (['a2b', 'b2a'] as const).map((d) => {
            const c = l[d];
            return [l.name, d, c.passed!, bytes(c.passedBytes!), `${c.queued} (${bytes(c.queuedBytes!)})`, c.dropLoss!, c.dropLimit!, c.dropNoBuffer!, c.duplicated!, c.reordered!, c.corrupted!];
          }),
        ),
      ),
    );
  }
  if (!ports.length) return;
  if (lans.length || a2bs.length) process.stdout.write('\n');
  process.stdout.write(
    table(
      ['PORT', 'LAN', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'DROPS', 'OTHER'],
      ports.map((p) => {
        const drops = Object.entries(p.drops).filter(([, n]) => n > 0);
        const other = Object.entries((p as { counters?: Record<string, number> }).counters ?? {});
        return [
          p.name!,
          p.lan!,
          p.rxPackets!,
          bytes(Number(p.rxBytes)),
          p.txPackets!,
          bytes(Number(p.txBytes)),
          drops.length ? drops.map(([k, n]) => `${k}=${n}`).join(' ') : '0',
          other.length ? other.map(([k, n]) => `${k}=${n}`).join(' ') : '-',
        ];
      }),
    ),
  );
}

/** Build the command tree. */
export function buildProgram(): Command {
  const program = new Command('containet')
    .description('userspace ethernet switch for containers and VMs; without a command, runs the daemon')
    .option('-s, --socket <path>', 'switch socket (default: $CONTAINET_SOCK)')
    .addOption(new Option('--aging <seconds>', 'MAC aging time of new lans').default(300).argParser(posInt))
    .addOption(new Option('--mac-table-size <entries>', 'MAC table size of new lans').default(8192).argParser(posInt))
    .option('--default-lan <name>', 'lan created at start, used when a client names none', 'lan0')
    .option('--authtoken <token>', 'daemon: require this token in every request; commands: send it (default: $CONTAINET_AUTHTOKEN)')
    .addOption(new Option('--pool-size <buffers>', 'packet buffers of each thread').argParser(posInt))
    .addOption(new Option('--poll-us <us>', 'adaptive polling: a worker keeps polling this long after the last frame before it sleeps (0: off)').default(50).argParser(nonNegInt))
    .addOption(new Option('--threads <n>', 'dataplane worker threads, 1 to 8; each port is polled by one of them').default(1).argParser(threadCount))
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .allowExcessArguments(false)
    // The daemon's options come before the command (`-s PATH add vhost ...
    // --socket P`): `add vhost` has a --socket of its own.
    .enablePositionalOptions()
    .action((_opts, cmd: Command) => runDaemon(cmd));

  program
    .command('show')
    .description('list lans and ports')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await call(cmd, { show: {} });
      if (opts.json) process.stdout.write(JSON.stringify(r.objects, null, 2) + '\n');
      else printShow(r.objects as Record<string, unknown>[]);
    });

  program
    .command('stats')
    .description('counters of every lan and port, or of one object')
    .argument('[name]', 'object name')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const r = await call(cmd, name ? { stats: { name } } : { stats: {} });
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else printStats(r);
    });

  const add = program.command('add').description('add an object');
  add
    .command('lan')
    .description('add a lan (a learning switch)')
    .argument('<name>', 'unique object name')
    .addOption(new Option('--aging <seconds>', 'MAC aging time').argParser(posInt))
    .addOption(new Option('--mac-table-size <entries>', 'MAC table size').argParser(posInt))
    .action(async (name: string, opts: { aging?: number; macTableSize?: number }, cmd: Command) => {
      const body: Reply = { name };
      if (opts.aging !== undefined) body.aging = opts.aging;
      if (opts.macTableSize !== undefined) body['mac-table-size'] = opts.macTableSize;
      await call(cmd, { 'add-lan': body });
    });

  add
    .command('vhost')
    .description('add a vhost-user port: a VM (QEMU) or a DPDK application (virtio_user) on a lan')
    .argument('<name>', 'unique object name')
    .requiredOption('--socket <path>', 'vhost-user socket (absolute path)')
    .option('--client', 'connect to a frontend listening at the socket (and reconnect); default: listen')
    .option('--lan <lan>', "lan to join (default: the daemon's default lan)")
    .addOption(new Option('--thread <n>', 'worker thread that polls it').argParser(threadIndex))
    .action(async (name: string, opts: { socket: string; client?: boolean; lan?: string; thread?: number }, cmd: Command) => {
      const body: Reply = { name, socket: path.resolve(opts.socket), client: opts.client === true };
      if (opts.lan !== undefined) body.lan = opts.lan;
      if (opts.thread !== undefined) body.thread = opts.thread;
      await call(cmd, { 'add-vhost': body });
    });

  add
    .command('nat')
    .description("add a NAT: the lan's way out through the host's sockets (DHCP, DNS, TCP, UDP, ICMP echo)")
    .argument('<name>', 'unique object name')
    .option('--lan <lan>', "lan to serve (default: the daemon's default lan)")
    .option('--net <cidr>', 'guest network; gateway .2, DNS .3, leases from .15', '10.0.2.0/24')
    .option('--forward <spec...>', 'host-to-guest forward tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT (repeatable)')
    .option('--no-host-loopback', "the gateway address does not reach the host's 127.0.0.1")
    .addOption(new Option('--mtu <bytes>', 'MTU of the lan side').default(65520).argParser(posInt))
    .option('--ipv6', 'also IPv6 (fd00::/64, gateway ::2, DNS ::3)')
    .addOption(new Option('--max-connections <n>', 'host sockets at once; new TCP connections beyond are refused').argParser(posInt))
    .option('--dns-upstream <addr[:port]>', "answer DNS by relaying to this resolver (default: the host's resolvers)")
    .addOption(new Option('--thread <n>', 'worker thread that serves it').argParser(threadIndex))
    .action(
      async (
        name: string,
        opts: {
          lan?: string;
          net: string;
          forward?: string[];
          hostLoopback: boolean;
          mtu: number;
          ipv6?: boolean;
          maxConnections?: number;
          dnsUpstream?: string;
          thread?: number;
        },
        cmd: Command,
      ) => {
        const body: Reply = { name, net: opts.net, forward: opts.forward ?? [], 'host-loopback': opts.hostLoopback, mtu: opts.mtu, ipv6: opts.ipv6 === true };
        if (opts.lan !== undefined) body.lan = opts.lan;
        if (opts.maxConnections !== undefined) body['max-connections'] = opts.maxConnections;
        if (opts.dnsUpstream !== undefined) body['dns-upstream'] = opts.dnsUpstream;
        if (opts.thread !== undefined) body.thread = opts.thread;
        await call(cmd, { 'add-nat': body });
      },
    );

  add
    .command('a2b')
    .description('add an a2b: a link emulator between two lans (rate, delay, jitter, loss ... per direction, see set)')
    .argument('<name>', 'unique object name')
    .requiredOption('--a <lan>', 'lan on side A')
    .requiredOption('--b <lan>', 'lan on side B')
    .addOption(new Option('--thread <n>', 'worker thread that releases its frames').argParser(threadIndex))
    .action(async (name: string, opts: { a: string; b: string; thread?: number }, cmd: Command) => {
      const body: Reply = { name, a: opts.a, b: opts.b };
      if (opts.thread !== undefined) body.thread = opts.thread;
      await call(cmd, { 'add-a2b': body });
    });

  program
    .command('set')
    .description(
      "change an object's settings: a lan's aging, a nat's forwards, an a2b's shaping (units as tc's: 10mbit, 20ms, 1%; " +
        "0 turns a setting off; also cloonix's form: set NAME dir=0 cmd=delay val=1000)",
    )
    .argument('<name>', 'object name')
    .argument('[cloonix...]', "an a2b in cloonix's form: dir=0|1 cmd=delay|loss|rate val=N (ms, 1/10000, kilobytes/s)")
    .addOption(new Option('--aging <seconds>', 'MAC aging time of a lan').argParser(posInt))
    .option('--add-forward <spec>', 'a nat: add forward tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT')
    .option('--del-forward <spec>', 'a nat: remove that forward')
    .addOption(new Option('--dir <dir>', 'an a2b: the direction(s) to change').choices(['a2b', 'b2a', 'both']))
    .option('--rate <rate>', 'an a2b: serialization rate (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps = bytes/s)')
    .option('--delay <time>', 'an a2b: one-way delay (us, ms, s)')
    .option('--jitter <time>', 'an a2b: delay variation (us, ms, s)')
    .addOption(new Option('--distribution <dist>', 'an a2b: jitter distribution (uniform: delay±jitter; normal: sd jitter)').choices(['uniform', 'normal']))
    .option('--loss <percent>', 'an a2b: independent random loss')
    .option('--loss-ge <p,r[,1-h[,1-k]]>', 'an a2b: Gilbert-Elliott burst loss in percent (netem gemodel); 0: off')
    .option('--duplicate <percent>', 'an a2b: frames sent twice')
    .option('--reorder <percent>', 'an a2b: frames that skip the delay (and so overtake)')
    .option('--corrupt <percent>', 'an a2b: frames with one bit flipped')
    .addOption(new Option('--limit <frames>', 'an a2b: queue limit in frames (tail drop; default 1000)').argParser(posInt))
    .option('--limit-bytes <bytes>', 'an a2b: queue limit in bytes (k, m; default and most 16m)')
    .addOption(new Option('--seed <n>', 'an a2b: seed of loss, jitter and the rest (0: random)').argParser(nonNegInt))
    .action(async (name: string, cloonix: string[], opts: Record<string, string | number | undefined>, cmd: Command) => {
      const body: Reply = { name };
      if (opts.aging !== undefined) body.aging = opts.aging;
      if (opts.addForward !== undefined) body['add-forward'] = opts.addForward;
      if (opts.delForward !== undefined) body['del-forward'] = opts.delForward;
      const a2bOpts: [string, string][] = [
        ['dir', 'dir'], ['rate', 'rate'], ['delay', 'delay'], ['jitter', 'jitter'], ['distribution', 'distribution'], ['loss', 'loss'],
        ['lossGe', 'loss-ge'], ['duplicate', 'duplicate'], ['reorder', 'reorder'], ['corrupt', 'corrupt'], ['limit', 'limit'],
        ['limitBytes', 'limit-bytes'], ['seed', 'seed'],
      ];
      for (const [k, wire] of a2bOpts) if (opts[k] !== undefined) body[wire] = opts[k];
      if (cloonix.length) body.cloonix = cloonix.join(' ');
      await call(cmd, { set: body });
    });

  program
    .command('del')
    .description('delete an object (a lan only when it has no ports, unless --force)')
    .argument('<name>', 'object name')
    .option('--force', "also delete a lan's ports")
    .action(async (name: string, opts: { force?: boolean }, cmd: Command) => {
      await call(cmd, { del: { name, force: opts.force === true } });
    });

  return program;
}

/** Entry point of bin/containet. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
