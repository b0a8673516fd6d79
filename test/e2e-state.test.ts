/**
 * Restart without loss (--state FILE, docs/state.md), end to end as root: the
 * daemon killed with SIGKILL under traffic and started again finds the same
 * containers' taps (persistent) and they ping again, and their ports still go
 * when the containers do; lans, nat forwards, a2b settings and vhost ports come
 * back as they were; vhost-user frontends reconnect (testpmd as a server, a
 * QEMU guest as a reconnecting client); a state file that is not ours is
 * refused and left as it is; a crash in a burst of changes leaves a file that
 * reads; and without --state a crash still leaves no tap behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { execa } from 'execa';

import { native } from '../src/native.js';
import { binPath, inNetns, netns, rootTest, startDaemon, tail, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { portNames, shell, shellContainer } from './helpers/containers.js';
import { buildInitramfs, peerTest, qemuGuest, testpmd } from './helpers/peers.js';

/** A daemon on @sock keeping its objects in @state. */
function stateDaemon(t: Parameters<typeof startDaemon>[0], sock: string, state: string): Promise<TestDaemon> {
  return startDaemon(t, { sock, args: ['--state', state] });
}

/** Kill daemon @d (ours) with SIGKILL and wait until it is gone. */
async function crash(d: TestDaemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => d.child.once('exit', () => r()));
  process.kill(d.pid, 'SIGKILL');
  await gone;
}

/** When daemon @d said it listens (ms since the epoch, from its log line). */
function listenedAt(d: TestDaemon): number {
  const m = /^(\S+) info {2}containet listening on/m.exec(d.log());
  if (!m) throw new Error(`the daemon did not say it listens: ${tail(d.log())}`);
  return Date.parse(m[1]!);
}

/** The times (ms since the epoch) of the replies `ping -D` printed in @out. */
function replyTimes(out: string): number[] {
  return [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
}

/** Objects of a show reply, by name. */
async function shown(d: TestDaemon): Promise<Record<string, Record<string, unknown>>> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return Object.fromEntries(r.objects.map((o) => [String(o.name), o]));
}

rootTest('kill -9 under traffic: the restarted daemon finds the containers\' taps, they ping again, and their ports still go with them', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await stateDaemon(t, sock, state);
  const a = await shellContainer(t, d1, '10.40.0.1/24');
  const b = await shellContainer(t, d1, '10.40.0.2/24');
  const c = await shellContainer(t, d1, '10.40.0.3/24');
  t.is(await shell(a.c, 'ping -c 2 -W 5 10.40.0.2'), 0, a.c.output());
  // Traffic: a pings b five times a second, each reply stamped with its time.
  t.is(await shell(a.c, 'ping -D -i 0.2 10.40.0.2 & true'), 0);
  await a.c.untilStdout('replies before the crash', (out) => replyTimes(out).length >= 3, 30000);
  await crash(d1);
  const killedAt = Date.now();
  // The taps outlived the daemon (persistent), addresses and all.
  t.is(await shell(b.c, 'ip -o addr show eth0 | grep -q 10.40.0.2/24'), 0, b.c.output());
  await new Promise((r) => setTimeout(r, 500));
  t.false(replyTimes(a.c.stdout()).some((ts) => ts > killedAt + 300), 'no replies while no daemon runs');

  const d2 = await stateDaemon(t, sock, state);
  const listened = listenedAt(d2);
  t.regex(await d2.logged(/restored \d+ of/), /restored 4 of 4 objects/);
  const first = await a.c.untilStdout('a reply after the restart', (out) => replyTimes(out).find((ts) => ts > listened), 60000);
  t.log(`first reply ${Math.round(first - listened)} ms after the new daemon listened (${Math.round(first - killedAt)} ms after the crash)`);
  t.deepEqual((await portNames(d2)).sort(), [a, b, c].map((x) => `${x.id}.eth0`).sort());
  t.is(await shell(b.c, 'ping -c 3 -W 5 10.40.0.1 && ping -c 3 -W 5 10.40.0.3'), 0, b.c.output());
  t.is(await shell(a.c, 'kill $!'), 0);

  // A restored port deleted takes its tap along (no longer persistent).
  const del = await d2.cli('del', `${c.id}.eth0`);
  t.is(del.exitCode, 0, del.stderr);
  await waitFor('c\'s tap to go', async () => (await shell(c.c, 'ip link show eth0 2>/dev/null')) !== 0, 10000);
  // A container that ends has its port removed by the new daemon (its init's
  // exit, watched again, or containode's remove-etherfd: whichever comes first).
  a.c.child.stdin!.end('exit 0\n');
  t.is(await a.c.exited, 0);
  await waitFor('a\'s port to go', async () => !(await portNames(d2)).includes(`${a.id}.eth0`), 20000);
  const gone = new RegExp(`port ${a.id}\\.eth0 removed from lan0: (owner process exited|removed by its node)`);
  t.regex(await d2.logged(gone), gone);
  // The pid watch came back: containode killed, the container's init goes, the port too.
  process.kill(b.c.pid, 'SIGKILL');
  await b.c.exited;
  await waitFor('b\'s port to go', async () => !(await portNames(d2)).includes(`${b.id}.eth0`), 20000);
  t.notRegex(d2.log(), /stays persistent/);
  const saved = JSON.parse(readFileSync(state, 'utf8')) as { objects: { kind: string }[] };
  t.deepEqual(saved.objects.map((o) => o.kind), ['lan'], 'only the default lan is left in the state file');
});

/** Hand daemon @d a vnet-hdr tap made in network namespace @ns (as a CNI
 *  plugin would), with the add-etherfd fields @extra; our copy of the fd is closed. */
async function handTap(t: Parameters<typeof startDaemon>[0], d: TestDaemon, ns: string, ip: string, nodeid: string, extra: Record<string, unknown>) {
  const fd = native().tapCreate({ netns: `/run/netns/${ns}`, ifname: 'eth0', vnetHdr: true, ipv4: ip, prefix: 24 });
  try {
    t.deepEqual(await d.request({ 'add-etherfd': { ifname: 'eth0', nodeid, netns: `/run/netns/${ns}`, ...extra } }, fd), {});
  } finally {
    native().closeFd(fd);
  }
}

/** Does network namespace @ns have an eth0? */
async function hasEth0(ns: string): Promise<boolean> {
  return (await inNetns(ns, ['ip', 'link', 'show', 'eth0'])).exitCode === 0;
}

rootTest('taps handed over by a client that left ("keep", "netns") or tied to a pid come back; a port removed, or whose pid exits, takes its tap along', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await stateDaemon(t, sock, state);
  const [ns1, ns2, ns3] = [await netns(t), await netns(t), await netns(t)];
  const sleepers = [0, 1].map(() => spawn('sleep', ['600'], { stdio: 'ignore' }));
  t.teardown(() => {
    for (const s of sleepers) if (s.exitCode === null && s.signalCode === null) process.kill(s.pid!, 'SIGKILL');
  });
  await handTap(t, d1, ns1, '10.44.0.1', 'cni1', { keep: true });
  await handTap(t, d1, ns2, '10.44.0.2', 'cni2', { pid: sleepers[0]!.pid });
  await handTap(t, d1, ns3, '10.44.0.3', 'cni3', { pid: sleepers[1]!.pid });
  t.is((await inNetns(ns1, ['ping', '-c', '2', '-W', '5', '10.44.0.2'])).exitCode, 0);
  await crash(d1);
  // cni3's process ends while no daemon runs: not restored, and its tap goes.
  const gone = new Promise((r) => sleepers[1]!.once('exit', r));
  process.kill(sleepers[1]!.pid!, 'SIGKILL');
  await gone;
  t.true(await hasEth0(ns3), 'the tap outlived the daemon');
  const d2 = await stateDaemon(t, sock, state);
  t.deepEqual((await portNames(d2)).sort(), ['cni1.eth0', 'cni2.eth0']);
  t.regex(await d2.logged(/port cni3\.eth0 not restored/), new RegExp(`port cni3\\.eth0 not restored: its process ${sleepers[1]!.pid} is gone; its tap eth0 in /run/netns/${ns3} removed`));
  t.false(await hasEth0(ns3), 'the tap of a port not restored is gone');
  t.is((await inNetns(ns1, ['ping', '-c', '2', '-W', '5', '10.44.0.2'])).exitCode, 0, 'the restored taps forward');
  // cni2's process exits: the port goes, and the tap (its namespace lives on).
  process.kill(sleepers[0]!.pid!, 'SIGKILL');
  await waitFor('cni2.eth0 to go', async () => !(await portNames(d2)).includes('cni2.eth0'), 20000);
  await waitFor('its tap to go', async () => !(await hasEth0(ns2)), 10000);
  // cni1 deleted: its tap goes.
  t.is((await d2.cli('del', 'cni1.eth0')).exitCode, 0);
  await waitFor('cni1\'s tap to go', async () => !(await hasEth0(ns1)), 10000);
  t.notRegex(d2.log(), /stays persistent/);
});

rootTest('without --state a daemon killed with -9 leaves no tap behind', async (t) => {
  const d = await startDaemon(t);
  const a = await shellContainer(t, d, '10.41.0.1/24');
  t.is(await shell(a.c, 'ip link show eth0 >/dev/null'), 0);
  await crash(d);
  await waitFor('the tap to go with the daemon', async () => (await shell(a.c, 'ip link show eth0 2>/dev/null')) !== 0, 10000);
  t.pass();
});

rootTest('lans, nat forwards, a2b settings and vhost ports survive kill -9 and SIGTERM, as show says', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await stateDaemon(t, sock, state);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const steps = [
    ['add', 'lan', 'blue', '--aging', '42', '--mac-table-size', '1024'],
    ['set', 'lan0', '--aging', '77'],
    ['add', 'nat', 'n1', '--lan', 'blue', '--net', '10.77.0.0/24', '--forward', `tcp:127.0.0.1:${port}:10.77.0.15:80`, '--max-connections', '100', '--dns-upstream', '127.0.0.1:5353'],
    ['set', 'n1', '--add-forward', `udp:127.0.0.1:${port + 1}:10.77.0.15:53`],
    ['add', 'a2b', 'l1', '--a', 'lan0', '--b', 'blue'],
    ['set', 'l1', '--dir', 'a2b', '--delay', '20ms', '--jitter', '2ms', '--loss', '1%', '--loss-ge', '5,20'],
    ['set', 'l1', '--dir', 'b2a', '--rate', '10mbit', '--limit', '50'],
    ['add', 'vhost', 'vs', '--socket', path.join(dir, 'vs.sock')],
    ['add', 'vhost', 'vc', '--socket', path.join(dir, 'vc.sock'), '--client', '--lan', 'blue'],
  ];
  for (const s of steps) {
    const r = await d1.cli(...s);
    t.is(r.exitCode, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  const before = await shown(d1);
  const withoutState = (o: Record<string, Record<string, unknown>>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { ...v, state: typeof v.state === 'string' ? v.state.replace(/client, .*/, 'client') : v.state }]));
  await crash(d1);
  const d2 = await stateDaemon(t, sock, state);
  t.deepEqual(withoutState(await shown(d2)), withoutState(before), 'the same objects after kill -9');
  t.regex(String((await shown(d2)).vs!.state), /listening/);
  // And after a clean stop.
  await new Promise<void>((r) => {
    d2.child.once('exit', () => r());
    process.kill(d2.pid, 'SIGTERM');
  });
  const d3 = await stateDaemon(t, sock, state);
  t.deepEqual(withoutState(await shown(d3)), withoutState(before), 'the same objects after SIGTERM');
  t.notRegex(d3.log(), /not restored/);
});

/** The reasons a state file is refused: its text and what the error says. */
const BAD_FILES: [string, string, RegExp][] = [
  ['corrupt JSON', '{"version": 1, "objects": [{"kind": "lan", "na', /not JSON/],
  ['a list', '[1, 2, 3]', /not a containet state/],
  ['objects not a list', '{"version": 1, "objects": {}}', /"objects" must be a list/],
  ['an object with no kind', '{"version": 1, "objects": [{"name": "x"}]}', /objects\[0\] must have/],
  ['version 999', '{"version": 999, "objects": []}', /version 999 is newer than this containet reads \(1\)/],
  ['a kind this daemon lacks', '{"version": 1, "objects": [{"kind": "warp", "name": "w", "created": "2026-01-01T00:00:00.000Z", "record": {}}]}', /kind "warp"/],
];

rootTest('a state file that is corrupt, of another shape or of a newer version is refused with the reason, and left byte for byte', async (t) => {
  const dir = tempDir(t);
  for (const [what, text, reason] of BAD_FILES) {
    const file = path.join(dir, `${what.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, text);
    const sock = path.join(dir, 's.sock');
    const r = await execa(process.execPath, [binPath('containet'), '-s', sock, '--state', file], { reject: false, timeout: 30000 });
    t.not(r.exitCode, 0, `${what}: refused`);
    t.regex(r.stderr, reason, what);
    t.true(r.stderr.includes(`state file ${file}`), `${what}: the message names the file: ${r.stderr}`);
    t.is(readFileSync(file, 'utf8'), text, `${what}: the file is as it was`);
    t.false(existsSync(sock), `${what}: the daemon never listened`);
  }
});

rootTest('a leftover FILE.tmp is ignored, and a crash in a burst of changes leaves a file the next daemon reads whole', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  writeFileSync(`${state}.tmp`, '{"version": 1, "objects": [{"kind": "lan", "na');
  const d1 = await stateDaemon(t, sock, state);
  const names = Array.from({ length: 300 }, (_, i) => `burst${i}`);
  // Changes in flight from several clients when the daemon dies.
  const sent = names.map((name) => d1.request({ 'add-lan': { name } }).catch(() => undefined));
  await waitFor('some lans to be added', () => (d1.log().match(/lan burst\d+ added/g) ?? []).length >= 20, 30000);
  await crash(d1);
  await Promise.all(sent);
  const made = (d1.log().match(/lan burst\d+ added/g) ?? []).length;
  const saved = JSON.parse(readFileSync(state, 'utf8')) as { version: number; objects: { name: string }[] };
  t.is(saved.version, 1);
  const savedLans = saved.objects.map((o) => o.name).filter((n) => n.startsWith('burst'));
  t.true(savedLans.length >= 20 && savedLans.length <= made, `${savedLans.length} lans saved of ${made} made`);
  const d2 = await stateDaemon(t, sock, state);
  t.regex(await d2.logged(/restored \d+ of/), new RegExp(`restored ${saved.objects.length} of ${saved.objects.length} objects`));
  const lans = Object.keys(await shown(d2)).filter((n) => n.startsWith('burst'));
  t.deepEqual(lans.sort(), savedLans.sort());
  t.log(`killed with ${made} of ${names.length} lans made; ${savedLans.length} in the file, all restored`);
});

peerTest('vhost client mode: testpmd (a server) sees containet connect again after kill -9, and a restored container pings through it', ['testpmd'], async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const vsock = path.join(dir, 'vh.sock');
  const pmd = await testpmd(t, { socket: vsock, server: true, mode: 'icmpecho' });
  const d1 = await stateDaemon(t, sock, state);
  t.is((await d1.cli('add', 'vhost', 'vh', '--socket', vsock, '--client')).exitCode, 0);
  await pmd.ready;
  const c = await shellContainer(t, d1, '10.42.0.1/24');
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.42.0.99'), 0, c.c.output());
  await crash(d1);
  const d2 = await stateDaemon(t, sock, state);
  await waitFor('containet to connect again', async () => /client, connected/.test(String((await shown(d2)).vh?.state)), 30000);
  // testpmd takes the new backend in a while after the connection (it sets its rings up again).
  await waitFor('a reply through testpmd', async () => (await shell(c.c, 'ping -c 1 -W 1 10.42.0.98')) === 0, 30000).catch(async (e: Error) => {
    throw new Error(`${e.message}; vh ${JSON.stringify(await d2.request({ stats: { name: 'vh' } }))}; testpmd ${JSON.stringify(await pmd.stats())}; daemon: ${tail(d2.log(), 3000)}`);
  });
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.42.0.98'), 0, c.c.output());
});

peerTest('vhost server mode: a QEMU guest (reconnect=1) reconnects to the restarted daemon and pings a restored container again', ['qemu'], async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const vsock = path.join(dir, 'vh.sock');
  const d1 = await stateDaemon(t, sock, state);
  t.is((await d1.cli('add', 'vhost', 'vh', '--socket', vsock)).exitCode, 0);
  const c = await shellContainer(t, d1, '10.43.0.1/24');
  const initrd = buildInitramfs(tempDir(t), {
    ip: '10.43.0.2/24',
    script: [
      'ping -c 3 -W 5 10.43.0.1 && echo "@@RESULT@@ ping ok"',
      // Until the daemon goes, then until it is back.
      'while ping -c 1 -W 1 10.43.0.1 >/dev/null; do sleep 0.2; done; echo "@@RESULT@@ down"',
      'n=0; until ping -c 1 -W 1 10.43.0.1 >/dev/null; do n=$((n+1)); [ $n -gt 300 ] && exit 1; done; echo "@@RESULT@@ back"',
      // Stay up for the container's ping.
      'sleep 600',
    ].join('\n'),
  });
  const vm = qemuGuest(t, { socket: vsock, initrd, reconnect: 1 });
  await vm.waitFor('@@RESULT@@ ping ok', 180000);
  await crash(d1);
  await vm.waitFor('@@RESULT@@ down', 60000);
  const d2 = await stateDaemon(t, sock, state);
  await vm.waitFor('@@RESULT@@ back', 180000);
  t.regex(String((await shown(d2)).vh?.state), /connected/);
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.43.0.2'), 0, c.c.output());
});
