/**
 * The mirror's dataplane (native/core/mirror.c, the engine's output-only
 * ports) over socketpair-backed ports, no root needed: the test writes frames
 * on its ends of the selected ports and reads the copies from its end of the
 * output port, exactly, on a one-thread engine and on a three-thread one.
 * As in switch.test.ts, an engine call (portStats, lanStats) runs with every
 * worker paused between passes, so after one output of a frame was read it is
 * a barrier after which every copy that was to be made is waiting.
 */
import { ARRIVE_MS, BCAST, both, expectFrame, expectNothing, frame, mac, port, rig, send } from './helpers/rig.js';

both('a mirror copies what its port receives and sends, exactly, to the output, which the lan leaves alone and which drops what it sends', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, c, o] = [port(r, l), port(r, l), port(r, l), port(r, l)];
  // The output's station is learned before it becomes one.
  const fo = frame(BCAST, mac(0xf));
  send(o, fo);
  for (const p of [a, b, c]) expectFrame(t, p, fo, 'broadcast from o before the mirror');

  const m = r.engine.mirrorStart([a.id], o.id, 'both');
  t.is(r.engine.lanStats(l).ports, 3, 'the output left the lan');

  // a receives (in): a copy, then the lan forwards it.
  const f1 = frame(BCAST, mac(0xa));
  send(a, f1);
  expectFrame(t, o, f1, 'copy of what a received');
  expectFrame(t, b, f1, 'broadcast from a');
  expectFrame(t, c, f1, 'broadcast from a');
  r.engine.lanStats(l);
  expectNothing(t, o, 'one copy per frame');

  // a sends (out): a copy of what b sent to a.
  const f2 = frame(mac(0xa), mac(0xb), 300);
  send(b, f2);
  expectFrame(t, a, f2, 'unicast to a');
  expectFrame(t, o, f2, 'copy of what a sent');
  r.engine.lanStats(l);
  expectNothing(t, c, 'unicast to learned a');

  // Nothing else reaches the output: c's broadcast, and a frame to o's old station (flooded, as unknown now).
  const f3 = frame(BCAST, mac(0xc));
  send(c, f3);
  expectFrame(t, a, f3, 'broadcast from c');
  expectFrame(t, o, f3, 'copy of what a sent (c\'s broadcast)');
  expectFrame(t, b, f3, 'broadcast from c');
  const f4 = frame(mac(0xf), mac(0xc));
  send(c, f4);
  expectFrame(t, b, f4, 'to o\'s old station: flooded, o unknown');
  expectFrame(t, a, f4, 'to o\'s old station: flooded, o unknown');
  expectFrame(t, o, f4, 'copy of what a sent (the flood)');
  r.engine.lanStats(l);
  expectNothing(t, o, 'the lan sent o nothing itself');

  // What o sends is dropped and counted.
  send(o, frame(BCAST, mac(0xf)));
  send(o, frame(mac(0xb), mac(0xf)));
  const deadline = Date.now() + ARRIVE_MS;
  while (r.engine.portStats(o.id).drops.output_only! < 2 && Date.now() < deadline);
  t.is(r.engine.portStats(o.id).drops.output_only, 2);
  for (const p of [a, b, c]) expectNothing(t, p, 'what o sent');

  const st = r.engine.mirrorStats(m);
  t.deepEqual(st, { frames: 4, bytes: f1.length + f2.length + f3.length + f4.length, drops: 0 });
  t.deepEqual(r.engine.mirrorStop(m), st);
  t.throws(() => r.engine.mirrorStats(m), { message: /no mirror/ });

  // Back on the lan.
  t.is(r.engine.lanStats(l).ports, 4);
  const f5 = frame(BCAST, mac(0xf));
  send(o, f5);
  for (const p of [a, b, c]) expectFrame(t, p, f5, 'broadcast from o after the mirror');
  const f6 = frame(BCAST, mac(0xa));
  send(a, f6);
  for (const p of [b, c, o]) expectFrame(t, p, f6, 'broadcast from a, o on the lan');
  r.engine.lanStats(l);
  expectNothing(t, o, 'no copy any more');
});

both('directions: in copies only what the ports received, out only what they sent; two selected ports', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, c, o] = [port(r, l), port(r, l), port(r, l), port(r, l)];
  for (const dir of ['in', 'out'] as const) {
    const m = r.engine.mirrorStart([a.id, b.id], o.id, dir);
    const fa = frame(mac(0xb), mac(0xa));
    send(a, fa);
    expectFrame(t, b, fa, 'a to b');
    // in: received by a; out: sent by b. Either way one copy.
    expectFrame(t, o, fa, `${dir}: copy of a to b`);
    const fc = frame(BCAST, mac(0xc));
    send(c, fc);
    expectFrame(t, a, fc, 'broadcast from c');
    expectFrame(t, b, fc, 'broadcast from c');
    if (dir === 'out') {
      expectFrame(t, o, fc, 'out: sent by a');
      expectFrame(t, o, fc, 'out: sent by b');
    }
    r.engine.lanStats(l);
    expectNothing(t, o, `${dir}: nothing more`);
    t.is(r.engine.mirrorStop(m).frames, dir === 'in' ? 1 : 3);
  }
});

both('refusals: the output selected, an output twice, a port that is not there; the output port removed under a running mirror', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, o] = [port(r, l), port(r, l), port(r, l)];
  t.throws(() => r.engine.mirrorStart([a.id, o.id], o.id, 'both'), { message: /both selected and the output/ });
  t.throws(() => r.engine.mirrorStart([a.id], 4000, 'both'), { message: /no port with id 4000/ });
  t.throws(() => r.engine.mirrorStart([4000], o.id, 'both'), { message: /no port with id 4000/ });
  t.throws(() => r.engine.mirrorStart([], o.id, 'both'), { message: /at least one port/ });
  t.is(r.engine.lanStats(l).ports, 3, 'a refused mirror leaves the output on its lan');
  const m = r.engine.mirrorStart([a.id], o.id, 'in');
  t.throws(() => r.engine.mirrorStart([b.id], o.id, 'in'), { message: /already output only/ });
  // The output goes first (a daemon never does this; the engine copes).
  r.engine.delPort(o.id);
  const f = frame(mac(0xb), mac(0xa));
  send(a, f);
  expectFrame(t, b, f, 'a to b with the output gone');
  t.deepEqual(r.engine.mirrorStop(m), { frames: 0, bytes: 0, drops: 1 });
});

both('an empty packet pool: the copy is a counted drop, the frame itself goes on', (t, threads) => {
  const r = rig(t, threads, 1);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, o] = [port(r, l), port(r, l), port(r, l)];
  const m = r.engine.mirrorStart([a.id], o.id, 'both');
  for (let i = 0; i < 3; i++) {
    const f = frame(mac(0xb), mac(0xa));
    send(a, f);
    expectFrame(t, b, f, `frame ${i} with a pool of one buffer`);
  }
  r.engine.lanStats(l);
  expectNothing(t, o, 'no buffer for a copy');
  t.deepEqual(r.engine.mirrorStop(m), { frames: 0, bytes: 0, drops: 3 });
});

both('two mirrors feeding each other (the daemon refuses it; the engine alone does not): one pass makes at most 256 copies, then a counted drop ends it', (t, threads) => {
  const r = rig(t, threads);
  const l = r.engine.addLan({ macTableSize: 1024, agingMs: 300_000 });
  const [a, b, x, y] = [port(r, l), port(r, l), port(r, l), port(r, l)];
  const m1 = r.engine.mirrorStart([a.id, y.id], x.id, 'both');
  const m2 = r.engine.mirrorStart([x.id], y.id, 'out');
  const f = frame(mac(0xb), mac(0xa));
  send(a, f);
  expectFrame(t, b, f, 'a to b');
  expectFrame(t, x, f, 'the first copy');
  const s1 = r.engine.mirrorStop(m1);
  const s2 = r.engine.mirrorStop(m2);
  t.is(s1.frames + s2.frames, 256, `${JSON.stringify(s1)} ${JSON.stringify(s2)}`);
  t.is(s1.drops + s2.drops, 1);
  // The engine forwards on.
  const g = frame(mac(0xa), mac(0xb));
  send(b, g);
  expectFrame(t, a, g, 'b to a afterwards');
});
