/**
 * Mirrors (`containet add mirror`, docs/mirror.md), end to end as root: the
 * daemon runs inside a network namespace the test made, two containode
 * containers ping each other, and a mirror of one container's port is sent
 * out of a host tap, where tcpdump (in that namespace) sees the echo requests
 * and replies in the directions asked. The tap's own traffic does not reach
 * the lan while it is an output, and does again once the mirror goes;
 * deleting a selected or the output port removes the mirror with a log line;
 * bad input is refused with the reason; --state makes the mirror again.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';
import { execa } from 'execa';

import { shell, shellContainer } from './helpers/containers.js';
import { collectOutput, containerInitPid, inNetns, netns, rootTest, startDaemon, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';

/** ICMP echo lines tcpdump printed, by kind, with the source of each. */
interface Seen {
  requests: string[];
  replies: string[];
  lines: string[];
}

/** The frames lines tcpdump printed in @text. */
function frameLines(text: string): string[] {
  return text.split('\n').filter((l) => / (IP|ARP,) /.test(l));
}

/**
 * Run `tcpdump -i @tap -nn -l @filter` in @ns (killed by pid at teardown)
 * while @fn runs, then stop it and sort what it printed. With @until, tcpdump
 * is stopped once its lines satisfy it (or after 30 s, to fail with what it
 * saw); without, after a moment (for a check that something is absent, which a
 * late frame cannot make fail wrongly).
 */
async function tcpdumpDuring(
  t: ExecutionContext,
  ns: string,
  tap: string,
  fn: () => Promise<void>,
  filter = 'icmp',
  until?: (lines: string[]) => boolean,
): Promise<Seen> {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', tap, '-nn', '-l', '-U', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(child);
  t.teardown(() => stopChild(child));
  await waitFor('tcpdump to listen', () => /listening on/.test(out.output()), 15000);
  await fn();
  if (until) await waitFor('tcpdump to print what was sent', () => until(frameLines(out.stdout())), 30000).catch(() => undefined);
  else await new Promise((r) => setTimeout(r, 500));
  process.kill(child.pid!, 'SIGINT');
  await out.closed;
  const lines = frameLines(out.stdout());
  return {
    lines,
    requests: lines.filter((l) => /ICMP echo request/.test(l)).map((l) => / IP (\S+) >/.exec(l)![1]!),
    replies: lines.filter((l) => /ICMP echo reply/.test(l)).map((l) => / IP (\S+) >/.exec(l)![1]!),
  };
}

/** The mirror entries of a show reply. */
async function mirrors(d: TestDaemon): Promise<Record<string, unknown>[]> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.filter((o) => o.kind === 'mirror');
}

/** Stats of the object named @name: its entry in section @key. */
async function statsOf(d: TestDaemon, name: string, key: string): Promise<Record<string, unknown>> {
  const r = (await d.request({ stats: { name } })) as Record<string, Record<string, unknown>[]>;
  return r[key]![0]!;
}

rootTest('mirror to a host tap: tcpdump on the tap sees a container\'s echo requests and replies, in, out and both', async (t) => {
  const ns = await netns(t, 'mi');
  const d = await startDaemon(t, { netns: ns });
  const c1 = await shellContainer(t, d, '10.90.0.1/24');
  const c2 = await shellContainer(t, d, '10.90.0.2/24');
  const p1 = `${c1.id}.eth0`;
  const tap = uniqueName('mt');
  let r = await d.cli('add', 'tap', tap, '--ip', '10.90.0.9/24');
  t.is(r.exitCode, 0, r.stderr);
  t.is(await shell(c1.c, 'ping -c 1 -W 5 10.90.0.2'), 0, c1.c.output());

  const m = uniqueName('m');
  for (const dir of ['both', 'in', 'out'] as const) {
    r = await d.cli('add', 'mirror', m, '--select', p1, '--to', tap, ...(dir === 'both' ? [] : ['--dir', dir]));
    t.is(r.exitCode, 0, r.stderr);
    // c1's requests are what its port receives (in), the replies what it sends to c1 (out).
    const wantReq = dir === 'out' ? 0 : 3;
    const wantRep = dir === 'in' ? 0 : 3;
    const seen = await tcpdumpDuring(t, ns, tap, async () => {
      t.is(await shell(c1.c, 'ping -c 3 -i 0.2 -W 5 10.90.0.2'), 0, c1.c.output());
    }, 'icmp', (lines) => lines.filter((l) => /ICMP echo (request|reply)/.test(l)).length >= wantReq + wantRep);
    t.is(seen.requests.length, wantReq, `dir ${dir}: ${seen.lines.join('\n')}`);
    t.is(seen.replies.length, wantRep, `dir ${dir}: ${seen.lines.join('\n')}`);
    t.true(seen.requests.every((s) => s === '10.90.0.1'), seen.lines.join('\n'));
    t.true(seen.replies.every((s) => s === '10.90.0.2'), seen.lines.join('\n'));
    const st = await statsOf(d, m, 'mirrors');
    t.true(Number(st.frames) >= wantReq + wantRep, JSON.stringify(st));
    t.is(st.drops, 0);
    t.like((await mirrors(d))[0], { name: m, kind: 'mirror', select: [p1], dir, to: tap });

    if (dir === 'in') {
      // The lan floods nothing to the output: c2's ARP broadcasts for an address nobody has reach c1 (out, not copied), never the tap.
      const arp = await tcpdumpDuring(t, ns, tap, async () => {
        await shell(c2.c, 'ping -c 1 -W 1 10.90.0.77');
      }, 'arp');
      t.false(arp.lines.some((l) => /10\.90\.0\.77/.test(l)), arp.lines.join('\n'));
    }
    if (dir === 'out') {
      // ... and with dir out they are copied: c1's port sends them.
      const arp = await tcpdumpDuring(t, ns, tap, async () => {
        await shell(c2.c, 'ping -c 1 -W 1 10.90.0.78');
      }, 'arp', (lines) => lines.some((l) => /who-has 10\.90\.0\.78/.test(l)));
      t.true(arp.lines.some((l) => /who-has 10\.90\.0\.78 tell 10\.90\.0\.2/.test(l)), arp.lines.join('\n'));
    }
    if (dir === 'both') {
      // The tap is out of the lan: what the host sends out of it is dropped and counted, and the lan sends it nothing but the copies.
      const p = await inNetns(ns, ['ping', '-c', '2', '-W', '1', '10.90.0.2']);
      t.not(p.exitCode, 0, p.stdout);
      const ts = await statsOf(d, tap, 'ports');
      t.true((ts.drops as Record<string, number>).output_only! > 0, JSON.stringify(ts));
      // c2's traffic is not mirrored, and c1 and c2 still talk.
      t.is(await shell(c2.c, 'ping -c 1 -W 5 10.90.0.1'), 0, c2.c.output());
      r = await d.cli('show');
      t.regex(r.stdout, new RegExp(`${m} +${p1.replace(/\./g, '\\.')} +both +${tap}`));
      r = await d.cli('stats');
      t.regex(r.stdout, /MIRROR +FRAMES +BYTES +DROPS/);
    }
    r = await d.cli('del', m);
    t.is(r.exitCode, 0, r.stderr);
    t.deepEqual(await mirrors(d), []);
  }
  // The mirror gone, the tap is on its lan again.
  const p = await inNetns(ns, ['ping', '-c', '2', '-W', '5', '10.90.0.2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);
});

rootTest('deleting a selected or the output port removes the mirror, with a log line; so does a container that exits', async (t) => {
  const ns = await netns(t, 'mi');
  const d = await startDaemon(t, { netns: ns });
  const c1 = await shellContainer(t, d, '10.91.0.1/24');
  const c2 = await shellContainer(t, d, '10.91.0.2/24');
  const c3 = await shellContainer(t, d, '10.91.0.3/24');
  const tap = uniqueName('mt');
  let r = await d.cli('add', 'tap', tap, '--ip', '10.91.0.9/24');
  t.is(r.exitCode, 0, r.stderr);

  // A selected port deleted.
  const m1 = uniqueName('m');
  r = await d.cli('add', 'mirror', m1, '--select', `${c1.id}.eth0,${c2.id}.eth0`, '--to', tap);
  t.is(r.exitCode, 0, r.stderr);
  r = await d.cli('del', `${c1.id}.eth0`);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(await mirrors(d), []);
  t.regex(await d.logged(new RegExp(`mirror ${m1} removed`)), new RegExp(`mirror ${m1} removed: its selected port ${c1.id}\\.eth0 went \\(deleted\\)`));
  let p = await inNetns(ns, ['ping', '-c', '1', '-W', '5', '10.91.0.2']);
  t.is(p.exitCode, 0, 'the tap is back on its lan: ' + p.stdout + p.stderr);

  // A selected port whose container exits.
  const m2 = uniqueName('m');
  r = await d.cli('add', 'mirror', m2, '--select', `${c3.id}.eth0`, '--to', tap);
  t.is(r.exitCode, 0, r.stderr);
  c3.c.child.stdin!.end('exit\n');
  await waitFor('the mirror to go with the container', async () => (await mirrors(d)).length === 0, 30000);
  t.regex(await d.logged(new RegExp(`mirror ${m2} removed`)), new RegExp(`mirror ${m2} removed: its selected port ${c3.id}\\.eth0 went`));

  // The output port deleted.
  const m3 = uniqueName('m');
  r = await d.cli('add', 'mirror', m3, '--select', `${c2.id}.eth0`, '--to', tap);
  t.is(r.exitCode, 0, r.stderr);
  r = await d.cli('del', tap);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(await mirrors(d), []);
  t.regex(await d.logged(new RegExp(`mirror ${m3} removed`)), new RegExp(`mirror ${m3} removed: its output port ${tap} went \\(deleted\\)`));
  // The daemon forwards on.
  r = await d.cli('add', 'tap', tap, '--ip', '10.91.0.9/24');
  t.is(r.exitCode, 0, r.stderr);
  p = await inNetns(ns, ['ping', '-c', '1', '-W', '5', '10.91.0.2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);
});

rootTest('add mirror refuses bad input with the reason; the mirror there forwards on', async (t) => {
  const ns = await netns(t, 'mi');
  const d = await startDaemon(t, { netns: ns });
  const [a, b, c, x] = [uniqueName('ma'), uniqueName('mb'), uniqueName('mc'), uniqueName('mx')];
  for (const n of [a, b, c, x]) {
    const r = await d.cli('add', 'tap', n);
    t.is(r.exitCode, 0, r.stderr);
  }
  const m = uniqueName('m');
  let r = await d.cli('add', 'mirror', m, '--select', a, '--to', b);
  t.is(r.exitCode, 0, r.stderr);
  const cases: [string[], RegExp][] = [
    [['add', 'mirror', 'm2', '--select', 'nosuch', '--to', c], /selected port "nosuch": no port of that name/],
    [['add', 'mirror', 'm2', '--select', c, '--to', 'nosuch'], /output "nosuch": no port of that name/],
    [['add', 'mirror', 'm2', '--select', 'lan0', '--to', c], /selected port "lan0" is a lan, not a port/],
    [['add', 'mirror', 'm2', '--select', c, '--to', 'lan0'], /output "lan0" is a lan, not a port/],
    [['add', 'mirror', 'm2', '--select', c, '--to', m], new RegExp(`output "${m}" is a mirror, not a port`)],
    [['add', 'mirror', 'm2', '--select', c, '--to', c], new RegExp(`port "${c}" cannot be both selected and the output`)],
    [['add', 'mirror', 'm2', '--select', `${c},${x},${c}`, '--to', a], new RegExp(`"select" names "${c}" twice`)],
    [['add', 'mirror', 'm2', '--select', c, '--to', b], new RegExp(`port "${b}" is already the output of mirror "${m}"`)],
    [['add', 'mirror', 'm2', '--select', b, '--to', c], new RegExp(`port "${b}" is the output of mirror "${m}": it cannot be selected`)],
    [['add', 'mirror', 'm2', '--select', c, '--to', a], new RegExp(`port "${a}" is selected by mirror "${m}": it cannot be an output`)],
    [['add', 'mirror', 'm2', '--select', c, '--to', x, '--dir', 'sideways'], /argument 'sideways' is invalid/],
    [['add', 'mirror', 'm2', '--select', c], /required option '--to <port>' not specified/],
    [['add', 'mirror', m, '--select', c, '--to', x], new RegExp(`an object named "${m}" already exists`)],
  ];
  for (const [args, re] of cases) {
    r = await d.cli(...args);
    t.not(r.exitCode, 0, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
  }
  // Refused in the protocol too, field by field.
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ name: 'm2', select: [], to: x }, /"select" must be a non-empty list of port names/],
    [{ name: 'm2', select: c, to: x }, /"select" must be a non-empty list of port names/],
    [{ name: 'm2', select: [c], to: x, dir: 'up' }, /"dir" must be "in", "out" or "both"/],
    [{ name: 'm2', select: [c] }, /"to"/],
    [{ name: 'm2', select: [c], to: x, filter: 'icmp' }, /filter/],
  ];
  for (const [body, re] of bad) await t.throwsAsync(d.request({ 'add-mirror': body }), { message: re }, JSON.stringify(body));
  t.is((await mirrors(d)).length, 1);
  // A second mirror from another port to another output is fine; deleting both leaves the outputs on the lan.
  r = await d.cli('add', 'mirror', 'm2', '--select', c, '--to', x, '--dir', 'in');
  t.is(r.exitCode, 0, r.stderr);
  t.is((await mirrors(d)).length, 2);
  for (const n of [m, 'm2']) {
    r = await d.cli('del', n);
    t.is(r.exitCode, 0, r.stderr);
  }
  t.is((await mirrors(d)).length, 0);
});

rootTest('--state: a mirror between two host taps is made again after a crash', async (t) => {
  const ns = await netns(t, 'mi');
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  const [a, b] = [uniqueName('ma'), uniqueName('mb')];
  for (const n of [a, b]) {
    const r = await d1.cli('add', 'tap', n);
    t.is(r.exitCode, 0, r.stderr);
  }
  const m = uniqueName('m');
  let r = await d1.cli('add', 'mirror', m, '--select', a, '--to', b, '--dir', 'out');
  t.is(r.exitCode, 0, r.stderr);
  process.kill(d1.pid, 'SIGKILL');
  await waitFor('the daemon to die', () => d1.child.exitCode !== null || d1.child.signalCode !== null, 10000);
  const d2 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  t.regex(await d2.logged(/restored \d+ of/), /restored 4 of 4 objects/);
  t.like((await mirrors(d2))[0], { name: m, select: [a], dir: 'out', to: b });
  // Its output is out of the lan again: a second mirror to it is refused.
  r = await d2.cli('add', 'mirror', 'm2', '--select', a, '--to', b);
  t.regex(r.stderr, new RegExp(`port "${b}" is already the output of mirror "${m}"`));
  for (const n of [m, a, b]) {
    r = await d2.cli('del', n);
    t.is(r.exitCode, 0, r.stderr);
  }
});

/** A daemon (run with @args) in a namespace of its own with a host tap serving
 *  HTTP on NET.1, a container at NET.2 and a mirror of the container's port to
 *  a second host tap; and the 4 MiB blob the server offers. */
async function mirroredServer(t: ExecutionContext, net: string, args: string[]) {
  const ns = await netns(t, 'mi');
  const d = await startDaemon(t, { netns: ns, args });
  const srvTap = uniqueName('ms');
  const outTap = uniqueName('mo');
  let r = await d.cli('add', 'tap', srvTap, '--ip', `${net}.1/24`);
  t.is(r.exitCode, 0, r.stderr);
  r = await d.cli('add', 'tap', outTap);
  t.is(r.exitCode, 0, r.stderr);
  const c = await shellContainer(t, d, `${net}.2/24`);
  const m = uniqueName('m');
  r = await d.cli('add', 'mirror', m, '--select', `${c.id}.eth0`, '--to', outTap);
  t.is(r.exitCode, 0, r.stderr);
  const dir = tempDir(t);
  const body = randomBytes(4 << 20);
  writeFileSync(path.join(dir, 'blob'), body);
  const port = String(20000 + Math.floor(Math.random() * 10000));
  const srv = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', '--bind', `${net}.1`, '--directory', dir, port], { stdio: 'ignore' });
  t.teardown(() => {
    if (srv.exitCode === null && srv.signalCode === null && srv.pid) process.kill(srv.pid, 'SIGKILL');
  });
  t.is((await inNetns(ns, ['ip', 'link', 'set', 'lo', 'up'])).exitCode, 0);
  await waitFor('the server', async () => (await inNetns(ns, ['python3', '-c', `import socket; socket.create_connection(('${net}.1', ${port}), 1)`])).exitCode === 0, 30000);
  /** The container fetches the blob; it must arrive intact. */
  const fetch = async () => {
    const got = path.join(tempDir(t), 'got');
    t.is(await shell(c.c, `busybox wget -q -O ${got} http://${net}.1:${port}/blob`, 60000), 0, c.c.output());
    t.is(createHash('sha256').update(readFileSync(got)).digest('hex'), createHash('sha256').update(body).digest('hex'));
  };
  return { ns, d, outTap, m, body, fetch };
}

rootTest('a TCP transfer mirrored (two threads): GSO frames reach the output tap whole, the transfer is intact, nothing dropped', async (t) => {
  const { ns, d, outTap, m, body, fetch } = await mirroredServer(t, '10.92.0', ['--threads', '2']);
  // tcpdump on the output: the server's segments as the container's port sends them (GSO frames larger than the MTU).
  // A 64 MiB capture buffer: tcpdump's own kernel buffer must not be what drops frames on a busy machine.
  const dump = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', outTap, '-B', '65536', '-nn', '-l', '-U', 'tcp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(dump);
  t.teardown(() => stopChild(dump));
  await waitFor('tcpdump to listen', () => /listening on/.test(out.output()), 15000);
  await fetch();
  /** Payload lengths of the server's segments tcpdump printed so far. */
  const lengths = () => [...out.stdout().matchAll(/10\.92\.0\.1\.\d+ > 10\.92\.0\.2\.\d+: .* length (\d+)/g)].map((x) => Number(x[1]));
  const total = () => lengths().reduce((a, b) => a + b, 0);
  // tcpdump prints as it reads: wait for every byte (or give up and say what it saw), then stop it.
  await waitFor('tcpdump to print every mirrored byte', () => total() >= body.length, 60000).catch(() => undefined);
  process.kill(dump.pid!, 'SIGINT');
  await out.closed;
  const lens = lengths();
  const seen = total();
  t.true(seen >= body.length, `tcpdump saw ${seen} bytes of payload in ${lens.length} frames; it said: ${out.stderr().trim().split('\n').slice(-3).join(' / ')}`);
  t.true(lens.some((l) => l > 1500), `no frame larger than the MTU: ${lens.slice(0, 20).join(',')}`);
  const st = await statsOf(d, m, 'mirrors');
  t.true(Number(st.bytes) >= body.length, JSON.stringify(st));
  t.is(st.drops, 0, JSON.stringify(st));
});

rootTest('a packet pool too small for the copies: what cannot be copied is counted as the mirror\'s drops, and the traffic goes on', async (t) => {
  const { d, m, fetch } = await mirroredServer(t, '10.93.0', ['--pool-size', '3']);
  await fetch();
  const st = await statsOf(d, m, 'mirrors');
  t.true(Number(st.frames) > 0, JSON.stringify(st));
  t.true(Number(st.drops) > 0, JSON.stringify(st));
  const r = await d.cli('stats', m);
  t.regex(r.stdout, new RegExp(`^${m} +\\d+ +\\S+( \\S+)? +[1-9]\\d*$`, 'm'));
});

rootTest('iperf3 between two containers with and without a mirror of the sender\'s port to a host tap read by tcpdump (figures logged, not asserted)', async (t) => {
  const ns = await netns(t, 'mi');
  const d = await startDaemon(t, { netns: ns });
  const a = await shellContainer(t, d, '10.94.0.2/24');
  const b = await shellContainer(t, d, '10.94.0.1/24');
  const tap = uniqueName('mt');
  let r = await d.cli('add', 'tap', tap);
  t.is(r.exitCode, 0, r.stderr);
  const bpid = await containerInitPid(b.c);
  const srv = spawn('nsenter', ['-t', String(bpid), '-n', 'iperf3', '-s', '-B', '10.94.0.1'], { stdio: 'ignore' });
  t.teardown(() => stopChild(srv));
  await waitFor('iperf3 -s to listen', async () => (await execa('nsenter', ['-t', String(bpid), '-n', 'ss', '-ltn'], { reject: false })).stdout.includes('10.94.0.1:5201'), 15000);
  const apid = await containerInitPid(a.c);
  /** iperf3 -c for 3 s from a: bits per second received. */
  const run = async () => {
    const x = await execa('nsenter', ['-t', String(apid), '-n', 'iperf3', '-c', '10.94.0.1', '-t', '3', '-J'], { reject: false, timeout: 60000 });
    t.is(x.exitCode, 0, x.stdout + x.stderr);
    return (JSON.parse(x.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  };
  const without = await run();
  const m = uniqueName('m');
  r = await d.cli('add', 'mirror', m, '--select', `${a.id}.eth0`, '--to', tap);
  t.is(r.exitCode, 0, r.stderr);
  const dump = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', tap, '-nn', '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = collectOutput(dump);
  t.teardown(() => stopChild(dump));
  await waitFor('tcpdump to listen', () => /listening on/.test(out.output()), 15000);
  const withMirror = await run();
  const st = await statsOf(d, m, 'mirrors');
  const ts = await statsOf(d, tap, 'ports');
  t.true(Number(st.frames) > 0, JSON.stringify(st));
  const gbps = (x: number) => (x / 1e9).toFixed(2);
  t.log(`iperf3 3 s: ${gbps(without)} Gbit/s without a mirror, ${gbps(withMirror)} Gbit/s with one (ratio ${(withMirror / without).toFixed(2)}); mirror ${JSON.stringify(st)}; tap tx ${ts.txPackets} frames, drops ${JSON.stringify(Object.fromEntries(Object.entries(ts.drops as Record<string, number>).filter(([, n]) => n > 0)))}`);
});
