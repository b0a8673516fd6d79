/**
 * The a2b link emulator end to end (docs/a2b.md): two lans, lanA and lanB,
 * joined by an a2b "l1", a containode container on each (10.55.0.1 on lanA,
 * 10.55.0.2 on lanB), and real ping, iperf3 and numbered UDP datagrams
 * (test/fixtures/a2b_udp.py, run in the containers' network namespaces) across
 * it: delay, rate, independent and Gilbert-Elliott loss, seeds, parameters
 * changed with frames queued, the queue limit, duplication, corruption, jitter
 * with order kept, reordering, cloonix's form of `set`, show and stats, bad
 * input and del.
 *
 * The containers have IPv6 off and static neighbour entries for each other, so
 * that only the test's own frames cross the a2b: its counters then match the
 * traffic exactly and a seeded run is repeatable frame for frame. Statistical
 * bounds are wide (about 6 standard deviations) and timing bounds loose, yet
 * each assertion fails on a link that does not do what the spec says.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';

import type { A2bSettings } from '../src/kinds/a2b/settings.js';
import { packageRoot } from '../src/native.js';
import { collectOutput, containerInitPid, rootTest, startDaemon, stopChild, waitFor, type TestContainer, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer } from './helpers/containers.js';

const A_IP = '10.55.0.1';
const B_IP = '10.55.0.2';
const UDP = path.join(packageRoot, 'test', 'fixtures', 'a2b_udp.py');

/** A container of a test: its shell, init pid (its namespaces), address and MAC. */
interface Node {
  c: TestContainer;
  pid: number;
  ip: string;
  mac: string;
}

/** Run @args in the network namespace of process @pid (nsenter execs: no fork). */
function inNet(pid: number, args: string[], timeoutMs = 30000) {
  return execa('nsenter', ['-t', String(pid), '-n', ...args], { reject: false, timeout: timeoutMs });
}

/** As inNet, throwing with stderr unless it succeeds; returns stdout. */
async function mustNet(pid: number, args: string[], timeoutMs = 30000): Promise<string> {
  const r = await inNet(pid, args, timeoutMs);
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} in ${pid}'s namespace failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** `containet -s SOCK ...args`, throwing with its stderr unless it exits 0. */
async function ok(d: TestDaemon, ...args: string[]) {
  const r = await d.cli(...args);
  if (r.exitCode !== 0) throw new Error(`containet ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r;
}

/** A container on @lan with address @ip/24, IPv6 off and a long tap queue. */
async function node(t: ExecutionContext, d: TestDaemon, ip: string, lan: string): Promise<Node> {
  const sc = await shellContainer(t, d, `${ip}/24`, ['-l', lan]);
  const pid = await containerInitPid(sc.c);
  await waitFor(`${ip} on eth0`, async () => (await inNet(pid, ['ip', '-4', 'addr', 'show', 'eth0'])).stdout.includes(`${ip}/24`), 30000);
  await mustNet(pid, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1']);
  // Bursts of datagrams wait in the tap's ring, not in a dropped tail.
  await mustNet(pid, ['ip', 'link', 'set', 'eth0', 'txqueuelen', '10000']);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(await mustNet(pid, ['ip', 'link', 'show', 'eth0']))?.[1];
  if (!mac) throw new Error(`no MAC on eth0 of ${ip}`);
  return { c: sc.c, pid, ip, mac };
}

/**
 * A daemon with lans lanA and lanB, container a (10.55.0.1) on lanA and b
 * (10.55.0.2) on lanB, each with a permanent neighbour entry for the other,
 * and (unless @withA2b is false) the a2b l1 between the lans, checked with a ping.
 */
async function setup(t: ExecutionContext, withA2b = true): Promise<{ d: TestDaemon; a: Node; b: Node }> {
  const d = await startDaemon(t);
  await ok(d, 'add', 'lan', 'lanA');
  await ok(d, 'add', 'lan', 'lanB');
  const [a, b] = await Promise.all([node(t, d, A_IP, 'lanA'), node(t, d, B_IP, 'lanB')]);
  await mustNet(a.pid, ['ip', 'neigh', 'replace', B_IP, 'lladdr', b.mac, 'dev', 'eth0', 'nud', 'permanent']);
  await mustNet(b.pid, ['ip', 'neigh', 'replace', A_IP, 'lladdr', a.mac, 'dev', 'eth0', 'nud', 'permanent']);
  if (withA2b) {
    await ok(d, 'add', 'a2b', 'l1', '--a', 'lanA', '--b', 'lanB');
    t.is(await shell(a.c, `ping -c 1 -W 5 ${B_IP} > /dev/null`), 0, 'a ping crosses the a2b');
  }
  return { d, a, b };
}

/** One direction's settings as show reports them (the daemon's own type). */
type Settings = A2bSettings;

/** What show says of a2b @name (undefined when it does not list it). */
async function shown(d: TestDaemon, name = 'l1'): Promise<{ a: string; b: string; a2b: Settings; b2a: Settings } | undefined> {
  const r = (await d.request({ show: {} })) as { objects: { kind: string; name: string; a2b?: { a: string; b: string; a2b: Settings; b2a: Settings } }[] };
  const o = r.objects.find((x) => x.name === name);
  if (o === undefined) return undefined;
  if (o.kind !== 'a2b' || o.a2b === undefined) throw new Error(`show lists ${name} as ${JSON.stringify(o)}`);
  return o.a2b;
}

/** As shown, throwing when @name is not listed. */
async function settings(d: TestDaemon, name = 'l1') {
  const s = await shown(d, name);
  if (s === undefined) throw new Error(`show does not list ${name}`);
  return s;
}

const COUNTERS = ['passed', 'passedBytes', 'dropLoss', 'dropLimit', 'dropNoBuffer', 'queued', 'queuedBytes', 'duplicated', 'reordered', 'corrupted'] as const;
type Counters = Record<(typeof COUNTERS)[number], number>;
interface DirCounters {
  a2b: Counters;
  b2a: Counters;
}

/** The counters of a2b @name, both directions. */
async function stats(d: TestDaemon, name = 'l1'): Promise<DirCounters> {
  const r = await d.request({ stats: { name } });
  const s = r.a2b as DirCounters | undefined;
  if (!s?.a2b || !s.b2a) throw new Error(`stats of ${name} has no a2b counters: ${JSON.stringify(r)}`);
  return s;
}

/** @after - @before, counter by counter (one direction). */
function minus(after: Counters, before: Counters): Counters {
  return Object.fromEntries(COUNTERS.map((k) => [k, Number(after[k]) - Number(before[k])])) as Counters;
}

/** Datagrams that arrived: sequence numbers in arrival order, times in ms after the first. */
interface Arrivals {
  seqs: number[];
  t: number[];
}

/**
 * Send @count numbered datagrams of @size bytes from @from to @to (@burst back
 * to back, then @gapMs ms pause), run @during once they are sent, and return
 * what the receiver got. Told then that the sender is done, the receiver
 * stops after @idleS s without a datagram (@firstS s when none came at all);
 * before that it waits as long as the sender takes.
 */
async function udp(
  t: ExecutionContext,
  from: Node,
  to: Node,
  o: { count: number; burst?: number; gapMs?: number; size?: number; firstS?: number; idleS?: number; during?: () => Promise<void> },
): Promise<Arrivals> {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const rx = spawn('nsenter', ['-t', String(to.pid), '-n', 'python3', UDP, 'recv', to.ip, port, String(o.firstS ?? 3), String(o.idleS ?? 1)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(() => stopChild(rx));
  rx.stdin.on('error', () => undefined); // EPIPE, should it have died
  const output = collectOutput(rx);
  await output.untilStdout(`the UDP receiver in ${to.ip}`, (out) => /^ready$/m.test(out));
  const tx = await inNet(from.pid, ['python3', UDP, 'send', to.ip, port, String(o.count), String(o.burst ?? 20), String(o.gapMs ?? 1), String(o.size ?? 64)], 60000);
  if (tx.exitCode !== 0 || Number(tx.stdout.trim()) !== o.count) throw new Error(`the UDP sender in ${from.ip} failed (${tx.exitCode}): ${tx.stdout} ${tx.stderr}`);
  if (o.during) await o.during();
  rx.stdin.end(); // the sender is done: from now on the receiver waits for the last datagrams only
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([output.closed, new Promise((r) => (timer = setTimeout(r, 90000)))]);
  clearTimeout(timer);
  const line = output.stdout().split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`the UDP receiver in ${to.ip} reported nothing: ${output.output()}`);
  return JSON.parse(line) as Arrivals;
}

/** Round-trip times (ms) of @count pings from @from to @dst, 0.2 s apart, and ping's output. */
async function pings(from: Node, dst: string, count: number) {
  const r = await inNet(from.pid, ['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '3', dst], 60000);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { rtts, out: r.stdout, code: r.exitCode };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Udp InCsumErrors of the network namespace of @pid (its /proc/net/snmp). */
async function udpCsumErrors(pid: number): Promise<number> {
  const lines = (await mustNet(pid, ['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  const i = names?.indexOf('InCsumErrors') ?? -1;
  if (i < 0 || !values) throw new Error('no Udp InCsumErrors in /proc/net/snmp');
  return Number(values[i]);
}

/** Index of the first difference of @x and @y, -1 when equal. */
function firstDifference(x: number[], y: number[]): number {
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return i;
  return -1;
}

rootTest('a2b delay: ping RTT across 20 ms each way is 40-60 ms; with the delay cleared, under 5 ms again', async (t) => {
  const { d, a } = await setup(t);
  await ok(d, 'set', 'l1', '--delay', '20ms');
  const s = await settings(d);
  t.is(s.a2b.delay, 20000, 'a2b delay (µs)');
  t.is(s.b2a.delay, 20000, 'b2a delay (µs)');
  const slow = await pings(a, B_IP, 10);
  t.log(`delay 20ms: RTTs ${slow.rtts.join(' ')}`);
  t.is(slow.rtts.length, 10, slow.out);
  const m = median(slow.rtts);
  t.true(m >= 40 && m < 60, `median RTT ${m} ms, expected 40 to 60`);
  t.true(Math.min(...slow.rtts) >= 39.5, `no ping came back early: min ${Math.min(...slow.rtts)} ms`);

  await ok(d, 'set', 'l1', '--delay', '0');
  t.is((await settings(d)).a2b.delay, 0);
  const fast = await pings(a, B_IP, 10);
  t.log(`delay 0: RTTs ${fast.rtts.join(' ')}`);
  t.is(fast.rtts.length, 10, fast.out);
  t.true(median(fast.rtts) < 5, `median RTT ${median(fast.rtts)} ms, expected under 5`);
});

rootTest('a2b rate: 10mbit both ways holds an iperf3 TCP transfer near 10 Mbit/s, each way', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--rate', '10mbit');
  const s = await settings(d);
  t.is(s.a2b.rate, 10_000_000);
  t.is(s.b2a.rate, 10_000_000);
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const srv = spawn('nsenter', ['-t', String(b.pid), '-n', 'iperf3', '-s', '-B', B_IP, '-p', port], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stopChild(srv));
  await collectOutput(srv).until('iperf3 -s to listen', async () => (await inNet(b.pid, ['ss', '-ltn'])).stdout.includes(`${B_IP}:${port}`));
  // A 256 KiB window keeps the a2b's queue (and the transfer's tail) short.
  for (const [label, extra, secs] of [['a2b (A sends)', [], 5], ['b2a (B sends, -R)', ['-R'], 4]] as const) {
    const r = await inNet(a.pid, ['iperf3', '-c', B_IP, '-p', port, '-t', String(secs), '-w', '256K', '-J', ...extra], 90000);
    t.is(r.exitCode, 0, `${label}: ${r.stderr} ${r.stdout.slice(-500)}`);
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    const mbit = j.end.sum_received.bits_per_second / 1e6;
    t.log(`${label}: ${mbit.toFixed(2)} Mbit/s received`);
    t.true(mbit >= 6 && mbit <= 10.5, `${label}: ${mbit.toFixed(2)} Mbit/s received, expected 6 to 10.5`);
  }
});

rootTest('a2b loss 10% one way: arrivals within binomial bounds, dropLoss counts the rest, the other way loses nothing', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--loss', '10%');
  const s = await settings(d);
  t.is(s.a2b.loss, 10);
  t.is(s.b2a.loss, 0);
  const N = 3000;
  let before = await stats(d);
  const ab = await udp(t, a, b, { count: N });
  let st = await stats(d);
  const arrived = new Set(ab.seqs).size;
  t.log(`a2b: ${arrived}/${N} arrived; counters ${JSON.stringify(minus(st.a2b, before.a2b))}`);
  t.is(ab.seqs.length, arrived, 'no datagram arrived twice');
  // Binomial(3000, 0.9): mean 2700, sd 16.4; 6 sd either side.
  t.true(arrived >= 2602 && arrived <= 2798, `${arrived} of ${N} arrived, expected 2700 ± 98`);
  t.is(minus(st.a2b, before.a2b).dropLoss, N - arrived, 'a2b dropLoss = datagrams lost');
  t.is(minus(st.a2b, before.a2b).passed, arrived, 'a2b passed = datagrams that arrived');

  before = st;
  const ba = await udp(t, b, a, { count: N });
  st = await stats(d);
  t.is(ba.seqs.length, N, 'b2a: every datagram arrived');
  t.is(minus(st.b2a, before.b2a).dropLoss, 0, 'b2a dropLoss');
  t.is(minus(st.b2a, before.b2a).passed, N, 'b2a passed');
  t.is(minus(st.a2b, before.a2b).dropLoss, 0, 'a2b saw no traffic meanwhile');
});

rootTest('a2b settings changed with frames queued: not one queued datagram is lost, order kept', async (t) => {
  const { d, a, b } = await setup(t);
  // Queued frames keep the departure time they were given: the test has this
  // long after the first was queued to see them all held, and the run takes it.
  await ok(d, 'set', 'l1', '--delay', '5s');
  const N = 200;
  const before = await stats(d);
  let held: Counters | undefined;
  const got = await udp(t, a, b, {
    count: N,
    burst: 50,
    size: 200,
    firstS: 8,
    during: async () => {
      // All N are in the a2b's queue, none has left yet; then change delay and
      // rate under them, and the rate again while they drain.
      held = await waitFor('the burst to be queued', async () => {
        const c = minus((await stats(d)).a2b, before.a2b);
        return c.queued >= N ? c : undefined;
      }, 4000);
      await d.request({ set: { name: 'l1', delay: 0, rate: '2mbit' } });
      await new Promise((r) => setTimeout(r, 50));
      await d.request({ set: { name: 'l1', rate: 0, limit: 500 } });
    },
  });
  t.log(`held while queued: ${JSON.stringify(held)}`);
  t.is(held?.passed, 0, 'nothing had left before the change');
  const st = minus((await stats(d)).a2b, before.a2b);
  t.log(`after: ${JSON.stringify(st)}`);
  const expect = Array.from({ length: N }, (_, i) => i);
  t.is(firstDifference(got.seqs, expect), -1, `arrived in order, all ${N}: got ${got.seqs.length}, first difference at ${firstDifference(got.seqs, expect)}`);
  t.is(st.passed, N);
  t.is(st.dropLoss, 0);
  t.is(st.dropLimit, 0);
  t.is(st.dropNoBuffer, 0);
});

rootTest('a2b --seed: the same seed gives the same losses, frame for frame; another seed other losses', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'del', 'l1');
  const N = 1000;
  const runs: { name: string; seed: number; seqs: number[]; dropLoss: number }[] = [];
  // Each run through a fresh a2b object: the only one between the lans at a time.
  for (const [name, seed] of [['s1', 4242], ['s2', 4242], ['s3', 4243]] as const) {
    await ok(d, 'add', 'a2b', name, '--a', 'lanA', '--b', 'lanB');
    await ok(d, 'set', name, '--loss', '30%', '--seed', String(seed));
    const s = await settings(d, name);
    t.is(s.a2b.seed, seed);
    t.is(s.a2b.loss, 30);
    const before = await stats(d, name);
    const got = await udp(t, a, b, { count: N });
    const st = minus((await stats(d, name)).a2b, before.a2b);
    runs.push({ name, seed, seqs: got.seqs, dropLoss: st.dropLoss });
    t.log(`${name} seed ${seed}: ${got.seqs.length} arrived, dropLoss ${st.dropLoss}`);
    t.is(st.dropLoss, N - got.seqs.length, `${name}: dropLoss = datagrams lost`);
    // Binomial(1000, 0.3): mean 300, sd 14.5.
    t.true(st.dropLoss >= 213 && st.dropLoss <= 387, `${name}: dropLoss ${st.dropLoss}, expected 300 ± 87`);
    await ok(d, 'del', name);
  }
  const [r1, r2, r3] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
  t.is(r2.dropLoss, r1.dropLoss, 'same seed, same dropLoss');
  t.is(firstDifference(r2.seqs, r1.seqs), -1, `same seed, same datagrams lost (first difference at index ${firstDifference(r2.seqs, r1.seqs)})`);
  t.not(firstDifference(r3.seqs, r1.seqs), -1, 'another seed loses other datagrams');
});

rootTest('a2b queue limit: --rate 1mbit --limit 10 and a burst of 100 datagrams: the tail is dropped, the rest paced', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--rate', '1mbit', '--limit', '10');
  const s = await settings(d);
  t.is(s.a2b.limit, 10);
  t.is(s.a2b.rate, 1_000_000);
  const N = 100;
  const size = 1000; // 1042-byte frames: 8.3 ms each at 1 Mbit/s
  const before = await stats(d);
  const got = await udp(t, a, b, { count: N, burst: N, gapMs: 0, size });
  const st = minus((await stats(d)).a2b, before.a2b);
  const n = got.seqs.length;
  t.log(`${n} arrived over ${got.t[n - 1]} ms; counters ${JSON.stringify(st)}`);
  t.true(st.dropLimit > 0, 'dropLimit counted');
  t.true(n >= 10 && n <= 25, `${n} arrived, expected the limit (10) and what drained during the burst`);
  t.is(st.passed, n, 'passed = arrivals');
  t.is(st.dropLimit, N - n, 'every datagram not passed was dropped at the limit');
  const frameMs = ((size + 42) * 8) / 1e6 * 1000;
  const span = got.t[n - 1] ?? 0;
  t.true(span >= 0.8 * (n - 1) * frameMs, `arrivals spread over ${span} ms, at 1 Mbit/s at least ${(0.8 * (n - 1) * frameMs).toFixed(0)} ms`);
});

rootTest('a2b rate under sustained overload: tail drops take no link time, the rate holds', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--rate', '10mbit', '--limit', '20');
  // 1042-byte frames at about 2x the rate for 2 s: 24 every 10 ms (~20 Mbit/s).
  const size = 1000;
  const before = await stats(d);
  const got = await udp(t, a, b, { count: 4800, burst: 24, gapMs: 10, size });
  const st = minus((await stats(d)).a2b, before.a2b);
  // Delivered rate over the second half of the run (the queue full all along).
  const n = got.seqs.length;
  const from = got.t.findIndex((x) => x >= (got.t[n - 1] ?? 0) / 2);
  const mbit = ((n - 1 - from) * (size + 42) * 8) / ((got.t[n - 1]! - got.t[from]!) * 1000);
  t.log(`${n} arrived, second half at ${mbit.toFixed(2)} Mbit/s of frames; counters ${JSON.stringify(st)}`);
  t.true(st.dropLimit > 1000, `the overload was tail-dropped: ${st.dropLimit}`);
  t.true(mbit > 9 && mbit < 10.5, `the rate held at 10 Mbit/s while the tail was dropped: ${mbit.toFixed(2)}`);
});

rootTest('a2b --duplicate 100%: pings are answered with DUP!s and every datagram arrives twice', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--duplicate', '100%');
  t.is((await settings(d)).b2a.duplicate, 100);
  const N = 100;
  const before = await stats(d);
  const got = await udp(t, a, b, { count: N });
  const st = minus((await stats(d)).a2b, before.a2b);
  t.log(`${got.seqs.length} datagrams arrived; counters ${JSON.stringify(st)}`);
  t.is(got.seqs.length, 2 * N, 'twice as many datagrams');
  const per = new Map<number, number>();
  for (const q of got.seqs) per.set(q, (per.get(q) ?? 0) + 1);
  t.true([...per.values()].every((k) => k === 2) && per.size === N, 'each datagram exactly twice');
  t.is(st.duplicated, N, 'a2b duplicated');
  const p = await pings(a, B_IP, 3);
  const dups = (p.out.match(/DUP!/g) ?? []).length;
  t.log(p.out);
  t.true(dups >= 3, `${dups} DUP! replies to 3 pings`);
});

rootTest('a2b --corrupt 100%: every UDP datagram fails its checksum at B (InCsumErrors) and none arrives', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--corrupt', '100%');
  const s = await settings(d);
  t.is(s.a2b.corrupt, 100);
  t.is(s.b2a.corrupt, 0);
  const N = 200;
  const errsBefore = await udpCsumErrors(b.pid);
  const before = await stats(d);
  // 1000-byte payloads: a flipped bit lands in the UDP datagram 98% of the time
  // (else in the IP header, whose own checksum drops it).
  const got = await udp(t, a, b, { count: N, size: 1000, firstS: 3 });
  const errs = (await udpCsumErrors(b.pid)) - errsBefore;
  const st = minus((await stats(d)).a2b, before.a2b);
  t.log(`InCsumErrors +${errs}; counters ${JSON.stringify(st)}`);
  t.is(got.seqs.length, 0, 'no datagram arrived');
  t.true(errs >= 150, `B counted ${errs} UDP checksum errors for ${N} corrupted datagrams`);
  t.is(st.corrupted, N, 'a2b corrupted');
});

rootTest('a2b --loss-ge 1,10: losses come in bursts (Gilbert-Elliott), near P/(P+R) = 9%', async (t) => {
  const { d, a, b } = await setup(t);
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--loss-ge', '1,10');
  const s = await settings(d);
  t.deepEqual(s.a2b.lossGe, { p: 1, r: 10, lossBad: 100, lossGood: 0 });
  t.is(s.b2a.lossGe, null);
  const N = 10000;
  const before = await stats(d);
  const got = await udp(t, a, b, { count: N, size: 32 });
  const st = minus((await stats(d)).a2b, before.a2b);
  const arrived = new Set(got.seqs);
  let lost = 0;
  let runs = 0;
  for (let i = 0; i < N; i++) {
    if (arrived.has(i)) continue;
    lost++;
    if (i === 0 || arrived.has(i - 1)) runs++;
  }
  const rate = lost / N;
  const meanRun = runs ? lost / runs : 0;
  t.log(`lost ${lost}/${N} (${(rate * 100).toFixed(1)}%) in ${runs} runs, mean run ${meanRun.toFixed(1)}; counters ${JSON.stringify(st)}`);
  // About 91 bursts of mean 10: loss 9.1% with sd 1.3%; independent loss at 9% would give runs of 1.1.
  t.true(rate >= 0.03 && rate <= 0.18, `loss ${(rate * 100).toFixed(1)}%, expected 3% to 18%`);
  t.true(meanRun > 3, `mean loss run ${meanRun.toFixed(2)} packets, expected over 3 (bursts of mean 10)`);
  t.is(st.dropLoss, lost, 'dropLoss = datagrams lost');
});

rootTest("a2b cloonix's form: dir=0 cmd=delay val=30 delays one way by 30 ms; loss and rate in cloonix units", async (t) => {
  const { d, a } = await setup(t);
  await ok(d, 'set', 'l1', 'dir=0', 'cmd=delay', 'val=30');
  let s = await settings(d);
  t.is(s.a2b.delay, 30000, 'a2b delay (µs)');
  t.is(s.b2a.delay, 0, 'b2a delay (µs)');
  const p = await pings(a, B_IP, 8);
  t.log(`RTTs ${p.rtts.join(' ')}`);
  t.is(p.rtts.length, 8, p.out);
  const m = median(p.rtts);
  t.true(m >= 30 && m < 45, `median RTT ${m} ms, expected 30 to 45 (one way delayed)`);
  t.true(Math.min(...p.rtts) >= 29.5, `min RTT ${Math.min(...p.rtts)} ms`);

  await ok(d, 'set', 'l1', 'dir=0 cmd=loss val=5000'); // one argument
  await ok(d, 'set', 'l1', 'dir=1', 'cmd=rate', 'val=125');
  s = await settings(d);
  t.is(s.a2b.loss, 50, 'loss 5000/10000');
  t.is(s.b2a.loss, 0);
  t.is(s.b2a.rate, 1_000_000, '125 kB/s in bit/s');
  t.is(s.a2b.rate, 0);
  t.is(s.a2b.delay, 30000, 'the delay kept');
  await d.request({ set: { name: 'l1', cloonix: 'dir=1 cmd=delay val=7' } });
  s = await settings(d);
  t.is(s.b2a.delay, 7000, 'the protocol form');
  t.is(s.a2b.delay, 30000);
});

rootTest('a2b show and stats; bad input refused with a clear error; del leaves the lans apart', async (t) => {
  const { d, a, b } = await setup(t);
  const s0 = await settings(d);
  t.is(s0.a, 'lanA');
  t.is(s0.b, 'lanB');
  const defaults = { rate: 0, delay: 0, jitter: 0, distribution: 'uniform', loss: 0, lossGe: null, duplicate: 0, reorder: 0, corrupt: 0, limit: 1000, limitBytes: 16 << 20 };
  t.like(s0.a2b, defaults, 'a2b defaults');
  t.like(s0.b2a, defaults, 'b2a defaults');
  const text = (await ok(d, 'show')).stdout;
  t.log(text);
  for (const w of ['l1', 'lanA', 'lanB']) t.true(text.includes(w), `show names ${w}`);
  const json = JSON.parse((await ok(d, 'show', '--json')).stdout) as { name: string; a2b?: unknown }[];
  t.truthy(json.find((o) => o.name === 'l1')?.a2b, 'show --json has the a2b');

  // Units, per direction; what is not given keeps its value (a byte limit
  // below the largest frame, 64 KiB, is refused, so 128k).
  await ok(d, 'set', 'l1', '--dir', 'b2a', '--rate', '2mbps', '--delay', '1500', '--jitter', '1ms', '--distribution', 'normal', '--loss', '0.5%',
    '--duplicate', '1', '--reorder', '2%', '--corrupt', '3%', '--limit', '50', '--limit-bytes', '128k', '--seed', '7');
  let s = await settings(d);
  t.like(s.b2a, { rate: 16_000_000, delay: 1500, jitter: 1000, distribution: 'normal', loss: 0.5, duplicate: 1, reorder: 2, corrupt: 3, limit: 50, limitBytes: 131072, seed: 7 });
  t.deepEqual(s.a2b, s0.a2b, 'a2b untouched');
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--rate', '1gbit', '--delay', '2s');
  s = await settings(d);
  t.like(s.a2b, { rate: 1_000_000_000, delay: 2_000_000 });
  t.like(s.b2a, { rate: 16_000_000, delay: 1500, limit: 50 }, 'b2a kept');
  await ok(d, 'set', 'l1', '--rate', '1500');
  s = await settings(d);
  t.is(s.a2b.rate, 1500, 'a bare rate is bit/s');
  t.is(s.b2a.rate, 1500);
  t.is(s.a2b.delay, 2_000_000, 'the delay kept');

  // Bad input: non-zero exit, a one-line reason naming what is wrong, nothing changed.
  const bad: [string[], RegExp][] = [
    [['add', 'a2b', 'l2', '--a', 'lanA', '--b', 'nosuch'], /nosuch/],
    [['add', 'a2b', 'l1', '--a', 'lanA', '--b', 'lanB'], /l1|exist/i],
    [['set', 'l1', '--dir', 'sideways', '--delay', '1ms'], /sideways|dir/i],
    [['set', 'l1', '--rate', '10furlongs'], /furlongs|rate/i],
    [['set', 'l1', '--loss', '150%'], /150|loss/i],
    [['set', 'l1', '--delay=-5ms'], /-5|delay|negative/i],
    [['set', 'nosuch', '--delay', '1ms'], /nosuch/],
  ];
  const s1 = await settings(d);
  for (const [args, reason] of bad) {
    const r = await d.cli(...args);
    const what = `containet ${args.join(' ')}`;
    t.log(`${what} -> ${r.exitCode}: ${r.stderr.trim()}`);
    t.not(r.exitCode, 0, `${what} is refused`);
    t.regex(r.stderr, reason, `${what}: the reason`);
    t.false(/\n\s+at /.test(r.stderr), `${what}: no stack trace: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
  }
  await t.throwsAsync(d.request({ set: { name: 'l1', loss: 150 } }), undefined, 'protocol: loss 150');
  await t.throwsAsync(d.request({ set: { name: 'l1', delay: -5000 } }), undefined, 'protocol: negative delay');
  await t.throwsAsync(d.request({ set: { name: 'l1', dir: 'sideways' } }), undefined, 'protocol: dir sideways');
  t.deepEqual(await settings(d), s1, 'refused settings changed nothing');
  t.is(await shown(d, 'l2'), undefined, 'no a2b l2');

  // Stats: every counter, each way.
  const st = await stats(d);
  for (const dir of ['a2b', 'b2a'] as const)
    for (const k of COUNTERS) t.is(typeof st[dir][k], 'number', `stats ${dir}.${k}`);
  t.true(st.a2b.passed >= 1 && st.b2a.passed >= 1, 'the setup ping passed both ways');
  const cliStats = await ok(d, 'stats', 'l1');
  t.true(cliStats.stdout.includes('l1'), cliStats.stdout);
  t.truthy((JSON.parse((await ok(d, 'stats', 'l1', '--json')).stdout) as { a2b?: unknown }).a2b);

  // Cleared, the link carries pings; deleted, the lans are apart.
  await ok(d, 'set', 'l1', '--rate', '0', '--delay', '0', '--jitter', '0', '--loss', '0', '--duplicate', '0', '--reorder', '0', '--corrupt', '0');
  t.is(await shell(a.c, `ping -c 2 -W 3 ${B_IP} > /dev/null`), 0, 'the cleared link carries pings');
  await ok(d, 'del', 'l1');
  t.is(await shown(d, 'l1'), undefined, 'del removed l1');
  const objects = ((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.map((o) => o.name);
  t.true(objects.includes('lanA') && objects.includes('lanB'), 'the lans stay');
  t.not(await shell(a.c, `ping -c 2 -W 1 ${B_IP} > /dev/null`), 0, 'no ping across once deleted');
  const got = await udp(t, b, a, { count: 50, firstS: 2 });
  t.is(got.seqs.length, 0, 'no datagram across once deleted');
  t.is((await d.cli('stats', 'l1')).exitCode === 0, false, 'stats of a deleted a2b is refused');
});

rootTest('a2b jitter keeps order; --reorder lets about that share of datagrams overtake the delayed ones', async (t) => {
  const { d, a, b } = await setup(t);
  // Jitter (uniform 20 ms ± 10 ms) on datagrams 2 ms apart: their delays
  // spread, yet none overtakes another (order kept unless reordering is asked).
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--delay', '20ms', '--jitter', '10ms', '--seed', '7');
  let got = await udp(t, a, b, { count: 300, burst: 1, gapMs: 2 });
  t.is(got.seqs.length, 300, 'every datagram arrived');
  t.is(firstDifference(got.seqs, Array.from({ length: 300 }, (_, i) => i)), -1, 'in order');
  const rtts = (await pings(a, B_IP, 20)).rtts;
  const spread = Math.max(...rtts) - Math.min(...rtts);
  t.true(Math.min(...rtts) >= 9.5 && Math.max(...rtts) <= 60 && spread > 3, `ping RTTs vary within delay ± jitter: ${rtts.join(' ')}`);

  // Reordering: 25 % skip the 20 ms delay and arrive before earlier ones.
  const before = (await stats(d)).a2b;
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--jitter', '0', '--reorder', '25%');
  got = await udp(t, a, b, { count: 400, burst: 1, gapMs: 1 });
  const st = minus((await stats(d)).a2b, before);
  t.is(got.seqs.length, 400, 'every datagram arrived');
  t.deepEqual([...got.seqs].sort((x, y) => x - y), Array.from({ length: 400 }, (_, i) => i), 'each exactly once');
  // A datagram that overtook: it arrived before one sent earlier.
  let overtook = 0;
  const pos = new Map(got.seqs.map((s, i) => [s, i]));
  for (let s = 1; s < 400; s++) if (pos.get(s)! < pos.get(s - 1)!) overtook++;
  t.log(`reordered (counter) ${st.reordered}, arrived before their predecessor ${overtook}`);
  const sd = Math.sqrt(400 * 0.25 * 0.75);
  t.true(Math.abs(st.reordered - 100) < 6 * sd, `about 25 % reordered: ${st.reordered} of 400`);
  t.true(overtook >= st.reordered * 0.5, `reordered datagrams overtook others: ${overtook}`);
});
