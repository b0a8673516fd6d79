/** The client side of the switch socket, as the CLIs use it. */
import { native } from './native.js';

/** A request the daemon refused; its message is the daemon's reason. */
export class DaemonError extends Error {}

/** Reply object of a request. */
export type Reply = Record<string, unknown>;

/**
 * Send @req to the daemon at @socket (with @fd attached when given) and return
 * the reply; throws DaemonError with the daemon's reason on {"error": ...}, and a
 * plain Error when the daemon cannot be reached.
 */
export async function request(socket: string, req: Reply, fd: number | number[] = -1, timeoutMs = 10000): Promise<Reply> {
  const text = await native().request(socket, JSON.stringify(req), fd, timeoutMs);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new Error(`the daemon at ${socket} answered something that is not JSON`);
  }
  if (reply === null || typeof reply !== 'object' || Array.isArray(reply))
    throw new Error(`the daemon at ${socket} answered something that is not an object`);
  const r = reply as Reply;
  if (typeof r.error === 'string') throw new DaemonError(r.error);
  return r;
}
