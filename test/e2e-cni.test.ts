/**
 * End to end, as root: containet-cni run as a CNI runtime runs it, against a
 * real daemon and network namespaces the test makes, with the reference
 * host-local IPAM plugin: ADD gives each namespace a tap with its address,
 * route and port, in the result the spec describes (1.0.0 and 0.4.0); the two
 * namespaces ping each other through the switch; CHECK passes, and fails when
 * the interface is not as ADD left it; DEL removes the port, takes the device
 * with it, releases the address and is idempotent (again, without CNI_NETNS,
 * without a daemon); a static address with a gateway and a lan; IPv4 and IPv6
 * from host-local, both pinged across; a daemon that wants an authtoken; bad config,
 * bad environment, an existing interface and an absent daemon give the spec's
 * error JSON (and release what IPAM gave).
 */
import test, { type ExecutionContext, type TestFn } from 'ava';
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { nodeId } from '../src/cni/daemon.js';
import { hostLocalMissing, REFERENCE_PLUGINS, runPlugin, uniqueSubnet, type CniVars } from './helpers/cni.js';
import { portNames } from './helpers/containers.js';
import { inNetns, netns, rootTest, startDaemon, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';

/** A network with host-local IPAM on a subnet of its own, its lease files in @dir. */
function ipamConf(d: TestDaemon, dir: string, net: string, version = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion: version,
    name: 'cnitest',
    type: 'containet-cni',
    socket: d.sock,
    ipam: { type: 'host-local', subnet: `${net}.0/24`, gateway: `${net}.1`, routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'ipam') },
  };
}

/** The CNI_* variables for @command on namespace @ns (a name under /run/netns). */
function vars(command: string, id: string, ns: string | undefined, ifname = 'eth0'): CniVars {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: ns === undefined ? undefined : `/run/netns/${ns}`, CNI_IFNAME: ifname, CNI_PATH: `/nonexistent:${REFERENCE_PLUGINS}` };
}

/** Addresses host-local holds in its data dir for network cnitest. */
function leases(dir: string): string[] {
  try {
    return readdirSync(path.join(dir, 'ipam', 'cnitest')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
}

/** A 64-hex-digit container id, as podman makes them. */
function containerId(): string {
  return Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
}

/** A root test that needs the reference plugins: skipped, saying so, without them. */
function cniTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const missing = hostLocalMissing();
  if (missing) (test as TestFn).skip(`${title} [skipped: ${missing}]`, fn);
  else rootTest(title, fn);
}

cniTest('ADD with host-local: tap, address, route, port; ping across; CHECK; DEL removes the port and device, releases the address, and is idempotent', async (t) => {
  const d = await startDaemon(t);
  const dir = tempDir(t);
  const net = uniqueSubnet();
  const [a, b] = [await netns(t, 'cnia'), await netns(t, 'cnib')];
  const [ida, idb] = [containerId(), containerId()];
  const add1 = await runPlugin(vars('ADD', ida, a), ipamConf(d, dir, net));
  t.is(add1.exitCode, 0, add1.stdout + add1.stderr);
  const r1 = add1.json as { cniVersion: string; interfaces: { name: string; mac: string; sandbox: string }[]; ips: Record<string, unknown>[]; routes: unknown[] };
  t.is(r1.cniVersion, '1.0.0');
  t.is(r1.interfaces.length, 1);
  t.like(r1.interfaces[0], { name: 'eth0', sandbox: `/run/netns/${a}` });
  t.deepEqual(r1.ips, [{ address: `${net}.2/24`, gateway: `${net}.1`, interface: 0 }]);
  t.deepEqual(r1.routes, [{ dst: '0.0.0.0/0' }]);
  const link = JSON.parse((await inNetns(a, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as { address: string; operstate: string; addr_info: { local: string; prefixlen: number }[] }[];
  t.is(link[0]!.address, r1.interfaces[0]!.mac, 'the result has the device\'s MAC');
  t.true(link[0]!.addr_info.some((x) => x.local === `${net}.2` && x.prefixlen === 24));
  t.regex((await inNetns(a, ['ip', 'route', 'show', 'default'])).stdout, new RegExp(`default via ${net.replace(/\./g, '\\.')}\\.1 dev eth0`));
  t.true((await portNames(d)).includes(`${ida.slice(0, 12)}.eth0`), 'the port is named <short id>.eth0');

  // The second namespace on spec 0.4.0: every IP says its version.
  const add2 = await runPlugin(vars('ADD', idb, b), ipamConf(d, dir, net, '0.4.0'));
  t.is(add2.exitCode, 0, add2.stdout + add2.stderr);
  t.like(add2.json, { cniVersion: '0.4.0', ips: [{ version: '4', address: `${net}.3/24`, gateway: `${net}.1`, interface: 0 }] });
  const ping = await inNetns(a, ['ping', '-c', '1', '-w', '20', `${net}.3`], { timeout: 30000 });
  t.is(ping.exitCode, 0, ping.stdout + ping.stderr);

  // The plugin left nothing running, and the ports stayed (keep).
  t.deepEqual((await portNames(d)).filter((n) => n.endsWith('.eth0')).sort(), [`${ida.slice(0, 12)}.eth0`, `${idb.slice(0, 12)}.eth0`].sort());

  const check = await runPlugin(vars('CHECK', ida, a), { ...ipamConf(d, dir, net), prevResult: r1 });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  t.is(check.stdout, '', 'CHECK prints nothing when all is well');
  const wrongMac = { ...r1, interfaces: [{ ...r1.interfaces[0], mac: '02:00:00:00:00:99' }] };
  const check2 = await runPlugin(vars('CHECK', ida, a), { ...ipamConf(d, dir, net), prevResult: wrongMac });
  t.is(check2.exitCode, 1);
  t.like(check2.json, { code: 103 });
  t.regex(String(check2.json!.msg), /MAC/);

  t.deepEqual(leases(dir).sort(), [`${net}.2`, `${net}.3`]);
  const del = await runPlugin(vars('DEL', ida, a), { ...ipamConf(d, dir, net), prevResult: r1 });
  t.is(del.exitCode, 0, del.stdout + del.stderr);
  t.false((await portNames(d)).includes(`${ida.slice(0, 12)}.eth0`), 'DEL removed the port');
  await waitFor('eth0 to leave the namespace with its port', async () => (await inNetns(a, ['ip', 'link', 'show', 'eth0'])).exitCode !== 0);
  t.deepEqual(leases(dir), [`${net}.3`], 'host-local released the address');
  const check3 = await runPlugin(vars('CHECK', ida, a), { ...ipamConf(d, dir, net), prevResult: r1 });
  t.like(check3.json, { code: 103 }, 'CHECK after DEL fails');

  // DEL again, and without CNI_NETNS: nothing left to do, success.
  for (const again of [vars('DEL', ida, a), vars('DEL', ida, undefined)]) {
    const r = await runPlugin(again, ipamConf(d, dir, net));
    t.is(r.exitCode, 0, r.stdout + r.stderr);
    t.is(r.stdout, '');
  }
  // The other port goes on; its DEL after the daemon is gone is a success too.
  t.true((await portNames(d)).includes(`${idb.slice(0, 12)}.eth0`));
  process.kill(d.pid, 'SIGTERM');
  await waitFor('the daemon to exit', () => d.child.exitCode !== null || d.child.signalCode !== null, 30000);
  const late = await runPlugin(vars('DEL', idb, b), ipamConf(d, dir, net));
  t.is(late.exitCode, 0, late.stdout + late.stderr);
  t.regex(late.stderr, /no containet daemon/);
  t.deepEqual(leases(dir), []);
});

cniTest('a static address with a gateway on a named lan; an id that is not 64 hex digits names the port as it is', async (t) => {
  const d = await startDaemon(t);
  await d.request({ 'add-lan': { name: 'cnilan' } });
  const ns = await netns(t, 'cnis');
  const id = uniqueName('pod');
  const conf = { cniVersion: '1.0.0', name: 'st', type: 'containet-cni', socket: d.sock, lan: 'cnilan', mtu: 9000, address: '10.254.7.2/24', gateway: '10.254.7.1' };
  const add = await runPlugin(vars('ADD', id, ns, 'net1'), conf);
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.like(add.json, { ips: [{ address: '10.254.7.2/24', gateway: '10.254.7.1', interface: 0 }], routes: [{ dst: '0.0.0.0/0', gw: '10.254.7.1' }] });
  const show = (await d.request({ show: {} })) as { objects: { kind: string; name: string; lan: string }[] };
  t.like(show.objects.find((o) => o.name === `${id}.net1`), { kind: 'port', lan: 'cnilan' });
  t.is(nodeId(id, 'net1'), id);
  t.regex((await inNetns(ns, ['ip', 'link', 'show', 'net1'])).stdout, /mtu 9000/);
  t.regex((await inNetns(ns, ['ip', 'route', 'show', 'default'])).stdout, /default via 10\.254\.7\.1 dev net1/);
  const check = await runPlugin(vars('CHECK', id, ns, 'net1'), { ...conf, prevResult: add.json });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  await inNetns(ns, ['ip', 'addr', 'del', '10.254.7.2/24', 'dev', 'net1']);
  const check2 = await runPlugin(vars('CHECK', id, ns, 'net1'), { ...conf, prevResult: add.json });
  t.like(check2.json, { code: 103 });
  t.regex(String(check2.json!.msg), /lacks its address 10\.254\.7\.2\/24/);
  const del = await runPlugin(vars('DEL', id, ns, 'net1'), conf);
  t.is(del.exitCode, 0, del.stdout + del.stderr);
  t.false((await portNames(d)).includes(`${id}.net1`));
});

cniTest('errors: the spec\'s JSON and codes for bad environment and config, an existing interface, an absent daemon (the address released), an unknown lan', async (t) => {
  const d = await startDaemon(t);
  const dir = tempDir(t);
  const net = uniqueSubnet();
  const ns = await netns(t, 'cnie');
  const id = containerId();
  const conf = ipamConf(d, dir, net);
  const cases: [CniVars, Record<string, unknown> | string, number, RegExp][] = [
    [{ ...vars('ADD', id, ns), CNI_NETNS: undefined }, conf, 4, /CNI_NETNS/],
    [vars('ADD', id, uniqueName('gone')), conf, 4, /does not exist/],
    [{ ...vars('ADD', id, ns), CNI_CONTAINERID: undefined }, conf, 4, /CNI_CONTAINERID/],
    [vars('ADD', id, ns), '{"cniVersion":', 6, /not JSON/],
    [vars('ADD', id, ns), { ...conf, cniVersion: '0.3.1' }, 1, /incompatible CNI version 0\.3\.1/],
    [vars('ADD', id, ns), { ...conf, socket: undefined }, 7, /socket/],
    [vars('ADD', id, ns), { ...conf, ipam: { type: 'no-such-ipam' } }, 102, /ipam plugin "no-such-ipam" not found/],
    [vars('ADD', id, ns), { ...conf, lan: 'nolan' }, 100, /refused/],
  ];
  for (const [v, c, code, re] of cases) {
    const r = await runPlugin(v, c);
    t.is(r.exitCode, 1, `${JSON.stringify(c)}: ${r.stdout}`);
    t.like(r.json, { code }, `${JSON.stringify(c)}: ${r.stdout}`);
    t.regex(`${String(r.json?.msg)} ${String(r.json?.details)}`, re);
    t.is(typeof r.json?.cniVersion, 'string');
  }
  t.deepEqual(leases(dir), [], 'the refused ADD released its address');
  t.is((await inNetns(ns, ['ip', 'link', 'show', 'eth0'])).exitCode, 1, 'and left no device behind');

  const noDaemon = { ...conf, socket: path.join(dir, 'nobody.sock') };
  const r = await runPlugin(vars('ADD', id, ns), noDaemon);
  t.like(r.json, { code: 11 }, r.stdout);
  t.deepEqual(leases(dir), [], 'an ADD without a daemon released its address');

  // An interface of that name already there: the spec says ADD must fail.
  const veth = await inNetns(ns, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
  t.is(veth.exitCode, 0, veth.stderr);
  const dup = await runPlugin(vars('ADD', id, ns), conf);
  t.like(dup.json, { code: 101 });
  t.regex(String(dup.json?.msg), /already exists/);
  t.deepEqual(leases(dir), []);
  t.false((await portNames(d)).some((n) => n.startsWith(id.slice(0, 12))));
});

cniTest('dual stack from host-local: an IPv4 and an IPv6 address each, both pinged across; CHECK and DEL', async (t) => {
  const d = await startDaemon(t);
  const dir = tempDir(t);
  const net = uniqueSubnet();
  const v6 = `fd00:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}::`;
  const conf = {
    cniVersion: '1.0.0',
    name: 'cnitest',
    type: 'containet-cni',
    socket: d.sock,
    ipam: { type: 'host-local', ranges: [[{ subnet: `${net}.0/24` }], [{ subnet: `${v6}/64` }]], dataDir: path.join(dir, 'ipam') },
  };
  const [a, b] = [await netns(t, 'cni6a'), await netns(t, 'cni6b')];
  const [ida, idb] = [containerId(), containerId()];
  const results: Record<string, unknown>[] = [];
  for (const [id, ns] of [[ida, a], [idb, b]] as const) {
    const r = await runPlugin(vars('ADD', id, ns), conf);
    t.is(r.exitCode, 0, r.stdout + r.stderr);
    results.push(r.json!);
  }
  const addrsOf = (r: Record<string, unknown>) => (r.ips as { address: string; interface: number }[]).map((i) => [i.address, i.interface]);
  t.deepEqual(addrsOf(results[1]!), [[`${net}.3/24`, 0], [`${v6}3/64`, 0]]);
  for (const to of [`${net}.3`, `${v6}3`]) {
    const ping = await inNetns(a, ['ping', '-c', '1', '-w', '20', to], { timeout: 30000 });
    t.is(ping.exitCode, 0, `${to}: ${ping.stdout}${ping.stderr}`);
  }
  const check = await runPlugin(vars('CHECK', ida, a), { ...conf, prevResult: results[0] });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  for (const [id, ns] of [[ida, a], [idb, b]] as const) {
    const r = await runPlugin(vars('DEL', id, ns), conf);
    t.is(r.exitCode, 0, r.stdout + r.stderr);
  }
  t.deepEqual((await portNames(d)).filter((n) => n.endsWith('.eth0')), []);
});

cniTest('a daemon with --authtoken: ADD without the token is refused and leaves nothing; with it, ADD and DEL work', async (t) => {
  const d = await startDaemon(t, { authtoken: 'cni-secret' });
  const ns = await netns(t, 'cnit');
  const id = containerId();
  const conf = { cniVersion: '1.0.0', name: 'tok', type: 'containet-cni', socket: d.sock, address: '10.254.8.2/24' };
  const no = await runPlugin(vars('ADD', id, ns), conf);
  t.like(no.json, { code: 100 }, no.stdout);
  t.is((await inNetns(ns, ['ip', 'link', 'show', 'eth0'])).exitCode, 1, 'the refused ADD left no device');
  const add = await runPlugin(vars('ADD', id, ns), { ...conf, authtoken: 'cni-secret' });
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.true((await portNames(d)).includes(`${id.slice(0, 12)}.eth0`));
  const del = await runPlugin(vars('DEL', id, ns), { ...conf, authtoken: 'cni-secret' });
  t.is(del.exitCode, 0, del.stdout + del.stderr);
  t.false((await portNames(d)).includes(`${id.slice(0, 12)}.eth0`));
});
