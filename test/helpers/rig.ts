/**
 * An engine driven over socketpair-backed ports, no root needed (the mirror's
 * and the link state's dataplane tests): the test writes frames on its ends of
 * the ports and reads what the engine sends out of them, exactly. As in
 * switch.test.ts, an engine call (portStats, lanStats) runs with every worker
 * paused between passes, so after one output of a frame was read it is a
 * barrier after which every frame that was to be sent is waiting.
 */
import test, { type ExecutionContext } from 'ava';

import { native, type NativeEngine } from '../../src/native.js';

/** Generous wait for a frame that must arrive (2 noisy cores). */
export const ARRIVE_MS = 5000;
/** The broadcast address. */
export const BCAST = 'ff:ff:ff:ff:ff:ff';

/** A port: its engine id and the test's end of its socketpair. */
export interface Port {
  id: number;
  fd: number;
}

/** An engine and the test's fds, torn down at the end of the test. */
export interface Rig {
  engine: NativeEngine;
  fds: Set<number>;
}

/** Register @fn on a one-thread engine and on a three-thread one. */
export function both(title: string, fn: (t: ExecutionContext, threads: number) => unknown): void {
  test.serial(title, (t) => fn(t, 1));
  test.serial(`${title} [3 threads]`, (t) => fn(t, 3));
}

/** An engine of @threads workers (and @poolSize buffers each), closed at teardown. */
export function rig(t: ExecutionContext, threads: number, poolSize?: number): Rig {
  const engine = new (native().Engine)(() => undefined, { threads, ...(poolSize ? { poolSize } : {}) });
  const r: Rig = { engine, fds: new Set() };
  t.teardown(() => {
    engine.close();
    for (const fd of r.fds) native().closeFd(fd);
  });
  return r;
}

/** A datagram socketpair whose one end becomes a port of lan @lan. */
export function port(r: Rig, lan: number): Port {
  const [ours, theirs] = native().socketpair('dgram');
  r.fds.add(ours);
  const info = r.engine.addFdPort(theirs, lan);
  return { id: info.id, fd: ours };
}

/** A locally administered unicast MAC numbered @n. */
export function mac(n: number): string {
  return `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
}

let seq = 0;

/** A frame to @dst from @src, ethertype 0x88b5, @len bytes, a unique payload. */
export function frame(dst: string, src: string, len = 80): Buffer {
  const f = Buffer.alloc(len);
  Buffer.from(dst.split(':').map((h) => parseInt(h, 16))).copy(f, 0);
  Buffer.from(src.split(':').map((h) => parseInt(h, 16))).copy(f, 6);
  f.writeUInt16BE(0x88b5, 12);
  f.writeUInt32BE(++seq, 14);
  for (let i = 18; i < len; i++) f[i] = (i * 13 + seq) & 0xff;
  return f;
}

/** Write @f on @p's socket. */
export function send(p: Port, f: Buffer): void {
  if (native().fdWrite(p.fd, f) !== f.length) throw new Error(`fdWrite on port ${p.id} failed`);
}

/** The next frame out of @p must be @want. */
export function expectFrame(t: ExecutionContext, p: Port, want: Buffer, what: string): void {
  const got = native().fdRead(p.fd, ARRIVE_MS);
  t.truthy(got, `${what}: nothing on port ${p.id}`);
  t.true(got !== null && got.equals(want), `${what}: other bytes on port ${p.id}`);
}

/** Nothing is waiting on @p (call after a barrier). */
export function expectNothing(t: ExecutionContext, p: Port, what: string): void {
  const got = native().fdRead(p.fd, 50);
  t.is(got, null, `${what}: port ${p.id} got ${got ? `${got.length} bytes` : 'nothing'}`);
}
