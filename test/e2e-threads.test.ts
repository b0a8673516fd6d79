/**
 * A daemon with several worker threads, end to end: ports are spread over the
 * threads (or pinned with "thread"), two pairs of namespaces move files at the
 * same time through ports polled by different threads, and every byte arrives.
 */
import { readFileSync } from 'node:fs';

import { inNetns, startDaemon, rootTest } from './helpers/env.js';
import { portStats, tapPort, transfer } from './helpers/traffic.js';

rootTest('--threads 2: ports spread over both threads; two transfers at once arrive intact', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  t.regex(await d.logged(/2 threads/), /2 threads/);
  const a1 = await tapPort(t, d, { framing: 'vnet', ipv4: '10.11.0.1' });
  const a2 = await tapPort(t, d, { framing: 'vnet', ipv4: '10.11.0.2' });
  const b1 = await tapPort(t, d, { framing: 'vnet', ipv4: '10.11.0.3' });
  const b2 = await tapPort(t, d, { framing: 'pi', ipv4: '10.11.0.4' });
  const show = (await d.request({ show: {} })) as { objects: { name: string; thread?: number }[] };
  const thread = (name: string) => show.objects.find((o) => o.name === name)?.thread;
  t.deepEqual([a1, a2, b1, b2].map((p) => thread(p.name)), [0, 1, 0, 1], 'each new port goes to the least loaded thread');

  // Both flows cross threads: a1 (thread 0) to a2 (thread 1), b2 (1) to b1 (0).
  await Promise.all([
    transfer(t, a1.ns, a2.ns, '10.11.0.2', 8 << 20, 'a1 -> a2'),
    transfer(t, b2.ns, b1.ns, '10.11.0.3', 8 << 20, 'b2 -> b1'),
  ]);
  for (const p of [a1, a2, b1, b2]) {
    const s = await portStats(d, p.name);
    t.true(s.rxPackets > 0 && s.txPackets > 0, `${p.name} carried traffic`);
    t.is(s.drops.bad_vnet ?? 0, 0);
    t.is(s.drops.gso ?? 0, 0);
  }
});

rootTest('"thread" pins a port to a worker; a thread that does not exist is refused with the reason', async (t) => {
  const d = await startDaemon(t, { args: ['--threads', '2'] });
  const p = await tapPort(t, d, { framing: 'vnet', ipv4: '10.12.0.1', extra: { thread: 1 } });
  const q = await tapPort(t, d, { framing: 'vnet', ipv4: '10.12.0.2', extra: { thread: 1 } });
  const show = (await d.request({ show: {} })) as { objects: { name: string; thread?: number }[] };
  t.is(show.objects.find((o) => o.name === p.name)?.thread, 1);
  t.is(show.objects.find((o) => o.name === q.name)?.thread, 1);
  await transfer(t, p.ns, q.ns, '10.12.0.2', 2 << 20, 'both on thread 1');
  const err = await tapPort(t, d, { framing: 'vnet', ipv4: '10.12.0.3', extra: { thread: 2 } }).then(
    () => 'accepted',
    (e: Error) => e.message,
  );
  t.regex(err, /"thread" 2 does not exist \(the daemon runs 2\)/);
  const cli = await d.cli('show');
  t.is(cli.exitCode, 0);
  t.regex(cli.stdout, /THREAD/);
});

rootTest('--threads out of range is refused before anything starts', async (t) => {
  const d = await startDaemon(t);
  for (const bad of ['0', '9', 'two']) {
    const r = await d.cli('--threads', bad);
    t.not(r.exitCode, 0, `--threads ${bad}`);
    t.regex(r.stderr, /threads/);
  }
});

/** CPU time (user + system, in clock ticks) the process @pid has used. */
function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

rootTest('adaptive polling (--poll-us) spins only while traffic flows: an idle daemon sleeps', async (t) => {
  const d = await startDaemon(t, { args: ['--poll-us', '200000', '--threads', '2'] });
  const a = await tapPort(t, d, { framing: 'vnet', ipv4: '10.13.0.1' });
  const b = await tapPort(t, d, { framing: 'vnet', ipv4: '10.13.0.2' });
  await transfer(t, a.ns, b.ns, '10.13.0.2', 4 << 20, 'with a 200 ms polling window');
  // Silence the namespaces (IPv6 router solicitations and reports would open
  // the window again), let the window close, then measure.
  for (const ns of [a.ns, b.ns]) {
    const r = await inNetns(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1']);
    t.is(r.exitCode, 0, r.stderr);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const before = cpuTicks(d.pid);
  await new Promise((r) => setTimeout(r, 2000));
  const used = cpuTicks(d.pid) - before;
  // Spinning would take about 100 ticks a second per worker; sleeping, ~0.
  t.log(`idle daemon: ${used} ticks of CPU in 2 s`);
  t.true(used < 40, `the idle daemon used ${used} ticks of CPU in 2 s`);
});
