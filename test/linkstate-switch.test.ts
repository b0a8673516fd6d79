/**
 * Administrative link state in the engine (ctn_engine_port_admin) over
 * socketpair-backed ports, no root needed, on a one-thread engine and on a
 * three-thread one: a port set down drops what it receives and what its lan
 * sends it, each counted, from the moment the call returns (not one frame
 * gets through after it); up puts it back. An a2b's queued frames are dropped
 * as they come out once its ports are down. See docs/linkstate.md.
 */
import type { ExecutionContext } from 'ava';

import { A2B_DEFAULTS, nativeSettings } from '../src/kinds/a2b/settings.js';
import { ARRIVE_MS, BCAST, both, expectFrame, expectNothing, frame, mac, port, rig, send, type Port, type Rig } from './helpers/rig.js';

/** Wait (busy, with a deadline) until port @id's drop counter @reason is @n;
 *  the final check is an assertion. Each read is a barrier (see helpers/rig.ts). */
function waitDrops(t: ExecutionContext, r: Rig, id: number, reason: string, n: number, what: string): void {
  const deadline = Date.now() + ARRIVE_MS;
  while ((r.engine.portStats(id).drops[reason] ?? 0) < n && Date.now() < deadline);
  t.is(r.engine.portStats(id).drops[reason], n, what);
}

/** Wait until port @p has taken in @n frames in all (so they went wherever they went). */
function waitRx(t: ExecutionContext, r: Rig, p: Port, n: number, what: string): void {
  const deadline = Date.now() + ARRIVE_MS;
  while (r.engine.portStats(p.id).rxPackets < n && Date.now() < deadline);
  t.is(r.engine.portStats(p.id).rxPackets, n, what);
}

both('a port set down drops both ways, counted, from the moment the call returns; up puts it back', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, c] = [port(r, l), port(r, l), port(r, l)];
  // Stations learned: b's and a's.
  const fb = frame(BCAST, mac(0xb));
  send(b, fb);
  expectFrame(t, a, fb, 'broadcast from b');
  expectFrame(t, c, fb, 'broadcast from b');
  t.is(r.engine.portStats(b.id).admin, 'up');

  r.engine.setPortAdmin(b.id, true);
  t.is(r.engine.portStats(b.id).admin, 'down');
  t.notThrows(() => r.engine.setPortAdmin(b.id, true), 'down again is no error');

  // Sent to b by the lan: unicast to its learned station and broadcasts.
  for (let i = 0; i < 5; i++) send(a, frame(mac(0xb), mac(0xa)));
  const floods = [0, 1, 2].map(() => frame(BCAST, mac(0xa)));
  for (const f of floods) send(a, f);
  for (const f of floods) expectFrame(t, c, f, 'broadcast from a reaches c');
  waitDrops(t, r, b.id, 'admin_down_tx', 8, 'what the lan sent b, dropped');
  expectNothing(t, b, 'b is down');

  // Received on b.
  for (let i = 0; i < 4; i++) send(b, frame(i % 2 ? BCAST : mac(0xa), mac(0xb)));
  waitDrops(t, r, b.id, 'admin_down_rx', 4, 'what b received, dropped');
  expectNothing(t, a, 'from b while down');
  expectNothing(t, c, 'from b while down');
  t.is(r.engine.portStats(b.id).drops.admin_down_tx, 8, 'the tx count did not move');

  // Up: both ways again, b's station still known (it never left the lan).
  r.engine.setPortAdmin(b.id, false);
  t.is(r.engine.portStats(b.id).admin, 'up');
  const f1 = frame(mac(0xb), mac(0xa));
  send(a, f1);
  expectFrame(t, b, f1, 'unicast to b once up');
  r.engine.lanStats(l);
  expectNothing(t, c, 'unicast to known b is not flooded');
  const f2 = frame(mac(0xa), mac(0xb));
  send(b, f2);
  expectFrame(t, a, f2, 'from b once up');
  const st = r.engine.portStats(b.id);
  t.is(st.drops.admin_down_rx, 4);
  t.is(st.drops.admin_down_tx, 8);
});

both('a flap loop: whatever the engine takes in while the port is down is dropped, whatever after an up arrives, and the counters add up', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b] = [port(r, l), port(r, l)];
  const fb = frame(BCAST, mac(0xb));
  send(b, fb);
  expectFrame(t, a, fb, 'broadcast from b');
  const N = 100;
  for (let i = 0; i < N; i++) {
    r.engine.setPortAdmin(b.id, true);
    send(a, frame(mac(0xb), mac(0xa)));
    send(b, frame(mac(0xa), mac(0xb)));
    // Both taken in (so forwarded or dropped) before b goes up again.
    waitRx(t, r, a, 2 * i + 1, `flap ${i}: a's frame read`);
    waitRx(t, r, b, i + 2, `flap ${i}: b's frame read`);
    r.engine.setPortAdmin(b.id, false);
    const f = frame(mac(0xb), mac(0xa));
    send(a, f);
    expectFrame(t, b, f, `flap ${i}: sent after up`);
  }
  r.engine.lanStats(l);
  expectNothing(t, b, 'no frame sent while b was down reached b');
  expectNothing(t, a, 'no frame b sent while down reached a');
  const sb = r.engine.portStats(b.id);
  t.is(sb.drops.admin_down_tx, N, 'each frame the lan sent b while down, dropped');
  t.is(sb.drops.admin_down_rx, N, 'each frame b received while down, dropped');
  t.is(sb.txPackets, N, 'each frame sent after an up, delivered');
  t.is(r.engine.portStats(a.id).txPackets, 1, 'a got only b\'s first broadcast');
});

both('an a2b whose ports go down: what its queue holds is dropped as it comes out, counted; up again it carries frames', (t, threads) => {
  const r = rig(t, threads);
  const l1 = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const l2 = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [x, y] = [port(r, l1), port(r, l2)];
  const [sa, sb] = r.engine.addPort('a2b', [l1, l2], {});
  r.engine.setPort(sa!.id, { dirs: 3, ...nativeSettings({ ...A2B_DEFAULTS, delay: 300_000 }) });
  const N = 20;
  for (let i = 0; i < N; i++) send(x, frame(BCAST, mac(0x10)));
  // All in the a2b's queue (300 ms of delay) before it goes down.
  const deadline = Date.now() + ARRIVE_MS;
  while ((r.engine.portStats(sa!.id).counters.queued ?? 0) < N && Date.now() < deadline);
  t.is(r.engine.portStats(sa!.id).counters.queued, N, 'the frames wait in the a2b queue');
  r.engine.setPortAdmin(sa!.id, true);
  r.engine.setPortAdmin(sb!.id, true);
  waitDrops(t, r, sb!.id, 'admin_down_rx', N, 'the queued frames, dropped as they came out of side B');
  expectNothing(t, y, 'none of the queued frames came out');
  // Sent to side A while down: dropped before the queue.
  send(x, frame(BCAST, mac(0x10)));
  waitDrops(t, r, sa!.id, 'admin_down_tx', 1, 'what lan A sent the a2b while down');
  t.is(r.engine.portStats(sa!.id).counters.queued, 0, 'nothing queued while down');

  r.engine.setPortAdmin(sa!.id, false);
  r.engine.setPortAdmin(sb!.id, false);
  const f = frame(BCAST, mac(0x10));
  send(x, f);
  expectFrame(t, y, f, 'through the a2b once up (after its delay)');
});

both('setting the state of a port that is not there is refused', (t, threads) => {
  const r = rig(t, threads);
  t.throws(() => r.engine.setPortAdmin(4000, true), { message: /no port with id 4000/ });
});
