/**
 * The plugin as a client of the containet daemon: the node id a container's
 * port is named by, and the requests ADD, DEL and CHECK make (add-etherfd,
 * remove-etherfd, show), with a busy daemon's refusal retried a few times
 * and the daemon's answers turned into CniErrors.
 */
import { createHash } from 'node:crypto';

import { DaemonError, request, type Reply } from '../client.js';
import { CniCode, CniError } from './errors.js';

/** Where the daemon is and how to talk to it. */
export interface DaemonTarget {
  socket: string;
  authtoken?: string;
}

/** Longest object name the daemon takes. */
const NAME_MAX = 64;

/** Pauses before each retry of a request the daemon was too busy to take (ms). */
const BUSY_BACKOFF_MS = [50, 100, 200, 400, 800, 1600];

/** How long one request may wait for its answer (ms). */
const REQUEST_TIMEOUT_MS = 10000;

/**
 * The node id of container @containerId's ports: the first 12 characters of a
 * 64-hex-digit id (podman's, containerd's, Docker's short id), else the id
 * itself when `<id>.<ifname>` fits a name, else its first 12 characters and 8
 * hex digits of its sha256. The same id always gives the same node id, so DEL
 * finds the port ADD made.
 */
export function nodeId(containerId: string, ifname: string): string {
  if (/^[0-9a-f]{64}$/.test(containerId)) return containerId.slice(0, 12);
  if (containerId.length + 1 + ifname.length <= NAME_MAX) return containerId;
  return `${containerId.slice(0, 12)}-${createHash('sha256').update(containerId).digest('hex').slice(0, 8)}`;
}

/** The daemon's name for the port of node @nodeid's interface @ifname. */
export function portName(nodeid: string, ifname: string): string {
  return `${nodeid}.${ifname}`;
}

/** A daemon that could not be reached (no socket, nobody listening). */
export class DaemonUnreachable extends CniError {}

/**
 * Send @req (with @fd attached, -1 for none) to the daemon of @t; its reply.
 * A busy daemon is asked again after a pause, a few times, then reported as
 * CniCode.tryAgainLater; an unreachable one as DaemonUnreachable (code
 * tryAgainLater too); a refusal as CniCode.daemonRefused with its reason.
 */
export async function call(t: DaemonTarget, req: Reply, fd: number | number[] = -1): Promise<Reply> {
  const full = t.authtoken === undefined ? req : { authtoken: t.authtoken, ...req };
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(t.socket, full, fd, REQUEST_TIMEOUT_MS);
    } catch (e) {
      const msg = (e as Error).message;
      if (!(e instanceof DaemonError))
        throw new DaemonUnreachable(CniCode.tryAgainLater, `cannot reach the containet daemon at ${t.socket}`, msg);
      if (!/too many control connections/.test(msg)) throw new CniError(CniCode.daemonRefused, `the containet daemon refused: ${msg}`);
      const pause = BUSY_BACKOFF_MS[attempt];
      if (pause === undefined) throw new CniError(CniCode.tryAgainLater, 'the containet daemon is busy', msg);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** What add-etherfd needs besides the fd. */
export interface PortRequest {
  nodeid: string;
  ifname: string;
  lan?: string;
  /** CNI_NETNS, kept with the port */
  netns: string;
}

/**
/**
 * The daemon's worker threads (its version reply's "threads"): the queues a
 * tap should have, one per worker. 1 for a daemon that does not say.
 */
export async function daemonThreads(t: DaemonTarget): Promise<number> {
  const r = await call(t, { version: {} });
  const n = r.threads;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? Math.min(n, 8) : 1;
}

/**
 * Hand tap @fds (its queues, queue 0 first) to the daemon as a port kept
 * after this process exits (the plugin leaves at once; DEL removes the port).
 */
export async function addPort(t: DaemonTarget, p: PortRequest, fds: number[]): Promise<void> {
  const body: Reply = { ifname: p.ifname, nodeid: p.nodeid, keep: true, netns: p.netns };
  if (p.lan !== undefined) body.lan = p.lan;
  await call(t, { 'add-etherfd': body }, fds);
}

/**
 * Remove the port of @nodeid's @ifname: 'removed', 'absent' when the daemon
 * has none, 'no-daemon' when no daemon answers (its ports are gone with it).
 */
export async function removePort(t: DaemonTarget, nodeid: string, ifname: string): Promise<'removed' | 'absent' | 'no-daemon'> {
  try {
    await call(t, { 'remove-etherfd': { nodeid, ifname } });
    return 'removed';
  } catch (e) {
    if (e instanceof DaemonUnreachable) return 'no-daemon';
    if (e instanceof CniError && e.code === CniCode.daemonRefused && /no port of node/.test(e.message)) return 'absent';
    throw e;
  }
}

/** The port named @name as `show` lists it, or undefined. */
export async function shownPort(t: DaemonTarget, name: string): Promise<Record<string, unknown> | undefined> {
  const r = await call(t, { show: {} });
  const objects = Array.isArray(r.objects) ? (r.objects as Record<string, unknown>[]) : [];
  return objects.find((o) => o.kind === 'port' && o.name === name);
}
