/**
 * `containet`: run the switch daemon (`containet -s PATH`) or talk to a running
 * one (`containet -s PATH show | stats | add KIND | set | del | apply | destroy |
 * export`). This file only
 * wires the CLI: each kind (src/kinds/) declares its `add` subcommand, its `set`
 * options and its tables; the daemon lives in ../daemon, the client in ../client.
 */
import path from 'node:path';

import { Command, Option } from 'commander';

import { DaemonError, request, type Reply } from '../client.js';
import { Daemon } from '../daemon/daemon.js';
import { LINK_STATE_CLI } from '../daemon/linkstate.js';
import { graphCommand } from '../graph/command.js';
import { kinds, sections } from '../kinds/index.js';
import type { CliClient } from '../kinds/kind.js';
import { Logger, type Level } from '../log.js';
import { topologyCommands } from '../topology/cli.js';
import { nonNegInt, positiveInt, threadCount } from './args.js';

/** Print the one-line reason and exit non-zero. */
function die(msg: string): never {
  process.stderr.write(`containet: ${msg}\n`);
  process.exit(1);
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
    busyPoll: boolean;
    state?: string;
    ovsRundir?: string;
    ovsDb?: string;
    ovsVswitchd?: string;
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
    busyPoll: o.busyPoll,
    state: o.state === undefined ? undefined : path.resolve(o.state),
    ovsRundir: o.ovsRundir === undefined ? undefined : path.resolve(o.ovsRundir),
    ovsDb: o.ovsDb,
    ovsVswitchd: o.ovsVswitchd,
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
    // Hard deadline: a stuck shutdown must not keep the process alive (with
    // Open vSwitch: its bridges removed and a private one stopped, a few s).
    const deadlineS = o.ovsRundir !== undefined || o.ovsDb !== undefined ? 20 : 5;
    setTimeout(() => {
      logger.error(`shutdown took more than ${deadlineS} s; exiting`);
      process.exit(1);
    }, deadlineS * 1000).unref();
    daemon.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Print the objects of a show reply: a table per section that has any. */
function printShow(objects: Record<string, unknown>[]): void {
  const tables = sections()
    .map((sec) => objects.filter((o) => o.kind === sec.showKind))
    .map((entries, i) => (entries.length ? sections()[i]!.showTable(entries) : ''))
    .filter(Boolean);
  process.stdout.write(tables.join('\n'));
}

/** Print the counters of a stats reply: a table per section that has any. */
function printStats(r: Reply): void {
  const tables = sections()
    .map((sec) => ((r[sec.key] ?? []) as Record<string, unknown>[]).length ? sec.statsTable(r[sec.key] as Record<string, unknown>[]) : '')
    .filter(Boolean);
  process.stdout.write(tables.join('\n'));
}

/** Build the command tree. */
export function buildProgram(): Command {
  const program = new Command('containet')
    .description('userspace ethernet switch for containers and VMs; without a command, runs the daemon')
    .option('-s, --socket <path>', 'switch socket (default: $CONTAINET_SOCK)')
    .addOption(new Option('--aging <seconds>', 'MAC aging time of new lans').default(300).argParser(positiveInt))
    .addOption(new Option('--mac-table-size <entries>', 'MAC table size of new lans').default(8192).argParser(positiveInt))
    .option('--default-lan <name>', 'lan created at start, used when a client names none', 'lan0')
    .option('--authtoken <token>', 'daemon: require this token in every request; commands: send it (default: $CONTAINET_AUTHTOKEN)')
    .addOption(new Option('--pool-size <buffers>', 'packet buffers of each thread').argParser(positiveInt))
    .addOption(new Option('--poll-us <us>', 'adaptive polling: a worker keeps polling this long after the last frame before it sleeps (0: off)').default(50).argParser(nonNegInt))
    .option('--busy-poll', 'workers never sleep: each keeps a CPU busy polling its ports even when idle, for the lowest latency where a CPU can be spared (docs/dataplane.md)', false)
    .addOption(
      new Option('--threads <n>', 'dataplane worker threads, 1 to 8; each port, or each queue of a multi-queue tap (containode makes one per thread), is polled by one of them')
        .default(1)
        .argParser(threadCount),
    )
    .option('--state <file>', 'daemon: keep its objects (lans, nats, a2bs, vhost and container ports) in FILE, written on every change, and make them again at start; container taps outlive the daemon (docs/state.md)')
    .option('--ovs-rundir <dir>', 'daemon: run a private Open vSwitch with DPDK (no hugepages), its database, sockets and logs in DIR, for lans added with --ovs; stopped and removed at exit (docs/ovs.md)')
    .option('--ovs-db <unix:path>', 'daemon: use the running Open vSwitch whose database socket this is, for lans added with --ovs (containet removes only what it made)')
    .option('--ovs-vswitchd <path>', 'daemon: the ovs-vswitchd with DPDK that --ovs-rundir runs (default: openvswitch-switch-dpdk\'s)')
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
  for (const k of kinds()) {
    const a = k.cli?.add;
    if (!a) continue;
    const sub = add.command(k.name).description(a.description).argument(`<${a.argument?.name ?? 'name'}>`, a.argument?.help ?? 'unique object name');
    a.configure(sub);
    // (name, the arguments configure declared after it, opts, cmd)
    sub.action(async (name: string, ...rest: unknown[]) => {
      const cmd = rest.pop() as Command;
      const opts = rest.pop() as Record<string, unknown>;
      await call(cmd, { [a.verb]: a.body(name, opts, rest.flat() as string[]) });
    });
  }

  // The link state (--down, --up) is every port's and a2b's, no kind's.
  const setters = [LINK_STATE_CLI, ...kinds().flatMap((k) => (k.cli?.set ? [k.cli.set] : []))];
  const set = program
    .command('set')
    .description(`change an object's settings: ${setters.map((s) => s.help).join('; ')}`)
    .argument('<name>', 'object name')
    .argument('[words...]', setters.flatMap((s) => (s.words ? [s.words] : [])).join('; ') || 'none taken');
  for (const s of setters) s.configure(set);
  set.action(async (name: string, words: string[], opts: Record<string, unknown>, cmd: Command) => {
    const body: Reply = { name };
    for (const s of setters) Object.assign(body, s.body(opts, words));
    await call(cmd, { set: body });
  });

  // Commands of a kind's own (capture).
  const client: CliClient = {
    request: async (cmd, req, o = {}) => {
      const token = (cmd.optsWithGlobals() as { authtoken?: string }).authtoken ?? process.env.CONTAINET_AUTHTOKEN;
      try {
        return await request(socketOf(cmd), token === undefined ? req : { authtoken: token, ...req }, o.fd ?? -1, o.timeoutMs);
      } catch (e) {
        if (o.orThrow) throw e;
        die((e as Error).message);
      }
    },
    die,
  };
  for (const k of kinds()) k.cli?.commands?.(program, client);
  topologyCommands(program, client);
  graphCommand(program, client);

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
