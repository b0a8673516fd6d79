/**
 * A node's processes: the containode the daemon starts for it (one native
 * process per node, build/Release/containode, as bin/containode finds it),
 * detached from the daemon's session so that a Ctrl-C of the daemon does not
 * reach it, its handshake, how its end is noticed and how it is stopped.
 *
 * Handshake: containode gets `--ready-fd 3`, a pipe, and writes `ready INIT`
 * on it once every interface is attached, addressed and up, the routes are set
 * and the program was executed; it closes the pipe without a word when it
 * fails, and exits with 125 (setup), 126 or 127 (the program could not be
 * run), its reason on stderr. Its stdout and stderr (and the program's) go to
 * the node's `log` file, or to a file without a name (made, then unlinked),
 * which the daemon reads for the reason when the start fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';

import { containodePath } from '../../native.js';
import { processStart, processStat } from '../fd.js';
import type { KindContext } from '../kind.js';
import type { AddNodeRequest, NodeInterface } from './request.js';

/** A request whose interfaces' lans are all named (the daemon's default filled in). */
export type NodeSpec = Omit<AddNodeRequest, 'interfaces'> & { interfaces: NodeInterface[] };

/** How long a node may take to start (containode waits 60 s for a busy daemon). */
const START_TIMEOUT_MS = 90_000;
/** How long `del` waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5000;
/** How long stop waits for a killed containode's init to be gone. */
const INIT_GONE_MS = 5000;
/** How often a node the daemon did not start (restored) is looked at. */
const POLL_MS = 500;
/** Longest reason read back from a failed start's output. */
const REASON_MAX = 2000;

/** A node's processes as the daemon follows them. */
export interface Running {
  /** the containode (the supervisor) */
  pid: number;
  /** the container's init (pid 1 inside): exec's target */
  initPid: number;
  /** the containode's start time (/proc/PID/stat), to tell it from a later process with its pid */
  pidStart: string | undefined;
  /** the init's start time, likewise */
  initStart: string | undefined;
  /** resolves with containode's exit status (null: not known, it was not our child) once it is gone */
  gone: Promise<number | null>;
}

/** containode's command line for @req, its ready pipe on fd 3 (the daemon's
 *  authtoken goes in its environment, not where ps shows it). */
export function containodeArgs(ctx: KindContext, req: NodeSpec): string[] {
  const args = ['-s', ctx.socket, '-i', req.name, '--ready-fd', '3'];
  if (req.root !== undefined) args.push('-r', req.root);
  for (const [k, v] of Object.entries(req.env)) args.push('-e', `${k}=${v}`);
  for (const n of req.interfaces) {
    const parts = [n.lan, `ifname=${n.ifname}`, ...n.addrs.map((a) => `ip=${a}`), `mtu=${n.mtu}`];
    if (n.mac !== null) parts.push(`mac=${n.mac}`);
    args.push('--net', parts.join(','));
  }
  for (const r of req.routes) args.push('--route', `${r.dst},via=${r.via}`);
  return [...args, '--', ...req.command];
}

/** The exit status of a process that ended with @code or of signal @sig (128 + its number). */
export function statusOf(code: number | null, sig: NodeJS.Signals | null): number {
  return code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0);
}

/** Where the node's output goes: the fd, and where its part of the file starts. */
function openOutput(log: string | undefined): { fd: number; from: number } {
  if (log !== undefined) {
    const fd = openSync(log, 'a+', 0o600);
    return { fd, from: fstatSync(fd).size };
  }
  // A file without a name: nothing to clean up, gone with the last fd.
  const dir = mkdtempSync(path.join(tmpdir(), 'containet-node-'));
  try {
    return { fd: openSync(path.join(dir, 'output'), 'w+', 0o600), from: 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What was written to @fd from @from on (at most REASON_MAX bytes, the last ones). */
function readBack(fd: number, from: number): string {
  const size = fstatSync(fd).size;
  const start = Math.max(from, size - REASON_MAX);
  const buf = Buffer.alloc(Math.max(0, size - start));
  const n = buf.length ? readSync(fd, buf, 0, buf.length, start) : 0;
  return buf.subarray(0, n).toString('utf8').trim();
}

/**
 * Start containode for @req; resolves once it says ready, or rejects with its
 * reason (it is gone then: a failed containode removes the ports it added).
 */
export function launch(ctx: KindContext, req: NodeSpec): Promise<Running> {
  const out = openOutput(req.log);
  let child: ChildProcess;
  try {
    child = spawn(containodePath(), containodeArgs(ctx, req), {
      detached: true, // its own session: the daemon's terminal signals are not its
      stdio: ['ignore', out.fd, out.fd, 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        ...(ctx.authtoken === undefined ? {} : { CONTAINET_AUTHTOKEN: ctx.authtoken }),
      },
    });
  } catch (e) {
    closeSync(out.fd);
    return Promise.reject(e as Error);
  }
  const gone = new Promise<number | null>((resolve) => {
    child.once('exit', (code, sig) => resolve(statusOf(code, sig)));
    child.once('error', () => resolve(null));
  });
  return new Promise<Running>((resolve, reject) => {
    let said = '';
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
      closeSync(out.fd);
    };
    const timer = setTimeout(() => {
      settle(() => reject(new Error(`it did not start within ${START_TIMEOUT_MS / 1000} s; stopped`)));
      child.kill('SIGKILL'); // its init dies with it (PR_SET_PDEATHSIG), and the container's processes
    }, START_TIMEOUT_MS);
    child.once('error', (e) => settle(() => reject(new Error(`cannot run containode: ${e.message}`))));
    const ready = child.stdio[3] as NodeJS.ReadableStream;
    ready.setEncoding('utf8');
    ready.on('data', (d: string) => {
      said += d;
      const m = /^ready (\d+)\n/.exec(said);
      if (m && child.pid !== undefined)
        settle(() => resolve({ pid: child.pid!, initPid: Number(m[1]), pidStart: processStart(child.pid!), initStart: processStart(Number(m[1])), gone }));
    });
    void gone.then((status) =>
      settle(() => reject(new Error(readBack(out.fd, out.from).split('\n').filter(Boolean).pop() ?? `containode exited with status ${status}`))),
    );
    child.unref();
  });
}

/** Whether process @pid is the one that started at @start and has not ended:
 *  a zombie (ended, not reaped yet: a containode whose parent, an earlier
 *  daemon, is gone waits for init to reap it) counts as ended. */
export function processRunning(pid: number, start: string | undefined): boolean {
  const st = processStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.start === start;
}

/** Follow containode @pid, started at @pidStart by an earlier daemon (not
 *  our child): gone resolves (status unknown) once it is. */
export function follow(pid: number, initPid: number, pidStart: string | undefined, initStart: string | undefined): Running {
  const gone = new Promise<number | null>((resolve) => {
    const timer = setInterval(() => {
      if (!processRunning(pid, pidStart)) {
        clearInterval(timer);
        resolve(null);
      }
    }, POLL_MS);
    timer.unref();
  });
  return { pid, initPid, pidStart, initStart, gone };
}

/** Whether @r's containode is still the process with its pid. */
export function alive(r: Running): boolean {
  return processRunning(r.pid, r.pidStart);
}

/** Send @sig to @r's containode, if it is still there (a pid reused by
 *  another process is left alone). */
export function signal(r: Running, sig: NodeJS.Signals): void {
  if (!alive(r)) return;
  try {
    process.kill(r.pid, sig);
  } catch {
    // gone meanwhile
  }
}

/** Stop @r: SIGTERM to its containode (which passes it to the program), SIGKILL
 *  after STOP_GRACE_MS (its init and the whole container die with it);
 *  resolves once containode and the init are gone (a killed init ends once
 *  the kernel has ended every process of its pid namespace). */
export async function stop(r: Running): Promise<void> {
  signal(r, 'SIGTERM');
  const timer = setTimeout(() => signal(r, 'SIGKILL'), STOP_GRACE_MS);
  await r.gone;
  clearTimeout(timer);
  const deadline = Date.now() + INIT_GONE_MS;
  while (processRunning(r.initPid, r.initStart) && Date.now() < deadline) await new Promise((w) => setTimeout(w, 20));
}
