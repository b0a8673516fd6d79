/**
 * `containet graph` without a daemon: the lab made of show and stats entries
 * shaped as the daemon's (through the registered sections' graph hooks, and
 * from the fields of an entry whose section has none: a node), the rates
 * from two samples, the layout (no two boxes overlap, every port inside its
 * lan, the same lab laid out the same) and the SVG (well-formed, every text
 * escaped, the a2b's labels there). See docs/graph.md.
 */
import test from 'ava';

import { listenAddress } from '../src/cli/args.js';
import { A2B_DEFAULTS } from '../src/kinds/a2b/settings.js';
import { partOf } from '../src/graph/lab.js';
import { layout, type Box } from '../src/graph/layout.js';
import { buildLab, portCounters } from '../src/graph/model.js';
import { rateLine, rates } from '../src/graph/rates.js';
import { loopbackHost } from '../src/graph/server.js';
import { esc, renderSvg } from '../src/graph/svg.js';
import { checkXml } from './helpers/xml.js';

/** A port's show entry as the daemon makes it (the fields the graph reads, and a few more). */
function port(name: string, lan: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kind: 'port', type: 'tap', lan, ifname: 'eth0', nodeid: null, pid: null, offloads: [], thread: 0, state: 'up', ...extra };
}

/** A port's stats entry. */
function counters(name: string, lan: string, rx: number, tx: number, drops: Record<string, number> = {}): Record<string, unknown> {
  return { name, lan, type: 'tap', rxPackets: rx, rxBytes: rx * 100, txPackets: tx, txBytes: tx * 100, drops };
}

/** A lab of every sort of entry: an OVS lan, a node's ports (containode's
 *  nodeid, and a node entry of a kind the graph has no hook for), a tunnel,
 *  an a2b with a delay, a capture, a mirror, and a link of an unknown kind. */
const SHOW: Record<string, unknown>[] = [
  { name: 'lanA', kind: 'lan', ports: 3, macs: 0, aging: 300, macTableSize: 8192 },
  { name: 'lanB', kind: 'lan', ports: 2, macs: 0, aging: 300, macTableSize: 8192, ovs: { bridge: '_b_lanB', join: '_j_lanB', state: 'joined' } },
  port('c1.eth0', 'lanA', { nodeid: 'c1' }),
  port('c1.eth1', 'lanB', { nodeid: 'c1' }),
  port('solo', 'lanA', { nodeid: 'solo' }),
  port('vx1', 'lanB', { type: 'vxlan', vni: 42, remotes: ['192.0.2.7', '192.0.2.8'] }),
  { name: 'web', kind: 'node', pid: 4242, state: 'running', interfaces: [{ ifname: 'eth0', lan: 'lanA', addrs: ['10.0.0.2/24', 'fd00::2/64'], port: 'web.eth0' }] },
  port('web.eth0', 'lanA'),
  { name: 'l1', kind: 'a2b', a2b: { a: 'lanA', b: 'lanB', a2b: { ...A2B_DEFAULTS, delay: 20000, loss: 1 }, b2a: { ...A2B_DEFAULTS, rate: 10e6 } } },
  { name: 'cap1', kind: 'capture', of: ['solo'], ports: ['solo'], format: 'pcapng', dir: 'both' },
  { name: 'm1', kind: 'mirror', select: ['c1.eth0'], dir: 'both', to: 'vx1' },
  { name: 'w1', kind: 'wire', lans: ['lanB', 'lanC'] },
];

test('the lab: lans (OVS marked), ports under their nodes, a tunnel with its remotes, links with each direction, marks', (t) => {
  const stats = { lans: [], ports: [counters('solo', 'lanA', 10, 12, { no_buffer: 2, bad_frame: 1 })] };
  const lab = buildLab(SHOW, stats, partOf);
  t.deepEqual(lab.lans, [{ name: 'lanA', ovs: undefined }, { name: 'lanB', ovs: '_b_lanB' }, { name: 'lanC' }]);
  const p = (n: string) => lab.ports.find((x) => x.name === n)!;
  t.is(p('c1.eth0').group, 'c1');
  t.is(p('c1.eth1').group, 'c1');
  t.is(p('solo').group, undefined, 'a nodeid that is the port\'s own name makes no group');
  t.is(p('web.eth0').group, 'web', 'a node entry claims its interfaces\' ports');
  t.deepEqual(lab.groups, [{ name: 'c1' }, { name: 'web', label: 'running, pid 4242' }]);
  t.deepEqual(p('web.eth0').marks, ['10.0.0.2/24', 'fd00::2/64'], 'a node\'s addresses on its ports');
  t.deepEqual(p('vx1').remotes, ['192.0.2.7', '192.0.2.8']);
  t.true(p('vx1').marks.includes('vxlan'));
  t.true(p('vx1').marks.includes('mirror m1 out'));
  t.deepEqual(p('c1.eth0').marks, ['mirrored to vx1']);
  t.deepEqual(p('solo').marks, ['captured']);
  t.deepEqual(lab.links, [
    { name: 'l1', a: 'lanA', b: 'lanB', ab: 'delay 20ms loss 1%', ba: 'rate 10mbit' },
    { name: 'w1', a: 'lanB', b: 'lanC', ab: '-', ba: '-' },
  ]);
  t.deepEqual(p('solo').counters, { rxPackets: 10, rxBytes: 1000, txPackets: 12, txBytes: 1200, drops: 3 });
  t.is(p('vx1').counters, undefined);
  t.false(lab.ports.some((x) => ['l1', 'cap1', 'm1', 'web'].includes(x.name)), 'links, captures, mirrors and nodes are no ports');
});

test('a node whose ports are gone (it exited) draws none of them', (t) => {
  const node = { name: 'n1', kind: 'node', pid: null, state: 'exited (status 0)', interfaces: [{ ifname: 'eth0', lan: 'lanX', addrs: [], port: 'n1.eth0' }] };
  const lab = buildLab([{ name: 'lanX', kind: 'lan' }, node], undefined, partOf);
  t.deepEqual(lab.ports, []);
  t.is(layout(lab).groups.length, 0);
  t.deepEqual(buildLab([{ name: 'lanX', kind: 'lan' }, node, port('n1.eth0', 'lanX')], undefined, partOf).ports.map((p) => [p.name, p.group]), [['n1.eth0', 'n1']]);
});

test('rates: deltas over the time between samples; null where a switch counts nothing; a counter that went back counts from 0', (t) => {
  const s1 = { at: 1000, counters: portCounters({ ports: [counters('a', 'l', 100, 50), { ...counters('o', 'l', 0, 0), rxPackets: null, rxBytes: null }] }) };
  const s2 = { at: 3000, counters: portCounters({ ports: [counters('a', 'l', 300, 50, { x: 4 }), { ...counters('o', 'l', 0, 0), rxPackets: null, rxBytes: null }, counters('new', 'l', 5, 5)] }) };
  const r = rates(s1, s2);
  t.deepEqual(r.get('a'), { rxPps: 100, txPps: 0, rxBps: 10000, txBps: 0, dropsPs: 2 });
  t.is(r.get('o')!.rxPps, null);
  t.is(r.get('new'), undefined, 'no rate before a second sample');
  t.is(rateLine(r.get('a')), 'rx 100/s tx 0/s 10.0kB/s drop 2/s');
  const s3 = { at: 4000, counters: portCounters({ ports: [counters('a', 'l', 7, 50)] }) };
  t.is(rates(s2, s3).get('a')!.rxPps, 7);
  t.is(rates(s2, s2).size, 0, 'no time, no rates');
});

/** True when boxes @a and @b overlap. */
function overlap(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** True when box @inner is inside @outer. */
function inside(inner: Box, outer: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w && inner.y + inner.h <= outer.y + outer.h;
}

test('layout: 50 lans, 300 ports, 20 links: every port inside its lan (and its node), no two boxes or labels overlap, links share columns where they do not meet, the same lab the same layout', (t) => {
  const show: Record<string, unknown>[] = [];
  for (let l = 0; l < 50; l++) show.push({ name: `lan${l}`, kind: 'lan' });
  for (let p = 0; p < 300; p++) show.push(port(`p${p}`, `lan${(p * 7) % 50}`, p % 3 === 0 ? { nodeid: `node${p % 9}` } : {}));
  for (let k = 0; k < 20; k++) show.push({ name: `a${k}`, kind: 'a2b', a2b: { a: `lan${k}`, b: `lan${(k * 3 + 1) % 50}`, a2b: A2B_DEFAULTS, b2a: A2B_DEFAULTS } });
  const lab = buildLab(show, undefined, partOf);
  const l = layout(lab);
  t.deepEqual(layout(buildLab(show, undefined, partOf)), l);
  t.is(l.ports.length, 300);
  t.is(l.lans.length, 50);
  for (const p of l.ports) {
    const lan = l.lans.find((x) => x.name === p.port.lan)!;
    t.true(inside(p, lan), `${p.port.name} inside ${lan.name}`);
    if (p.port.group) t.true(l.groups.some((g) => g.name === p.port.group && inside(p, g)), `${p.port.name} inside its node`);
    t.true(p.x + p.w <= l.width && p.y + p.h <= l.height);
  }
  const boxes: Box[] = [...l.ports, ...l.lans];
  for (let i = 0; i < l.ports.length; i++) for (let j = i + 1; j < l.ports.length; j++) if (overlap(l.ports[i]!, l.ports[j]!)) t.fail(`${l.ports[i]!.port.name} overlaps ${l.ports[j]!.port.name}`);
  for (let i = 0; i < l.lans.length; i++) for (let j = i + 1; j < l.lans.length; j++) if (overlap(l.lans[i]!, l.lans[j]!)) t.fail(`${l.lans[i]!.name} overlaps ${l.lans[j]!.name}`);
  for (const k of l.links) for (const b of boxes) if (overlap(k.label, b)) t.fail(`the label of ${k.link.name} overlaps a lan or port`);
  for (let i = 0; i < l.links.length; i++) for (let j = i + 1; j < l.links.length; j++) t.false(overlap(l.links[i]!.label, l.links[j]!.label));
  t.true(l.links.every((k) => k.label.x + k.label.w <= l.lans[0]!.x && k.label.y >= Math.min(k.ya, k.yb) && k.label.y + k.label.h <= Math.max(k.ya, k.yb)), 'labels left of the lans, between their two buses');
  const cols = new Set(l.links.map((k) => k.x)).size;
  t.true(cols < 20, `links that do not meet share a column (${cols} columns)`);
  for (const k of l.links) for (const m of l.links) if (k !== m && k.x === m.x) t.true(Math.max(k.ya, k.yb) < Math.min(m.ya, m.yb) || Math.max(m.ya, m.yb) < Math.min(k.ya, k.yb), `${k.link.name} and ${m.link.name} share a column but meet`);
  checkXml(renderSvg(l));
});

test('SVG: well-formed, every lan, port and node named, the a2b\'s delay label there, text escaped', (t) => {
  const show = [...SHOW, { name: 'evil', kind: 'node', pid: 1, state: '<script>alert("x")</script> & \'co\' \u0001', interfaces: [{ port: 'evil.eth0', lan: 'lanA' }] }, port('evil.eth0', 'lanA')];
  const lab = buildLab(show, { ports: [counters('solo', 'lanA', 10, 12)] }, partOf);
  const svg = renderSvg(layout(lab), (p) => (p === 'solo' ? 'rx 10 <&> tx 12' : ''));
  t.is(checkXml(svg), 'svg');
  for (const name of ['lanA', 'lanB', 'lanC', 'c1.eth0', 'vx1', 'web.eth0', 'evil.eth0', 'c1', 'web', 'l1', 'w1']) t.true(svg.includes(`>${name}<`), name);
  t.true(svg.includes('lanA→lanB: delay 20ms loss 1%'));
  t.true(svg.includes('lanB→lanA: rate 10mbit'));
  t.true(svg.includes('OVS _b_lanB'));
  t.true(svg.includes('[vxlan mirror m1 out → 192.0.2.7,192.0.2.8]'), 'the tunnel\'s remotes');
  t.true(svg.includes('rx 10 &lt;&amp;&gt; tx 12'));
  t.false(svg.includes('<script>'));
  t.true(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;co&apos;'));
  t.false(svg.includes('\u0001'));
  t.is(esc('a<b>&"c\'\u0000'), 'a&lt;b&gt;&amp;&quot;c&apos;');
  t.throws(() => checkXml('<svg><text>a < b</text></svg>'), { message: /bad tag name/ });
  t.throws(() => checkXml('<svg a="<"/>'), { message: /raw "<"/ });
  t.throws(() => checkXml('<svg><g></svg>'), { message: /closes nothing/ });
  t.throws(() => checkXml('<svg a="&x;"/>'), { message: /bad entity/ });
});

test('--serve takes [ADDR:]PORT; the server answers loopback host names only (without --public)', (t) => {
  t.deepEqual(listenAddress('8080'), { host: '127.0.0.1', port: 8080 });
  t.deepEqual(listenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  t.deepEqual(listenAddress('[::1]:9'), { host: '::1', port: 9 });
  t.deepEqual(listenAddress('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  for (const bad of ['', 'x', '70000', '1.2.3.4:', ':80', '::1:80']) t.throws(() => listenAddress(bad), { message: /\[ADDR:\]PORT/ }, bad);
  for (const ok of ['127.0.0.1:8080', 'localhost:1', '[::1]:80', '127.1.2.3']) t.true(loopbackHost(ok), ok);
  for (const no of [undefined, 'evil.example:8080', '10.0.0.1:80', '[::2]:80', '127.0.0.1.evil.com']) t.false(loopbackHost(no), String(no));
});
