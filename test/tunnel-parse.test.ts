/**
 * The tunnel kinds' control plane (src/kinds/tunnel/): add-vxlan, add-geneve
 * and add-c2c as the protocol parses them, the refusals with the field named,
 * the VNI a c2c derives from its lan's name, the engine settings a request
 * becomes, the UDP endpoint clash refused before the engine is asked, save and
 * restore, and the CLI's request bodies. No engine, no root: the handlers run
 * on a fake engine that records what it is asked.
 */
import test from 'ava';
import { Command } from 'commander';

import { parseRequest, ProtocolError, type Request } from '../src/daemon/protocol.js';
import { ObjectModel } from '../src/daemon/model.js';
import { kinds, verbNamed } from '../src/kinds/index.js';
import type { Body, KindContext } from '../src/kinds/kind.js';
import type { LanObject } from '../src/kinds/lan.js';
import type { NativeEngine, NativePortInfo, NativePortStats } from '../src/native.js';
import type { TunnelObject } from '../src/kinds/tunnel/index.js';
import {
  c2cVni,
  endpointsClash,
  engineSettings,
  fnv1a32,
  parseAddTunnel,
  parsePortRange,
  stateMtu,
  tunnelFamily,
  underlayAddr,
  type AddTunnelRequest,
} from '../src/kinds/tunnel/settings.js';

/** Parse @req (an object, sent as JSON) as the daemon does. */
function parse(req: unknown): Request {
  return parseRequest(JSON.stringify(req), undefined);
}

// ------------------------------------------------------------------ parsing

test('add-vxlan: the smallest request, and every field given', (t) => {
  t.deepEqual(parse({ 'add-vxlan': { name: 'vx1', vni: 42, remotes: ['10.0.0.2'] } }), {
    verb: 'add-vxlan',
    name: 'vx1',
    vni: 42,
    remotes: ['10.0.0.2'],
    learn: false,
    udpCsum: false,
  });
  t.deepEqual(
    parse({
      'add-vxlan': {
        name: 'vx1',
        lan: 'blue',
        thread: 1,
        vni: 16777215,
        remotes: ['10.0.0.2', '10.0.0.3'],
        local: '10.0.0.1',
        dstport: 8472,
        'srcport-range': '49152-65535',
        mtu: 1450,
        ttl: 64,
        tos: 0x10,
        learn: true,
        'udp-csum': true,
      },
    }),
    {
      verb: 'add-vxlan',
      name: 'vx1',
      lan: 'blue',
      thread: 1,
      vni: 16777215,
      remotes: ['10.0.0.2', '10.0.0.3'],
      local: '10.0.0.1',
      dstport: 8472,
      srcportRange: [49152, 65535],
      mtu: 1450,
      ttl: 64,
      tos: 16,
      learn: true,
      udpCsum: true,
    },
  );
});

test('add-geneve takes the same fields; VNI 0 and TTL 0 are values, not absences', (t) => {
  t.deepEqual(parse({ 'add-geneve': { name: 'gn1', vni: 0, remotes: ['fd00::2'], ttl: 0, 'srcport-range': [1000, 1000] } }), {
    verb: 'add-geneve',
    name: 'gn1',
    vni: 0,
    remotes: ['fd00::2'],
    srcportRange: [1000, 1000],
    ttl: 0,
    learn: false,
    udpCsum: false,
  });
});

test('add-c2c takes no VNI (it is derived when it runs: the lan may be the default one)', (t) => {
  t.deepEqual(parse({ 'add-c2c': { name: 'c1', lan: 'lab', remotes: ['192.0.2.7'] } }), {
    verb: 'add-c2c',
    name: 'c1',
    lan: 'lab',
    remotes: ['192.0.2.7'],
    learn: false,
    udpCsum: false,
  });
  t.throws(() => parse({ 'add-c2c': { name: 'c1', vni: 5, remotes: ['192.0.2.7'] } }), {
    instanceOf: ProtocolError,
    message: /add-c2c: "vni" is not taken: a c2c's VNI comes from its lan's name/,
  });
});

test('remotes: IPv6 written any way is kept canonical, so duplicates are found', (t) => {
  const r = parseAddTunnel({ name: 'v', vni: 1, remotes: ['FD00:0:0::2', '2001:db8::1'], local: 'fd00::0001' }, 'vxlan');
  t.deepEqual(r.remotes, ['fd00::2', '2001:db8::1']);
  t.is(r.local, 'fd00::1');
  t.throws(() => parseAddTunnel({ name: 'v', vni: 1, remotes: ['fd00::2', 'FD00:0::2'] }, 'vxlan'), { message: /"remotes" gives fd00::2 twice/ });
});

test('every verb refuses bad input with the field named and the reason', (t) => {
  const cases: [Body, RegExp][] = [
    [{ remotes: ['10.0.0.2'] }, /"name" must be 1-64 characters/],
    [{ name: 'v', remotes: ['10.0.0.2'], lan: 'no such/lan' }, /"lan" must be 1-64 characters/],
    [{ name: 'v', remotes: ['10.0.0.2'], colour: 'red' }, /unknown field "colour"/],
    [{ name: 'v', remotes: ['10.0.0.2'], udp_csum: true }, /unknown field "udp_csum"/],
    [{ name: 'v', remotes: '10.0.0.2' }, /"remotes" must be a list of IPv4 or IPv6 addresses/],
    [{ name: 'v', remotes: [] }, /"remotes" must list at least one address \(or set "learn"/],
    [{ name: 'v' }, /"remotes" must list at least one address/],
    [{ name: 'v', remotes: ['10.0.0.2'], learn: 'yes' }, /"learn" must be true or false/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'udp-csum': 1 }, /"udp-csum" must be true or false/],
    [{ name: 'v', remotes: ['host.example'] }, /"remotes"\[0\] "host.example" is not an IPv4 or IPv6 address \(no host names, brackets or ports\)/],
    [{ name: 'v', remotes: ['10.0.0.2:4789'] }, /"remotes"\[0\] "10.0.0.2:4789" is not an IPv4 or IPv6 address/],
    [{ name: 'v', remotes: ['[fd00::2]'] }, /is not an IPv4 or IPv6 address/],
    [{ name: 'v', remotes: ['10.0.0.2', '10.0.0.256'] }, /"remotes"\[1\] "10.0.0.256" is not an IPv4 or IPv6 address/],
    [{ name: 'v', remotes: ['10.0.0.2,10.0.0.3'] }, /is not an IPv4 or IPv6 address/],
    [{ name: 'v', remotes: [42] }, /"remotes"\[0\] must be an IPv4 or IPv6 address as a string/],
    [{ name: 'v', remotes: [''] }, /"remotes"\[0\] must be an IPv4 or IPv6 address as a string/],
    [{ name: 'v', remotes: ['10.0.0.2', 'fd00::2'] }, /"remotes" mixes IPv4 \(10.0.0.2\) and IPv6 \(fd00::2\): a tunnel's underlay is one family/],
    [{ name: 'v', remotes: ['fd00::2', '10.0.0.2'] }, /"remotes" mixes IPv4 \(10.0.0.2\) and IPv6 \(fd00::2\)/],
    [{ name: 'v', remotes: ['10.0.0.2', '10.0.0.2'] }, /"remotes" gives 10.0.0.2 twice/],
    [{ name: 'v', remotes: ['0.0.0.0'] }, /"remotes"\[0\] 0.0.0.0 is the unspecified address/],
    [{ name: 'v', remotes: ['::'] }, /:: is the unspecified address/],
    [{ name: 'v', remotes: ['255.255.255.255'] }, /is the broadcast address/],
    [{ name: 'v', remotes: ['239.1.1.1'] }, /239.1.1.1 is a multicast address: a tunnel sends to each remote's unicast address itself \(head-end replication\)/],
    [{ name: 'v', remotes: ['ff02::1'] }, /ff02::1 is a multicast address/],
    [{ name: 'v', remotes: ['fe80::1'] }, /fe80::1 is link-local: it needs an interface/],
    [{ name: 'v', remotes: ['fe80::1%eth0'] }, /"fe80::1%eth0" has a zone/],
    [{ name: 'v', remotes: ['::ffff:10.0.0.2'] }, /::ffff:10.0.0.2 is an IPv4-mapped IPv6 address: write it as IPv4 \(10.0.0.2\)/],
    [{ name: 'v', remotes: Array.from({ length: 65 }, (_, i) => `10.0.1.${i + 1}`) }, /"remotes" lists 65 addresses; at most 64/],
    [{ name: 'v', remotes: Array.from({ length: 40 }, (_, i) => `2001:db8:1234:5678:9abc:def0:1234:${(i + 1).toString(16)}`) }, /"remotes" written out take \d+ bytes \(comma-separated\); at most 1023: list fewer remotes/],
    [{ name: 'v', remotes: ['10.0.0.2'], local: 'fd00::1' }, /"local" fd00::1 is IPv6 but "remotes" are IPv4/],
    [{ name: 'v', remotes: ['10.0.0.2'], local: '10.0.0.2' }, /10.0.0.2 is both "local" and a remote/],
    [{ name: 'v', remotes: ['10.0.0.2'], local: '0.0.0.0' }, /"local" 0.0.0.0 is the unspecified address/],
    [{ name: 'v', remotes: ['10.0.0.2'], local: 'eth0' }, /"local" "eth0" is not an IPv4 or IPv6 address/],
    [{ name: 'v', remotes: ['10.0.0.2'], dstport: 0 }, /"dstport" must be an integer from 1 to 65535/],
    [{ name: 'v', remotes: ['10.0.0.2'], dstport: 65536 }, /"dstport" must be an integer from 1 to 65535/],
    [{ name: 'v', remotes: ['10.0.0.2'], dstport: '4789' }, /"dstport" must be an integer/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': '5000-4000' }, /"srcport-range" 5000-4000: LO is above HI/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': [5000, 4000] }, /"srcport-range" 5000-4000: LO is above HI/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': '0-100' }, /"srcport-range" must be "LO-HI"/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': '1000-70000' }, /"srcport-range" must be "LO-HI"/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': '1000' }, /"srcport-range" must be "LO-HI"/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': [1000] }, /"srcport-range" must be "LO-HI"/],
    [{ name: 'v', remotes: ['10.0.0.2'], 'srcport-range': [1000.5, 2000] }, /"srcport-range" must be "LO-HI"/],
    [{ name: 'v', remotes: ['10.0.0.2'], mtu: 67 }, /"mtu" must be an integer from 68 to 65000/],
    [{ name: 'v', remotes: ['fd00::2'], mtu: 65001 }, /"mtu" must be an integer from 68 to 65000/],
    [{ name: 'v', remotes: ['10.0.0.2'], ttl: 256 }, /"ttl" must be an integer from 0 to 255/],
    [{ name: 'v', remotes: ['10.0.0.2'], tos: -1 }, /"tos" must be an integer from 0 to 255/],
    [{ name: 'v', remotes: ['10.0.0.2'], thread: 64 }, /"thread" must be an integer from 0 to 63/],
  ];
  for (const kind of ['vxlan', 'geneve', 'c2c'] as const) {
    const verb = `add-${kind}`;
    for (const [body, re] of cases) {
      const b = kind === 'c2c' ? body : { vni: 7, ...body };
      const err = t.throws(() => parse({ [verb]: b }), { instanceOf: ProtocolError, message: re }, `${verb} ${JSON.stringify(b)}`);
      t.true(err?.message.startsWith(`${verb}: `), `${verb}: ${err?.message}`);
    }
  }
});

test('add-vxlan and add-geneve need a VNI of 24 bits', (t) => {
  for (const verb of ['add-vxlan', 'add-geneve']) {
    for (const [vni, re] of [
      [undefined, /"vni" is required \(an integer from 0 to 16777215\)/],
      [-1, /"vni" must be an integer from 0 to 16777215/],
      [16777216, /"vni" must be an integer from 0 to 16777215/],
      [4.5, /"vni" must be an integer/],
      ['42', /"vni" must be an integer/],
    ] as const) {
      t.throws(() => parse({ [verb]: { name: 'v', vni, remotes: ['10.0.0.2'] } }), { instanceOf: ProtocolError, message: re }, `${verb} vni ${vni}`);
    }
  }
});

test('learn: a tunnel may start with no remote and take them from what arrives', (t) => {
  const r = parse({ 'add-vxlan': { name: 'v', vni: 9, learn: true } }) as AddTunnelRequest;
  t.deepEqual(r.remotes, []);
  t.true(r.learn);
  t.is(tunnelFamily(parseAddTunnel({ name: 'v', vni: 9, learn: true, local: 'fd00::1' }, 'geneve')), 6, 'the family follows "local" when there is no remote');
  t.is(tunnelFamily(parseAddTunnel({ name: 'v', vni: 9, learn: true }, 'geneve')), 4, 'neither: IPv4, as the engine takes it');
  t.is(tunnelFamily(parseAddTunnel({ name: 'v', vni: 9, remotes: ['fd00::2'] }, 'geneve')), 6);
  t.is(parseAddTunnel({ name: 'c', learn: true, remotes: [] }, 'c2c').remotes.length, 0);
});

test('underlayAddr and parsePortRange on their own', (t) => {
  t.deepEqual(underlayAddr('2001:DB8:0:0:0:0:0:1', '"local"', 'add-vxlan'), { addr: '2001:db8::1', family: 6 });
  t.deepEqual(underlayAddr('127.0.0.1', '"local"', 'add-vxlan'), { addr: '127.0.0.1', family: 4 }, 'loopback is taken: two daemons on one host');
  t.deepEqual(parsePortRange(' 1 - 65535 ', 'add-vxlan'), [1, 65535]);
  t.deepEqual(parsePortRange([4000, 4015], 'add-vxlan'), [4000, 4015]);
  const sixtyFour = Array.from({ length: 64 }, (_, i) => `10.0.${i}.${200 + (i % 50)}`);
  t.is(parseAddTunnel({ name: 'v', vni: 1, remotes: sixtyFour }, 'vxlan').remotes.length, 64, '64 IPv4 remotes fit the engine\'s string');
});

// ---------------------------------------------------------------- c2c's VNI

test('fnv1a32: the FNV test vectors', (t) => {
  t.is(fnv1a32(''), 0x811c9dc5);
  t.is(fnv1a32('a'), 0xe40c292c);
  t.is(fnv1a32('foobar'), 0xbf9cf968);
});

test('c2cVni: (FNV-1a(lan) mod 16777214) + 1, worked by hand', (t) => {
  // 0xe40c292c = 3826002220 = 228 * 16777214 + 797428
  t.is(c2cVni('a'), 797429);
  // 0xbf9cf968 = 3214735720 = 191 * 16777214 + 10287846
  t.is(c2cVni('foobar'), 10287847);
  // 0x19e9b260 = 434745952 = 25 * 16777214 + 15315602
  t.is(c2cVni('lan0'), 15315603);
  // 0x82fbf5cd = 2197550541 = 130 * 16777214 + 16512721
  t.is(c2cVni('blue'), 16512722);
  for (const lan of ['lan0', 'lan1', 'x', 'a-much-longer-lan-name.with:every@char_0', 'Z'.repeat(64)]) {
    const v = c2cVni(lan);
    t.true(Number.isInteger(v) && v >= 1 && v <= 16777214, `${lan}: ${v}`);
  }
  t.not(c2cVni('lan0'), c2cVni('lan1'));
});

// ------------------------------------------------------- engine and handlers

test('engineSettings: the C side names, the default port filled in, absent settings left out', (t) => {
  const r = parseAddTunnel({ name: 'v', vni: 42, remotes: ['10.0.0.2', '10.0.0.3'] }, 'vxlan');
  t.deepEqual(engineSettings(r, 42, 4789), { vni: 42, remotes: '10.0.0.2,10.0.0.3', dstport: 4789, learn: false, udpcsum: false });
  const all = parseAddTunnel(
    { name: 'v', vni: 1, remotes: ['fd00::2'], local: 'fd00::1', dstport: 6082, 'srcport-range': '40000-40015', mtu: 1400, ttl: 8, tos: 0, learn: true, 'udp-csum': true },
    'geneve',
  );
  t.deepEqual(engineSettings(all, 1, 6082), {
    vni: 1,
    remotes: 'fd00::2',
    local: 'fd00::1',
    dstport: 6082,
    srcport_lo: 40000,
    srcport_hi: 40015,
    mtu: 1400,
    ttl: 8,
    tos: 0,
    learn: true,
    udpcsum: true,
  });
  t.deepEqual(engineSettings(parseAddTunnel({ name: 'v', vni: 1, learn: true }, 'vxlan'), 1, 4789), { vni: 1, dstport: 4789, learn: true, udpcsum: false }, 'no remote: no "remotes" (the engine takes strings only non-empty)');
});

test('endpointsClash: one socket per UDP port and address of a family; "any" takes the port on every address of its family', (t) => {
  const at = (family: 4 | 6, local: string | undefined, dstport = 4789) => ({ family, local, dstport });
  t.true(endpointsClash(at(4, undefined), at(4, undefined)));
  t.true(endpointsClash(at(4, '10.0.0.1'), at(4, undefined)));
  t.true(endpointsClash(at(6, undefined), at(6, 'fd00::1')));
  t.true(endpointsClash(at(4, '10.0.0.1'), at(4, '10.0.0.1')));
  t.false(endpointsClash(at(4, '10.0.0.1'), at(4, '10.0.0.9')));
  t.false(endpointsClash(at(4, undefined), at(4, undefined, 4790)));
  t.false(endpointsClash(at(4, undefined), at(6, undefined)), 'IPv6 sockets are V6ONLY');
  t.false(endpointsClash(at(4, '10.0.0.1'), at(6, 'fd00::1')));
});

test('stateMtu reads the MTU the engine states', (t) => {
  t.is(stateMtu('vni 42, dstport 4789, mtu 1450, 2 remotes, ipv4'), 1450);
  t.is(stateMtu('vni 42, dstport 4789'), undefined);
  t.is(stateMtu(''), undefined);
});

/** What the fake engine was asked to add. */
interface AddCall {
  kind: string;
  lans: number[];
  settings: Record<string, unknown>;
  thread: number | undefined;
}

/** A KindContext over a fresh model with lans "lan0" (id 1, the default) and
 *  "blue" (id 2), and an engine that records addPort calls and states what a
 *  tunnel's C side would. */
function fakeDaemon(): { ctx: KindContext; added: AddCall[]; deleted: number[] } {
  const model = new ObjectModel();
  for (const [name, id] of [['lan0', 1], ['blue', 2]] as const) {
    const lan: LanObject = { kind: 'lan', name, id, aging: 300, macTableSize: 8192, created: new Date() };
    model.add(lan);
  }
  const added: AddCall[] = [];
  const deleted: number[] = [];
  const info = (id: number, kind: string, s: Record<string, unknown>, thread = 0): NativePortInfo => ({
    id,
    kind,
    ifname: '',
    vnetHdr: false,
    packetInfo: false,
    hdrLen: 0,
    offloads: [],
    broken: false,
    admin: 'up',
    reason: '',
    thread,
    state: `vni ${String(s.vni)}, dstport ${String(s.dstport)}, mtu ${String(s.mtu ?? 1450)}, ${String(s.remotes ?? '').split(',').filter(Boolean).length} remotes, ipv4`,
    counters: { rx_datagrams: 0, bad_vni: 0 },
  });
  const engine = {
    threads: () => 2,
    addPort(kind: string, lans: number[], settings: Record<string, unknown>, thread?: number) {
      added.push({ kind, lans, settings, thread });
      return [info(100 + added.length, kind, settings, thread)];
    },
    delPort: (id: number) => void deleted.push(id),
    portStats(id: number): NativePortStats {
      const a = added[id - 101]!;
      return { ...info(id, a.kind, a.settings, a.thread), rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: {} };
    },
  } as unknown as NativeEngine;
  const ctx: KindContext = {
    model,
    log: { debug() {}, info() {}, warn() {}, error() {} } as unknown as KindContext['log'],
    defaults: { lan: 'lan0', aging: 300, macTableSize: 8192 },
    persistent: false,
    socket: '/nonexistent/switch.sock',
    authtoken: undefined,
    changed: () => {},
    engine: () => engine,
    call: (f) => f(engine),
    remove: () => {},
    ovs: () => {
      throw new Error('no Open vSwitch here');
    },
  };
  return { ctx, added, deleted };
}

/** Run verb @verb with @body in @ctx as a client would. */
function run(ctx: KindContext, verb: string, body: Body): unknown {
  const v = verbNamed(verb)!;
  return v.run(ctx, v.parse(body), { client: { pid: 1, uid: 0 }, fds: [], unused: new Set() });
}

test('add: vxlan and geneve ask the engine for their kind; c2c asks for vxlan with the VNI of its lan', (t) => {
  const { ctx, added } = fakeDaemon();
  t.deepEqual(run(ctx, 'add-vxlan', { name: 'vx1', vni: 42, remotes: ['10.0.0.2'], thread: 1 }), {});
  t.deepEqual(added[0], { kind: 'vxlan', lans: [1], settings: { vni: 42, remotes: '10.0.0.2', dstport: 4789, learn: false, udpcsum: false }, thread: 1 });
  run(ctx, 'add-geneve', { name: 'gn1', vni: 42, remotes: ['10.0.0.2'] });
  t.is(added[1]!.kind, 'geneve');
  t.is(added[1]!.settings.dstport, 6081);
  run(ctx, 'add-c2c', { name: 'c1', lan: 'blue', remotes: ['10.0.0.2'], dstport: 4800 });
  t.deepEqual(added[2], { kind: 'vxlan', lans: [2], settings: { vni: 16512722, remotes: '10.0.0.2', dstport: 4800, learn: false, udpcsum: false }, thread: undefined });
  run(ctx, 'add-c2c', { name: 'c0', remotes: ['10.0.0.2'], dstport: 4801 });
  t.is(added[3]!.settings.vni, 15315603, "the default lan's name, lan0");
  const c1 = ctx.model.get('c1') as TunnelObject;
  t.like(c1, { kind: 'c2c', type: 'vxlan', lan: 'blue', vni: 16512722, dstport: 4800, remotes: ['10.0.0.2'] });
});

test('add: a second tunnel on a UDP endpoint in use is refused before the engine is asked', (t) => {
  const { ctx, added } = fakeDaemon();
  run(ctx, 'add-vxlan', { name: 'vx1', vni: 1, remotes: ['10.0.0.2'] });
  for (const [verb, body] of [
    ['add-vxlan', { name: 'vx2', vni: 2, remotes: ['10.0.0.3'] }],
    ['add-vxlan', { name: 'vx2', vni: 2, remotes: ['10.0.0.3'], local: '10.0.0.1' }],
    ['add-geneve', { name: 'vx2', vni: 2, remotes: ['10.0.0.3'], dstport: 4789 }],
    ['add-c2c', { name: 'vx2', remotes: ['10.0.0.3'] }],
  ] as const) {
    t.throws(() => run(ctx, verb, body), { instanceOf: ProtocolError, message: /UDP .* port 4789 is taken by vxlan vx1 \(any IPv4 address port 4789\): one port per UDP endpoint/ }, verb);
  }
  t.is(added.length, 1);
  run(ctx, 'add-vxlan', { name: 'vx6', vni: 2, remotes: ['fd00::3'] });
  t.throws(() => run(ctx, 'add-c2c', { name: 'c6', learn: true, local: 'fd00::1' }), { message: /add-c2c: UDP fd00::1 port 4789 is taken by vxlan vx6 \(any IPv6 address port 4789\)/ });
  t.is(added.length, 2, 'IPv4 and IPv6 on one port are two endpoints');
  run(ctx, 'add-vxlan', { name: 'vx2', vni: 2, remotes: ['10.0.0.3'], dstport: 4790, local: '10.0.0.1' });
  run(ctx, 'add-vxlan', { name: 'vx3', vni: 3, remotes: ['10.0.0.3'], dstport: 4790, local: '10.0.0.9' });
  t.throws(() => run(ctx, 'add-geneve', { name: 'g', vni: 3, remotes: ['10.0.0.3'], dstport: 4790, local: '10.0.0.9' }), {
    message: /add-geneve: UDP 10.0.0.9 port 4790 is taken by vxlan vx3 \(10.0.0.9 port 4790\)/,
  });
  t.is(added.length, 4);
  t.throws(() => run(ctx, 'add-vxlan', { name: 'vx1', vni: 1, remotes: ['10.0.0.2'], dstport: 5000 }), { message: /an object named "vx1" already exists/ });
  t.throws(() => run(ctx, 'add-vxlan', { name: 'v9', vni: 1, remotes: ['10.0.0.2'], dstport: 5000, lan: 'red' }), { message: /no lan named "red"/ });
  t.throws(() => run(ctx, 'add-vxlan', { name: 'v9', vni: 1, remotes: ['10.0.0.2'], dstport: 5000, thread: 2 }), { message: /"thread" 2 does not exist/ });
});

test('show states the VNI, remotes, port and the MTU the engine uses; stats passes its counters', (t) => {
  const { ctx } = fakeDaemon();
  run(ctx, 'add-vxlan', { name: 'vx1', vni: 42, remotes: ['10.0.0.2', '10.0.0.3'], 'srcport-range': '50000-50015', 'udp-csum': true });
  const kind = kinds().find((k) => k.name === 'vxlan')!;
  const o = ctx.model.get('vx1')!;
  t.like(kind.show(ctx, o), {
    name: 'vx1',
    kind: 'port',
    type: 'vxlan',
    lan: 'lan0',
    vni: 42,
    remotes: ['10.0.0.2', '10.0.0.3'],
    local: null,
    dstport: 4789,
    srcportRange: [50000, 50015],
    mtu: 1450,
    learn: false,
    udpCsum: true,
    state: 'vni 42, dstport 4789, mtu 1450, 2 remotes, ipv4',
  });
  t.like(kind.stats(ctx, o), { name: 'vx1', type: 'vxlan', counters: { rx_datagrams: 0, bad_vni: 0 } });
});

test('save keeps what was asked (a c2c no VNI); restore makes the same port again through the add verb', (t) => {
  const a = fakeDaemon();
  run(a.ctx, 'add-geneve', { name: 'g1', lan: 'blue', vni: 7, remotes: ['fd00::2'], local: 'fd00::1', 'srcport-range': [40000, 40015], mtu: 1400, ttl: 9, tos: 4, learn: true, 'udp-csum': true, thread: 1 });
  run(a.ctx, 'add-c2c', { name: 'c1', remotes: ['10.0.0.2'] });
  const saved = a.ctx.model.all().filter((o) => o.kind !== 'lan').map((o) => ({ kind: o.kind, name: o.name, rec: JSON.parse(JSON.stringify(kinds().find((k) => k.name === o.kind)!.save!(o))) as Record<string, unknown> }));
  t.deepEqual(saved[0]!.rec, { lan: 'blue', vni: 7, remotes: ['fd00::2'], local: 'fd00::1', dstport: 6081, srcportRange: [40000, 40015], mtu: 1400, ttl: 9, tos: 4, learn: true, udpCsum: true, thread: 1, owner: { pid: 1, uid: 0 } });
  t.false('vni' in saved[1]!.rec);
  const b = fakeDaemon();
  for (const s of saved) kinds().find((k) => k.name === s.kind)!.restore!(b.ctx, s.name, s.rec);
  const asked = (calls: AddCall[]) => calls.map(({ kind, lans, settings }) => ({ kind, lans, settings }));
  t.deepEqual(asked(b.added), asked(a.added));
  t.deepEqual(b.added.map((c) => c.thread), [1, 0], 'the thread each ran on is kept');
  t.like(b.ctx.model.get('g1'), { kind: 'geneve', vni: 7, owner: { pid: 1, uid: 0 } });
  t.throws(() => kinds().find((k) => k.name === 'vxlan')!.restore!(b.ctx, 'x', { lan: 'lan0', remotes: '10.0.0.2', dstport: 4789, vni: 1 }), { message: /"remotes" is not a list of strings/ });
});

// ---------------------------------------------------------------------- CLI

/** The body `containet add KIND ARGV...` sends, parsed by the kind's own options. */
function cliBody(kind: string, argv: string[]): Body {
  const a = kinds().find((k) => k.name === kind)!.cli!.add!;
  let out: Body | undefined;
  const cmd = new Command(kind).argument('<name>').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  a.configure(cmd);
  cmd.action((name: string, opts: Record<string, unknown>) => {
    out = a.body(name, opts);
  });
  cmd.parse(argv, { from: 'user' });
  return { [a.verb]: out! };
}

test('CLI: every option becomes its field; --remote repeats and splits at commas', (t) => {
  const b = cliBody('vxlan', [
    'vx1', '--lan', 'blue', '--vni', '42', '--remote', '10.0.0.2', '--remote', '10.0.0.3,10.0.0.4', '--local', '10.0.0.1', '--dstport', '4789',
    '--srcport-range', '49152-65535', '--mtu', '1450', '--ttl', '64', '--tos', '0x10', '--learn', '--udp-csum', '--thread', '1',
  ]);
  t.deepEqual(b, {
    'add-vxlan': {
      name: 'vx1',
      lan: 'blue',
      vni: 42,
      remotes: ['10.0.0.2', '10.0.0.3', '10.0.0.4'],
      local: '10.0.0.1',
      dstport: 4789,
      'srcport-range': '49152-65535',
      mtu: 1450,
      ttl: 64,
      tos: 16,
      learn: true,
      'udp-csum': true,
      thread: 1,
    },
  });
  t.like(parse(b), { verb: 'add-vxlan', srcportRange: [49152, 65535], remotes: ['10.0.0.2', '10.0.0.3', '10.0.0.4'] });
  t.deepEqual(cliBody('geneve', ['g', '--vni', '0', '--remote', 'fd00::2']), { 'add-geneve': { name: 'g', vni: 0, remotes: ['fd00::2'] } });
  t.deepEqual(cliBody('c2c', ['c', '--lan', 'lab', '--remote', '192.0.2.7']), { 'add-c2c': { name: 'c', lan: 'lab', remotes: ['192.0.2.7'] } });
  t.like(parse(cliBody('c2c', ['c', '--learn'])), { verb: 'add-c2c', remotes: [], learn: true });
});

test('CLI: --vni is required of vxlan and geneve and not an option of c2c; numbers are checked', (t) => {
  t.throws(() => cliBody('vxlan', ['v', '--remote', '10.0.0.2']), { message: /required option '--vni <n>' not specified/ });
  t.throws(() => cliBody('geneve', ['v', '--remote', '10.0.0.2']), { message: /required option '--vni <n>'/ });
  t.throws(() => cliBody('c2c', ['c', '--vni', '3', '--remote', '10.0.0.2']), { message: /unknown option '--vni'/ });
  t.throws(() => cliBody('vxlan', ['v', '--vni', '16777216']), { message: /must be an integer from 0 to 16777215/ });
  t.throws(() => cliBody('vxlan', ['v', '--vni', '1', '--dstport', '0']), { message: /must be an integer from 1 to 65535/ });
  t.throws(() => cliBody('vxlan', ['v', '--vni', '1', '--ttl', '300']), { message: /must be an integer from 0 to 255/ });
  t.throws(() => cliBody('vxlan', ['v', '--vni', '1', '--tos', '']), { message: /must be an integer from 0 to 255/ });
});
