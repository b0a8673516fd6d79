/**
 * Nodes the daemon starts and keeps (add-node, docs/node.md), end to end as
 * root with real containers, taps, ping and nsenter: a node with two
 * interfaces on two lans, addresses, MTU, MAC and a route, as show and the
 * node itself say; `containet exec` with its output and exit status; ping
 * between two nodes; a node routing between two lans; a node whose program
 * exits (listed as exited, its ports gone); del of a running node and of one
 * that ignores SIGTERM (its processes gone); bad input refused with nothing
 * left behind; and a daemon killed and restarted with --state that lists its
 * nodes again, which still forward and can still be deleted.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { request, type Reply } from '../src/client.js';
import { binPath, rootTest, startDaemon, tail, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { busyboxRoot, portNames } from './helpers/containers.js';
import { execa } from 'execa';

/** What show says of a node. */
interface NodeEntry {
  name: string;
  kind: string;
  pid: number | null;
  initPid: number | null;
  state: string;
  command: string[];
  env: Record<string, string>;
  interfaces: { ifname: string; lan: string; addrs: string[]; mtu: number; mac: string | null; port: string }[];
  routes: { dst: string; via: string }[];
  root: string | null;
  log: string | null;
}

/** One request on @d's socket with a long deadline (a node may take a while
 *  to start on a busy machine); a refusal comes back as { error }. */
function ask(d: TestDaemon, req: Reply, authtoken?: string): Promise<Reply> {
  return request(d.sock, authtoken === undefined ? req : { authtoken, ...req }, -1, 90000).catch((e: Error) => ({ error: e.message }));
}

/** Start time of process @pid (field 22 of /proc/PID/stat), undefined when gone. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' ? undefined : f[19];
  } catch {
    return undefined;
  }
}

/** Pids of the containodes running as node @name (their command line says -i NAME). */
function containodesOf(name: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[0]!.endsWith('/containode') && argv.includes('--ready-fd') && argv[argv.indexOf('-i') + 1] === name && startOf(Number(p))) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Node @name of @d's show, or undefined. */
async function nodeOf(d: TestDaemon, name: string): Promise<NodeEntry | undefined> {
  const r = (await d.request({ show: {} })) as { objects: NodeEntry[] };
  return r.objects.find((o) => o.name === name && o.kind === 'node');
}

/**
 * Add node @body to @d (a unique name unless it has one) and make sure its
 * processes end with the test: its containode is killed by pid (SIGKILL: its
 * init and container go with it) at teardown, whatever became of the daemon.
 */
async function addNode(t: ExecutionContext, d: TestDaemon, body: Reply): Promise<NodeEntry> {
  const name = (body.name as string | undefined) ?? uniqueName('nd');
  t.teardown(() => {
    for (const pid of containodesOf(name)) process.kill(pid, 'SIGKILL');
  });
  const r = await ask(d, { 'add-node': { name, ...body } });
  if (r.error !== undefined) throw new Error(`add-node ${name}: ${String(r.error)}; the daemon logged: ${tail(d.log(), 1500)}`);
  const n = await nodeOf(d, name);
  if (!n) throw new Error(`node ${name} is not in show after add-node answered`);
  return n;
}

/** `containet exec NODE -- ...args` on @d: its status and output. */
async function exec(d: TestDaemon, node: string, ...args: string[]) {
  const r = await execa(process.execPath, [binPath('containet'), '-s', d.sock, 'exec', node, '--', ...args], { reject: false, timeout: 60000 });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Ping @addr from node @node until one reply comes (a new lan learns
 *  MACs with the first frames), at most 20 tries. */
async function pings(d: TestDaemon, node: string, addr: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    const r = await exec(d, node, 'ping', '-c', '1', '-W', '1', addr);
    if (r.exitCode === 0) return true;
  }
  return false;
}

/** Add lan @name to @d. */
async function addLan(d: TestDaemon, name: string): Promise<void> {
  await d.request({ 'add-lan': { name } });
}

rootTest('add-node: two interfaces on two lans with addresses, MTU, MAC and a route; show and the node agree; exec gives output and status', async (t) => {
  const d = await startDaemon(t);
  const lanB = uniqueName('lb');
  await addLan(d, lanB);
  const n = await addNode(t, d, {
    command: ['/bin/sh', '-c', 'sleep infinity'],
    env: { GREETING: 'hello-node' },
    interfaces: [
      { lan: 'lan0', addrs: ['10.71.0.1/24', 'fd71::1/64'], mtu: 1400, mac: '02:00:00:71:00:01' },
      { ifname: 'up1', lan: lanB, addrs: ['10.72.0.1/24'] },
    ],
    routes: [{ dst: '10.79.0.0/16', via: '10.72.0.9' }],
  });
  t.is(n.state, 'running');
  t.true(n.pid! > 0 && n.initPid! > 0 && startOf(n.pid!) !== undefined && startOf(n.initPid!) !== undefined);
  t.deepEqual(
    n.interfaces.map((i) => [i.ifname, i.lan, i.port, i.addrs, i.mtu, i.mac]),
    [
      ['eth0', 'lan0', `${n.name}.eth0`, ['10.71.0.1/24', 'fd71::1/64'], 1400, '02:00:00:71:00:01'],
      ['up1', lanB, `${n.name}.up1`, ['10.72.0.1/24'], 64000, null],
    ],
  );
  const ports = ((await d.request({ show: {} })) as { objects: { kind: string; name: string; lan: string; nodeid: string }[] }).objects.filter((o) => o.kind === 'port');
  t.deepEqual(
    ports.map((p) => [p.name, p.lan, p.nodeid]),
    [
      [`${n.name}.eth0`, 'lan0', n.name],
      [`${n.name}.up1`, lanB, n.name],
    ],
  );
  // What the node itself has.
  const addr = await exec(d, n.name, 'ip', '-o', 'addr', 'show');
  t.is(addr.exitCode, 0, addr.stderr);
  t.regex(addr.stdout, /eth0\s+inet 10\.71\.0\.1\/24/);
  t.regex(addr.stdout, /eth0\s+inet6 fd71::1\/64/);
  t.regex(addr.stdout, /up1\s+inet 10\.72\.0\.1\/24/);
  const link = await exec(d, n.name, 'ip', '-o', 'link', 'show', 'eth0');
  t.regex(link.stdout, /mtu 1400 .*state UNKNOWN.*link\/ether 02:00:00:71:00:01/);
  t.regex(link.stdout, /<[^>]*\bUP\b[^>]*>/);
  const route = await exec(d, n.name, 'ip', 'route', 'show', '10.79.0.0/16');
  t.regex(route.stdout, /^10\.79\.0\.0\/16 via 10\.72\.0\.9 dev up1/);
  // exec: output, exit status, the node's environment and hostname.
  const sh = await exec(d, n.name, 'sh', '-c', 'echo "$GREETING $(hostname) $PATH"; exit 3');
  t.is(sh.exitCode, 3);
  t.is(sh.stdout.trim(), `hello-node ${n.name} /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);
  // in its pid namespace: its program is pid 2
  const ps = await exec(d, n.name, 'cat', '/proc/2/cmdline');
  t.is(ps.stdout.split('\0').join(' ').trim(), '/bin/sh -c sleep infinity');
  const bad = await exec(d, 'no-such-node', 'true');
  t.not(bad.exitCode, 0);
  t.regex(bad.stderr, /no object named "no-such-node"/);
});

rootTest('a node on a root filesystem of its own: exec runs in that root, and its output goes to its log', async (t) => {
  const d = await startDaemon(t);
  const { dir, root } = busyboxRoot(t);
  const log = path.join(dir, 'node.log');
  const n = await addNode(t, d, { command: ['/bin/sh', '-c', 'echo to-the-log; exec sleep 1000'], root, log, interfaces: [{ addrs: ['10.83.0.1/24'] }] });
  t.like(n, { root, log } as Partial<NodeEntry>);
  const r = await exec(d, n.name, 'sh', '-c', 'cat /etc/passwd; readlink /bin/sh; pwd; echo $HOME');
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(r.stdout.split('\n'), ['root:x:0:0:root:/home/boss:/bin/sh', 'busybox', '/', '/home/boss']);
  await waitFor('the program to write to its log', () => readFileSync(log, 'utf8').includes('to-the-log\n'), 30000);
  const ip = await exec(d, n.name, 'ip', 'addr', 'show', 'eth0');
  t.regex(ip.stdout, /inet 10\.83\.0\.1\/24/);
  t.deepEqual(await ask(d, { del: { name: n.name } }), {});
  t.is(startOf(n.pid!), undefined);
});

rootTest('two nodes on a lan ping each other (IPv4 and IPv6)', async (t) => {
  const d = await startDaemon(t);
  const a = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.73.0.1/24', 'fd73::1/64'] }] });
  const b = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.73.0.2/24', 'fd73::2/64'] }] });
  t.is(b.interfaces[0]!.lan, 'lan0'); // the daemon's default lan
  t.true(await pings(d, a.name, '10.73.0.2'), 'a pings b over IPv4');
  t.true(await pings(d, b.name, 'fd73::1'), 'b pings a over IPv6');
});

rootTest('a node routes between two lans: a node on one reaches a node on the other through it', async (t) => {
  const d = await startDaemon(t);
  const [l1, l2] = [uniqueName('la'), uniqueName('lb')];
  await addLan(d, l1);
  await addLan(d, l2);
  const r = await addNode(t, d, {
    command: ['sleep', 'infinity'],
    interfaces: [
      { lan: l1, addrs: ['10.74.1.254/24'] },
      { lan: l2, addrs: ['10.74.2.254/24'] },
    ],
  });
  const sysctl = await exec(d, r.name, 'sysctl', '-w', 'net.ipv4.ip_forward=1');
  t.is(sysctl.exitCode, 0, sysctl.stderr);
  const a = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{ lan: l1, addrs: ['10.74.1.1/24'] }], routes: [{ dst: 'default', via: '10.74.1.254' }] });
  const b = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{ lan: l2, addrs: ['10.74.2.1/24'] }], routes: [{ dst: '10.74.0.0/16', via: '10.74.2.254' }] });
  t.true(await pings(d, a.name, '10.74.2.1'), 'a reaches b through the router node');
  const trace = await exec(d, a.name, 'ping', '-c', '1', '-W', '2', '10.74.2.1');
  t.regex(trace.stdout, /ttl=63/); // one hop: the router decremented it
  // the router's forwarding is what carries it: off, and b is out of reach
  await exec(d, r.name, 'sysctl', '-w', 'net.ipv4.ip_forward=0');
  t.is((await exec(d, a.name, 'ping', '-c', '2', '-W', '1', '10.74.2.1')).exitCode, 1);
  t.truthy(b);
});

rootTest('a node whose program exits is listed as exited with its status, its ports gone; del forgets it', async (t) => {
  const d = await startDaemon(t);
  const dir = tempDir(t);
  const go = path.join(dir, 'go');
  const n = await addNode(t, d, {
    command: ['/bin/sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exit 7`],
    interfaces: [{ addrs: ['10.75.0.1/24'] }, { ifname: 'eth1' }],
  });
  t.deepEqual((await portNames(d)).sort(), [`${n.name}.eth0`, `${n.name}.eth1`]);
  writeFileSync(go, '');
  const exited = await waitFor('the node to show as exited', async () => {
    const e = await nodeOf(d, n.name);
    return e?.state.startsWith('exited') ? e : undefined;
  }, 30000);
  t.is(exited!.state, 'exited (status 7)');
  t.is(exited!.initPid, null);
  await waitFor('its ports to go', async () => (await portNames(d)).length === 0, 10000);
  t.is(startOf(n.pid!), undefined);
  t.is(startOf(n.initPid!), undefined);
  t.regex(await d.logged(new RegExp(`node ${n.name} exited \\(status 7\\)`)), new RegExp(`node ${n.name} exited \\(status 7\\)`));
  const again = await exec(d, n.name, 'true');
  t.not(again.exitCode, 0);
  t.regex(again.stderr, /is not running \(exited \(status 7\)\)/);
  t.deepEqual(await ask(d, { del: { name: n.name } }), {});
  t.is(await nodeOf(d, n.name), undefined);
});

rootTest('del stops a running node (its processes gone, its ports removed), one ignoring SIGTERM after the grace period', async (t) => {
  const d = await startDaemon(t);
  const n = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.76.0.1/24'] }] });
  const sleeper = Number((await exec(d, n.name, 'sh', '-c', 'for p in /proc/[0-9]*; do grep -q "^sleep" $p/comm 2>/dev/null && echo ${p#/proc/}; done')).stdout.trim());
  t.is(sleeper, 2); // the program, pid 2 inside
  t.deepEqual(await ask(d, { del: { name: n.name } }), {});
  // gone when del answered
  t.is(startOf(n.pid!), undefined);
  t.is(startOf(n.initPid!), undefined);
  t.is(await nodeOf(d, n.name), undefined);
  t.deepEqual(await portNames(d), []);

  // A program that ignores SIGTERM: SIGKILL after 5 s takes the whole container.
  const trapped = path.join(tempDir(t), 'trapped');
  const stubborn = await addNode(t, d, { command: ['/bin/sh', '-c', `trap '' TERM; touch ${trapped}; while :; do sleep 0.2; done`], interfaces: [{}] });
  await waitFor('the program to ignore SIGTERM', () => existsSync(trapped), 30000);
  const t0 = Date.now();
  t.deepEqual(await ask(d, { del: { name: stubborn.name } }), {});
  t.true(Date.now() - t0 >= 4500, `del waited ${Date.now() - t0} ms`);
  t.is(startOf(stubborn.pid!), undefined);
  t.is(startOf(stubborn.initPid!), undefined);
  t.deepEqual(await portNames(d), []);
});

rootTest('del while a node starts stops it once it has; a daemon stopping without --state ends its nodes', async (t) => {
  const d = await startDaemon(t);
  const name = uniqueName('race');
  t.teardown(() => {
    for (const pid of containodesOf(name)) process.kill(pid, 'SIGKILL');
  });
  // add-node and del sent together, on two connections
  const [added, deleted] = await Promise.all([
    ask(d, { 'add-node': { name, command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.82.0.1/24'] }] } }),
    new Promise((r) => setTimeout(r, 5)).then(() => ask(d, { del: { name } })),
  ]);
  t.deepEqual(deleted, {});
  // it either started before the del came, or was told it was deleted
  t.true(added.error === undefined || /was deleted while it started/.test(String(added.error)), JSON.stringify(added));
  t.is(await nodeOf(d, name), undefined);
  t.deepEqual(containodesOf(name), []);
  t.deepEqual(await portNames(d), []);

  const n = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{}] });
  const exited = new Promise<void>((r) => d.child.once('exit', () => r()));
  process.kill(d.pid, 'SIGTERM');
  await exited;
  await waitFor('its containode to end with the daemon', () => startOf(n.pid!) === undefined && startOf(n.initPid!) === undefined, 15000);
  t.deepEqual(containodesOf(n.name), []);
});

rootTest('bad input: clear errors naming the field or the reason, and nothing left behind', async (t) => {
  const d = await startDaemon(t);
  const name = uniqueName('bad');
  t.teardown(() => {
    for (const pid of containodesOf(name)) process.kill(pid, 'SIGKILL');
  });
  const cases: [Reply, RegExp][] = [
    [{ name, command: ['true'], interfaces: [{ addrs: ['10.77.0.1/24'] }, { lan: 'no-such-lan' }] }, /no lan named "no-such-lan"/],
    [{ name, command: ['true'], interfaces: [{ addrs: ['10.77.0.300/24'] }] }, /add-node: "interfaces"\[0\]: "addrs" "10\.77\.0\.300\/24" must be an address with its prefix length/],
    [{ name, command: ['true'], interfaces: [{ addrs: ['10.77.0.1'] }] }, /"addrs" "10\.77\.0\.1" must be an address with its prefix length/],
    [{ name, command: ['true'], interfaces: [{ mac: '01:00:00:00:00:01' }] }, /add-node: "interfaces"\[0\]: "mac" 01:00:00:00:00:01 is not a unicast address/],
    [{ name, command: ['true'], interfaces: [{ mac: 'zz' }] }, /"mac" must be six hex bytes/],
    [{ name, command: ['true'], interfaces: [{}, { ifname: 'eth0' }] }, /two interfaces are named eth0/],
    [{ name, command: ['true'], interfaces: [{ addrs: ['10.77.0.1/24'] }], routes: [{ dst: '10.78.0.1/16', via: '10.77.0.2' }] }, /"routes"\[0\] "dst" 10\.78\.0\.1\/16 has bits set past its prefix length/],
    [{ name, command: [] }, /"command" must be a non-empty list/],
    [{ name: 'under_score', command: ['true'] }, /"name" under_score must be 1-63 letters, digits or '-'/],
    [{ name, command: ['true'], colour: 'red' }, /add-node: unknown field "colour"/],
    // refused by containode: the gateway is on none of its networks, the program is not there
    [{ name, command: ['true'], interfaces: [{ addrs: ['10.77.0.1/24'] }], routes: [{ dst: 'default', via: '10.99.0.1' }] }, /did not start: .*route default via 10\.99\.0\.1: the gateway is on none of the node's networks/],
    [{ name, command: ['/no/such/program'], interfaces: [{ addrs: ['10.77.0.1/24'] }] }, /did not start: containode: exec \/no\/such\/program: No such file or directory/],
    [{ name, command: ['true'], interfaces: [{}], log: '/no/such/dir/node.log' }, /did not start: ENOENT: no such file or directory, open '\/no\/such\/dir\/node.log'/],
  ];
  for (const [body, re] of cases) {
    const r = await ask(d, { 'add-node': body });
    t.regex(String(r.error), re, JSON.stringify(body));
    t.is(await nodeOf(d, String(body.name)), undefined);
    t.deepEqual(await portNames(d), [], `no port left after ${JSON.stringify(body)}`);
    t.deepEqual(containodesOf(name), [], `no containode left after ${JSON.stringify(body)}`);
  }
  // A name taken: by a lan, and by a node.
  t.regex(String((await ask(d, { 'add-node': { name: 'lan0', command: ['true'] } })).error), /an object named "lan0" already exists/);
  const n = await addNode(t, d, { command: ['sleep', 'infinity'], interfaces: [{}] });
  t.regex(String((await ask(d, { 'add-node': { name: n.name, command: ['true'] } })).error), new RegExp(`an object named "${n.name}" already exists`));
  t.is((await nodeOf(d, n.name))?.state, 'running'); // the first one is untouched
  t.deepEqual(await portNames(d), [`${n.name}.eth0`]);
});

rootTest('containet add node: a single-interface node from the command line, and its --help', async (t) => {
  const d = await startDaemon(t);
  const name = uniqueName('cli');
  t.teardown(() => {
    for (const pid of containodesOf(name)) process.kill(pid, 'SIGKILL');
  });
  const r = await d.cli('add', 'node', name, '--ip', '10.80.0.1/24', '--mtu', '1500', '--gw', '10.80.0.254', '-e', 'X=1', '--', 'sh', '-c', 'sleep infinity');
  t.is(r.exitCode, 0, r.stderr);
  const n = (await nodeOf(d, name))!;
  t.like(n, { state: 'running', command: ['sh', '-c', 'sleep infinity'], env: { X: '1' }, routes: [{ dst: 'default', via: '10.80.0.254' }] });
  t.like(n.interfaces[0], { ifname: 'eth0', lan: 'lan0', addrs: ['10.80.0.1/24'], mtu: 1500 });
  const show = await d.cli('show');
  t.regex(show.stdout, new RegExp(`${name}\\s+running\\s+${n.pid}\\s+eth0@lan0 10\\.80\\.0\\.1/24`));
  const help = await d.cli('add', 'node', '--help');
  t.regex(help.stdout, /--gw <addr>/);
  const del = await d.cli('del', name);
  t.is(del.exitCode, 0, del.stderr);
  t.false(existsSync(`/proc/${n.pid}/cmdline`) && startOf(n.pid!) !== undefined);
});

rootTest('a daemon with --authtoken: its nodes attach with its token (not on their command line)', async (t) => {
  const token = `tok-${uniqueName('a')}`;
  const d = await startDaemon(t, { authtoken: token });
  const name = uniqueName('auth');
  t.teardown(() => {
    for (const pid of containodesOf(name)) process.kill(pid, 'SIGKILL');
  });
  t.regex(String((await ask(d, { 'add-node': { name, command: ['sleep', 'infinity'] } })).error), /authtoken/);
  t.deepEqual(await ask(d, { 'add-node': { name, command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.84.0.1/24'] }] } }, token), {});
  const [pid] = containodesOf(name);
  t.false(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(token));
  t.deepEqual(await portNames(d), [`${name}.eth0`]);
  t.deepEqual(await ask(d, { del: { name } }, token), {});
  t.deepEqual(containodesOf(name), []);
});

rootTest('--state: a daemon killed and started again lists its running nodes, which still forward, and can delete them', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const d1 = await startDaemon(t, { sock, args: ['--state', state] });
  const a = await addNode(t, d1, { command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.81.0.1/24'] }] });
  const b = await addNode(t, d1, { command: ['sleep', 'infinity'], interfaces: [{ addrs: ['10.81.0.2/24'] }] });
  t.true(await pings(d1, a.name, '10.81.0.2'));
  const gone = new Promise<void>((r) => d1.child.once('exit', () => r()));
  process.kill(d1.pid, 'SIGKILL');
  await gone;
  // The nodes outlive the daemon.
  t.not(startOf(a.pid!), undefined);
  t.not(startOf(b.pid!), undefined);
  const d2 = await startDaemon(t, { sock, args: ['--state', state] });
  const a2 = await nodeOf(d2, a.name);
  t.like(a2, { state: 'running', pid: a.pid, initPid: a.initPid });
  t.like(await nodeOf(d2, b.name), { state: 'running', pid: b.pid });
  t.deepEqual((await portNames(d2)).sort(), [`${a.name}.eth0`, `${b.name}.eth0`].sort());
  t.true(await pings(d2, a.name, '10.81.0.2'), 'they still forward');
  // del of a node the daemon did not start
  t.deepEqual(await ask(d2, { del: { name: a.name } }), {});
  t.is(startOf(a.pid!), undefined);
  t.is(startOf(a.initPid!), undefined);
  // b's program ends: the restarted daemon notices, and its port goes
  await exec(d2, b.name, 'kill', '2');
  const e = await waitFor('b to show as exited', async () => ((await nodeOf(d2, b.name))?.state.startsWith('exited') ? true : undefined), 30000);
  t.true(e);
  await waitFor('its port to go', async () => (await portNames(d2)).length === 0, 10000);
  // and the state file no longer keeps either
  await waitFor('the state file to forget them', () => !readFileSync(state, 'utf8').includes('"kind": "node"'), 10000);
});
