/**
 * Shared test fixtures: root detection, unique names, a daemon in a child
 * process, network namespaces and containers, each cleaned up in t.teardown so
 * a failing test still leaves the machine as it found it. Processes are only
 * ever killed by the pid we started.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

import { request, type Reply } from '../../src/client.js';
import { packageRoot } from '../../src/native.js';

/** True when the tests run as root (CI does; root tests need it). */
export const isRoot = process.getuid?.() === 0;

/**
 * A serial `test` as root (namespaces and processes are heavy on 2 cores);
 * without root a skipped test whose title says why.
 */
export function rootTest(title: string, fn: (t: ExecutionContext) => Promise<void> | void): void {
  const test = anyTest as TestFn;
  if (isRoot) test.serial(title, fn);
  else test.skip(`${title} [skipped: needs root]`, fn);
}

let counter = 0;

/** A name unique to this run, at most 15 characters (fits an ifname). */
export function uniqueName(prefix: string): string {
  counter += 1;
  const tag = `${(process.pid % 1000).toString(36)}${counter.toString(36)}${randomBytes(2).toString('hex')}`;
  return `${prefix}${tag}`.slice(0, 15);
}

/** A private temporary directory removed when the test ends. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'containet-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolve when @cond() is truthy; throw naming @what after @timeoutMs. */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last @n characters of @s, for error messages. */
export function tail(s: string, n = 3000): string {
  return s.length <= n ? s : `...${s.slice(-n)}`;
}

/** The exit status of a process that ended with @code, or of signal @sig: 128 + its number. */
function exitStatus(code: number | null, sig: NodeJS.Signals | null): number {
  return code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0);
}

/** What a child process of ours prints, stdout and stderr collected apart. */
export interface ChildOutput {
  /** What it printed on stdout so far. */
  stdout(): string;
  /** What it printed on stderr so far. */
  stderr(): string;
  /**
   * Both, in the order they were read: for messages only. They come on two
   * pipes, read whenever Node gets to each, so a line of one may land inside
   * a line of the other: never look for awaited text in it.
   */
  output(): string;
  /**
   * Resolves with its exit status (128+N for signal N, -1 when it could not be
   * started) once it exited and its stdout and stderr were read to the end
   * (at 'exit' the last of its output may still be unread; with its pipes
   * held by a child that outlives it, only when that one is gone too).
   */
  closed: Promise<number>;
  /**
   * Resolves with the first truthy value of @cond over all of stdout so far
   * (not over one chunk: a line may come in pieces); throws, with what it
   * printed, when it ends first or after @timeoutMs (default 60000).
   */
  untilStdout<T>(what: string, cond: (stdout: string) => T, timeoutMs?: number): Promise<NonNullable<T>>;
  /**
   * Resolves with the first truthy value of @cond (e.g. its socket listens);
   * throws, with what it printed, when it ends first or after @timeoutMs
   * (default 60000).
   */
  until<T>(what: string, cond: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
}

/** Collect what @child (spawned with piped stdout and stderr) prints; call right after spawn. */
export function collectOutput(child: ChildProcess): ChildOutput {
  let out = '';
  let err = '';
  let all = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    all += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    all += d;
  });
  let status: number | undefined;
  const closed = new Promise<number>((r) => {
    child.once('error', () => r((status = -1)));
    child.once('close', (code, sig) => r((status = exitStatus(code, sig))));
  });
  const until = async <T>(what: string, cond: () => T | Promise<T>, timeoutMs = 60000): Promise<NonNullable<T>> => {
    try {
      await waitFor(what, async () => (await cond()) || status !== undefined, timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; it printed: ${tail(all) || '(nothing)'}`);
    }
    const v = await cond(); // once it is done, all it printed is there
    if (v) return v as NonNullable<T>;
    throw new Error(`it ended (status ${status}) before ${what}; it printed: ${tail(all) || '(nothing)'}`);
  };
  return {
    stdout: () => out,
    stderr: () => err,
    output: () => all,
    closed,
    until,
    untilStdout: (what, cond, timeoutMs) => until(what, () => cond(out), timeoutMs),
  };
}

/** Kill @child (ours) by pid: TERM, then KILL after @graceMs; resolves on exit. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** A shell pipeline of ours (`sh -c @cmd`), stopped at teardown: its
 *  output, and its exit code once it ends. */
export function pipeline(t: ExecutionContext, cmd: string): { child: ChildProcess; done: Promise<number>; out: ChildOutput } {
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(child);
  const done = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
  t.teardown(() => stopChild(child));
  return { child, done, out };
}

/** `node bin/containet.js -s SOCK` for daemon @d, as shell words. */
export function cliWords(d: { sock: string }): string {
  return `${process.execPath} ${binPath('containet')} -s ${d.sock}`;
}

/** Path of a bin/ script of this package. */
export function binPath(name: 'containet'): string {
  return path.join(packageRoot, 'bin', `${name}.js`);
}

/** The native containode (what bin/containode execs). */
export function containodePath(): string {
  return path.join(packageRoot, 'build', 'Release', 'containode');
}

/** A daemon started by a test. */
export interface TestDaemon {
  /** Its process (ours). */
  child: ChildProcess;
  pid: number;
  /** The switch socket path. */
  sock: string;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /**
   * Its log once it matches @re, or after @timeoutMs (default 30000) as it is
   * then: assert on this, not on log(), when the daemon logs what a test just
   * saw happen. The log comes on its own pipe, read whenever Node gets to it,
   * so an effect seen through the control socket can be there before its line.
   */
  logged(re: RegExp, timeoutMs?: number): Promise<string>;
  /** One request on its socket (with the daemon's authtoken, if any). */
  request(req: Reply, fd?: number | number[]): Promise<Reply>;
  /** Run `containet -s SOCK ...args` and return its result (never throws). */
  cli(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Number of fds open in the daemon process. */
  fdCount(): number;
}

/**
 * Start `containet -s SOCK` (in a fresh temp dir unless @sock is given; inside
 * network namespace @netns with `ip netns exec`, which execs, so the pid is the
 * daemon's) and wait until it answers; stopped with SIGTERM (then SIGKILL) at teardown.
 */
export async function startDaemon(
  t: ExecutionContext,
  opts: { sock?: string; args?: string[]; authtoken?: string; netns?: string } = {},
): Promise<TestDaemon> {
  const sock = opts.sock ?? path.join(tempDir(t), 'switch.sock');
  const tokenArgs = opts.authtoken === undefined ? [] : ['--authtoken', opts.authtoken];
  const argv = [process.execPath, binPath('containet'), '-s', sock, '--log-level', 'debug', ...tokenArgs, ...(opts.args ?? [])];
  const full = opts.netns === undefined ? argv : ['ip', 'netns', 'exec', opts.netns, ...argv];
  const child = spawn(full[0]!, full.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  t.teardown(() => stopChild(child));
  // 'close': with all of its stderr read, for the message.
  const exited = new Promise<never>((_, reject) =>
    child.once('close', (code, sig) => reject(new Error(`daemon exited (${code ?? sig}) before answering: ${stderr}`))),
  );
  exited.catch(() => undefined);
  const d: TestDaemon = {
    child,
    pid: child.pid!,
    sock,
    log: () => stderr,
    logged: async (re, timeoutMs = 30000) => {
      await waitFor(`the daemon to log ${re}`, () => re.test(stderr), timeoutMs).catch(() => undefined);
      return stderr;
    },
    request: (req, fd = -1) => request(sock, opts.authtoken === undefined ? req : { authtoken: opts.authtoken, ...req }, fd, 5000),
    cli: async (...args) => {
      const r = await execa(process.execPath, [binPath('containet'), '-s', sock, ...tokenArgs, ...args], { reject: false });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    fdCount: () => readdirSync(`/proc/${child.pid}/fd`).length,
  };
  // Node and the addon can take a while to load on a busy machine: wait long, and say what it logged.
  const answered = waitFor('the daemon to answer', async () => existsSync(sock) && (await d.request({ version: {} }).then(() => true, () => false)), 60000).catch(
    (e: Error) => {
      throw new Error(`${e.message}; it logged: ${tail(stderr) || '(nothing)'}`);
    },
  );
  await Promise.race([exited, answered]);
  return d;
}

/** Run a command, throwing with its stderr when it fails. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** A named network namespace (`ip netns add`), deleted at teardown. */
export async function netns(t: ExecutionContext, prefix = 'ctn'): Promise<string> {
  const name = uniqueName(prefix);
  await run('ip', ['netns', 'add', name]);
  t.teardown(async () => {
    await execa('ip', ['netns', 'del', name], { reject: false });
  });
  return name;
}

/** Run @args inside network namespace @ns. */
export function inNetns(ns: string, args: string[], opts: { timeout?: number } = {}) {
  return execa('ip', ['netns', 'exec', ns, ...args], { reject: false, timeout: opts.timeout ?? 30000 });
}

/**
 * A containode started by a test: stdout is the program's (look for its
 * output there), stderr containode's and the program's errors. closed
 * resolves once all of it was read: after the program's last words, await
 * closed, not exited.
 */
export interface TestContainer extends ChildOutput {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or 128+signal) when containode itself ends (its container may still be going). */
  exited: Promise<number>;
}

/**
 * Start `containode ...args` with piped stdio (stdin stays open so an
 * interactive program such as `sh` waits); killed by pid at teardown.
 */
export function startContainode(t: ExecutionContext, args: string[]): TestContainer {
  const child = spawn(containodePath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const exited = new Promise<number>((r) => child.once('exit', (code, sig) => r(exitStatus(code, sig))));
  t.teardown(() => stopChild(child));
  return { child, pid: child.pid!, exited, ...output };
}

/** Run containode to completion; returns exit code and combined output. */
export async function runContainode(args: string[], timeoutMs = 60000) {
  const r = await execa(containodePath(), args, { reject: false, timeout: timeoutMs, all: true, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, output: r.all ?? '', stdout: r.stdout, stderr: r.stderr };
}

/** The init pid of a running container: containode's child (pid 1 inside). */
export async function containerInitPid(c: TestContainer): Promise<number> {
  return waitFor('the container init', () => childrenOf(c.pid)[0] ?? 0);
}

/** Open fds of process @pid: fd number to what it points at (socket:[N], /dev/net/tun ...). */
export function fdTable(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      m.set(fd, readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* closed meanwhile */
    }
  }
  return m;
}

/** Direct children of @pid (from /proc/PID/task/*\/children). */
export function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileText(`/proc/${pid}/task/${task}/children`);
      for (const w of text.split(/\s+/)) if (w) out.push(Number(w));
    }
    return out;
  } catch {
    return [];
  }
}

/** A file's text, '' when unreadable. */
function readFileText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Run @args inside the network (and mount, uts) namespaces of process @pid. */
export function inContainer(pid: number, args: string[], timeoutMs = 30000) {
  return execa('nsenter', ['-t', String(pid), '-n', '-u', '-m', '-p', ...args], { reject: false, timeout: timeoutMs });
}
