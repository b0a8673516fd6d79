/**
 * The core's switch logic over socketpair-backed ports (no root needed): each
 * port is one end of a unix datagram (or seqpacket) socketpair handed to the
 * engine; the test drives the other end with fdWrite/fdRead.
 *
 * Absence of a frame is never judged by a timeout alone. A port's frames are
 * forwarded and sent in the same worker loop pass that read them, and every
 * engine call (portStats, lanStats) is carried out between passes, with every
 * worker paused at the top of its loop. So once one output of a frame has been
 * read, or the ingress port's counters show the frame was taken in, a stats call
 * is a barrier after which every socket that was going to get the frame already
 * holds it, whichever worker polls which port.
 *
 * Every test runs on a one-thread engine and again on a three-thread one.
 */
import test, { type ExecutionContext } from 'ava';
import { performance } from 'node:perf_hooks';

import { native, type EngineEvent, type NativeEngine, type NativePortInfo } from '../src/native.js';
import { waitFor } from './helpers/env.js';

/** Largest frame the dataplane carries (CTN_FRAME_MAX in native/core/pkt.h). */
const FRAME_MAX = 65536 + 18;
/** Smallest frame: an ethernet header (CTN_FRAME_MIN). */
const FRAME_MIN = 14;
/** Generous wait for a frame that must arrive (2 noisy cores). */
const ARRIVE_MS = 5000;
/** Broadcast address. */
const BCAST = 'ff:ff:ff:ff:ff:ff';
/** An IPv4 multicast group address (01:00:5e:..). */
const MCAST = '01:00:5e:00:00:fb';

const ECONNREFUSED = 111;
const EAGAIN = 11;

/** A port of the switch under test: its engine id and the test's end of its socketpair. */
interface Port {
  id: number;
  /** The test's end (the engine owns the other). */
  fd: number;
  info: NativePortInfo;
}

/** An engine with the fds the test owns, torn down when the test ends. */
interface Rig {
  engine: NativeEngine;
  /** Every event the engine reported so far, in order. */
  events: EngineEvent[];
  /** The test's own fds still open (closed at teardown). */
  fds: Set<number>;
}

/** Sleep @ms milliseconds. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Worker threads of the engine each test runs on (see both()). */
const threadsOf = new WeakMap<ExecutionContext, number>();

/**
 * Register @fn twice: on a one-thread engine, and on a three-thread engine whose
 * ports are spread over the workers (each new port goes to the least loaded),
 * so every behaviour holds however the ports are placed.
 */
function both(title: string, fn: (t: ExecutionContext) => unknown): void {
  test.serial(title, (t) => {
    threadsOf.set(t, 1);
    return fn(t);
  });
  test.serial(`${title} [3 threads]`, (t) => {
    threadsOf.set(t, 3);
    return fn(t);
  });
}

/** Start an engine for @t; at teardown close it (and its ports), then the test's fds. */
function rig(t: ExecutionContext, opts: { poolSize?: number } = {}): Rig {
  const events: EngineEvent[] = [];
  const Engine = native().Engine;
  const engine = new Engine((ev) => events.push(ev), { ...opts, threads: threadsOf.get(t) ?? 1 });
  const r: Rig = { engine, events, fds: new Set() };
  t.teardown(() => {
    engine.close();
    for (const fd of r.fds) native().closeFd(fd);
    r.fds.clear();
  });
  return r;
}

/** A lan with a large table and long aging unless told otherwise. */
function lan(r: Rig, opts: { macTableSize?: number; agingMs?: number } = {}): number {
  return r.engine.addLan({ macTableSize: opts.macTableSize ?? 1024, agingMs: opts.agingMs ?? 300_000 });
}

/** A socketpair of @type whose one end becomes a port of lan @lanId; the test keeps the other. */
function port(r: Rig, lanId: number, type: 'dgram' | 'seqpacket' = 'dgram'): Port {
  const [ours, theirs] = native().socketpair(type);
  r.fds.add(ours);
  let info: NativePortInfo;
  try {
    info = r.engine.addFdPort(theirs, lanId);
  } catch (e) {
    native().closeFd(theirs); // not taken: still ours
    throw e;
  }
  return { id: info.id, fd: ours, info };
}

/** Close the test's end of @p (its peer hangs up). */
function hangUp(r: Rig, p: Port): void {
  r.fds.delete(p.fd);
  native().closeFd(p.fd);
}

/** Bytes of a MAC address written aa:bb:cc:dd:ee:ff. */
function macBytes(mac: string): Buffer {
  const b = Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
  if (b.length !== 6) throw new Error(`bad MAC ${mac}`);
  return b;
}

/** A locally administered unicast MAC address numbered @n. */
function mac(n: number): string {
  const h = n.toString(16).padStart(8, '0');
  return `02:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}`;
}

let frameSeq = 0;

/**
 * An ethernet frame to @dst from @src with ethertype 0x88b5 (local
 * experimental), @len bytes in all, the payload a pattern unique to this frame.
 */
function frame(dst: string, src: string, len = 64): Buffer {
  if (len < FRAME_MIN) throw new Error('use rawBytes for frames shorter than a header');
  const f = Buffer.alloc(len);
  macBytes(dst).copy(f, 0);
  macBytes(src).copy(f, 6);
  f.writeUInt16BE(0x88b5, 12);
  const seq = ++frameSeq;
  for (let i = FRAME_MIN; i < len; i++) f[i] = (i * 31 + seq * 7) & 0xff;
  if (len >= FRAME_MIN + 4) f.writeUInt32BE(seq, FRAME_MIN);
  return f;
}

/** Write @data as one datagram on @p's socket, retrying while the socket is full. */
async function send(p: Port, data: Buffer): Promise<void> {
  const deadline = performance.now() + ARRIVE_MS;
  for (;;) {
    const n = native().fdWrite(p.fd, data);
    if (n === data.length) return;
    if (n !== -EAGAIN || performance.now() > deadline)
      throw new Error(`fdWrite of ${data.length} bytes on port ${p.id} returned ${n}`);
    await sleep(5);
  }
}

/** Assert that the next frame out of @p is exactly @want. */
function expectFrame(t: ExecutionContext, p: Port, want: Buffer, what: string): void {
  const got = native().fdRead(p.fd, ARRIVE_MS);
  if (got === null) {
    t.fail(`${what}: nothing arrived on port ${p.id}`);
    return;
  }
  t.is(got.length, want.length, `${what}: length on port ${p.id}`);
  t.true(got.equals(want), `${what}: content on port ${p.id}`);
}

/**
 * Assert that nothing is waiting on @p. Call it only after a barrier (see the
 * file comment): a lanStats/portStats call after the frame was seen elsewhere or
 * counted in.
 */
function expectNothing(t: ExecutionContext, p: Port, what: string): void {
  const got = native().fdRead(p.fd, 50);
  t.is(got, null, `${what}: port ${p.id} got ${got ? `${got.length} bytes` : 'nothing'}`);
}

/** Wait until port @p has taken in @n frames (counted in rx or dropped as runt/too big/bad src). */
async function takenIn(r: Rig, p: Port, n: number): Promise<void> {
  await waitFor(`port ${p.id} to take in ${n} frames`, () => {
    const s = r.engine.portStats(p.id);
    return s.rxPackets + (s.drops.runt ?? 0) + (s.drops.too_big ?? 0) >= n;
  });
}

/** port-down events the engine reported for port @id. */
function downEvents(r: Rig, id: number): { port: number; reason: string }[] {
  return r.events.flatMap((e) => (e.type === 'port-down' && e.port === id ? [e] : []));
}

both('a datagram socket becomes a port of kind dgram with no frame prefix; a stream socket is refused and stays the caller\'s', (t) => {
  const r = rig(t);
  const l = lan(r);
  const a = port(r, l);
  t.is(a.info.kind, 'dgram');
  t.is(a.info.hdrLen, 0);
  t.false(a.info.vnetHdr);
  t.false(a.info.packetInfo);
  t.false(a.info.broken);
  t.is(r.engine.lanStats(l).ports, 1);

  const [s0, s1] = native().socketpair('stream');
  r.fds.add(s0);
  r.fds.add(s1);
  t.throws(() => r.engine.addFdPort(s1, l), { message: /stream socket/ });
  // Refused: the fd was not closed by the engine and still works.
  const probe = Buffer.from('still open');
  t.is(native().fdWrite(s1, probe), probe.length);
  t.true(native().fdRead(s0, ARRIVE_MS)?.equals(probe));
  t.is(r.engine.lanStats(l).ports, 1);
  t.throws(() => r.engine.addFdPort(s1, l + 100), { message: /no lan/ });
});

both('learning: once A has sent, a frame for A goes out A\'s port only, not flooded', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const [ma, mb] = [mac(0xa), mac(0xb)];

  // Before A has sent, a frame for A is unknown unicast: flooded to A and C.
  const f0 = frame(ma, mb);
  await send(b, f0);
  expectFrame(t, a, f0, 'unknown unicast to A');
  expectFrame(t, c, f0, 'unknown unicast to A');
  t.is(r.engine.lanStats(l).unknownUnicast, 1);

  const f1 = frame(BCAST, ma);
  await send(a, f1);
  expectFrame(t, b, f1, 'broadcast from A');
  expectFrame(t, c, f1, 'broadcast from A');

  const f2 = frame(ma, mb, 200);
  await send(b, f2);
  expectFrame(t, a, f2, 'unicast to learned A');
  const st = r.engine.lanStats(l); // barrier
  expectNothing(t, c, 'unicast to learned A must not reach C');
  expectNothing(t, b, 'unicast to learned A must not come back to B');
  t.is(st.unknownUnicast, 1, 'the frame to a learned station is not unknown unicast');
  t.is(st.learned, 2, 'A and B learned');
  t.is(st.macs, 2);

  // And the reverse: B is learned too.
  const f3 = frame(mb, ma, 120);
  await send(a, f3);
  expectFrame(t, b, f3, 'unicast to learned B');
  r.engine.lanStats(l);
  expectNothing(t, c, 'unicast to learned B must not reach C');
});

for (const [kind, dst] of [
  ['broadcast', BCAST],
  ['multicast (01:00:5e:..)', MCAST],
  ['IPv6 multicast (33:33:..)', '33:33:00:00:00:01'],
] as const) {
  both(`${kind} is flooded to every other port of the lan and never back to the ingress port`, async (t) => {
    const r = rig(t);
    const l = lan(r);
    const ports = [port(r, l), port(r, l), port(r, l), port(r, l)];
    // Teach the switch every station first so flooding is not just "unknown".
    for (let i = 0; i < ports.length; i++) {
      const hello = frame(BCAST, mac(i + 1));
      await send(ports[i]!, hello);
      for (let j = 0; j < ports.length; j++) if (j !== i) expectFrame(t, ports[j]!, hello, `hello of ${i}`);
    }
    const before = r.engine.lanStats(l);
    t.is(before.macs, 4);
    for (let i = 0; i < ports.length; i++) {
      const f = frame(dst, mac(i + 1), 100 + i);
      await send(ports[i]!, f);
      for (let j = 0; j < ports.length; j++) if (j !== i) expectFrame(t, ports[j]!, f, `${kind} from port ${i}`);
      r.engine.lanStats(l); // barrier
      expectNothing(t, ports[i]!, `${kind} must not go back to its ingress port`);
    }
    const after = r.engine.lanStats(l);
    t.is(after.flooded - before.flooded, 4);
    t.is(after.unknownUnicast, 0, `${kind} is not counted as unknown unicast`);
    t.is(after.learned, 4, 'no group address was learned as a station');
  });
}

both('unicast to an unknown station is flooded to every other port, never back, and counted as unknown unicast', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const ports = [port(r, l), port(r, l), port(r, l)];
  for (let i = 0; i < ports.length; i++) {
    const f = frame(mac(0x99), mac(i + 1), 80);
    await send(ports[i]!, f);
    for (let j = 0; j < ports.length; j++) if (j !== i) expectFrame(t, ports[j]!, f, `unknown unicast from ${i}`);
    r.engine.lanStats(l);
    expectNothing(t, ports[i]!, 'unknown unicast must not go back to its ingress port');
  }
  const st = r.engine.lanStats(l);
  t.is(st.unknownUnicast, 3);
  t.is(st.flooded, 3);
});

both('a frame for a station that sits behind the ingress port is filtered, sent nowhere', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const [a1, a2] = [mac(0xa1), mac(0xa2)];
  const hello = frame(BCAST, a1);
  await send(a, hello);
  expectFrame(t, b, hello, 'hello');
  expectFrame(t, c, hello, 'hello');
  // A second station behind A talks to the first one.
  await send(a, frame(a1, a2));
  await takenIn(r, a, 2);
  const st = r.engine.lanStats(l);
  t.is(st.filtered, 1);
  for (const p of [a, b, c]) expectNothing(t, p, 'filtered frame');
});

both('lans are isolated: nothing sent on one lan ever appears on another', async (t) => {
  const r = rig(t);
  const l1 = lan(r);
  const l2 = lan(r);
  t.not(l1, l2);
  const [a1, a2] = [port(r, l1), port(r, l1)];
  const [b1, b2] = [port(r, l2), port(r, l2)];

  // b1's station is known on lan2 only.
  const hb = frame(BCAST, mac(0xb1));
  await send(b1, hb);
  expectFrame(t, b2, hb, 'lan2 broadcast');
  r.engine.lanStats(l2);
  expectNothing(t, a1, 'lan2 broadcast on lan1');
  expectNothing(t, a2, 'lan2 broadcast on lan1');

  for (const f of [frame(BCAST, mac(0xa1)), frame(MCAST, mac(0xa1)), frame(mac(0xb1), mac(0xa1)), frame(mac(0xb2), mac(0xa1))]) {
    await send(a1, f);
    expectFrame(t, a2, f, 'lan1 frame');
    r.engine.lanStats(l1);
    expectNothing(t, b1, 'lan1 frame on lan2');
    expectNothing(t, b2, 'lan1 frame on lan2');
  }
  const s1 = r.engine.lanStats(l1);
  const s2 = r.engine.lanStats(l2);
  t.is(s1.unknownUnicast, 2, 'a station learned on lan2 is unknown on lan1');
  t.is(s1.learned, 1);
  t.is(s2.learned, 1);
  t.is(s2.flooded, 1);
});

both('aging: a station not seen for the aging time expires (expired counter) and frames for it are flooded again', async (t) => {
  const r = rig(t);
  const l = lan(r, { agingMs: 300_000 });
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const [ma, mb] = [mac(0xa), mac(0xb)];
  r.engine.setLanAging(l, 1000);
  t.is(r.engine.lanStats(l).agingMs, 1000);

  const lastSeen = performance.now();
  const hello = frame(BCAST, ma);
  await send(a, hello);
  expectFrame(t, b, hello, 'hello');
  expectFrame(t, c, hello, 'hello');
  const f1 = frame(ma, mb);
  await send(b, f1);
  expectFrame(t, a, f1, 'unicast to A while fresh');
  const fresh = r.engine.lanStats(l);
  expectNothing(t, c, 'unicast to a fresh station is not flooded');
  t.is(fresh.macs, 2);
  t.is(fresh.expired, 0);

  // The housekeeping timer sweeps once a second; both stations go.
  await waitFor('A and B to expire', () => r.engine.lanStats(l).expired >= 2, 15000);
  const st = r.engine.lanStats(l);
  t.true(performance.now() - lastSeen >= 900, 'nothing expires before its aging time');
  t.is(st.expired, 2);
  t.is(st.macs, 0);

  const f2 = frame(ma, mb, 90);
  await send(b, f2);
  expectFrame(t, a, f2, 'unicast to expired A');
  expectFrame(t, c, f2, 'unicast to expired A is flooded');
  t.is(r.engine.lanStats(l).unknownUnicast, 1);
});

both('eviction: a full 8-entry table evicts its least recently seen stations and stays bounded', async (t) => {
  const r = rig(t);
  const l = lan(r, { macTableSize: 8 });
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  t.is(r.engine.lanStats(l).macCapacity, 8);

  // Twelve stations behind A, each seen at a distinct millisecond.
  for (let i = 1; i <= 12; i++) {
    const f = frame(BCAST, mac(0x100 + i));
    await send(a, f);
    expectFrame(t, b, f, `hello ${i}`);
    expectFrame(t, c, f, `hello ${i}`);
    await sleep(3);
  }
  const st = r.engine.lanStats(l);
  t.is(st.learned, 12);
  t.is(st.macs, 8);
  t.is(st.evicted, 4);
  t.is(st.expired, 0);

  // B's station takes the place of the oldest left (station 5); station 12 stays.
  const toNew = frame(mac(0x100 + 12), mac(0xb));
  await send(b, toNew);
  expectFrame(t, a, toNew, 'frame for a recent station');
  let now = r.engine.lanStats(l);
  expectNothing(t, c, 'a recent station is still known: not flooded');
  t.is(now.evicted, 5);
  t.is(now.macs, 8);

  for (const old of [1, 4, 5]) {
    const toOld = frame(mac(0x100 + old), mac(0xb));
    await send(b, toOld);
    expectFrame(t, a, toOld, `frame for evicted station ${old}`);
    expectFrame(t, c, toOld, `frame for evicted station ${old} is flooded`);
  }
  now = r.engine.lanStats(l);
  t.is(now.unknownUnicast, 3);
  t.true(now.macs <= now.macCapacity);
});

both('MAC move: a station seen on another port is counted as moved and its traffic follows it', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const x = mac(0x77);
  const h1 = frame(BCAST, x);
  await send(a, h1);
  expectFrame(t, b, h1, 'X on A');
  expectFrame(t, c, h1, 'X on A');
  const toX1 = frame(x, mac(0xc));
  await send(c, toX1);
  expectFrame(t, a, toX1, 'frame for X while on A');
  t.is(r.engine.lanStats(l).moved, 0);
  expectNothing(t, b, 'X is on A');

  const h2 = frame(BCAST, x);
  await send(b, h2);
  expectFrame(t, a, h2, 'X on B');
  expectFrame(t, c, h2, 'X on B');
  const toX2 = frame(x, mac(0xc));
  await send(c, toX2);
  expectFrame(t, b, toX2, 'frame for X after the move');
  const st = r.engine.lanStats(l);
  expectNothing(t, a, 'frames for X no longer go to A');
  t.is(st.moved, 1);
  t.is(st.learned, 2, 'a move is not a new station');
  t.is(st.macs, 2);
});

both('per-port counters: exact rx/tx packets and bytes for a known sequence, no drops', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b] = [port(r, l), port(r, l)];
  const [ma, mb] = [mac(0xa), mac(0xb)];
  const seq: [Port, Port, Buffer][] = [
    [a, b, frame(BCAST, ma, 100)],
    [b, a, frame(ma, mb, 200)],
    [a, b, frame(mb, ma, 300)],
    [a, b, frame(MCAST, ma, 60)],
    [b, a, frame(BCAST, mb, 1514)],
  ];
  const want = new Map<number, { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }>([
    [a.id, { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 }],
    [b.id, { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 }],
  ]);
  for (const [from, to, f] of seq) {
    await send(from, f);
    expectFrame(t, to, f, 'sequence');
    want.get(from.id)!.rxPackets++;
    want.get(from.id)!.rxBytes += f.length;
    want.get(to.id)!.txPackets++;
    want.get(to.id)!.txBytes += f.length;
  }
  for (const p of [a, b]) {
    const s = r.engine.portStats(p.id);
    t.deepEqual(
      { rxPackets: s.rxPackets, rxBytes: s.rxBytes, txPackets: s.txPackets, txBytes: s.txBytes },
      want.get(p.id),
      `counters of port ${p.id}`,
    );
    t.true(Object.values(s.drops).every((n) => n === 0), `no drops on port ${p.id}: ${JSON.stringify(s.drops)}`);
  }
  // Sanity of the expectation itself: A sent 3 frames (460 bytes), B 2 (1714).
  t.is(want.get(a.id)!.rxBytes, 460);
  t.is(want.get(b.id)!.rxBytes, 1714);
});

both('runts (empty, 10 and 13 bytes) are dropped as runt and not counted as received; a bare 14-byte header crosses', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b] = [port(r, l), port(r, l)];
  const hdr = frame(BCAST, mac(0xa)).subarray(0, 14);
  await send(a, Buffer.alloc(0));
  await send(a, hdr.subarray(0, 10));
  await send(a, hdr.subarray(0, 13));
  await send(a, hdr);
  // Frames leave in order: the first thing B sees is the 14-byte frame.
  expectFrame(t, b, Buffer.from(hdr), 'the smallest frame');
  const s = r.engine.portStats(a.id);
  expectNothing(t, b, 'runts are not forwarded');
  t.is(s.drops.runt, 3);
  t.is(s.rxPackets, 1);
  t.is(s.rxBytes, 14);
  t.is(r.engine.portStats(b.id).txPackets, 1);
  t.is(r.engine.lanStats(l).learned, 1);
});

both('frames with a multicast, broadcast or all-zero source address are dropped as bad_src, not learned, not forwarded', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b] = [port(r, l), port(r, l)];
  const bad = ['01:00:5e:00:00:01', BCAST, '33:33:00:00:00:01', '00:00:00:00:00:00'];
  for (const src of bad) await send(a, frame(BCAST, src, 60));
  const marker = frame(BCAST, mac(0xa), 61);
  await send(a, marker);
  expectFrame(t, b, marker, 'the good frame after the bad ones');
  const s = r.engine.portStats(a.id);
  expectNothing(t, b, 'bad-source frames are not forwarded');
  t.is(s.drops.bad_src, bad.length);
  const st = r.engine.lanStats(l);
  t.is(st.learned, 1, 'only the good source was learned');
  t.is(st.macs, 1);
  // Frames *to* those addresses are not steered to A: the zero address is unknown.
  const toZero = frame('00:00:00:00:00:00', mac(0xb), 60);
  await send(b, toZero);
  expectFrame(t, a, toZero, 'frame to the zero address');
  t.is(r.engine.lanStats(l).unknownUnicast, 1);
});

both(`frames up to ${FRAME_MAX} bytes (64 KiB payload + tagged header) cross whole; one byte more is dropped as too_big`, async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b] = [port(r, l), port(r, l)];
  const [ma, mb] = [mac(0xa), mac(0xb)];
  const f1 = frame(BCAST, ma, 65000);
  await send(a, f1);
  expectFrame(t, b, f1, '65000-byte frame');
  const f2 = frame(ma, mb, FRAME_MAX);
  await send(b, f2);
  expectFrame(t, a, f2, `${FRAME_MAX}-byte frame`);
  const f3 = frame(BCAST, ma, FRAME_MAX + 1);
  await send(a, f3);
  const marker = frame(BCAST, ma, 64);
  await send(a, marker);
  expectFrame(t, b, marker, 'the frame after the oversized one');
  const sa = r.engine.portStats(a.id);
  expectNothing(t, b, 'the oversized frame');
  t.is(sa.drops.too_big, 1);
  t.is(sa.rxPackets, 2);
  t.is(sa.rxBytes, 65000 + 64);
  t.is(sa.txBytes, FRAME_MAX);
  t.is(r.engine.portStats(b.id).txBytes, 65000 + 64);
});

both('a dgram port whose peer closed goes down (port-down event with a reason) and the other ports keep forwarding', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const [ma, mc] = [mac(0xa), mac(0xc)];
  hangUp(r, b);
  // A datagram peer's hang-up shows on the next frame sent to it.
  const f1 = frame(BCAST, ma);
  await send(a, f1);
  expectFrame(t, c, f1, 'broadcast while B is gone');
  await waitFor('port-down of B', () => downEvents(r, b.id).length > 0);
  const [down] = downEvents(r, b.id);
  t.regex(down!.reason, /refused|reset|pipe/i);
  const sb = r.engine.portStats(b.id);
  t.true(sb.broken);
  t.is(sb.reason, down!.reason);
  t.is(r.engine.lanStats(l).ports, 2);

  for (let i = 0; i < 3; i++) {
    const f = frame(BCAST, ma, 70 + i);
    await send(a, f);
    expectFrame(t, c, f, 'broadcast after B went down');
    const g = frame(ma, mc, 80 + i);
    await send(c, g);
    expectFrame(t, a, g, 'unicast after B went down');
  }
  t.is(r.engine.portStats(b.id).txPackets, 0);
  t.is(downEvents(r, b.id).length, 1, 'one port-down per port');
  t.is(downEvents(r, a.id).length + downEvents(r, c.id).length, 0);
  r.engine.delPort(b.id);
  t.throws(() => r.engine.portStats(b.id), { message: /no port/ });
});

both('a seqpacket port whose peer closed goes down at once, with no traffic, and the others keep forwarding', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const a = port(r, l);
  const s = port(r, l, 'seqpacket');
  const c = port(r, l);
  t.is(s.info.kind, 'dgram');
  // The seqpacket port forwards like the others.
  const f0 = frame(BCAST, mac(5));
  await send(s, f0);
  expectFrame(t, a, f0, 'from the seqpacket port');
  expectFrame(t, c, f0, 'from the seqpacket port');
  hangUp(r, s);
  await waitFor('port-down of the seqpacket port', () => downEvents(r, s.id).length > 0);
  const [down] = downEvents(r, s.id);
  t.regex(down!.reason, /peer/);
  t.true(r.engine.portStats(s.id).broken);
  const st = r.engine.lanStats(l);
  t.is(st.ports, 2);
  t.is(st.macs, 0, 'the stations of a port that went down are forgotten');
  const f = frame(BCAST, mac(0xa));
  await send(a, f);
  expectFrame(t, c, f, 'after the seqpacket port went down');
});

both('delLan refuses a lan with ports; delPort closes the port and forgets its stations; an empty lan is deleted', async (t) => {
  const r = rig(t);
  const l = lan(r);
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  const [ma, mb] = [mac(0xa), mac(0xb)];
  const ha = frame(BCAST, ma);
  await send(a, ha);
  expectFrame(t, b, ha, 'hello A');
  expectFrame(t, c, ha, 'hello A');
  t.is(r.engine.lanStats(l).macs, 1);

  t.throws(() => r.engine.delLan(l), { message: /still has 3 ports/ });
  t.is(r.engine.lanStats(l).ports, 3, 'a refused delLan changes nothing');

  r.engine.delPort(a.id);
  t.throws(() => r.engine.portStats(a.id), { message: /no port/ });
  t.throws(() => r.engine.delPort(a.id), { message: /no port/ });
  let st = r.engine.lanStats(l);
  t.is(st.ports, 2);
  t.is(st.macs, 0, "A's station is forgotten with its port");
  // The engine closed its end (on its closer thread, a moment after delPort): the peer is gone.
  const refused = await waitFor("the engine's end of A to be closed", () => native().fdWrite(a.fd, frame(BCAST, ma)) === -ECONNREFUSED);
  t.true(refused, 'a write to the deleted port is refused');

  // A frame for A is now unknown unicast: flooded to C, and the deleted port gets nothing.
  const toA = frame(ma, mb);
  await send(b, toA);
  expectFrame(t, c, toA, 'frame for the removed station');
  st = r.engine.lanStats(l);
  t.is(st.unknownUnicast, 1);

  r.engine.delPort(b.id);
  r.engine.delPort(c.id);
  t.is(r.engine.lanStats(l).ports, 0);
  r.engine.delLan(l);
  t.throws(() => r.engine.lanStats(l), { message: /no lan/ });
  t.throws(() => r.engine.delLan(l), { message: /no lan/ });
  t.throws(() => port(r, l), { message: /no lan/ });
  t.deepEqual(r.events.filter((e) => e.type === 'port-down'), [], 'removal by delPort is not a port-down');
});

both('close() stops the engine: its ports are closed and further calls throw', (t) => {
  const r = rig(t);
  const l = lan(r);
  const a = port(r, l);
  const f = frame(BCAST, mac(1));
  t.is(native().fdWrite(a.fd, f), f.length);
  r.engine.close();
  t.is(native().fdWrite(a.fd, f), -ECONNREFUSED);
  t.throws(() => r.engine.lanStats(l), { message: /closed/ });
  t.notThrows(() => r.engine.close(), 'close is idempotent');
});

both('with a packet pool of 2 buffers, a burst of 40 frames still crosses whole and in order', async (t) => {
  const r = rig(t, { poolSize: 2 });
  const l = lan(r);
  const [a, b] = [port(r, l), port(r, l)];
  const frames = Array.from({ length: 40 }, (_, i) => frame(BCAST, mac(0xa), 64 + i));
  for (const f of frames) await send(a, f);
  for (const [i, f] of frames.entries()) expectFrame(t, b, f, `frame ${i}`);
  const s = r.engine.portStats(b.id);
  t.is(s.txPackets, 40);
  t.is(s.drops.tx_full, 0);
});

test.serial('three threads forward six busy ports at once, through port churn and stats calls, losing and reordering nothing', async (t) => {
  threadsOf.set(t, 3);
  const r = rig(t);
  const l = lan(r);
  const ports = Array.from({ length: 6 }, () => port(r, l));
  t.deepEqual(new Set(ports.map((p) => p.info.thread)), new Set([0, 1, 2]), 'ports are spread over the three workers');
  // Every port announces its station, so all later traffic is known unicast.
  for (const [i, p] of ports.entries()) {
    await send(p, frame(BCAST, mac(i + 1)));
    for (const [j, q] of ports.entries()) if (j !== i) native().fdRead(q.fd, ARRIVE_MS);
  }
  // Rounds: each port sends 8 frames to the next one, each from a source address
  // of its own range that changes every round (the MAC table learns all the
  // time, on every worker). A unix datagram socket queues only 10 messages, so
  // each round is read out before the next.
  const rounds = 40;
  for (let round = 0; round < rounds; round++) {
    const sent: Buffer[][] = ports.map(() => []);
    for (const [i, p] of ports.entries()) {
      const to = (i + 1) % ports.length;
      for (let k = 0; k < 8; k++) {
        const f = frame(mac(to + 1), mac(1000 * (i + 1) + (round % 50)), 60 + k * 100);
        sent[to]!.push(f);
        await send(p, f);
      }
    }
    if (round % 10 === 5) {
      // Churn while frames are in flight: a port comes and goes, stats are read.
      const extra = port(r, l);
      r.engine.lanStats(l);
      r.engine.delPort(extra.id);
      r.engine.portStats(ports[0]!.id);
    }
    for (const [j, q] of ports.entries())
      for (const [k, want] of sent[j]!.entries()) expectFrame(t, q, want, `round ${round}, frame ${k} for port ${j}`);
  }
  const total = rounds * 8;
  for (const p of ports) {
    const s = r.engine.portStats(p.id);
    t.is(s.rxPackets, total + 1, `port ${p.id} took in every frame`);
    t.is(s.txPackets, total + ports.length - 1, `port ${p.id} sent every frame`);
    t.deepEqual(Object.entries(s.drops).filter(([, v]) => v > 0), [], `port ${p.id} dropped nothing`);
  }
  const ls = r.engine.lanStats(l);
  t.true(ls.learned >= ports.length * 40, `learned ${ls.learned} stations`);
  t.is(r.events.filter((e) => e.type === 'port-down').length, 0);
});
