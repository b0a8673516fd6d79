/**
 * containet-cni's pure logic (src/cni/): the CNI_* variables and the network
 * config read and refused with the spec's codes, results read in either
 * version and rendered for each, ADD's result over a prevResult, the ip
 * commands of an allocation, node ids, and the whole plugin's answers to
 * VERSION and to bad input (which never reach a daemon or a namespace), and
 * the requests to a stand-in daemon on a unix socket (busy, refusing, absent).
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cmdVersion, staticAllocation } from '../src/cni/commands.js';
import { parseCidr, parseConfig, parseEnv } from '../src/cni/config.js';
import { nodeId, portName, removePort } from '../src/cni/daemon.js';
import { CniCode, CniError, errorJson } from '../src/cni/errors.js';
import { main } from '../src/cni/main.js';
import { ipCommands } from '../src/cni/netns.js';
import { addResult, parseResult, renderResult } from '../src/cni/result.js';

/** A valid config with @extra fields merged in. */
function conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'net1', type: 'containet-cni', socket: '/run/containet.sock', ...extra };
}

/** The CniError code @fn throws (fails the test when it throws nothing or something else). */
function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e.code;
    throw e;
  }
  throw new Error('no error');
}

const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin::/usr/lib/cni' };

test('parseEnv: ADD with every variable; CNI_PATH split, empty parts dropped', (t) => {
  t.deepEqual(parseEnv(ENV), { command: 'ADD', containerId: 'abc123', netns: '/run/netns/x', ifname: 'eth0', path: ['/opt/cni/bin', '/usr/lib/cni'] });
});

test('parseEnv: missing or malformed variables are code 4, naming the variable', (t) => {
  const cases: [Record<string, string | undefined>, RegExp][] = [
    [{ ...ENV, CNI_COMMAND: undefined }, /CNI_COMMAND/],
    [{ ...ENV, CNI_COMMAND: 'GC' }, /CNI_COMMAND "GC"/],
    [{ ...ENV, CNI_CONTAINERID: '' }, /CNI_CONTAINERID/],
    [{ ...ENV, CNI_CONTAINERID: '-abc' }, /CNI_CONTAINERID/],
    [{ ...ENV, CNI_CONTAINERID: 'a/b' }, /CNI_CONTAINERID/],
    [{ ...ENV, CNI_IFNAME: undefined }, /CNI_IFNAME/],
    [{ ...ENV, CNI_IFNAME: 'a-very-long-ifname' }, /CNI_IFNAME/],
    [{ ...ENV, CNI_IFNAME: 'eth 0' }, /CNI_IFNAME/],
    [{ ...ENV, CNI_NETNS: undefined }, /CNI_NETNS/],
    [{ ...ENV, CNI_NETNS: 'relative/path' }, /CNI_NETNS/],
  ];
  for (const [env, re] of cases) {
    const e = t.throws(() => parseEnv(env), { instanceOf: CniError }, JSON.stringify(env));
    t.is(e!.code, CniCode.invalidEnv);
    t.regex(e!.message, re);
  }
});

test('parseEnv: DEL may come without CNI_NETNS; VERSION needs only CNI_COMMAND', (t) => {
  t.is(parseEnv({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, '');
  t.is(parseEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
});

test('parseConfig: the fields, a static address and gateway, ipam delegated as is', (t) => {
  const c = parseConfig(conf({ lan: 'lan1', mtu: 9000, authtoken: 'tok', address: '10.1.0.2/24', gateway: '10.1.0.1', runtimeConfig: {}, args: {} }));
  t.deepEqual(c, {
    cniVersion: '1.0.0',
    name: 'net1',
    type: 'containet-cni',
    socket: '/run/containet.sock',
    lan: 'lan1',
    mtu: 9000,
    authtoken: 'tok',
    address: { ip: '10.1.0.2', prefix: 24, family: 4 },
    gateway: '10.1.0.1',
  });
  const ipam = { type: 'host-local', ranges: [[{ subnet: '10.2.0.0/24' }]] };
  t.deepEqual(parseConfig(conf({ cniVersion: '0.4.0', ipam })).ipam, ipam);
  t.is(parseConfig(conf({ ipam: {} })).ipam, undefined, 'an empty ipam section is none');
});

test('parseConfig: versions other than 0.4.0 and 1.0.0 are code 1, unknown fields 2, bad values 7', (t) => {
  t.is(codeOf(() => parseConfig(conf({ cniVersion: '0.3.1' }))), CniCode.incompatibleVersion);
  t.is(codeOf(() => parseConfig(conf({ cniVersion: '1.1.0' }))), CniCode.incompatibleVersion);
  t.is(codeOf(() => parseConfig(conf({ cniVersion: undefined }))), CniCode.invalidConfig);
  const e = t.throws(() => parseConfig(conf({ sockets: '/x' })), { instanceOf: CniError });
  t.is(e!.code, CniCode.unsupportedField);
  t.regex(e!.message, /"sockets": "\/x"/, 'the message has the key and value');
  for (const extra of [
    { name: undefined },
    { name: '' },
    { socket: undefined },
    { socket: 'relative.sock' },
    { socket: 7 },
    { lan: '' },
    { mtu: 67 },
    { mtu: 65536 },
    { mtu: 1500.5 },
    { mtu: '1500' },
    { ipam: 'host-local' },
    { ipam: { type: '../evil' } },
    { ipam: { subnet: '10.0.0.0/24' } },
    { address: '10.0.0.2' },
    { address: '10.0.0.300/24' },
    { address: '10.0.0.2/33' },
    { address: '10.0.0.2/24', ipam: { type: 'host-local' } },
    { gateway: '10.0.0.1' },
    { address: '10.0.0.2/24', gateway: 'fd00::1' },
    { address: '10.0.0.2/24', gateway: 'gw' },
    { prevResult: [] },
  ])
    t.is(codeOf(() => parseConfig(conf(extra))), CniCode.invalidConfig, JSON.stringify(extra));
});

test('parseCidr: IPv4 and IPv6 with a prefix length; anything else null', (t) => {
  t.deepEqual(parseCidr('fd00::2/64'), { ip: 'fd00::2', prefix: 64, family: 6 });
  t.deepEqual(parseCidr('0.0.0.0/0'), { ip: '0.0.0.0', prefix: 0, family: 4 });
  for (const s of ['10.0.0.1', '10.0.0.1/', '10.0.0.1/x', 'fd00::/129', 'host/24', '/24']) t.is(parseCidr(s), null, s);
});

/** An ADD result as host-local (1.0.0) and a chained runtime would see it. */
const RESULT_1 = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' }],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
    { address: 'fd00::5/64', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0', priority: 10 }, { dst: '10.9.0.0/16', gw: '10.1.0.254' }],
  dns: { nameservers: ['10.1.0.1'] },
};

test('results: read from 1.0.0 and rendered back unchanged; for 0.4.0 every IP says its version', (t) => {
  const r = parseResult(RESULT_1, 'r', CniCode.decodeFailure);
  t.deepEqual(renderResult(r, '1.0.0'), RESULT_1);
  const old = renderResult(r, '0.4.0');
  t.is(old.cniVersion, '0.4.0');
  t.deepEqual(
    (old.ips as Record<string, unknown>[]).map((i) => i.version),
    ['4', '6'],
  );
  // and a 0.4.0 result reads back to the same thing
  t.deepEqual(parseResult(old, 'r', CniCode.decodeFailure), r);
});

test('results: an IPAM answer (no interfaces, no interface index) reads; malformed ones are the code asked', (t) => {
  const r = parseResult({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1' }] }, 'ipam', CniCode.ipamFailure);
  t.deepEqual(r, { interfaces: [], ips: [{ address: { ip: '10.1.0.5', prefix: 24, family: 4 }, gateway: '10.1.0.1' }], routes: [] });
  for (const bad of [{ ips: {} }, { ips: [{ address: '10.1.0.5' }] }, { ips: [{ address: '10.1.0.5/24', interface: -1 }] }, { routes: [{ gw: '1.2.3.4' }] }, { interfaces: [{}] }, { dns: 'x' }])
    t.is(codeOf(() => parseResult(bad, 'ipam', CniCode.ipamFailure)), CniCode.ipamFailure, JSON.stringify(bad));
});

test('addResult: our interface after a prevResult\'s, our addresses pointing at it, routes appended', (t) => {
  const prev = parseResult(RESULT_1, 'prev', CniCode.invalidConfig);
  const ours = staticAllocation(parseConfig(conf({ address: '10.7.0.2/24', gateway: '10.7.0.1' })));
  const r = addResult(prev, { name: 'net1', mac: '02:00:00:00:00:02', sandbox: '/run/netns/x' }, ours);
  t.deepEqual(r.interfaces.map((i) => i.name), ['eth0', 'net1']);
  t.deepEqual(r.ips.map((i) => [i.address.ip, i.interface]), [['10.1.0.5', 0], ['fd00::5', 0], ['10.7.0.2', 1]]);
  t.is(r.routes.length, 3);
  t.deepEqual(r.dns, RESULT_1.dns, 'the previous dns stays when we bring none');
  const alone = addResult(undefined, { name: 'eth0', mac: 'm', sandbox: '/n' }, { ips: [], routes: [] });
  t.deepEqual(renderResult(alone, '1.0.0'), { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', mac: 'm', sandbox: '/n' }], ips: [], dns: {} });
});

test('staticAllocation: an address alone, or with a gateway and a default route of its family', (t) => {
  t.deepEqual(staticAllocation(parseConfig(conf())), { ips: [], routes: [] });
  t.deepEqual(staticAllocation(parseConfig(conf({ address: 'fd00::2/64', gateway: 'fd00::1' }))), {
    ips: [{ address: { ip: 'fd00::2', prefix: 64, family: 6 }, gateway: 'fd00::1' }],
    routes: [{ dst: { ip: '::', prefix: 0, family: 6 }, gw: 'fd00::1' }],
  });
});

test('ipCommands: addresses (IPv6 without DAD), routes through their own gw, else their family\'s gateway, else the link', (t) => {
  const r = parseResult(RESULT_1, 'r', CniCode.decodeFailure);
  t.deepEqual(ipCommands('eth0', r.ips, [...r.routes, { dst: parseCidr('fd01::/64')! }]), [
    'addr add 10.1.0.5/24 dev eth0',
    'addr add fd00::5/64 dev eth0 nodad',
    'route add 0.0.0.0/0 via 10.1.0.1 dev eth0',
    'route add 10.9.0.0/16 via 10.1.0.254 dev eth0',
    'route add fd01::/64 dev eth0',
  ]);
  t.deepEqual(ipCommands('eth0', [], []), []);
});

test('nodeId: a 64-hex id gives its short id; a short id stays; a long other id is cut and hashed; port names fit the daemon', (t) => {
  const hex = 'a'.repeat(12) + 'b'.repeat(52);
  t.is(nodeId(hex, 'eth0'), 'aaaaaaaaaaaa');
  t.is(nodeId('pod-1_x.y', 'eth0'), 'pod-1_x.y');
  const long1 = nodeId('k'.repeat(70) + '1', 'eth0');
  const long2 = nodeId('k'.repeat(70) + '2', 'eth0');
  t.not(long1, long2);
  t.is(long1, nodeId('k'.repeat(70) + '1', 'eth0'), 'the same id, the same node id');
  for (const id of [hex, 'x'.repeat(59), 'x'.repeat(60), long1]) {
    const name = portName(nodeId(id, 'eth15'), 'eth15');
    t.true(name.length <= 64 && /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/.test(name), name);
  }
});

test('errorJson: the spec\'s fields; details only when there are some; anything else is internal', (t) => {
  t.deepEqual(errorJson(new CniError(7, 'bad', 'why'), '0.4.0'), { cniVersion: '0.4.0', code: 7, msg: 'bad', details: 'why' });
  t.deepEqual(errorJson(new CniError(11, 'busy'), '1.0.0'), { cniVersion: '1.0.0', code: 11, msg: 'busy' });
  t.like(errorJson(new Error('oops'), '1.0.0'), { code: CniCode.internal, details: 'oops' });
});

/** Run the plugin's main on @env and @stdin; status, stdout's JSON, stderr. */
async function plugin(env: Record<string, string | undefined>, stdin: string) {
  let out = '';
  let err = '';
  const status = await main(env, stdin, (s) => (out += s), (s) => (err += s));
  return { status, json: (out ? JSON.parse(out) : {}) as Record<string, unknown>, out, err };
}

test('main: VERSION answers under the version asked, with the versions spoken', async (t) => {
  const r = await plugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  t.is(r.status, 0);
  t.deepEqual(r.json, { cniVersion: '0.4.0', supportedVersions: ['0.4.0', '1.0.0'] });
  t.deepEqual(cmdVersion(undefined).cniVersion, '1.0.0');
});

test('main: bad input gives the spec\'s error JSON on stdout, a line on stderr, status 1', async (t) => {
  const cases: [Record<string, string | undefined>, string, number][] = [
    [{ ...ENV, CNI_COMMAND: undefined }, JSON.stringify(conf()), CniCode.invalidEnv],
    [ENV, '{not json', CniCode.decodeFailure],
    [ENV, '[1]', CniCode.decodeFailure],
    [ENV, JSON.stringify(conf({ cniVersion: '0.2.0' })), CniCode.incompatibleVersion],
    [ENV, JSON.stringify(conf({ socket: undefined })), CniCode.invalidConfig],
    [ENV, JSON.stringify(conf({ bogus: 1 })), CniCode.unsupportedField],
    [{ ...ENV, CNI_COMMAND: 'CHECK' }, JSON.stringify(conf()), CniCode.invalidConfig],
  ];
  for (const [env, stdin, code] of cases) {
    const r = await plugin(env, stdin);
    t.is(r.status, 1, stdin);
    t.is(r.json.code, code, `${stdin}: ${JSON.stringify(r.json)}`);
    t.is(typeof r.json.msg, 'string');
    t.is(typeof r.json.cniVersion, 'string');
    t.regex(r.err, /^containet-cni: /);
  }
  const v = await plugin(ENV, JSON.stringify(conf({ cniVersion: '0.4.0', socket: 'rel' })));
  t.is(v.json.cniVersion, '0.4.0', 'the error speaks the version asked');
});

/**
 * A stand-in for the daemon on a unix socket in a temp dir: answers each
 * connection's request with the next of @replies (the last one repeated);
 * records the requests. Closed when the test ends.
 */
async function fakeDaemon(t: ExecutionContext, replies: string[]): Promise<{ sock: string; requests: string[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'containet-cni-'));
  const sock = path.join(dir, 'fake.sock');
  const requests: string[] = [];
  let n = 0;
  const server = createServer((c) => {
    c.once('data', (d) => {
      requests.push(d.toString('utf8'));
      c.end(replies[Math.min(n++, replies.length - 1)]);
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sock, requests };
}

const BUSY = '{"error":"too many control connections open; try again later"}';

test('daemon: a busy daemon is asked again after a pause; one that stays busy is "try again later" (11)', async (t) => {
  const f = await fakeDaemon(t, [BUSY, BUSY, '{}']);
  t.is(await removePort({ socket: f.sock, authtoken: 'tok' }, 'n1', 'eth0'), 'removed');
  t.is(f.requests.length, 3);
  t.deepEqual(JSON.parse(f.requests[2]!), { authtoken: 'tok', 'remove-etherfd': { nodeid: 'n1', ifname: 'eth0' } });
  const busy = await fakeDaemon(t, [BUSY]);
  const e = await t.throwsAsync(removePort({ socket: busy.sock }, 'n1', 'eth0'), { instanceOf: CniError });
  t.is(e!.code, CniCode.tryAgainLater);
  t.is(busy.requests.length, 7, 'asked once and again six times');
});

test('daemon: DEL of a port the daemon does not have, or without a daemon, is done; another refusal is code 100', async (t) => {
  const none = await fakeDaemon(t, ['{"error":"no port of node \\"n1\\" with ifname eth0"}']);
  t.is(await removePort({ socket: none.sock }, 'n1', 'eth0'), 'absent');
  t.is(await removePort({ socket: path.join(tmpdir(), uniqueSock()) }, 'n1', 'eth0'), 'no-daemon');
  const refuse = await fakeDaemon(t, ['{"error":"bad token"}']);
  const e = await t.throwsAsync(removePort({ socket: refuse.sock }, 'n1', 'eth0'), { instanceOf: CniError });
  t.is(e!.code, CniCode.daemonRefused);
  t.regex(e!.message, /bad token/);
  const run = await plugin({ ...ENV, CNI_COMMAND: 'DEL' }, JSON.stringify(conf({ socket: none.sock })));
  t.is(run.status, 0, JSON.stringify(run));
  t.is(run.out, '', 'DEL prints nothing');
});

/** A socket file name nobody listens on. */
function uniqueSock(): string {
  return `containet-cni-nobody-${process.pid}-${Date.now()}.sock`;
}
