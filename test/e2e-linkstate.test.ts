/**
 * Administrative link state end to end, as root (docs/linkstate.md): taps in
 * network namespaces of the test's own on a lan of its own, ping streams both
 * ways; `set PORT --down` stops traffic from the reply on (the port's counters
 * show not one frame delivered after it, and drops growing both ways), `--up`
 * brings it back; the same on an a2b with a delay, whose queued frames are
 * dropped, not delivered; a flap loop from a shell script with the counters
 * adding up; bad input refused with nothing changed; the state kept across a
 * daemon restart with --state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';
import { execa } from 'execa';

import { binPath, inNetns, rootTest, startDaemon, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { portStats, tapPort, type TapPort } from './helpers/traffic.js';

/** Port counters as stats gives them. */
type Stats = Awaited<ReturnType<typeof portStats>>;

/** A ping stream of the test's (every 20 ms, at most 120 s), its output kept. */
interface Pinger {
  child: ChildProcess;
  /** its stdout so far */
  out(): string;
  /** Stop it (SIGINT) and wait until it is gone. */
  stop(): Promise<void>;
}

/** Ping @addr from namespace @ns every 20 ms, each reply stamped (-D); killed
 *  (by its pid) at teardown if still running. */
function pinger(t: ExecutionContext, ns: string, addr: string): Pinger {
  const child = spawn('ip', ['netns', 'exec', ns, 'ping', '-D', '-n', '-i', '0.02', '-w', '120', addr], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => (out += s));
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGINT');
    await gone;
  };
  t.teardown(stop);
  return { child, out: () => out, stop };
}

/** The times (ms since the epoch) of the replies `ping -D` printed in @out. */
function replyTimes(out: string): number[] {
  return [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
}

/** Wait until both pingers have had a reply later than @after (ms since the epoch). */
async function repliesAfter(pingers: Pinger[], after: number, what: string): Promise<void> {
  await waitFor(what, () => pingers.every((p) => replyTimes(p.out()).some((ts) => ts > after)), 30000);
}

/** A daemon with a lan of its own and two taps on it, 10.@net.0.1 and .2. */
async function twoOnALan(t: ExecutionContext, d: TestDaemon, net: number, restorable = false): Promise<{ lan: string; a: TapPort; b: TapPort }> {
  const lan = uniqueName('ls');
  await d.request({ 'add-lan': { name: lan } });
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: `10.${net}.0.1`, extra: { lan }, restorable });
  const b = await tapPort(t, d, { framing: 'vnet', ipv4: `10.${net}.0.2`, extra: { lan }, restorable });
  return { lan, a, b };
}

/** Drops of @s a port counts on its way out. */
function txDrops(s: Stats): number {
  return ['admin_down_tx', 'tx_error', 'tx_full', 'tx_down', 'gso'].reduce((n, k) => n + (s.drops[k] ?? 0), 0);
}

/** An object's entry in a show reply. */
async function shown(d: TestDaemon, name: string): Promise<Record<string, unknown>> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.find((o) => o.name === name)!;
}

rootTest('set PORT --down: not one frame delivered after the reply, drops counted both ways, shown; --up: traffic back', async (t) => {
  const d = await startDaemon(t);
  const { a, b } = await twoOnALan(t, d, 61);
  t.is((await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', '10.61.0.2'])).exitCode, 0);
  const pa = pinger(t, a.ns, '10.61.0.2');
  const pb = pinger(t, b.ns, '10.61.0.1');
  await repliesAfter([pa, pb], 0, 'both ping streams to flow');

  t.deepEqual(await d.request({ set: { name: b.name, state: 'down' } }), {});
  const repliedAt = Date.now();
  // Read after the reply: whatever they say was so at the reply.
  const [b0, a0] = [await portStats(d, b.name), await portStats(d, a.name)];
  const b1 = (await waitFor('drops both ways on b', async () => {
    const s = await portStats(d, b.name);
    return s.drops.admin_down_tx! >= b0.drops.admin_down_tx! + 25 && s.drops.admin_down_rx! >= b0.drops.admin_down_rx! + 25 ? s : undefined;
  }, 30000))!;
  const a1 = await portStats(d, a.name);
  t.is(b1.txPackets, b0.txPackets, 'frames delivered to b after the reply');
  t.is(a1.txPackets, a0.txPackets, 'frames from b delivered to a after the reply');
  const last = Math.max(...replyTimes(pa.out()));
  t.log(`after the reply: ${b1.txPackets - b0.txPackets} frames delivered to b, ${a1.txPackets - a0.txPackets} from it (while ${b1.drops.admin_down_tx! - b0.drops.admin_down_tx!} to it and ${b1.drops.admin_down_rx! - b0.drops.admin_down_rx!} from it were dropped); a's last echo reply arrived ${(repliedAt - last).toFixed(1)} ms before the client had the reply`);
  t.is((await shown(d, b.name)).admin, 'down');
  t.is((await shown(d, a.name)).admin, 'up');
  const show = await d.cli('show');
  t.regex(show.stdout, new RegExp(`^${b.name} .*down \\(admin\\)\\s*$`, 'm'), show.stdout);
  t.notRegex(show.stdout, new RegExp(`^${a.name} .*down \\(admin\\)`, 'm'), show.stdout);
  const stats = await d.cli('stats', b.name);
  t.regex(stats.stdout, /admin_down_rx=\d+ admin_down_tx=\d+/, stats.stdout);

  t.deepEqual(await d.request({ set: { name: b.name, state: 'up' } }), {});
  const upAt = Date.now();
  await repliesAfter([pa, pb], upAt, 'replies both ways after the up');
  t.is((await shown(d, b.name)).admin, 'up');
  t.regex(await d.logged(new RegExp(`port ${b.name}: administratively up`)), new RegExp(`port ${b.name}: administratively down`));
});

rootTest('an a2b with a delay set down: the frames in its queue are dropped as they come out, none delivered; up: traffic back', async (t) => {
  const d = await startDaemon(t);
  const [la, lb, link] = [uniqueName('la'), uniqueName('lb'), uniqueName('l')];
  await d.request({ 'add-lan': { name: la } });
  await d.request({ 'add-lan': { name: lb } });
  await d.request({ 'add-a2b': { name: link, a: la, b: lb } });
  t.deepEqual(await d.request({ set: { name: link, delay: '200ms' } }), {});
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: '10.62.0.1', extra: { lan: la } });
  const b = await tapPort(t, d, { framing: 'vnet', ipv4: '10.62.0.2', extra: { lan: lb } });
  const pa = pinger(t, a.ns, '10.62.0.2');
  await repliesAfter([pa], 0, 'pings through the a2b');
  type A2bStats = { a2b: Record<'a2b' | 'b2a', Record<string, number>> };
  // Ten requests a2b and ten replies b2a are in its queues at any time.
  await waitFor('frames in both queues', async () => {
    const s = (await d.request({ stats: { name: link } })) as A2bStats;
    return s.a2b.a2b.queued! >= 3 && s.a2b.b2a.queued! >= 3;
  }, 30000);

  t.deepEqual(await d.request({ set: { name: link, state: 'down' } }), {});
  const [q, a0, b0] = [(await d.request({ stats: { name: link } })) as A2bStats, await portStats(d, a.name), await portStats(d, b.name)];
  t.true(q.a2b.a2b.queued! > 0 && q.a2b.b2a.queued! > 0, `frames were queued when it went down: ${JSON.stringify(q.a2b)}`);
  // Well past the delay: the queues are empty, what they held dropped.
  const s1 = (await waitFor('the queues to empty, counted as drops', async () => {
    const s = (await d.request({ stats: { name: link } })) as A2bStats;
    return s.a2b.a2b.queued === 0 && s.a2b.b2a.queued === 0 && s.a2b.a2b.dropAdminDown! >= q.a2b.a2b.queued! + 10 ? s : undefined;
  }, 30000))!;
  t.true(s1.a2b.b2a.dropAdminDown! >= q.a2b.b2a.queued!, JSON.stringify(s1.a2b));
  for (const dir of ['a2b', 'b2a'] as const)
    t.is(s1.a2b[dir].passed, q.a2b[dir].passed! + q.a2b[dir].queued!, `${dir}: what was queued came out (to be dropped), nothing more went in`);
  const [a1, b1] = [await portStats(d, a.name), await portStats(d, b.name)];
  t.is(b1.txPackets, b0.txPackets, `none of the ${q.a2b.a2b.queued} frames queued a2b reached b`);
  t.is(a1.txPackets, a0.txPackets, `none of the ${q.a2b.b2a.queued} frames queued b2a reached a`);
  t.log(`queued at the reply: ${q.a2b.a2b.queued} a2b, ${q.a2b.b2a.queued} b2a; delivered after it: ${b1.txPackets - b0.txPackets} and ${a1.txPackets - a0.txPackets}`);
  t.is((await shown(d, link)).admin, 'down');
  const show = await d.cli('show');
  t.regex(show.stdout, new RegExp(`^${link} .*down \\(admin\\)\\s*$`, 'm'), show.stdout);
  t.regex((await d.cli('stats', link)).stdout, /DOWN DROPS/);

  t.deepEqual(await d.request({ set: { name: link, state: 'up' } }), {});
  const upAt = Date.now();
  await repliesAfter([pa], upAt, 'pings through the a2b after the up');
});

rootTest('a flap loop from a shell script: each down and up answered, traffic back after, the counters add up', async (t) => {
  const d = await startDaemon(t);
  const { a, b } = await twoOnALan(t, d, 63);
  // What a sent before b was on the lan went nowhere: count from here.
  const [a0, b0] = await settledStats(d, [a.name, b.name]);
  const pa = pinger(t, a.ns, '10.63.0.2');
  const pb = pinger(t, b.ns, '10.63.0.1');
  await repliesAfter([pa, pb], 0, 'both ping streams to flow');
  const N = 5;
  const cli = `"${process.execPath}" "${binPath('containet')}" -s "${d.sock}"`;
  const script = `set -e; for i in $(seq ${N}); do ${cli} set ${b.name} --down; ${cli} set ${b.name} --up; done`;
  const r = await execa('bash', ['-c', script], { reject: false, timeout: 120_000 });
  t.is(r.exitCode, 0, r.stderr);
  const upAt = Date.now();
  await repliesAfter([pa, pb], upAt, 'replies both ways after the loop');
  await pa.stop();
  await pb.stop();
  const [a1, b1] = await settledStats(d, [a.name, b.name]);
  const sa = since(a0!, a1!);
  const sb = since(b0!, b1!);
  const info = JSON.stringify({ a: sa, b: sb });
  t.true(sb.drops.admin_down_tx! > 0 && sb.drops.admin_down_rx! > 0, `drops while down, both ways: ${info}`);
  // Two ports on the lan: every frame one takes in goes to the other, sent or dropped.
  t.is(sa.rxPackets, sb.txPackets + txDrops(sb), `what a took in = what b sent + b's drops on the way out: ${info}`);
  t.is(sb.rxPackets, sa.txPackets + txDrops(sa) + sb.drops.admin_down_rx!, `what b took in = what a sent + b's drops while down: ${info}`);
  t.is((await shown(d, b.name)).admin, 'up');
  const ups = d.log().match(new RegExp(`port ${b.name}: administratively up`, 'g')) ?? [];
  t.is(ups.length, N, 'each up logged once');
});

/** The counters of ports @names once nothing moves for 300 ms (the
 *  namespaces' own IPv6 chatter may go on a while). */
async function settledStats(d: TestDaemon, names: string[]): Promise<Stats[]> {
  const read = async () => {
    const out: Stats[] = [];
    for (const n of names) out.push(await portStats(d, n));
    return out;
  };
  return (await waitFor('the counters to settle', async () => {
    const first = await read();
    await new Promise((res) => setTimeout(res, 300));
    const second = await read();
    return JSON.stringify(first) === JSON.stringify(second) ? second : undefined;
  }, 30000))!;
}

/** Counters @now less @then. */
function since(then: Stats, now: Stats): Stats {
  return {
    ...now,
    rxPackets: now.rxPackets - then.rxPackets,
    rxBytes: now.rxBytes - then.rxBytes,
    txPackets: now.txPackets - then.txPackets,
    txBytes: now.txBytes - then.txBytes,
    drops: Object.fromEntries(Object.entries(now.drops).map(([k, v]) => [k, v - (then.drops[k] ?? 0)])),
  };
}

rootTest('bad input is refused with the reason, and changes nothing', async (t) => {
  const d = await startDaemon(t);
  const { lan, b } = await twoOnALan(t, d, 64);
  const refused = async (args: string[], re: RegExp) => {
    const r = await d.cli(...args);
    t.is(r.exitCode, 1, `${args.join(' ')}: ${r.stdout}`);
    t.regex(r.stderr, re, args.join(' '));
  };
  await refused(['set', lan, '--down'], new RegExp(`"${lan}" is a lan: it has no ports of its own to take down or up`));
  await refused(['set', lan, '--down', '--aging', '5'], /is a lan: it has no ports/);
  t.is((await shown(d, lan)).aging, 300, 'the aging of a refused set is not applied');
  await refused(['set', b.name, '--down', '--up'], /option '--down' cannot be used with option '--up'/);
  await refused(['set', 'nosuch', '--down'], /no object named "nosuch"/);
  await refused(['set', b.name, '--down', '--delay', '10ms'], /only a2bs take/);
  await t.throwsAsync(d.request({ set: { name: b.name, state: 'sideways' } }), { message: /set: "state" must be "up" or "down"/ });
  await t.throwsAsync(d.request({ set: { name: lan, state: 'down' } }), { message: /is a lan/ });
  t.is((await shown(d, b.name)).admin, 'up', 'no refused request took the port down');
  t.is((await portStats(d, b.name)).drops.admin_down_tx, 0);
  const ok = await d.cli('set', b.name, '--down');
  t.is(ok.exitCode, 0, ok.stderr);
  t.is((await d.cli('set', b.name, '--down')).exitCode, 0, 'down again is no error');
  t.is((await shown(d, b.name)).admin, 'down');
});

rootTest('the state survives a restart with --state: a port and an a2b down come back down, a port up comes back up', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await startDaemon(t, { sock, args: ['--state', state] });
  const { lan, a, b } = await twoOnALan(t, d1, 65, true);
  const [lb, link] = [uniqueName('lb'), uniqueName('l')];
  await d1.request({ 'add-lan': { name: lb } });
  await d1.request({ 'add-a2b': { name: link, a: lan, b: lb } });
  t.is((await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', '10.65.0.2'])).exitCode, 0);
  await d1.request({ set: { name: b.name, state: 'down' } });
  await d1.request({ set: { name: link, state: 'down' } });
  const saved = JSON.parse(readFileSync(state, 'utf8')) as { objects: { name: string; admin?: string }[] };
  t.deepEqual(saved.objects.filter((o) => o.admin === 'down').map((o) => o.name).sort(), [b.name, link].sort());
  await d1.child.kill('SIGTERM');
  await new Promise((r) => (d1.child.exitCode !== null ? r(null) : d1.child.once('exit', r)));

  const d2 = await startDaemon(t, { sock, args: ['--state', state] });
  t.regex(await d2.logged(/restored \d+ of/), /restored 6 of 6 objects/);
  t.is((await shown(d2, b.name)).admin, 'down');
  t.is((await shown(d2, link)).admin, 'down');
  t.is((await shown(d2, a.name)).admin, 'up');
  t.not((await inNetns(a.ns, ['ping', '-c', '2', '-W', '1', '10.65.0.2'])).exitCode, 0, 'b is still down');
  t.true((await portStats(d2, b.name)).drops.admin_down_tx! > 0, 'what a sent b was dropped, counted');
  await d2.request({ set: { name: b.name, state: 'up' } });
  t.is((await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', '10.65.0.2'])).exitCode, 0, 'b is back up');
  const after = JSON.parse(readFileSync(state, 'utf8')) as { objects: { name: string; admin?: string }[] };
  t.deepEqual(after.objects.filter((o) => o.admin === 'down').map((o) => o.name), [link]);
});
