/**
 * Runs one container: spawns the containode-launch helper (which makes the
 * namespaces, mounts and the init process), gives the container its eth0 and
 * attaches it to the switch, then waits and cleans up.
 *
 * Handshake with the helper on its fd 3 (a unix socket pair):
 *
 * | message          | sender     | meaning                                             |
 * |------------------|------------|-----------------------------------------------------|
 * | `pid P\n`        | helper     | container init is P; its namespaces exist           |
 * | `go\n`           | containode | network is ready: run the program                   |
 * | `abort REASON\n` | containode | setup failed: exit 125 without running the program  |
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { isatty } from 'node:tty';

import { request } from '../client.js';
import { launcherPath, native } from '../native.js';
import type { Ipv4 } from './identity.js';

/** Everything containode was asked to do. */
export interface ContainerSpec {
  /** switch socket; no interface without it */
  socket?: string | undefined;
  ipv4?: Ipv4 | undefined;
  root?: string | undefined;
  top?: string | undefined;
  identity: string;
  keepNet: boolean;
  keepIpc: boolean;
  lan?: string | undefined;
  ifname: string;
  mtu: number;
  env: string[];
  authtoken?: string | undefined;
  command: string[];
}

/** Exit status for a setup failure (as the helper uses it). */
export const EXIT_SETUP = 125;

/**
 * Whether stdin is a terminal. Not `process.stdin.isTTY`: creating
 * process.stdin makes fd 0 non-blocking, and the program inherits that open
 * file (its reads of a pipe or terminal would fail with EAGAIN).
 */
function stdinIsTerminal(): boolean {
  return isatty(0);
}

/** Signals passed on to the container; the terminal's own (INT, QUIT) only when
 *  stdin is no terminal, since a terminal delivers them to the program itself. */
function forwardedSignals(onTerminal: boolean): NodeJS.Signals[] {
  const always: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
  return onTerminal ? always : [...always, 'SIGINT', 'SIGQUIT'];
}

/** Check the spec before anything is started; throws with the reason. */
export function validateSpec(s: ContainerSpec): void {
  if (!s.command.length) throw new Error('no program to run (give it after --)');
  if (s.keepNet && s.socket) throw new Error('-N keeps the host network: it cannot be combined with -s');
  if (s.top && !s.root) throw new Error('-t needs -r (it holds the changes to that root)');
  if (s.ipv4 && !s.socket) throw new Error('-4 needs -s (the address goes on the switch interface)');
  if (s.root) {
    let st;
    try {
      st = statSync(s.root);
    } catch (e) {
      throw new Error(`root ${s.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!st.isDirectory()) throw new Error(`root ${s.root} is not a directory`);
  }
}

/** Default -t: the root path with ".identity" appended. */
export function defaultTop(root: string, identity: string): string {
  return `${path.resolve(root).replace(/\/+$/, '')}.${identity}`;
}

/** Arguments of the helper. */
function helperArgs(s: ContainerSpec): string[] {
  const a = ['--hostname', s.identity, '--sync-fd', '3'];
  if (s.root) a.push('--root', path.resolve(s.root), '--top', path.resolve(s.top ?? defaultTop(s.root, s.identity)));
  if (s.keepNet) a.push('--keep-net');
  if (s.keepIpc) a.push('--keep-ipc');
  for (const e of s.env) a.push('--env', e);
  return [...a, '--', ...s.command];
}

/** Wait for the helper's `pid P` line; rejects if it exits first. */
function readPid(child: ChildProcess, sync: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = /^pid (\d+)\n/.exec(buf);
      if (m) {
        cleanup();
        resolve(Number(m[1]));
      } else if (buf.includes('\n') || buf.length > 64) {
        cleanup();
        reject(new Error(`unexpected message from containode-launch: ${JSON.stringify(buf)}`));
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error('container setup failed'));
    };
    const cleanup = () => {
      sync.off('data', onData);
      child.off('exit', onExit);
    };
    sync.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Exit status of the helper as a shell would report it. */
function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? constants.signals[signal] : 0);
}

/**
 * Run the container to completion and return its exit status (the program's,
 * 128+N if it died of signal N, or 125 when setup failed).
 */
export async function runContainer(s: ContainerSpec, warn: (msg: string) => void): Promise<number> {
  validateSpec(s);
  const child = spawn(launcherPath(), helperArgs(s), { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
  const sync = child.stdio[3] as Socket;
  // The init holds the other end and may die during setup (EPIPE on 'go'):
  // its exit status, not a socket error, says what happened.
  sync.on('error', () => undefined);
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(statusOf(code, signal))),
  );
  child.on('error', (e) => warn(`containode-launch: ${e.message}`));
  const onTerminal = stdinIsTerminal();
  const handlers = forwardedSignals(onTerminal).map((sig) => {
    const h = () => child.kill(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  // A terminal's Ctrl-C reaches the program directly; containode must survive it.
  const ignore = () => {};
  if (onTerminal) for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, ignore);

  let attached = false;
  try {
    let pid: number;
    try {
      pid = await readPid(child, sync);
    } catch (e) {
      warn((e as Error).message);
      return await exited;
    }
    try {
      if (s.socket) {
        await attach(s, pid);
        attached = true;
      }
      sync.write('go\n');
    } catch (e) {
      // The init prints the reason ("containode: aborted: ...") and exits 125.
      sync.write(`abort ${(e as Error).message.replace(/\n/g, ' ')}\n`);
      await exited;
      return EXIT_SETUP;
    }
    return await exited;
  } finally {
    sync.destroy();
    for (const [sig, h] of handlers) process.off(sig, h);
    if (onTerminal) for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.off(sig, ignore);
    if (attached && s.socket) {
      const req: Record<string, unknown> = { 'remove-etherfd': { nodeid: s.identity, ifname: s.ifname } };
      if (s.authtoken) req.authtoken = s.authtoken;
      // The daemon may have removed it already (it watches the container's init).
      await request(s.socket, req).catch(() => undefined);
    }
  }
}

/** Make eth0 inside the container's network namespace and hand it to the switch. */
async function attach(s: ContainerSpec, pid: number): Promise<void> {
  const n = native();
  const fd = n.tapCreate({
    netns: `/proc/${pid}/ns/net`,
    ifname: s.ifname,
    vnetHdr: true,
    mtu: s.mtu,
    ipv4: s.ipv4?.addr,
    prefix: s.ipv4?.prefix,
    up: true,
    loUp: true,
  });
  try {
    const body: Record<string, unknown> = { ifname: s.ifname, nodeid: s.identity, pid };
    if (s.lan) body.lan = s.lan;
    const req: Record<string, unknown> = { 'add-etherfd': body };
    if (s.authtoken) req.authtoken = s.authtoken;
    await request(s.socket!, req, fd);
  } finally {
    n.closeFd(fd); // the switch has its own copy now (or none, on error)
  }
}
