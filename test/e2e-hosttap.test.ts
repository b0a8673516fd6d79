/**
 * The host tap (`containet add tap`, docs/tap.md), end to end as root: the
 * daemon runs inside a network namespace the test made, so the "host" whose
 * stack joins the lan is that namespace, never the machine's own. Its tap
 * (IPv4 and IPv6 addresses) pings a containode container and serves it HTTP;
 * `del` answers once the device is gone, so the name can be added again at
 * once; bad input is refused with the reason and leaves nothing behind; with
 * --state the tap outlives a crash and is found again (or made again when it
 * was deleted meanwhile), and `del` still takes it away.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { inNetns, netns, rootTest, startDaemon, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer } from './helpers/containers.js';

/** The devices of network namespace @ns, by name. */
async function links(ns: string): Promise<string[]> {
  const r = await inNetns(ns, ['ip', '-o', 'link', 'show']);
  return [...r.stdout.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]!);
}

/** The addresses ("ADDR/PREFIX", global scope) of device @dev in @ns. */
async function addrs(ns: string, dev: string): Promise<string[]> {
  const r = await inNetns(ns, ['ip', '-o', 'addr', 'show', 'dev', dev, 'scope', 'global']);
  return [...r.stdout.matchAll(/ inet6? (\S+) /g)].map((m) => m[1]!).sort();
}

/** The tap entries of a show reply. */
async function taps(d: TestDaemon): Promise<Record<string, unknown>[]> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.filter((o) => o.kind === 'port' && o.type === 'tap' && o.nodeid === null);
}

/** Kill daemon @d (ours) with SIGKILL and wait until it is gone. */
async function crash(d: TestDaemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => d.child.once('exit', () => r()));
  process.kill(d.pid, 'SIGKILL');
  await gone;
}

rootTest('add tap: the host namespace pings a container over IPv4 and IPv6 and serves it HTTP on the tap\'s address', async (t) => {
  const ns = await netns(t, 'ht');
  const d = await startDaemon(t, { netns: ns });
  const tap = uniqueName('ht');
  let r = await d.cli('add', 'tap', tap, '--ip', '10.77.0.1/24', '--ip', 'fd00:77::1/64', '--mtu', '9000', '--mac', '02:77:00:00:00:01');
  t.is(r.exitCode, 0, r.stderr);
  // The device: up, with its addresses, MTU, MAC and vnet header, in the daemon's namespace.
  t.deepEqual(await addrs(ns, tap), ['10.77.0.1/24', 'fd00:77::1/64']);
  const link = (await inNetns(ns, ['ip', '-d', 'link', 'show', tap])).stdout;
  t.regex(link, /UP/);
  t.regex(link, /mtu 9000/);
  t.regex(link, /link\/ether 02:77:00:00:00:01/);
  t.regex(link, /tun type tap .*vnet_hdr on/);
  const [shown] = await taps(d);
  t.like(shown, { name: tap, ifname: tap, lan: 'lan0', vnetHdr: true, addresses: ['10.77.0.1/24', 'fd00:77::1/64'], mtu: 9000, mac: '02:77:00:00:00:01' });
  t.true((shown!.offloads as string[]).includes('tso'), JSON.stringify(shown));

  const c = await shellContainer(t, d, '10.77.0.2/24');
  t.is(await shell(c.c, 'ip -6 addr add fd00:77::2/64 dev eth0 nodad'), 0, c.c.output());
  let p = await inNetns(ns, ['ping', '-c', '3', '-W', '5', '10.77.0.2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);
  p = await inNetns(ns, ['ping', '-6', '-c', '3', '-W', '5', 'fd00:77::2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);

  // A server bound on the tap's address in the host namespace; the container fetches 4 MiB (TSO frames through the switch).
  t.is((await inNetns(ns, ['ip', 'link', 'set', 'lo', 'up'])).exitCode, 0); // for the readiness probe from inside
  const dir = tempDir(t);
  const body = randomBytes(4 << 20);
  writeFileSync(path.join(dir, 'blob'), body);
  const port = String(20000 + Math.floor(Math.random() * 10000));
  const srv = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', '--bind', '10.77.0.1', '--directory', dir, port], { stdio: 'ignore' });
  t.teardown(() => {
    if (srv.exitCode === null && srv.signalCode === null && srv.pid) process.kill(srv.pid, 'SIGKILL');
  });
  const got = path.join(tempDir(t), 'got');
  await waitFor('the server in the host namespace', async () => (await inNetns(ns, ['python3', '-c', `import socket; socket.create_connection(('10.77.0.1', ${port}), 1)`])).exitCode === 0, 30000);
  t.is(await shell(c.c, `busybox wget -q -O ${got} http://10.77.0.1:${port}/blob`, 60000), 0, c.c.output());
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  t.is(sha(readFileSync(got)), sha(body));

  // And over IPv6, from a server bound on the tap's IPv6 address.
  const port6 = String(Number(port) + 1);
  const srv6 = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', '--bind', 'fd00:77::1', '--directory', dir, port6], { stdio: 'ignore' });
  t.teardown(() => {
    if (srv6.exitCode === null && srv6.signalCode === null && srv6.pid) process.kill(srv6.pid, 'SIGKILL');
  });
  await waitFor('the IPv6 server in the host namespace', async () => (await inNetns(ns, ['python3', '-c', `import socket; socket.create_connection(('fd00:77::1', ${port6}), 1)`])).exitCode === 0, 30000);
  t.is(await shell(c.c, `busybox wget -q -O ${got}6 http://[fd00:77::1]:${port6}/blob`, 60000), 0, c.c.output());
  t.is(sha(readFileSync(`${got}6`)), sha(body));

  const st = (await d.request({ stats: { name: tap } })) as { ports: { rxBytes: number; txBytes: number }[] };
  t.true(st.ports[0]!.txBytes > body.length / 2 || st.ports[0]!.rxBytes > body.length, JSON.stringify(st));
  r = await d.cli('show');
  t.regex(r.stdout, new RegExp(`${tap} +lan0 +tap +${tap}`));
  // A tap has no settings to change after add.
  r = await d.cli('set', tap, '--aging', '5');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, new RegExp(`"${tap}" is a tap: only lans take aging`));
});

rootTest('del tap: the device is gone when the reply comes, and the same name can be added again at once', async (t) => {
  const ns = await netns(t, 'ht');
  const d = await startDaemon(t, { netns: ns });
  const tap = uniqueName('ht');
  for (let i = 0; i < 3; i++) {
    let r = await d.cli('add', 'tap', tap, '--ip', `10.78.${i}.1/24`);
    t.is(r.exitCode, 0, r.stderr);
    t.true((await links(ns)).includes(tap));
    r = await d.cli('del', tap);
    t.is(r.exitCode, 0, r.stderr);
    t.false((await links(ns)).includes(tap), `round ${i}: the device outlived del's reply`);
  }
  t.deepEqual(await taps(d), []);
  // Deleting its lan with --force takes the tap and its device too.
  let r = await d.cli('add', 'lan', 'l2');
  t.is(r.exitCode, 0, r.stderr);
  r = await d.cli('add', 'tap', tap, '--lan', 'l2');
  t.is(r.exitCode, 0, r.stderr);
  r = await d.cli('del', 'l2');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, new RegExp(`still has 1 port \\(tap ${tap}\\)`));
  r = await d.cli('del', 'l2', '--force');
  t.is(r.exitCode, 0, r.stderr);
  t.false((await links(ns)).includes(tap));
  // A device deleted behind the daemon's back takes its object along.
  r = await d.cli('add', 'tap', tap);
  t.is(r.exitCode, 0, r.stderr);
  t.is((await inNetns(ns, ['ip', 'link', 'del', tap])).exitCode, 0);
  await waitFor('the tap object to go', async () => (await taps(d)).length === 0, 10000);
  t.regex(await d.logged(new RegExp(`tap ${tap} removed`)), new RegExp(`tap ${tap} removed from lan0`));
});

rootTest('add tap refuses bad input with the reason and leaves nothing behind', async (t) => {
  const ns = await netns(t, 'ht');
  const d = await startDaemon(t, { netns: ns });
  const used = uniqueName('hu');
  t.is((await inNetns(ns, ['ip', 'link', 'add', used, 'type', 'bridge'])).exitCode, 0);
  const before = await links(ns);
  const tap = uniqueName('ht');
  const cases: [string[], RegExp][] = [
    [['add', 'tap', used], new RegExp(`tap name in use: a device named ${used} exists`)],
    [['add', 'tap', 'lo'], /tap name in use: a device named lo exists/],
    [['add', 'tap', 'lan0'], /an object named "lan0" already exists/],
    [['add', 'tap', 'x'.repeat(16)], /must fit a device name: 1-15 characters/],
    [['add', 'tap', tap, '--ip', '10.1.2.3'], /"ip" "10.1.2.3" must be an address with its prefix length/],
    [['add', 'tap', tap, '--ip', '10.1.2.3/24', '--ip', 'fd00::1/200'], /"ip" "fd00::1\/200" must be an address with its prefix length/],
    [['add', 'tap', tap, '--mac', '02:00:00:00:00'], /"mac" must be six hex bytes/],
    [['add', 'tap', tap, '--mac', '03:00:00:00:00:01'], /"mac" 03:00:00:00:00:01 is not a unicast address/],
    [['add', 'tap', tap, '--lan', 'nolan'], /no lan named "nolan"/],
    [['add', 'tap', tap, '--mtu', '65522'], /"mtu" must be an integer from 68 to 65521/],
    [['add', 'tap', tap, '--mtu', '67'], /"mtu" must be an integer from 68 to 65521/],
  ];
  for (const [args, re] of cases) {
    const r = await d.cli(...args);
    t.not(r.exitCode, 0, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
  }
  // Refused by the kernel once the device is made (IPv6 off in the namespace): the device goes before the reply.
  t.is((await inNetns(ns, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1'])).exitCode, 0);
  let r = await d.cli('add', 'tap', tap, '--ip', '10.79.0.1/24', '--ip', 'fd00:79::1/64');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /add address fd00:79::1\/64: IPv6 is disabled on the device/);
  t.is((await inNetns(ns, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=0'])).exitCode, 0);
  t.deepEqual(await links(ns), before, 'no device left behind');
  t.deepEqual(await taps(d), []);
  // The daemon serves on.
  r = await d.cli('add', 'tap', tap, '--ip', '10.79.0.1/24');
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(await addrs(ns, tap), ['10.79.0.1/24']);
});

rootTest('--state: the tap outlives a crash and is found again as it was; deleted meanwhile, it is made again; del still removes it', async (t) => {
  const ns = await netns(t, 'ht');
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  const tap = uniqueName('ht');
  let r = await d1.cli('add', 'tap', tap, '--ip', '10.80.0.1/24', '--ip', 'fd00:80::1/64', '--mac', '02:80:00:00:00:01');
  t.is(r.exitCode, 0, r.stderr);
  const c = await shellContainer(t, d1, '10.80.0.2/24');
  let p = await inNetns(ns, ['ping', '-c', '2', '-W', '5', '10.80.0.2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);
  // A route the host added through the tap survives too: the device is the same.
  t.is((await inNetns(ns, ['ip', 'route', 'add', '10.81.0.0/24', 'via', '10.80.0.2', 'dev', tap])).exitCode, 0);

  await crash(d1);
  t.deepEqual(await addrs(ns, tap), ['10.80.0.1/24', 'fd00:80::1/64'], 'the tap outlived the daemon (persistent)');
  const d2 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  t.regex(await d2.logged(/restored \d+ of/), /restored 3 of 3 objects/);
  t.regex(d2.log(), new RegExp(`tap ${tap} \\(found again`));
  t.like((await taps(d2))[0], { name: tap, addresses: ['10.80.0.1/24', 'fd00:80::1/64'], mac: '02:80:00:00:00:01' });
  t.regex((await inNetns(ns, ['ip', 'route', 'show', '10.81.0.0/24'])).stdout, /via 10.80.0.2/);
  p = await inNetns(ns, ['ping', '-c', '2', '-W', '5', '10.80.0.2']);
  t.is(p.exitCode, 0, p.stdout + p.stderr);

  // Deleted while no daemon runs: the next one makes it again with its settings.
  await crash(d2);
  t.is((await inNetns(ns, ['ip', 'link', 'del', tap])).exitCode, 0);
  const d3 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  t.regex(await d3.logged(/restored \d+ of/), /restored 3 of 3 objects/);
  t.regex(d3.log(), new RegExp(`tap ${tap} \\(made`));
  t.deepEqual(await addrs(ns, tap), ['10.80.0.1/24', 'fd00:80::1/64']);
  t.regex((await inNetns(ns, ['ip', 'link', 'show', tap])).stdout, /link\/ether 02:80:00:00:00:01/);
  t.is(await shell(c.c, 'ping -c 2 -W 5 10.80.0.1'), 0, c.c.output());

  // del clears its persistence: the device goes, and stays gone after a restart.
  r = await d3.cli('del', tap);
  t.is(r.exitCode, 0, r.stderr);
  t.false((await links(ns)).includes(tap));
  await crash(d3);
  const d4 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  t.regex(await d4.logged(/restored \d+ of/), /restored 2 of 2 objects/);
  t.false((await links(ns)).includes(tap));
});

rootTest('without --state a crash takes the tap along', async (t) => {
  const ns = await netns(t, 'ht');
  const d = await startDaemon(t, { netns: ns });
  const tap = uniqueName('ht');
  const r = await d.cli('add', 'tap', tap, '--ip', '10.82.0.1/24');
  t.is(r.exitCode, 0, r.stderr);
  await crash(d);
  await waitFor('the tap to go with the daemon', async () => !(await links(ns)).includes(tap), 10000);
  t.pass();
});
