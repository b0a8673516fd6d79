/**
 * A burst of clients at once: more add-etherfd requests in flight than the
 * daemon has connection slots (256). The rest wait in the listen backlog and
 * are served in turn: every request gets its port, none is refused. Timing is
 * the bench's (the scale section); here only the outcome counts, and the time
 * it took is logged.
 */
import { native } from '../src/native.js';
import { inNetns, netns, rootTest, startDaemon } from './helpers/env.js';

/** Clients at once: well over the 256 connection slots. */
const CLIENTS = 600;

rootTest(`${CLIENTS} add-etherfd requests at once, over the 256 connection slots: all served, none refused`, async (t) => {
  t.timeout(300_000);
  const d = await startDaemon(t, { args: ['--log-level', 'warn'] });
  const ns = await netns(t, 'bst');
  // One namespace holds every tap; without IPv6, their link-up chatter is not
  // flooded to 600 ports of one namespace (each container has its own).
  const off = await inNetns(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  t.is(off.exitCode, 0, off.stderr);
  const fds: number[] = [];
  t.teardown(() => fds.forEach((fd) => native().closeFd(fd)));
  for (let i = 0; i < CLIENTS; i++) fds.push(native().tapCreate({ netns: `/run/netns/${ns}`, ifname: `b${i}`, vnetHdr: true, up: true }));
  const t0 = performance.now();
  const replies = await Promise.all(
    fds.map((fd, i) => native().request(d.sock, JSON.stringify({ 'add-etherfd': { ifname: `b${i}`, nodeid: `n${i}`, keep: true } }), fd, 240_000).catch((e: Error) => e.message)),
  );
  t.log(`${CLIENTS} requests answered in ${(performance.now() - t0).toFixed(0)} ms`);
  const bad = replies.filter((r) => r !== '{}');
  t.deepEqual(bad.slice(0, 3), [], `${bad.length} of ${CLIENTS} not served`);
  const show = (await d.request({ show: {} })) as { objects: { name: string; lan?: string }[] };
  t.is(show.objects.filter((o) => /^n\d+\.b\d+$/.test(o.name)).length, CLIENTS, 'every port is on the lan');
});
