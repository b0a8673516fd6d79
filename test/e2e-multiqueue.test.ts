/**
 * Multi-queue taps end to end (docs/fd.md): a tap with a queue per worker
 * thread is one port whose queues are polled by different workers, flows are
 * spread over the queues by the kernel and every byte arrives; containode
 * makes one queue per worker of the daemon it joins (or --queues); a queue that is not one
 * of the tap's is refused naming it, with nothing lost; a daemon restart
 * opens every queue of a kept tap again; and the CNI plugin does as containode.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import type { ExecutionContext } from 'ava';
import { execa } from 'execa';

import { native } from '../src/native.js';
import { runPlugin, type CniVars } from './helpers/cni.js';
import {
  collectOutput,
  containerInitPid,
  containodePath,
  inContainer,
  inNetns,
  netns,
  rootTest,
  startContainode,
  startDaemon,
  tempDir,
  waitFor,
  type TestDaemon,
} from './helpers/env.js';
import { tapPort, transfer } from './helpers/traffic.js';

/** The show entry of object @name. */
async function shown(d: TestDaemon, name: string): Promise<Record<string, unknown>> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  const o = r.objects.find((x) => x.name === name);
  if (!o) throw new Error(`no object ${name} in show`);
  return o;
}

/** The kind-specific counters of port @name. */
async function counters(d: TestDaemon, name: string): Promise<Record<string, number>> {
  const r = (await d.request({ stats: { name } })) as { ports: { counters?: Record<string, number> }[] };
  return r.ports[0]?.counters ?? {};
}

/** The queues the kernel gives eth0 in namespace @ns, as sysfs lists them ("tx-0" ...). */
async function txQueues(ns: string): Promise<string[]> {
  const r = await inNetns(ns, ['ls', '/sys/class/net/eth0/queues']);
  return r.stdout.split(/\s+/).filter((q) => q.startsWith('tx-')).sort();
}

/** Run `iperf3 -c @ip -P @streams` from namespace @from against a server in @to; returns the bytes the server received. */
async function iperfStreams(t: ExecutionContext, from: string, to: string, ip: string, streams: number): Promise<number> {
  const srv = spawn('ip', ['netns', 'exec', to, 'iperf3', '-s', '-1', '-B', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(srv);
  t.teardown(() => {
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGKILL');
  });
  await waitFor('iperf3 -s to listen', async () => (await inNetns(to, ['ss', '-ltn'])).stdout.includes(`${ip}:5201`), 20000);
  const r = await inNetns(from, ['iperf3', '-c', ip, '-P', String(streams), '-t', '2', '-J'], { timeout: 90000 });
  t.is(r.exitCode, 0, `iperf3 -c: ${r.stderr}${out.stderr()}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bytes: number } } };
  return j.end.sum_received.bytes;
}

rootTest('--threads 2: a 2-queue tap is one port with a queue on each thread; 32 streams use both queues and every byte arrives', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: '10.71.0.1', queues: 2 });
  const b = await tapPort(t, d, { framing: 'vnet', ipv4: '10.71.0.2', queues: 2 });
  t.deepEqual(await txQueues(a.ns), ['tx-0', 'tx-1'], 'the kernel sees two queues');
  for (const p of [a, b]) {
    const o = await shown(d, p.name);
    t.is(o.queues, 2, `${p.name} polls 2 queues`);
    t.regex(String(o.state), /^2 queues on threads (0,1|1,0)$/, `${p.name}: a queue on each thread`);
  }
  t.regex(await d.logged(new RegExp(`port ${a.name} .*2 queues`)), new RegExp(`port ${a.name} .*2 queues`));

  // 32 flows: the kernel hashes each onto a queue, so both carry some (all
  // on one would take 2^-31 odds).
  t.true((await iperfStreams(t, a.ns, b.ns, '10.71.0.2', 32)) > 0, 'iperf3 moved data');
  for (const p of [a, b]) {
    const c = await counters(d, p.name);
    t.is(c.queues, 2);
    t.true((c.rx_q0 ?? 0) > 0 && (c.rx_q1 ?? 0) > 0, `${p.name}: both queues received (${JSON.stringify(c)})`);
  }
  // Several flows at once, each checked byte for byte.
  await Promise.all([0, 1, 2, 3].map((i) => transfer(t, i % 2 ? b.ns : a.ns, i % 2 ? a.ns : b.ns, i % 2 ? '10.71.0.1' : '10.71.0.2', 4 << 20, `flow ${i}`)));
  const st = (await d.request({ stats: { name: a.name } })) as { ports: { drops: Record<string, number> }[] };
  t.is(st.ports[0]!.drops.bad_vnet ?? 0, 0);
});

rootTest('containode makes a queue per worker thread of the daemon (or --queues N); its containers ping', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const c1 = startContainode(t, ['-s', d.sock, '-i', 'mq1', '-4', '10.72.0.1/24', '--', 'sleep', '600']);
  const c2 = startContainode(t, ['-s', d.sock, '-i', 'mq2', '-4', '10.72.0.2/24', '--queues', '1', '--', 'sleep', '600']);
  await waitFor('both ports', async () => {
    const r = (await d.request({ show: {} })) as { objects: { name: string }[] };
    return ['mq1.eth0', 'mq2.eth0'].every((n) => r.objects.some((o) => o.name === n));
  }, 60000);
  t.is((await shown(d, 'mq1.eth0')).queues, 2, 'one queue per worker by default');
  t.is((await shown(d, 'mq2.eth0')).queues, 1, '--queues 1');
  const ping = await inContainer(await containerInitPid(c1), ['ping', '-c', '3', '-W', '5', '10.72.0.2']);
  t.is(ping.exitCode, 0, ping.stderr + ping.stdout);
  const ping2 = await inContainer(await containerInitPid(c2), ['ping', '-c', '1', '-W', '5', '10.72.0.1']);
  t.is(ping2.exitCode, 0, ping2.stderr + ping2.stdout);
  const bad = await execa(containodePath(), ['-s', d.sock, '--queues', '9', '--', 'true'], { reject: false, timeout: 30000 });
  t.not(bad.exitCode, 0);
  t.regex(bad.stderr, /--queues <n>' argument '9' is invalid\. must be an integer from 1 to 8/);
});

rootTest('a queue that is not one of the tap\'s is refused naming it, and nothing is lost; queues beyond the threads are closed', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const [ns1, ns2] = [await netns(t, 'mqa'), await netns(t, 'mqb')];
  const make = (ns: string, ip: string, queues: number) =>
    native().tapCreate({ netns: `/run/netns/${ns}`, ifname: 'eth0', vnetHdr: true, ipv4: ip, prefix: 24 }, queues);
  const mine = make(ns1, '10.73.0.1', 2);
  const other = make(ns2, '10.73.0.2', 2);
  const [s0, s1] = native().socketpair('dgram');
  t.teardown(() => {
    for (const fd of [...mine, ...other, s0, s1]) native().closeFd(fd);
  });
  const before = d.fdCount();
  const add = (fds: number[]) => d.request({ 'add-etherfd': { ifname: 'eth0', nodeid: 'mq' } }, fds).then(() => 'accepted', (e: Error) => e.message);
  t.regex(await add([mine[0]!, other[1]!]), /queue1: not a queue of the multi-queue tap eth0 \(it is eth0 in another network namespace\)/);
  t.regex(await add([mine[0]!, s0]), /queue1: fd is not a tun\/tap fd/);
  t.regex(await add([s0, mine[1]!]), /queue1 given with a socket: only a multi-queue tap has queues/);
  t.regex(await add(Array.from({ length: 9 }, () => mine[1]!)), /add-etherfd takes 1 to 8 file descriptors/);
  await waitFor('the daemon to close what it was sent', () => d.fdCount() === before, 10000).catch(() => undefined);
  t.is(d.fdCount(), before, 'no fd kept from a refused request');
  t.deepEqual((await d.request({ show: {} }) as { objects: { name: string }[] }).objects.filter((o) => o.name === 'mq.eth0'), []);

  // Four queues to a daemon of two threads: two are polled, two closed.
  for (const fd of other.splice(0)) native().closeFd(fd);
  await waitFor('the first tap of ns2 to go', async () => (await txQueues(ns2)).length === 0, 10000);
  const four = make(ns2, '10.73.0.3', 4);
  t.deepEqual(await txQueues(ns2), ['tx-0', 'tx-1', 'tx-2', 'tx-3']);
  t.is(await add(four), 'accepted');
  for (const fd of four) native().closeFd(fd);
  t.is((await shown(d, 'mq.eth0')).queues, 2);
  await waitFor('the kernel to drop the closed queues', async () => (await txQueues(ns2)).length === 2, 10000);
  t.deepEqual(await txQueues(ns2), ['tx-0', 'tx-1']);
});

rootTest('--state: a kept multi-queue tap comes back after a crash with all its queues, and forwards', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await startDaemon(t, { sock, args: ['--threads', '2', '--state', state] });
  const a = await tapPort(t, d1, { framing: 'vnet', ipv4: '10.74.0.1', queues: 2, restorable: true });
  const b = await tapPort(t, d1, { framing: 'vnet', ipv4: '10.74.0.2', queues: 2, restorable: true });
  t.is((await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', '10.74.0.2'])).exitCode, 0);
  const gone = new Promise((r) => d1.child.once('exit', r));
  d1.child.kill('SIGKILL');
  await gone;
  const d2 = await startDaemon(t, { sock, args: ['--threads', '2', '--state', state] });
  for (const p of [a, b]) t.is((await shown(d2, p.name)).queues, 2, `${p.name} restored with 2 queues`);
  t.deepEqual(await txQueues(a.ns), ['tx-0', 'tx-1']);
  t.true((await iperfStreams(t, a.ns, b.ns, '10.74.0.2', 32)) > 0);
  const c = await counters(d2, a.name);
  t.true((c.rx_q0 ?? 0) > 0 && (c.rx_q1 ?? 0) > 0, `both restored queues are read (${JSON.stringify(c)})`);
});

rootTest('the CNI plugin makes a queue per worker thread of the daemon, or "queues" of its config (1 to 8)', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const [a, b] = [await netns(t, 'mqca'), await netns(t, 'mqcb')];
  const conf = (address: string, extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'mq', type: 'containet-cni', socket: d.sock, address, ...extra });
  const env = (ns: string, id: string): CniVars => ({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' });
  const r1 = await runPlugin(env(a, 'mqcni1'), conf('10.75.0.1/24'));
  t.is(r1.exitCode, 0, r1.stdout + r1.stderr);
  const r2 = await runPlugin(env(b, 'mqcni2'), conf('10.75.0.2/24', { queues: 1 }));
  t.is(r2.exitCode, 0, r2.stdout + r2.stderr);
  t.is((await shown(d, 'mqcni1.eth0')).queues, 2, 'one queue per worker by default');
  t.is((await shown(d, 'mqcni2.eth0')).queues, 1, '"queues": 1');
  t.deepEqual(await txQueues(a), ['tx-0', 'tx-1']);
  const ping = await inNetns(a, ['ping', '-c', '2', '-W', '5', '10.75.0.2']);
  t.is(ping.exitCode, 0, ping.stdout + ping.stderr);
  const bad = await runPlugin(env(a, 'mqcni3'), conf('10.75.0.3/24', { queues: 9 }));
  t.is(bad.exitCode, 1);
  t.regex(String(bad.json?.msg), /"queues" must be an integer from 1 to 8, not 9/);
});

rootTest('a multi-queue tap whose device goes (ip link del) is removed with all its queues; the other ports forward on', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: '10.76.0.1', queues: 2 });
  const b = await tapPort(t, d, { framing: 'vnet', ipv4: '10.76.0.2', queues: 2 });
  const c = await tapPort(t, d, { framing: 'vnet', ipv4: '10.76.0.3', queues: 2 });
  t.is((await inNetns(a.ns, ['ping', '-c', '1', '-W', '5', '10.76.0.2'])).exitCode, 0);
  const before = d.fdCount();
  const del = await inNetns(c.ns, ['ip', 'link', 'del', 'eth0']);
  t.is(del.exitCode, 0, del.stderr);
  await waitFor(`${c.name} to be removed`, async () => {
    const r = (await d.request({ show: {} })) as { objects: { name: string }[] };
    return !r.objects.some((o) => o.name === c.name);
  }, 30000);
  // Its two queue fds are closed (on the closer thread: wait for them).
  await waitFor('its fds to be closed', () => d.fdCount() <= before - 2, 20000).catch(() => undefined);
  t.true(d.fdCount() <= before - 2, `fds ${before} -> ${d.fdCount()}`);
  await transfer(t, a.ns, b.ns, '10.76.0.2', 2 << 20, 'after the removal');
});

rootTest('version says the daemon\'s worker threads: 1 by default, as --threads says', async (t) => {
  for (const [args, n] of [[[], 1], [['--threads', '3'], 3]] as const) {
    const d = await startDaemon(t, { args: [...args] });
    t.is(((await d.request({ version: {} })) as { threads?: number }).threads, n, args.join(' ') || 'defaults');
  }
});
