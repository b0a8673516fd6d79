/**
 * Child processes of the bench: short commands run to completion, and long ones
 * (servers, generators, daemons) tracked by pid so that an interrupted run can
 * stop exactly the processes it started, and nothing else.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** How a finished command ended and what it printed. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of exec and run. */
export interface ExecOptions {
  /** Killed (SIGKILL, by its pid) after this long; default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A long-running process started by the bench. */
export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Write @text to its stdin (started with `stdin: true`); ignored once it has exited. */
  write(text: string): void;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  /** True once it has exited. */
  hasExited(): boolean;
  /**
   * Send @signal (to its process group when it leads one), then SIGKILL after
   * @graceMs; resolves when it has exited. Does nothing once it has exited.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Set while undo steps run (see Scope): once the run is stopping, only they
 * may still start processes.
 */
export const cleaning = new AsyncLocalStorage<boolean>();

let stopping = false;

/** True when a new process may not start: the run is stopping and this is not cleanup. */
function refused(): boolean {
  return stopping && cleaning.getStore() !== true;
}

/** Processes started with start() that have not exited yet, by pid. */
const live = new Map<number, Proc>();

/** Commands started with exec() that have not finished yet. */
const running = new Set<ChildProcess>();

/** Pids of the processes started by exec() or start() that are still running. */
export function livePids(): number[] {
  return [...live.keys(), ...[...running].map((c) => c.pid!)];
}

/** Run @cmd with @args to completion and return how it ended; never throws on failure. */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (refused()) return Promise.resolve({ code: null, signal: null, stdout: '', stderr: 'not started: the run is stopping' });
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    if (child.pid !== undefined) running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 30000} ms]`;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30000);
    child.once('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${e.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run @cmd with @args and return its stdout; throws with its stderr when it fails. */
export async function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new Error(`${cmd} ${args.join(' ')}: ${r.signal ?? `exit ${r.code}`}${why ? `: ${why}` : ''}`);
  }
  return r.stdout;
}

/**
 * Start a long-running @cmd, tracked until it exits. With @group it leads a
 * process group of its own, so stop() also reaches the workers it forks
 * (trafgen's); that group holds only processes this bench started. With
 * @stdin its stdin is a pipe (Proc.write), else /dev/null.
 */
export function start(cmd: string, args: string[], opts: { group?: boolean; env?: NodeJS.ProcessEnv; stdin?: boolean } = {}): Proc {
  if (refused()) throw new Error(`${cmd} not started: the run is stopping`);
  const child = spawn(cmd, args, {
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: opts.group ?? false,
    env: opts.env ?? process.env,
  });
  child.stdin?.on('error', () => undefined); // EPIPE once it has quit
  if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
  const pid = child.pid;
  let out = '';
  let done = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => {
    /** Mark the process exited, untrack it and resolve `exited`. */
    const finish = () => {
      done = true;
      live.delete(pid);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (e) => {
      out += e.message;
      finish();
    });
  });
  /** Deliver @sig to the process (or its group) while it has not exited. */
  const signal = (sig: NodeJS.Signals) => {
    if (done) return;
    try {
      process.kill(opts.group ? -pid : pid, sig);
    } catch {
      // already gone
    }
  };
  const proc: Proc = {
    child,
    pid,
    output: () => out,
    write: (text: string) => {
      if (!done && child.stdin && !child.stdin.destroyed) child.stdin.write(text);
    },
    exited,
    hasExited: () => done,
    stop: async (sig = 'SIGTERM', graceMs = 3000) => {
      if (done) return;
      signal(sig);
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.set(pid, proc);
  return proc;
}

/**
 * Stop every process started here and still running (SIGTERM, then SIGKILL
 * for long ones); from now on only cleanup may start processes.
 */
export async function stopAll(graceMs = 2000): Promise<void> {
  stopping = true;
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await Promise.all([...live.values()].map((p) => p.stop('SIGTERM', graceMs)));
}

/** Resolve after @ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The message of an error (or anything thrown), on one line. */
export function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' / ').trim();
}

/** CPU seconds process @pid has used so far, all its threads (user and
 *  system, from /proc/PID/stat in clock ticks of 1/100 s), or null when it is
 *  gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Nanoseconds of CPU the threads of process @pid have run so far (the sum of
 *  the first field of /proc/PID/task/TID/schedstat: nanosecond precision,
 *  where /proc/PID/stat counts 10 ms ticks), or null when it is gone. Time of
 *  threads that exit between two reads is lost, so use it on a process whose
 *  threads stay (a switch's workers). */
export function threadsCpuNs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    return ns;
  } catch {
    return null;
  }
}
