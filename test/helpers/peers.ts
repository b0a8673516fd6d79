/**
 * Real vhost-user peers for the tests: DPDK testpmd (a virtio_user frontend, or
 * any vdev such as DPDK's own vhost backend `net_vhost`), a tiny initramfs
 * (busybox-static and the virtio modules of the installed Debian kernel) and a
 * QEMU guest (TCG) booting it on a vhost-user netdev. Every process is ours and
 * is stopped by its pid at t.teardown, even when the test fails; DPDK runtime
 * directories (/var/run/dpdk/<prefix>) are removed; hugepages are never touched
 * (testpmd runs with --no-huge).
 *
 * Traffic only flows between the processes a test starts: a testpmd frontend's
 * frames go to whatever holds the other end of its vhost-user socket, and a
 * guest's frames to its vhost-user backend.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { isRoot, rootTest, tempDir, uniqueName, waitFor } from './env.js';
import { cpioNewc, findExecutable, findGuestKernel, findStaticBusybox, moduleBytes, moduleLoadOrder, type CpioEntry, type GuestKernel } from './guestimage.js';

export { findExecutable, findGuestKernel, findStaticBusybox, moduleLoadOrder, type GuestKernel } from './guestimage.js';


// ---------------------------------------------------------------------------
// What is installed

/** Why testpmd tests cannot run here, or undefined when they can. */
export function whyNoTestpmd(): string | undefined {
  if (!isRoot) return 'needs root';
  if (!findExecutable('dpdk-testpmd')) return 'dpdk-testpmd not installed (Debian package dpdk-dev)';
  if (!findExecutable('stdbuf')) return 'stdbuf (coreutils) not found';
  return undefined;
}

/** Why QEMU guest tests cannot run here, or undefined when they can. */
export function whyNoQemu(): string | undefined {
  if (!isRoot) return 'needs root';
  if (!findExecutable('qemu-system-x86_64')) return 'qemu-system-x86_64 not installed (qemu-system-x86)';
  if (!findGuestKernel()) return 'no /boot/vmlinuz-* with /lib/modules (linux-image-amd64)';
  if (!findStaticBusybox()) return 'no static busybox (busybox-static)';
  return undefined;
}

/**
 * A serial root test that needs the peers named in @needs; otherwise a skipped
 * test whose title says what is missing.
 */
export function peerTest(
  title: string,
  needs: Array<'testpmd' | 'qemu'>,
  fn: (t: ExecutionContext) => Promise<void> | void,
): void {
  const why = needs.map((n) => (n === 'testpmd' ? whyNoTestpmd() : whyNoQemu())).find((w) => w !== undefined);
  if (why === undefined || !isRoot) rootTest(title, fn);
  else (anyTest as TestFn).skip(`${title} [skipped: ${why}]`, fn);
}

// ---------------------------------------------------------------------------
// Processes

/**
 * Stop @child (ours) by its pid: TERM, then KILL after @graceMs; resolves once
 * it has exited. Unlike env.ts's stopChild this never throws when the process
 * is already gone.
 */
async function killByPid(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid;
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, s);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * @argv prefixed with `setpriv --pdeathsig KILL` when setpriv (util-linux) is
 * there: setpriv execs the command (the pid stays the one we started), and the
 * kernel kills it should the test process itself die before its teardown ran
 * (an ava timeout or crash), so no peer outlives the run.
 */
function dieWithUs(argv: string[]): string[] {
  const setpriv = findExecutable('setpriv');
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', ...argv] : argv;
}

/**
 * Resolves with the exit code (128+signal number when killed, -1 when it never
 * started) once @child exited and its stdout and stderr were read to the end
 * ('close'; at 'exit' the last of its output may not have been read yet).
 * Attached right after spawn, before 'close' can have been emitted.
 */
function exitPromise(child: ChildProcess): Promise<number> {
  return new Promise<number>((r) => {
    child.once('error', () => r(-1)); // could not be started at all
    child.once('close', (code, sig) => r(code ?? 128 + (sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : sig === 'SIGINT' ? 2 : 0)));
  });
}

/** Remove @p if it is a unix socket (left behind by a killed server). */
function removeSocket(p: string): void {
  try {
    if (lstatSync(p).isSocket()) unlinkSync(p);
  } catch {
    /* not there */
  }
}

/** The last @n characters of @s, for error messages. */
function tail(s: string, n = 3000): string {
  return s.length <= n ? s : `...${s.slice(-n)}`;
}

// ---------------------------------------------------------------------------
// DPDK testpmd

/** testpmd forwarding modes used by the tests (any other `set fwd` name works too). */
export type TestpmdMode = 'txonly' | 'rxonly' | 'io' | 'macswap' | 'icmpecho' | 'mac' | 'flowgen' | '5tswap';

/** How to start testpmd. Either @socket (a virtio_user frontend) or @vdevs. */
export interface TestpmdOptions {
  /** vhost-user socket of a virtio_user frontend (net_virtio_user0). */
  socket?: string;
  /** The frontend is the vhost-user server (`,server=1`): it creates @socket and the backend connects. */
  server?: boolean;
  /** The frontend's own MAC (virtio_user `mac=`); testpmd's default is random. */
  mac?: string;
  /** Queue pairs (virtio_user `queues=N` and `--rxq=N --txq=N`). */
  queues?: number;
  /** Instead of a frontend: the exact `--vdev` strings, e.g. `net_vhost0,iface=SOCK,client=0`. */
  vdevs?: string[];
  /** Forwarding mode (default io). */
  mode?: TestpmdMode;
  /** Frame size of txonly/flowgen frames, in bytes, FCS excluded (`--txpkts=N`, default 64). */
  txpkts?: number;
  /** Destination MAC of the frames port 0 sends in txonly/mac modes (`--eth-peer=0,MAC`). */
  ethPeer?: string;
  /** Start forwarding as soon as testpmd is up (default true); else call start(). */
  autoStart?: boolean;
  /** EAL lcores (default `0@(0,1),1@(0,1)`: main and one forwarding lcore, both free to float on both CPUs). */
  lcores?: string;
  /** Memory in MB without hugepages (`--no-huge -m N`, default 512). */
  memMb?: number;
  /** mbufs in the pool (default 32768; testpmd's default needs more than 512 MB). */
  mbufs?: number;
  /** Extra testpmd (application) arguments, after `--`. */
  args?: string[];
  /** Extra EAL arguments, before `--`. */
  ealArgs?: string[];
  /**
   * Client-mode frontend only: how long to keep trying when the backend's
   * socket is not there or refuses (a virtio_user client does not retry by
   * itself: its probe fails and testpmd goes on with no port). Default 30000.
   */
  connectTimeoutMs?: number;
  /** How long to wait for the prompt once the peer is there (default 30000). */
  timeoutMs?: number;
}

/** One port's counters from `show port stats`. */
export interface PortStats {
  port: number;
  rxPackets: number;
  rxBytes: number;
  rxMissed: number;
  rxErrors: number;
  rxNombuf: number;
  txPackets: number;
  txBytes: number;
  txErrors: number;
}

/** A running testpmd (ours). */
export interface Testpmd {
  child: ChildProcess;
  pid: number;
  /** Its `--file-prefix` (runtime dir /var/run/dpdk/<prefix>, removed at teardown). */
  prefix: string;
  /** The full command line, for reports. */
  argv: string[];
  /**
   * Everything it printed so far, stdout and stderr in the order they were
   * read (for reports only: the two arrive on separate pipes, so a line of one
   * may land inside a line of the other).
   */
  output(): string;
  /** What it printed on stdout: its prompt and its answers to commands (event notices included). */
  stdout(): string;
  /** What it printed on stderr: DPDK's log and testpmd's error messages. */
  stderr(): string;
  /** Resolves when the interactive prompt is there (ports probed). In server mode: after the backend connected. */
  ready: Promise<void>;
  /** Resolves with the exit code when it exits. */
  exited: Promise<number>;
  /** Run one interactive command; resolves with what it printed (up to the next prompt). */
  command(cmd: string, timeoutMs?: number): Promise<string>;
  /** Counters of @port, or the sum over all ports when @port is undefined. */
  stats(port?: number): Promise<PortStats>;
  /** Counters of every port. */
  portStats(): Promise<PortStats[]>;
  /** Zero the port counters (`clear port stats all`). */
  clearStats(): Promise<void>;
  /**
   * Start forwarding (`start`); with @txFirst, first send that many bursts of
   * txonly frames (`start tx_first N`): how an io/macswap pair gets frames to
   * bounce, since the txonly engine never polls its receive queue.
   */
  start(txFirst?: number): Promise<void>;
  /** Stop forwarding (`stop`); resolves with testpmd's forwarding summary. */
  stopForwarding(): Promise<string>;
  /** Resolves when @port's link is up (`show port info`), throws after @timeoutMs. */
  waitLinkUp(port?: number, timeoutMs?: number): Promise<void>;
  /** Quit (then TERM, then KILL by pid) and wait for the exit; idempotent. */
  stop(): Promise<void>;
}

const PROMPT = 'testpmd> ';

/**
 * The notices testpmd's interrupt thread prints on stdout when a port event
 * comes (`printf("\nPort %u: %s event\n")`, e.g. "queue state" or "link state
 * change" when a vhost-user peer comes or goes). Each is one write, but the
 * main thread writes the prompt and the echo of a command one character at a
 * time, so a notice may land inside them: they are cut out before the prompt
 * and answers are looked for.
 */
const EVENT_NOTICE = /\nPort \d+: [^\n]* event\n/g;

/**
 * What testpmd answered in @since (its stdout from the moment command @cmd
 * was written, testpmd then waiting at its prompt): the text before its next
 * prompt, event notices cut out and the echo of @cmd removed; undefined while
 * that prompt has not come. With @cmd empty: whether a prompt came at all.
 */
export function testpmdAnswer(since: string, cmd = ''): string | undefined {
  const text = since.replace(EVENT_NOTICE, '');
  const i = text.indexOf(PROMPT);
  if (i < 0) return undefined;
  const answer = text.slice(0, i);
  // The command line library echoes the command first.
  return cmd && answer.startsWith(cmd) ? answer.slice(cmd.length) : answer;
}

/**
 * A port id no testpmd has (RTE_PORT_ALL is 65535): `show port info` of it
 * makes testpmd complain "Invalid port 65534" on stderr, after everything it
 * wrote there before the command.
 */
const NO_PORT = 65534;

/** Parse every `NIC statistics for port N` block of @text. */
export function parsePortStats(text: string): PortStats[] {
  const out: PortStats[] = [];
  const blocks = text.split(/#+ NIC statistics for port\s+/).slice(1);
  for (const b of blocks) {
    const num = (re: RegExp) => Number(re.exec(b)?.[1] ?? NaN);
    out.push({
      port: num(/^(\d+)/),
      rxPackets: num(/RX-packets:\s*(\d+)/),
      rxMissed: num(/RX-missed:\s*(\d+)/),
      rxBytes: num(/RX-bytes:\s*(\d+)/),
      rxErrors: num(/RX-errors:\s*(\d+)/),
      rxNombuf: num(/RX-nombuf:\s*(\d+)/),
      txPackets: num(/TX-packets:\s*(\d+)/),
      txErrors: num(/TX-errors:\s*(\d+)/),
      txBytes: num(/TX-bytes:\s*(\d+)/),
    });
  }
  return out;
}

/**
 * Start `dpdk-testpmd` (ours; stopped by pid and its runtime dir removed at
 * teardown), by default as a virtio_user frontend on @opts.socket:
 *
 *   [setpriv --pdeathsig KILL] stdbuf -o0 -e0 dpdk-testpmd --lcores '0@(0,1),1@(0,1)' --no-pci --no-huge -m 512
 *     --file-prefix=P --vdev net_virtio_user0,path=SOCK[,server=1][,queues=N][,mac=M]
 *     -- -i --total-num-mbufs=32768 --forward-mode=MODE [--txpkts=N] [--eth-peer=0,MAC]
 *
 * It runs interactive (`-i`) with commands written to its stdin, so counters
 * are read on demand and exactly (`show port stats all`) and forwarding can be
 * started and stopped; periodic `--stats-period` output would lag by up to a
 * period and has to be parsed from a stream. testpmd's stdout is fully
 * buffered on a pipe (a command's answer would only show at exit), hence
 * `stdbuf -o0` (LD_PRELOAD; stdbuf execs testpmd, so the pid is testpmd's).
 *
 * Peer not there yet: a client-mode virtio_user fails its probe at once
 * ("Failed to setup backend", then testpmd runs on with no port), so this
 * waits for the socket and restarts testpmd until the probe succeeds or
 * @opts.connectTimeoutMs passes. A server-mode frontend (`server: true`) blocks
 * in EAL init until a backend connects: this then returns as soon as the
 * socket listens, `ready` resolves after the backend connected, and commands
 * wait for it. vdevs given in @opts.vdevs are started once, as they are, and
 * a vdev that fails its probe (e.g. a vhost socket path in use) is an error.
 *
 * Peer restarting (DPDK 22.11): a client-mode frontend does not reconnect
 * (its link stays down for good); a server-mode frontend takes the new
 * backend's connection and its link comes back up.
 */
export async function testpmd(t: ExecutionContext, opts: TestpmdOptions): Promise<Testpmd> {
  const bin = findExecutable('dpdk-testpmd');
  if (!bin) throw new Error('dpdk-testpmd is not installed');
  if (!opts.vdevs && !opts.socket) throw new Error('testpmd: give socket (a frontend) or vdevs');
  const isFrontend = !opts.vdevs;
  const clientFrontend = isFrontend && !opts.server;
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30000);
  for (let attempt = 1; ; attempt++) {
    if (clientFrontend)
      await waitFor(`the vhost-user socket ${opts.socket}`, () => existsSync(opts.socket!), Math.max(0, deadline - Date.now()));
    const pmd = await startTestpmdOnce(t, bin, opts);
    // A server-mode frontend is not probed yet (it waits for its backend): nothing to check.
    if (isFrontend && opts.server) return pmd;
    // The probe's failures are on stderr, written before the prompt, yet read
    // on another pipe than the prompt: wait until stderr has caught up.
    await pmd.syncStderr();
    if (!/No probed ethernet devices|Failed to setup backend|probe failed|Start ports failed|failed to bind/.test(pmd.stderr())) return pmd;
    await pmd.stop();
    const why = pmd.stderr().split('\n').filter((l) => /virtio_user|vhost|[Ff]ail|probe|rror/.test(l)).join('\n');
    if (!clientFrontend) throw new Error(`testpmd could not probe its vdevs: ${why}`);
    if (Date.now() > deadline) throw new Error(`testpmd frontend could not connect to ${opts.socket} (${attempt} attempts): ${why}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Start one testpmd process as @opts says (no connect retries); see testpmd(). */
async function startTestpmdOnce(t: ExecutionContext, bin: string, opts: TestpmdOptions): Promise<Testpmd & { syncStderr(): Promise<void> }> {
  const prefix = uniqueName('ctnpmd');
  const runDir = path.join('/var/run/dpdk', prefix);
  const queues = opts.queues ?? 1;
  let vdevs = opts.vdevs;
  if (!vdevs) {
    let v = `net_virtio_user0,path=${opts.socket}`;
    if (opts.server) v += ',server=1';
    if (queues > 1) v += `,queues=${queues}`;
    if (opts.mac) v += `,mac=${opts.mac}`;
    vdevs = [v];
  }
  const mode = opts.mode ?? 'io';
  const argv = [
    '-o0',
    '-e0',
    bin,
    '--lcores',
    opts.lcores ?? '0@(0,1),1@(0,1)',
    '--no-pci',
    '--no-huge',
    '-m',
    String(opts.memMb ?? 512),
    `--file-prefix=${prefix}`,
    ...vdevs.map((v) => `--vdev=${v}`),
    ...(opts.ealArgs ?? []),
    '--',
    '-i',
    `--total-num-mbufs=${opts.mbufs ?? 32768}`,
    `--forward-mode=${mode}`,
    ...(queues > 1 ? [`--rxq=${queues}`, `--txq=${queues}`] : []),
    ...(opts.txpkts !== undefined ? [`--txpkts=${opts.txpkts}`] : []),
    ...(opts.ethPeer !== undefined ? [`--eth-peer=0,${opts.ethPeer}`] : []),
    ...(opts.args ?? []),
  ];
  const full = dieWithUs([findExecutable('stdbuf') ?? 'stdbuf', ...argv]);
  const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  // stdout and stderr apart: the prompt and the answers are read from stdout
  // alone, where testpmd's main thread writes them in order; stderr (DPDK's
  // log, testpmd's errors) comes on its own pipe, read whenever Node gets to
  // it, and its lines would land anywhere in them.
  let out = '';
  let err = '';
  let all = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    all += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    all += d;
  });
  child.stdin!.on('error', () => undefined); // EPIPE after it quit
  const exited = exitPromise(child);
  const prompted = () => testpmdAnswer(out) !== undefined;
  // Sockets a server-mode vdev created: DPDK unlinks them on a clean exit only.
  const serverSockets: string[] = [];
  for (const v of vdevs) {
    const kv = Object.fromEntries(v.split(',').slice(1).map((s) => s.split('=') as [string, string]));
    if (v.startsWith('net_vhost') && kv.iface && kv.client !== '1') serverSockets.push(kv.iface);
    if (v.startsWith('net_virtio_user') && kv.path && kv.server === '1') serverSockets.push(kv.path);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // A clean quit first (closes the vhost connections, removes its sockets).
        if (prompted()) child.stdin!.write('quit\n');
        child.stdin!.end();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        await killByPid(child, 3000);
      }
      rmSync(runDir, { recursive: true, force: true });
      for (const s of serverSockets) removeSocket(s);
    })();
    return stopping;
  };
  t.teardown(stop);

  const timeoutMs = opts.timeoutMs ?? 30000;
  let gone = false;
  void exited.then(() => (gone = true));
  const died = (what: string) => new Error(`testpmd exited (${child.exitCode ?? child.signalCode}) ${what}: ${tail(all)}`);
  /** Wait until @cond holds, failing at once if testpmd exits first. */
  const until = async (what: string, cond: () => boolean, ms: number) => {
    try {
      await waitFor(what, () => cond() || gone, ms);
    } catch (e) {
      throw new Error(`${(e as Error).message}; testpmd said: ${tail(all)}`);
    }
    if (!cond()) throw died(`while waiting for ${what}`);
  };
  // A server-mode frontend waits for its backend as long as the test lets it.
  const ready = until('the testpmd prompt', prompted, opts.server && !opts.vdevs ? 24 * 3600 * 1000 : timeoutMs);
  ready.catch(() => undefined);

  // Commands run one at a time: each is written, then its answer is read up to the next prompt.
  let queue: Promise<unknown> = ready;
  const command = (cmd: string, cmdTimeoutMs = 15000): Promise<string> => {
    const p = queue.then(async () => {
      // testpmd waits at its prompt: nothing of its main thread is on its way.
      const mark = out.length;
      child.stdin!.write(`${cmd}\n`);
      await until(`testpmd to answer '${cmd}'`, () => testpmdAnswer(out.slice(mark)) !== undefined, cmdTimeoutMs);
      return testpmdAnswer(out.slice(mark), cmd)!;
    });
    queue = p.catch(() => undefined);
    return p;
  };

  const portStats = async () => parsePortStats(await command('show port stats all'));
  const pmd: Testpmd & { syncStderr(): Promise<void> } = {
    child,
    pid: child.pid!,
    prefix,
    argv: full,
    output: () => all,
    stdout: () => out,
    stderr: () => err,
    syncStderr: async () => {
      const mark = err.length;
      await command(`show port info ${NO_PORT}`);
      await until(`testpmd's complaint about port ${NO_PORT} on stderr`, () => err.includes(`Invalid port ${NO_PORT}`, mark), timeoutMs);
    },
    ready,
    exited,
    command,
    portStats,
    stats: async (port?: number) => {
      const all = await portStats();
      if (port !== undefined) {
        const s = all.find((p) => p.port === port);
        if (!s) throw new Error(`testpmd has no port ${port}`);
        return s;
      }
      const sum: PortStats = { port: -1, rxPackets: 0, rxBytes: 0, rxMissed: 0, rxErrors: 0, rxNombuf: 0, txPackets: 0, txBytes: 0, txErrors: 0 };
      for (const s of all)
        for (const k of Object.keys(sum) as Array<keyof PortStats>) if (k !== 'port') sum[k] += s[k];
      return sum;
    },
    clearStats: async () => {
      await command('clear port stats all');
    },
    start: async (txFirst?: number) => {
      await command(txFirst ? `start tx_first ${txFirst}` : 'start');
    },
    stopForwarding: () => command('stop'),
    waitLinkUp: async (port = 0, linkTimeoutMs = 30000) => {
      await waitFor(
        `testpmd port ${port} link up`,
        async () => /Link status:\s*up/.test(await command(`show port info ${port}`)),
        linkTimeoutMs,
      );
    },
    stop,
  };
  if (opts.autoStart ?? true) void pmd.start().catch(() => undefined);

  if (opts.server && !opts.vdevs) {
    // Blocks in EAL init until the backend connects: return once it listens.
    await until(`testpmd to listen on ${opts.socket}`, () => err.includes('waiting for client connection') || prompted(), timeoutMs);
  } else {
    await ready;
    for (const s of serverSockets) await waitFor(`the vhost-user socket ${s}`, () => existsSync(s), timeoutMs);
  }
  return pmd;
}

/**
 * DPDK's own vhost-user backend: one testpmd with a `net_vhostN` vdev per
 * socket in @sockets (server by default: it creates them; `client: true` makes
 * it connect, and DPDK's vhost client reconnects until the peer is there),
 * forwarding in @opts.mode (io pairs port 0 with 1, 2 with 3, ...; icmpecho
 * answers ARP and ping on each port).
 */
export function dpdkVhostBackend(
  t: ExecutionContext,
  opts: { sockets: string[]; client?: boolean; queues?: number } & Omit<TestpmdOptions, 'socket' | 'server' | 'vdevs' | 'mac'>,
): Promise<Testpmd> {
  const { sockets, client, queues, ...rest } = opts;
  const vdevs = sockets.map(
    (s, i) => `net_vhost${i},iface=${s},client=${client ? 1 : 0}${queues && queues > 1 ? `,queues=${queues}` : ''}`,
  );
  return testpmd(t, { ...rest, vdevs, ...(queues && queues > 1 ? { args: [`--rxq=${queues}`, `--txq=${queues}`, ...(rest.args ?? [])] } : {}) });
}

// ---------------------------------------------------------------------------
// Initramfs

/** What the guest's /init does. */
export interface InitramfsOptions {
  /** IPv4 address/prefix of eth0, e.g. 10.0.0.2/24. */
  ip?: string;
  /** IPv6 address/prefix of eth0 (added with nodad). */
  ip6?: string;
  /** eth0's MAC (else the one QEMU gives the device). */
  mac?: string;
  /** eth0's MTU. */
  mtu?: number;
  /** Shell script run once eth0 is up (busybox sh); print results with @@RESULT@@ markers. */
  script: string;
  /** Extra files, by absolute path in the guest (mode 0755). */
  files?: Record<string, string | Buffer>;
  /** Kernel whose modules go in (default findGuestKernel()). */
  kernel?: GuestKernel;
  /** Modules to load with their dependencies (default virtio_net, virtio_pci). */
  modules?: string[];
}

/** Markers /init prints on the console. */
export const MARK = {
  /** Modules loaded, eth0 up: `@@READY@@ <mac>`. */
  ready: '@@READY@@',
  /** Printed by scripts for the test to read: `@@RESULT@@ ...`. */
  result: '@@RESULT@@',
  /** The script ended: `@@EXIT@@ <status>`. */
  exit: '@@EXIT@@',
  /** Something in /init failed: `@@ERROR@@ ...`. */
  error: '@@ERROR@@',
} as const;

/**
 * The part of every initramfs that does not depend on the test (busybox and
 * the modules), as a gzip'd cpio: built once per content hash and cached in
 * os.tmpdir()/containet-initramfs/.
 */
function baseInitramfs(kernel: GuestKernel, modules: string[]): { bytes: Buffer; order: string[] } {
  const busybox = findStaticBusybox();
  if (!busybox) throw new Error('no static busybox: install busybox-static');
  const order = moduleLoadOrder(kernel.modulesDir, modules);
  const bb = readFileSync(busybox);
  const hash = createHash('sha256').update('containet-initramfs-base-v1\0').update(bb);
  for (const f of order) {
    const st = statSync(path.join(kernel.modulesDir, f));
    hash.update(`${kernel.release}/${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  const cacheDir = path.join(tmpdir(), 'containet-initramfs');
  const cached = path.join(cacheDir, `base-${hash.digest('hex').slice(0, 24)}.cpio.gz`);
  if (existsSync(cached)) return { bytes: readFileSync(cached), order };
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'sys', 'tmp', 'run'])
    entries.push({ name: d, mode: 0o040755 });
  entries.push({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
  entries.push({ name: 'dev/null', mode: 0o020666, rdev: [1, 3] });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: bb });
  entries.push({ name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') });
  for (const f of order)
    entries.push({ name: `lib/modules/${path.basename(f).replace(/\.(xz|zst|gz)$/, '')}`, mode: 0o100644, data: moduleBytes(kernel.modulesDir, f) });
  const bytes = gzipSync(cpioNewc(entries), { level: 6 });
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, cached);
  return { bytes, order };
}

/** Quote @s for a POSIX shell. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Build a tiny initramfs in @dir and return its path: busybox-static and the
 * virtio modules of the installed kernel (loaded with insmod in dependency
 * order: virtio_ring, virtio, failover, net_failover, virtio_net,
 * virtio_pci_modern_dev, virtio_pci_legacy_dev, virtio_pci on Debian 12),
 * with an /init that brings eth0 up (address, MAC, MTU), prints
 * `@@READY@@ <mac>`, runs @opts.script, prints `@@EXIT@@ <status>` and powers
 * off. Everything /init and the script print goes to the first serial port
 * (/dev/ttyS0, QEMU's stdout in qemuGuest()), where nothing else writes: the
 * kernel's console is the second one (console=ttyS1). The busybox+modules part is cached by content hash under os.tmpdir();
 * the test's own part (/init, /script.sh, extra files) is a second gzip'd cpio
 * appended to it, which the kernel unpacks over the first.
 */
export function buildInitramfs(dir: string, opts: InitramfsOptions): string {
  const kernel = opts.kernel ?? findGuestKernel();
  if (!kernel) throw new Error('no guest kernel: install linux-image-amd64');
  const base = baseInitramfs(kernel, opts.modules ?? ['virtio_net', 'virtio_pci']);
  const insmods = base.order.map((f) => path.basename(f).replace(/\.(xz|zst|gz)$/, ''));
  const lines = [
    '#!/bin/sh',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin',
    'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev; mount -t tmpfs tmpfs /tmp',
    // Our output on a serial port of its own: a kernel message on the console
    // could land in the middle of one of our lines.
    'exec > /dev/ttyS0 2>&1',
    'fail() { echo "@@ERROR@@ $*"; poweroff -f; }',
    `for m in ${insmods.join(' ')}; do insmod /lib/modules/$m || fail insmod $m; done`,
    'n=0; while [ ! -d /sys/class/net/eth0 ]; do n=$((n+1)); [ $n -gt 400 ] && fail no eth0; sleep 0.05; done',
    'ip link set lo up',
    ...(opts.mac ? [`ip link set eth0 address ${shq(opts.mac)} || fail mac`] : []),
    ...(opts.mtu ? [`ip link set eth0 mtu ${opts.mtu} || fail mtu`] : []),
    ...(opts.ip ? [`ip addr add ${shq(opts.ip)} dev eth0 || fail ip`] : []),
    ...(opts.ip6 ? [`ip -6 addr add ${shq(opts.ip6)} dev eth0 nodad || fail ip6`] : []),
    'ip link set eth0 up || fail link up',
    'n=0; while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; do n=$((n+1)); [ $n -gt 400 ] && fail no carrier; sleep 0.05; done',
    'echo "@@READY@@ $(cat /sys/class/net/eth0/address)"',
    'cd /tmp; sh /script.sh; echo "@@EXIT@@ $?"',
    'sync; poweroff -f',
    '',
  ];
  const entries: CpioEntry[] = [
    { name: 'init', mode: 0o100755, data: Buffer.from(lines.join('\n')) },
    { name: 'script.sh', mode: 0o100755, data: Buffer.from(opts.script.endsWith('\n') ? opts.script : `${opts.script}\n`) },
  ];
  for (const [p, content] of Object.entries(opts.files ?? {})) {
    const rel = p.replace(/^\/+/, '');
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) entries.push({ name: parts.slice(0, i).join('/'), mode: 0o040755 });
    entries.push({ name: rel, mode: 0o100755, data: Buffer.isBuffer(content) ? content : Buffer.from(content) });
  }
  const own = gzipSync(cpioNewc(entries));
  const bytes = Buffer.concat([base.bytes, own]);
  const out = path.join(dir, `initramfs-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.cpio.gz`);
  writeFileSync(out, bytes);
  return out;
}

/**
 * Guest script pieces (busybox sh): the negotiated virtio features, and TCP
 * transfers checked end to end: the receiver prints
 * `@@RESULT@@ recv <sha256> <bytes>`, the sender `@@RESULT@@ sent <sha256> <bytes>`.
 */
export const guestScripts = {
  /** Print the negotiated virtio features: `@@RESULT@@ features <bits>` (see parseVirtioFeatures()). */
  features(): string {
    return 'echo "@@RESULT@@ features $(cat /sys/class/net/eth0/device/features)"';
  },
  /**
   * Listen on TCP @port, print `@@RESULT@@ listening <port>` once the socket
   * listens (not before: a sender that connects on seeing it must find the
   * port open), take one connection, print sha256 and length of what came
   * (nothing is stored: any size). busybox nc quits when its stdin ends, so
   * the stream goes to a program (`nc -e`), which hashes and counts it.
   */
  tcpReceive(port: number): string {
    const prog = ['#!/bin/sh', 'mkfifo /tmp/recv.fifo', 'wc -c < /tmp/recv.fifo > /tmp/recv.len &', 'tee /tmp/recv.fifo | sha256sum > /tmp/recv.sum', 'wait'];
    // A listening socket on @port in /proc/net/tcp or tcp6: local address ...:PORT (hex), remote any, state 0A.
    const listening = `:${port.toString(16).toUpperCase().padStart(4, '0')} [0-9A-F]+:0000 0A`;
    return [
      `printf '%s\\n' ${prog.map(shq).join(' ')} > /tmp/recv.sh; chmod +x /tmp/recv.sh`,
      `nc -l -p ${port} -e /tmp/recv.sh < /dev/null & nc=$!`,
      `n=0; until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qE '${listening}'; do n=$((n+1)); [ $n -gt 600 ] && { echo "@@RESULT@@ listen-failed"; exit 1; }; sleep 0.05; done`,
      `echo "@@RESULT@@ listening ${port}"`,
      'wait $nc',
      `echo "@@RESULT@@ recv $(cut -d' ' -f1 /tmp/recv.sum) $(cat /tmp/recv.len)"`,
    ].join('\n');
  },
  /**
   * Send @bytes random bytes to @addr:@port (retrying the connect for @retrySec
   * s), print their sha256. The bytes are kept in the guest's RAM (/tmp is a
   * tmpfs): up to ~100 MB with the default 256 MB guest.
   */
  tcpSend(addr: string, port: number, bytes: number, retrySec = 20): string {
    return [
      `head -c ${bytes} /dev/urandom > /tmp/send.bin`,
      `n=0; until nc -w 2 ${addr} ${port} < /tmp/send.bin; do n=$((n+1)); [ $n -gt ${retrySec * 4} ] && { echo "@@RESULT@@ connect-failed"; exit 1; }; sleep 0.25; done`,
      `echo "@@RESULT@@ sent $(sha256sum < /tmp/send.bin | cut -d' ' -f1) $(wc -c < /tmp/send.bin)"`,
    ].join('\n');
  },
};

/** virtio-net feature bits by name (virtio spec 5.1.3), for parseVirtioFeatures(). */
export const VIRTIO_NET_F = {
  csum: 0,
  guestCsum: 1,
  ctrlGuestOffloads: 2,
  mtu: 3,
  mac: 5,
  guestTso4: 7,
  guestTso6: 8,
  guestEcn: 9,
  guestUfo: 10,
  hostTso4: 11,
  hostTso6: 12,
  hostEcn: 13,
  hostUfo: 14,
  mrgRxbuf: 15,
  status: 16,
  ctrlVq: 17,
  ctrlRx: 18,
  ctrlVlan: 19,
  guestAnnounce: 21,
  mq: 22,
  ctrlMacAddr: 23,
  ringIndirectDesc: 28,
  ringEventIdx: 29,
  version1: 32,
} as const;

/**
 * The negotiated virtio-net features from the guest's
 * /sys/class/net/eth0/device/features (one '0'/'1' per bit, bit 0 first), as
 * printed by guestScripts.features(): name -> on.
 */
export function parseVirtioFeatures(bits: string): Record<keyof typeof VIRTIO_NET_F, boolean> {
  const out = {} as Record<keyof typeof VIRTIO_NET_F, boolean>;
  for (const [name, bit] of Object.entries(VIRTIO_NET_F) as Array<[keyof typeof VIRTIO_NET_F, number]>) out[name] = bits[bit] === '1';
  return out;
}

// ---------------------------------------------------------------------------
// QEMU

/** How to start a QEMU guest on a vhost-user netdev. */
export interface QemuGuestOptions {
  /** The vhost-user socket. */
  socket: string;
  /** QEMU is the vhost-user server (`server=on,wait=off`): it creates @socket and boots at once. */
  server?: boolean;
  /** Client only: retry the connect every N seconds (`reconnect=N`); QEMU then waits for the backend. */
  reconnect?: number;
  /** The initramfs (buildInitramfs()). */
  initrd: string;
  /** The kernel image (default findGuestKernel().image). */
  kernel?: string;
  /** The virtio-net device's MAC (default 52:54:00:00:00:01). */
  mac?: string;
  /** Guest memory in MB (default 256), shared with the backend through a memfd. */
  memMb?: number;
  /** virtio-net mrg_rxbuf (default: QEMU's, on). */
  mrgRxbuf?: boolean;
  /** Checksum offload both ways: csum (device) and guest_csum (default: QEMU's, on). */
  csum?: boolean;
  /** TSO both ways: host_tso4/6 and guest_tso4/6, with host_ecn/guest_ecn (default: QEMU's, on). */
  tso?: boolean;
  /** UFO both ways: host_ufo and guest_ufo (default: QEMU's, on even when csum is off). */
  ufo?: boolean;
  /** More virtio-net-pci properties, e.g. { guest_ufo: 'off' }. */
  deviceProps?: Record<string, string | boolean | number>;
  /** Extra kernel command line. */
  append?: string;
  /** Extra QEMU arguments. */
  args?: string[];
}

/** A running QEMU guest (ours). */
export interface QemuGuest {
  child: ChildProcess;
  pid: number;
  /** The full command line, for reports. */
  argv: string[];
  /**
   * What the guest's /init and script printed so far (the first serial port,
   * QEMU's stdout), with \r removed: where markers are looked for.
   */
  console(): string;
  /**
   * For reports: console(), then the kernel's console (the second serial
   * port, kept in a file) and QEMU's stderr, when not empty.
   */
  output(): string;
  /**
   * Resolves with the rest of the first line of console() holding @marker
   * (e.g. '@@READY@@'); throws when QEMU exits first (all it printed read), an
   * `@@ERROR@@` line shows, or after @timeoutMs (default 60000).
   */
  waitFor(marker: string, timeoutMs?: number): Promise<string>;
  /** The `@@RESULT@@` lines so far, marker stripped. */
  results(): string[];
  /** Resolves with QEMU's exit code once it exited and its output is read (0 after the guest's poweroff). */
  exited: Promise<number>;
  /** TERM then KILL by pid; idempotent. */
  stop(): Promise<void>;
}

/** A virtio-net property value: on/off for booleans. */
function propValue(v: string | boolean | number): string {
  return typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
}

/**
 * Start `qemu-system-x86_64 -accel tcg` booting @opts.initrd with a
 * virtio-net-pci device on a vhost-user netdev (killed by pid at teardown):
 *
 *   [setpriv --pdeathsig KILL] qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -no-user-config
 *     -display none -serial stdio -serial file:DIR/kernel-console.log -no-reboot
 *     -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
 *     -chardev socket,id=chr0,path=SOCK[,server=on,wait=off | ,reconnect=N]
 *     -netdev vhost-user,id=net0,chardev=chr0
 *     -device virtio-net-pci,netdev=net0,mac=MAC,romfile=,vectors=0[,mrg_rxbuf=off,...]
 *     -kernel /boot/vmlinuz-R -initrd INITRD -append 'console=ttyS1 quiet panic=-1'
 *
 * The guest's /init writes to the first serial port (QEMU's stdout), where the
 * markers are looked for; the kernel's console is the second one, in a file,
 * so a kernel message (printed whenever the kernel has one, in the middle of a
 * line of /init's if it comes to that) never splits a marker line; QEMU's own
 * stderr is kept apart too.
 *
 * `vectors=0` is needed (QEMU 7.2 TCG crashes in MSI-X setup without it). A
 * client QEMU without `reconnect` exits at once when the socket is not there.
 */
export function qemuGuest(t: ExecutionContext, opts: QemuGuestOptions): QemuGuest {
  const bin = findExecutable('qemu-system-x86_64');
  if (!bin) throw new Error('qemu-system-x86_64 is not installed');
  const kernel = opts.kernel ?? findGuestKernel()?.image;
  if (!kernel) throw new Error('no guest kernel: install linux-image-amd64');
  const mem = opts.memMb ?? 256;
  const kernelConsole = path.join(tempDir(t), 'kernel-console.log');
  let chardev = `socket,id=chr0,path=${opts.socket}`;
  if (opts.server) chardev += ',server=on,wait=off';
  else if (opts.reconnect !== undefined) chardev += `,reconnect=${opts.reconnect}`;
  const props: Record<string, string | boolean | number> = {};
  if (opts.mrgRxbuf !== undefined) props.mrg_rxbuf = opts.mrgRxbuf;
  if (opts.csum !== undefined) Object.assign(props, { csum: opts.csum, guest_csum: opts.csum });
  if (opts.tso !== undefined)
    for (const k of ['host_tso4', 'host_tso6', 'host_ecn', 'guest_tso4', 'guest_tso6', 'guest_ecn']) props[k] = opts.tso;
  if (opts.ufo !== undefined) Object.assign(props, { host_ufo: opts.ufo, guest_ufo: opts.ufo });
  Object.assign(props, opts.deviceProps ?? {});
  const device = [
    'virtio-net-pci',
    'netdev=net0',
    `mac=${opts.mac ?? '52:54:00:00:00:01'}`,
    'romfile=',
    'vectors=0',
    ...Object.entries(props).map(([k, v]) => `${k}=${propValue(v)}`),
  ].join(',');
  const argv = [
    '-accel', 'tcg',
    '-m', String(mem),
    '-smp', '1',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-serial', 'stdio',
    '-serial', `file:${kernelConsole}`,
    '-no-reboot',
    '-object', `memory-backend-memfd,id=mem,size=${mem}M,share=on`,
    '-numa', 'node,memdev=mem',
    '-chardev', chardev,
    '-netdev', 'vhost-user,id=net0,chardev=chr0',
    '-device', device,
    '-kernel', kernel,
    '-initrd', opts.initrd,
    '-append', `console=ttyS1 quiet panic=-1 ${opts.append ?? ''}`.trim(),
    ...(opts.args ?? []),
  ];
  const full = dieWithUs([bin, ...argv]);
  const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d.replace(/\r/g, '')));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => undefined);
  const exited = exitPromise(child);
  const kernelLog = () => {
    try {
      return readFileSync(kernelConsole, 'utf8').replace(/\r/g, '');
    } catch {
      return ''; // not there yet
    }
  };
  /** The guest's output, then the kernel's console and QEMU's stderr when not empty (each cut to its last @n characters). */
  const output = (n = Infinity) => {
    const k = kernelLog();
    return [tail(out, n), k && `--- kernel console:\n${tail(k, n)}`, err && `--- QEMU stderr:\n${tail(err, n)}`].filter(Boolean).join('\n');
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await killByPid(child, 3000);
      if (opts.server) removeSocket(opts.socket);
    })();
    return stopping;
  };
  t.teardown(stop);
  // Set once QEMU exited and all it wrote was read: a marker not there then never comes.
  let done = false;
  void exited.then(() => (done = true));

  const lineWith = (marker: string): string | undefined => {
    const i = out.indexOf(marker);
    if (i < 0) return undefined;
    const nl = out.indexOf('\n', i);
    if (nl < 0) return undefined; // wait for the whole line
    return out.slice(i + marker.length, nl).trim();
  };
  return {
    child,
    pid: child.pid!,
    argv: full,
    console: () => out,
    output: () => output(),
    results: () =>
      out
        .split('\n')
        .filter((l) => l.includes(MARK.result))
        .map((l) => l.slice(l.indexOf(MARK.result) + MARK.result.length).trim()),
    waitFor: async (marker: string, timeoutMs = 60000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lineWith(marker);
        if (line !== undefined) return line;
        const failed = marker === MARK.error ? undefined : lineWith(MARK.error);
        if (failed !== undefined) throw new Error(`guest failed: ${MARK.error} ${failed}\n${output(3000)}`);
        // Checked after the marker: once QEMU is done, everything it printed was there above.
        if (done) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode}) before '${marker}':\n${output(3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for '${marker}':\n${output(3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    stop,
  };
}
