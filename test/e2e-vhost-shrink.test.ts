/**
 * A vhost-user frontend that shrinks its memory under the daemon: a real
 * daemon, a real unix socket and a real memfd, driven by the hostile frontend
 * of test/fixtures/vhost_hostile.py. Truncating the memfd after SET_MEM_TABLE
 * used to make the next guest access a SIGBUS that killed the daemon; now the
 * port drops that frontend with the reason (where the fault was), waits for
 * the next one, and every other port forwards on. A memfd sealed with
 * F_SEAL_SHRINK cannot be truncated and is used unguarded; a region larger
 * than its fd is refused at SET_MEM_TABLE.
 */
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';
import { inNetns, rootTest, startDaemon, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { portStats, tapPort } from './helpers/traffic.js';

const fixture = path.join(packageRoot, 'test', 'fixtures', 'vhost_hostile.py');

/** STATE of port @name as `show` has it. */
async function stateOf(d: TestDaemon, name: string): Promise<string> {
  const r = (await d.request({ show: {} })) as { objects: { name: string; state: string }[] };
  const o = r.objects.find((x) => x.name === name);
  if (!o) throw new Error(`no port ${name}`);
  return o.state;
}

/** A daemon with vhost port "vh" and two taps on its lan, at 10.34.@net.1 and .2. */
async function setup(t: ExecutionContext, net: number) {
  const d = await startDaemon(t);
  const sock = path.join(tempDir(t), 'vh.sock');
  const r = await d.cli('add', 'vhost', 'vh', '--socket', sock);
  t.is(r.exitCode, 0, r.stderr);
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: `10.34.${net}.1` });
  await tapPort(t, d, { framing: 'pi', ipv4: `10.34.${net}.2` });
  return { d, sock, a, peer: `10.34.${net}.2` };
}

/** Run the hostile frontend in @mode to its end; its stdout lines. */
async function frontend(sock: string, mode: string): Promise<string[]> {
  const r = await execa('python3', [fixture, sock, mode], { reject: false, timeout: 40000 });
  if (r.exitCode !== 0) throw new Error(`vhost_hostile.py ${mode} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

/**
 * After a frontend broke the port: the reason is in its state and the log, the
 * daemon is up, the other ports forward, and the port takes the next frontend
 * (a sealed one, whose frame it takes in).
 */
async function survived(t: ExecutionContext, d: TestDaemon, sock: string, a: { ns: string }, peer: string, reason: RegExp) {
  await waitFor('the reason in the port state', async () => reason.test(await stateOf(d, 'vh')), 5000).catch(() => undefined);
  const state = await stateOf(d, 'vh');
  t.regex(state, reason, 'the port says why');
  t.regex(state, /^listening/, 'and waits for the next frontend');
  t.regex(await d.logged(reason), reason, 'the log says why');
  t.is(d.child.exitCode, null, 'the daemon is up');
  t.is(d.child.signalCode, null, 'the daemon was not killed');
  const ping = await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', peer]);
  t.is(ping.exitCode, 0, `the other ports forward on: ${ping.stdout}`);
  const rx0 = (await portStats(d, 'vh')).rxPackets;
  const next = await frontend(sock, 'sealed');
  t.deepEqual(next, ['seal held', 'used', 'open'], 'the next frontend is served');
  t.is((await portStats(d, 'vh')).rxPackets, rx0 + 1, 'its frame came in');
}

for (const [mode, what, reason] of [
  ['shrink-read', 'the buffer of a chain the daemon reads (guest tx)', /guest memory shrank under us: SIGBUS at offset 0x10[0-9a-f]{2} of region 0/],
  ['shrink-ring', 'the rings, before a kick', /guest memory shrank under us: SIGBUS at offset 0x402 of region 0/],
  ['shrink-map', 'the rings, before SET_VRING_ADDR (the daemon reads the used index)', /SET_VRING_ADDR: guest memory shrank under us: SIGBUS at offset 0x802/],
] as const) {
  rootTest(`vhost shrink: a frontend that truncates its memfd under ${what} breaks only its port, with the reason`, async (t) => {
    const { d, sock, a, peer } = await setup(t, 1);
    t.deepEqual(await frontend(sock, mode), ['closed'], 'the daemon hung up on it');
    t.regex(await d.logged(/not sealed against shrinking: accessed under the SIGBUS guard/), /not sealed against shrinking/);
    await survived(t, d, sock, a, peer, reason);
  });
}

rootTest('vhost shrink: a frontend that truncates the buffer of a chain the daemon writes (guest rx) breaks only its port', async (t) => {
  const { d, sock, a, peer } = await setup(t, 2);
  const child = execa('python3', [fixture, sock, 'shrink-write'], { reject: false, timeout: 40000 });
  t.teardown(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('the frontend to set up its truncated rx ring', () => out.includes('ready\n'), 20000);
  // The first ping's ARP request is flooded to the vhost port too: writing it
  // into the guest's buffer faults.
  const ping = inNetns(a.ns, ['ping', '-c', '2', '-W', '5', peer]);
  const r = await child;
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['ready', 'closed'], 'the daemon hung up on it');
  t.is((await ping).exitCode, 0, 'the ping that broke it got through');
  await survived(t, d, sock, a, peer, /guest memory shrank under us: SIGBUS at offset 0x10[0-9a-f]{2} of region 0/);
});

rootTest('vhost shrink: a memfd sealed with F_SEAL_SHRINK cannot shrink; the port uses it and keeps the frontend', async (t) => {
  const { d, sock } = await setup(t, 3);
  t.deepEqual(await frontend(sock, 'sealed'), ['seal held', 'used', 'open'], 'the truncation failed, the chain was taken, the connection stayed');
  t.regex(await d.logged(/sealed against shrinking: accessed unguarded/), /memory table of 1 region\(s\), sealed against shrinking/);
  t.is((await portStats(d, 'vh')).rxPackets, 1);
});

rootTest('vhost shrink: a memory region that does not fit its fd is refused at SET_MEM_TABLE with the reason', async (t) => {
  const { d, sock, a, peer } = await setup(t, 4);
  t.deepEqual(await frontend(sock, 'bigregion'), ['closed']);
  const reason = /SET_MEM_TABLE: memory region 0 does not fit its fd: 262144 bytes asked of an fd of 65536/;
  await waitFor('the reason in the port state', async () => /does not fit its fd/.test(await stateOf(d, 'vh')), 5000).catch(() => undefined);
  t.regex(await stateOf(d, 'vh'), /listening \(SET_MEM_TABLE: memory region 0 does not fit its fd/);
  t.regex(await d.logged(reason), reason);
  const ping = await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', peer]);
  t.is(ping.exitCode, 0, 'the other ports forward on');
});
