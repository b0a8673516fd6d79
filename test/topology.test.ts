/**
 * Topology files without a daemon (src/topology/, docs/topology.md): the
 * validator's errors with line and column, the JSON Schema agreeing with it,
 * plans computed against made-up show replies (adds in dependency order, a
 * change in place, a node made again, removals, objects in the way), the
 * executor's rollback with a fake daemon, export read back, and conlink's
 * network file converted with what it ignores named by line; the lab files
 * of examples/ taken by both. No root.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';

import '../src/kinds/index.js';
import { A2B_DEFAULTS, type A2bSettings } from '../src/kinds/a2b/settings.js';
import { packageRoot } from '../src/native.js';
import { outcomeLines, runPlan, unknownVerbs } from '../src/topology/apply.js';
import { fromConlink } from '../src/topology/conlink.js';
import { chooseLab, exportLab } from '../src/topology/export.js';
import { PlanError, computePlan, destroyPlan } from '../src/topology/plan.js';
import { topologySchema } from '../src/topology/schema.js';
import { topologySections, type ShowEntry } from '../src/topology/section.js';
import type { Fields } from '../src/topology/spec.js';
import { TopologyError, parseTopology, type Topology } from '../src/topology/validate.js';

/** The topology files of the tests. */
const FIXTURES = path.join(packageRoot, 'test', 'fixtures', 'topology');

/** The text of fixture @name. */
function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** Topology @text (file "f.yaml"). */
function topo(text: string): Topology {
  return parseTopology(text, 'f.yaml');
}

/** The errors parseTopology gives for @text. */
function errorsOf(text: string, file = 'f.yaml'): string[] {
  try {
    parseTopology(text, file);
  } catch (e) {
    if (e instanceof TopologyError) return e.errors;
    throw e;
  }
  return [];
}

// ------------------------------------------------------------ show entries, as the daemon gives them

/** A lan's show entry. */
function lanShow(name: string, lab?: string, aging = 300, size = 8192): ShowEntry {
  return { name, kind: 'lan', ports: 0, macs: 0, aging, macTableSize: size, objectKind: 'lan', ...(lab ? { lab } : {}) };
}

/** An a2b's show entry. */
function a2bShow(name: string, lab: string, a: string, b: string, ab: Partial<A2bSettings> = {}): ShowEntry {
  return { name, kind: 'a2b', a2b: { a, b, a2b: { ...A2B_DEFAULTS, ...ab }, b2a: { ...A2B_DEFAULTS } }, created: '2026-01-01T00:00:00.000Z', objectKind: 'a2b', lab };
}

/** A host tap's show entry. */
function tapShow(name: string, lab: string, lan: string, addresses: string[]): ShowEntry {
  return { name, kind: 'port', type: 'tap', lan, ifname: name, addresses, mtu: null, mac: null, objectKind: 'tap', lab };
}

/** A node's show entry (the node kind's contract) and its interface's port. */
function nodeShow(name: string, lab: string, command: string[], lan: string): ShowEntry[] {
  return [
    { name: `${name}.eth0`, kind: 'port', type: 'tap', lan, ifname: 'eth0', nodeid: name, objectKind: 'fd', lab },
    { name, kind: 'node', pid: 4242, state: 'running', command, root: null, env: {}, interfaces: [{ ifname: 'eth0', lan, addrs: ['10.9.0.2/24'], mtu: 1500, mac: '02:00:00:00:00:02', port: `${name}.eth0` }], routes: [], objectKind: 'node', lab },
  ];
}

/** A lab of two lans, a link (delay 10 ms a to b), a tap and a node. */
const LAB = `name: lab1
lans:
  - name: lanA
  - name: lanB
links:
  - name: l1
    a: lanA
    b: lanB
    a2b: {delay: 10ms}
taps:
  - name: t1
    lan: lanA
    addrs: [10.9.0.1/24]
nodes:
  - name: n1
    command: [sleep, infinity]
    interfaces: [{lan: lanA, addrs: [10.9.0.2/24]}]
`;

/** What a daemon running LAB shows (with the default lan of its own). */
function labShow(): ShowEntry[] {
  return [
    lanShow('lan0'),
    lanShow('lanA', 'lab1'),
    lanShow('lanB', 'lab1'),
    tapShow('t1', 'lab1', 'lanA', ['10.9.0.1/24']),
    ...nodeShow('n1', 'lab1', ['sleep', 'infinity'], 'lanA'),
    a2bShow('l1', 'lab1', 'lanA', 'lanB', { delay: 10000 }),
  ];
}

// ------------------------------------------------------------ the validator

test('validator: the full example and a small one are taken, each entry canonical (units resolved, defaults filled)', (t) => {
  const full = topo(fixture('good-full.yaml'));
  t.is(full.name, 'full');
  t.deepEqual(
    full.entries.map((e) => `${e.section.key}:${e.name}`),
    ['lans:lanA', 'lans:lanB', 'links:l1', 'taps:t1', 'nats:out', 'phys:p1', 'tunnels:vx1', 'tunnels:c1', 'vhost:vm1', 'nodes:n1', 'nodes:n2', 'mirrors:m1'],
  );
  const l1 = full.entries.find((e) => e.name === 'l1')!.values;
  t.like(l1, { a: 'lanA', b: 'lanB', state: 'up', a2b: { rate: 10_000_000, delay: 20_000, jitter: 2000, distribution: 'normal', loss: 0.5 } });
  t.like(l1, { b2a: { 'loss-ge': { p: 1, r: 10, lossBad: 100, lossGood: 0 }, limit: 500, 'limit-bytes': 1 << 20, seed: 7 } });
  t.like(full.entries.find((e) => e.name === 'lanA')!.values, { aging: 300, 'mac-table-size': 8192, ovs: false });
  t.like(full.entries.find((e) => e.name === 'n1')!.values, { interfaces: [{ ifname: 'eth0', lan: 'lanA', addrs: ['10.9.0.2/24'] }] });
  t.is(topo(fixture('good-small.yaml')).entries.length, 2);
});

test('validator: structural mistakes are all reported, in file order, each at its line and column', (t) => {
  t.deepEqual(errorsOf(fixture('bad-structure.yaml'), 'bad-structure.yaml'), [
    'bad-structure.yaml:4:5: lans[0]: unknown field "agin" (known: name, aging, mac-table-size, ovs)',
    'bad-structure.yaml:6:12: lans[1].aging must be an integer from 1 to 1000000',
    'bad-structure.yaml:8:5: links[0]: "b" is missing (the lan on side B)',
    'bad-structure.yaml:10:12: links[0].state must be one of up, down',
    'bad-structure.yaml:14:12: taps[0].addrs must be a list',
    'bad-structure.yaml:15:1: unknown section "bogus" (known: name, lans, vhost, taps, nats, links, phys, mirrors, tunnels, nodes)',
  ]);
});

test("validator: values are checked by their kind's own rules (units, addresses, names), and a name is taken once", (t) => {
  const errors = errorsOf(fixture('bad-values.yaml'), 'bad-values.yaml');
  t.is(errors.length, 4, errors.join('\n'));
  t.regex(errors[0]!, /^bad-values\.yaml:8:18: links\[0\]\.a2b\.delay "10xs": delay: unknown unit "xs"/);
  t.regex(errors[1]!, /^bad-values\.yaml:10:5: tap averyveryverylongtapname: add-tap: "name" averyveryverylongtapname must fit a device name/);
  t.regex(errors[2]!, /^bad-values\.yaml:14:13: taps\[1\]\.addrs\[0\] "10\.9\.0\.1": .*must be an address with its prefix length/);
  t.regex(errors[3]!, /^bad-values\.yaml:15:5: taps\[2\]: the name "l1" is taken already \(line 5\)/);
});

test('validator: not YAML, not a mapping, no name, a section not a list, a c2c with a vni, a vxlan without', (t) => {
  t.regex(errorsOf('name: [x\n')[0]!, /^f\.yaml:\d+:\d+: YAML: /);
  t.regex(errorsOf('- a\n')[0]!, /^f\.yaml:1:1: a topology file is a mapping/);
  t.regex(errorsOf('lans: []\n')[0]!, /^f\.yaml:1:1: "name" is missing/);
  t.regex(errorsOf('name: x\nlans: {a: 1}\n')[0]!, /^f\.yaml:2:7: "lans" must be a list of lans/);
  t.regex(errorsOf('name: x\ntunnels:\n  - {name: c, type: c2c, lan: a, vni: 3}\n')[0]!, /^f\.yaml:3:5: tunnel c: a c2c takes no "vni"/);
  t.regex(errorsOf('name: x\ntunnels:\n  - {name: v, type: vxlan, lan: a}\n')[0]!, /^f\.yaml:3:5: tunnel v: a vxlan needs a "vni"/);
  t.regex(errorsOf('name: x\nnodes:\n  - {name: n, command: [], interfaces: [{lan: a}]}\n')[0]!, /^f\.yaml:3:24: nodes\[0\]\.command must have at least 1 item/);
});

// ------------------------------------------------------------ the JSON Schema

/** A tiny JSON Schema checker (the keywords topology.schema.json uses): the
 *  paths where @v breaks @s. */
function schemaErrors(s: Record<string, unknown>, v: unknown, at = '$'): string[] {
  const types = ([] as string[]).concat((s.type as string | string[] | undefined) ?? []);
  const typeOf = (x: unknown) => (Array.isArray(x) ? 'array' : x === null ? 'null' : Number.isInteger(x) ? 'integer' : typeof x);
  if (types.length && !types.some((ty) => ty === typeOf(v) || (ty === 'number' && typeOf(v) === 'integer'))) return [`${at}: type`];
  const out: string[] = [];
  if (s.enum && !(s.enum as unknown[]).includes(v)) out.push(`${at}: enum`);
  if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(v as string)) out.push(`${at}: pattern`);
  if (typeof s.minimum === 'number' && (v as number) < s.minimum) out.push(`${at}: minimum`);
  if (typeof s.maximum === 'number' && (v as number) > s.maximum) out.push(`${at}: maximum`);
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) out.push(`${at}: minItems`);
    if (s.items) v.forEach((x, i) => out.push(...schemaErrors(s.items as Record<string, unknown>, x, `${at}[${i}]`)));
  } else if (typeof v === 'object' && v !== null) {
    const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in v)) out.push(`${at}.${r}: required`);
    for (const [k, x] of Object.entries(v)) {
      if (props[k]) out.push(...schemaErrors(props[k]!, x, `${at}.${k}`));
      else if (s.additionalProperties === false) out.push(`${at}.${k}: additionalProperties`);
      else if (typeof s.additionalProperties === 'object') out.push(...schemaErrors(s.additionalProperties as Record<string, unknown>, x, `${at}.${k}`));
    }
  }
  return out;
}

test('schema: docs/topology.schema.json is the one made from the validator\'s specs (regenerate: containet export --schema)', (t) => {
  const file = JSON.parse(readFileSync(path.join(packageRoot, 'docs', 'topology.schema.json'), 'utf8'));
  t.deepEqual(file, JSON.parse(JSON.stringify(topologySchema())));
});

test('schema and validator agree: both take the good files, both refuse each structural mistake', (t) => {
  const schema = topologySchema();
  for (const good of ['good-full.yaml', 'good-small.yaml']) {
    t.deepEqual(schemaErrors(schema, parseYaml(fixture(good))), [], good);
    t.deepEqual(errorsOf(fixture(good)), [], good);
  }
  const base = 'name: x\nlans:\n  - name: a\n';
  for (const bad of [
    'lans:\n  - name: a\n',
    `${base}    agin: 3\n`,
    `${base}    aging: 0\n`,
    `${base}    aging: 2.5\n`,
    `${base}    ovs: "yes"\n`,
    `${base}links:\n  - {name: l, a: a}\n`,
    `${base}links:\n  - {name: l, a: a, b: b, state: sideways}\n`,
    `${base}links:\n  - {name: l, a: a, b: b, a2b: {delay: [1]}}\n`,
    `${base}links:\n  - {name: l, a: a, b: b, a2b: {lag: 1}}\n`,
    `${base}taps:\n  - {name: t, lan: a, addrs: 10.0.0.1/24}\n`,
    `${base}nodes:\n  - {name: n, command: []}\n`,
    `${base}nodes:\n  - {name: n, command: [sh], env: {A: 1}}\n`,
    `${base}mirrors:\n  - {name: m, select: [p], to: q, dir: sideways}\n`,
    `${base}extra: 1\n`,
    `name: "-x"\n`,
  ]) {
    t.true(schemaErrors(schema, parseYaml(bad)).length > 0, `the schema takes:\n${bad}`);
    t.true(errorsOf(bad).length > 0, `the validator takes:\n${bad}`);
  }
});

test('examples/: every lab file names the schema for editors, and both the schema and the validator take it', (t) => {
  const dir = path.join(packageRoot, 'examples');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort();
  t.deepEqual(files, ['demo.yaml', 'nat-lab.yaml', 'three-site/site-a.yaml', 'three-site/site-b.yaml', 'three-site/site-c.yaml']);
  const schema = topologySchema();
  for (const f of files) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    const ref = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
    t.is(ref && path.resolve(dir, path.dirname(f), ref), path.join(packageRoot, 'docs', 'topology.schema.json'), `${f}: its schema line`);
    t.deepEqual(schemaErrors(schema, parseYaml(text)), [], f);
    t.deepEqual(errorsOf(text, f), [], f);
  }
});

// ------------------------------------------------------------ plans

test('plan: on an empty daemon, everything is added, each object after what it is on (lans, ports and links, nodes in order, mirrors last)', (t) => {
  const p = computePlan(topo(fixture('good-full.yaml')), [lanShow('lan0')]);
  t.true(p.steps.every((s) => s.op === '+'));
  const order = p.steps.map((s) => s.name);
  t.deepEqual(order.slice(0, 2), ['lanA', 'lanB']);
  t.is(order.at(-1), 'm1');
  t.true(order.indexOf('n1') < order.indexOf('n2'));
  t.deepEqual(p.steps[0]!.requests, [{ 'add-lan': { name: 'lanA', aging: 300, 'mac-table-size': 8192 } }]);
  t.deepEqual(p.steps.find((s) => s.name === 'l1')!.requests, [
    { 'add-a2b': { name: 'l1', a: 'lanA', b: 'lanB' } },
    { set: { name: 'l1', dir: 'a2b', rate: 10_000_000, delay: 20_000, jitter: 2000, distribution: 'normal', loss: 0.5 } },
    { set: { name: 'l1', dir: 'b2a', delay: 20_000, 'loss-ge': '1,10,100,0', limit: 500, 'limit-bytes': 1 << 20, seed: 7 } },
  ]);
  t.deepEqual(p.steps.find((s) => s.name === 'n2')!.requests, [
    { 'add-node': { name: 'n2', command: ['/bin/sleep', 'infinity'], root: '/', interfaces: [{ ifname: 'eth0', lan: 'lanB', addrs: ['10.0.3.20/24'], mtu: 1400 }] } },
  ]);
});

test('plan: nodes start in file order unless wait-for says otherwise; a cycle of waits is refused', (t) => {
  /** Two nodes, with what each adds to its entry (@w1, @w2). */
  const file = (w1: string, w2: string) =>
    `name: w\nlans:\n  - name: a\nnodes:\n  - {name: n1, command: [x], interfaces: [{lan: a}]${w1}}\n  - {name: n2, command: [x], interfaces: [{lan: a}]${w2}}\n`;
  t.deepEqual(computePlan(topo(file('', '')), []).steps.map((s) => s.name), ['a', 'n1', 'n2']);
  t.deepEqual(computePlan(topo(file(', wait-for: [n2]', '')), []).steps.map((s) => s.name), ['a', 'n2', 'n1']);
  const e = t.throws(() => computePlan(topo(file(', wait-for: [n2]', ', wait-for: [n1]')), []), { instanceOf: PlanError });
  t.regex(e!.message, /f\.yaml:5:5: node n1: waits for a, n2, in a cycle/);
});

test('plan: a running lab as the file says needs nothing; its default lan and the node\'s own port are left alone', (t) => {
  t.deepEqual(computePlan(topo(LAB), labShow()).steps, []);
});

test("plan: a link's delay changed is one change in place, a set of that direction and field only, undone by setting it back", (t) => {
  const p = computePlan(topo(LAB.replace('delay: 10ms', 'delay: 20ms')), labShow());
  t.deepEqual(p.steps.map((s) => s.text), ['~ link l1: a2b.delay 10ms -> 20ms']);
  t.deepEqual(p.steps[0]!.requests, [{ set: { name: 'l1', dir: 'a2b', delay: 20_000 } }]);
  t.deepEqual(p.steps[0]!.undo, [{ set: { name: 'l1', dir: 'a2b', delay: 10_000 } }]);
  const down = computePlan(topo(LAB.replace('a2b: {delay: 10ms}', 'a2b: {delay: 10ms}\n    state: down')), labShow());
  t.deepEqual(down.steps.map((s) => s.text), ['~ link l1: state up -> down']);
  t.deepEqual(down.steps[0]!.requests, [{ set: { name: 'l1', state: 'down' } }]);
});

test("plan: a node's command changed makes that node again, and only it", (t) => {
  const p = computePlan(topo(LAB.replace('command: [sleep, infinity]', 'command: [sleep, "99"]')), labShow());
  t.deepEqual(p.steps.map((s) => `${s.op} ${s.name}`), ['- n1', '+ n1']);
  t.regex(p.steps[0]!.text, /^- node n1 \(to be made again: command .*sleep.*infinity.* -> .*99/);
});

test('plan: what the file no longer has is removed (dependents first); a lan made again takes what is on it along', (t) => {
  const p = computePlan(topo('name: lab1\nlans:\n  - name: lanA\ntaps:\n  - {name: t1, lan: lanA, addrs: [10.9.0.1/24]}\n'), labShow());
  t.deepEqual(p.steps.map((s) => s.text), ['- node n1', '- link l1', '- lan lanB']);
  t.deepEqual(p.steps[2]!.undo, [{ 'add-lan': { name: 'lanB', aging: 300, 'mac-table-size': 8192 } }]);
  const ovs = computePlan(topo('name: lab1\nlans:\n  - {name: lanA, ovs: true}\ntaps:\n  - {name: t1, lan: lanA, addrs: [10.9.0.1/24]}\n'), labShow());
  t.deepEqual(ovs.steps.map((s) => `${s.op} ${s.name}`), ['- n1', '- l1', '- t1', '- lanB', '- lanA', '+ lanA', '+ t1']);
  t.deepEqual(destroyPlan('lab1', labShow()).steps.map((s) => `${s.op} ${s.name}`), ['- n1', '- l1', '- t1', '- lanB', '- lanA']);
});

test("plan: another's object of a name the file gives, and a lan neither the file nor the daemon has, are refused with the entry's place", (t) => {
  const e = t.throws(() => computePlan(topo(LAB), [lanShow('lanA')]), { instanceOf: PlanError });
  t.regex(e!.message, /^f\.yaml:3:5: lan lanA: an object of that name runs already and is not this lab's \(it was not made by apply\)/);
  const other = t.throws(() => computePlan(topo(LAB), [lanShow('lanB', 'lab2')]), { instanceOf: PlanError });
  t.regex(other!.message, /lan lanB: .*it is lab lab2's/);
  const missing = t.throws(() => computePlan(topo('name: x\ntaps:\n  - {name: t1, lan: lanZ}\n'), [lanShow('lan0')]), { instanceOf: PlanError });
  t.is(missing!.message, 'f.yaml:3:5: tap t1: needs lanZ, which is neither in the file nor in the daemon');
  // A lan of the daemon's own (lan0) may be used; it stays its.
  t.deepEqual(computePlan(topo('name: x\ntaps:\n  - {name: t1, lan: lan0}\n'), [lanShow('lan0')]).steps.map((s) => s.text), ['+ tap t1']);
});

// ------------------------------------------------------------ the executor

test('apply: a failed step is undone (its own half too), then the steps before it, last first; each request carries the lab', async (t) => {
  const p = computePlan(topo(LAB.replace('delay: 10ms', 'delay: 20ms').replace('lanB', 'lanC').replace('b: lanB', 'b: lanC')), labShow());
  t.deepEqual(p.steps.map((s) => s.text), ['- link l1 (to be made again: b lanB -> lanC, a2b.delay 10ms -> 20ms)', '- lan lanB', '+ lan lanC', '+ link l1 (again)']);
  const sent: Record<string, unknown>[] = [];
  const send = async (req: Record<string, unknown>) => {
    sent.push(req);
    if ('set' in req && (req.set as { delay?: number }).delay === 20_000) throw new Error('no buffers');
    return {};
  };
  const o = await runPlan(p, send);
  t.false(o.ok);
  t.is(o.failed?.step.name, 'l1');
  t.deepEqual(o.left, []);
  t.true(sent.every((r) => r.lab === 'lab1'));
  t.deepEqual(
    sent.map((r) => Object.keys(r).find((k) => k !== 'lab') + ' ' + String((Object.values(r)[0] as { name: string }).name)),
    ['del l1', 'del lanB', 'add-lan lanC', 'add-a2b l1', 'set l1', 'del l1', 'del lanC', 'add-lan lanB', 'add-a2b l1', 'set l1'],
  );
  t.deepEqual(outcomeLines(o), ['failed: + link l1 (again): no buffers', 'rolled back: 3 steps undone; the daemon is as it was before this apply']);
});

test('apply: what cannot be undone is said, step by step', async (t) => {
  const p = computePlan(topo('name: lab1\nlans:\n  - name: a\n  - name: b\n'), []);
  const o = await runPlan(p, async (req) => {
    if ('add-lan' in req && (req['add-lan'] as { name: string }).name === 'b') throw new Error('out of memory');
    if ('del' in req) throw new Error('lan a is busy');
    return {};
  });
  t.deepEqual(outcomeLines(o), [
    'failed: + lan b: out of memory',
    'rolled back where it could (0 steps undone); left as it is now:',
    '  + lan a: undoing it failed: lan a is busy',
  ]);
});

test("apply: the verbs a plan needs that the daemon's version reply does not list are named with their steps, before anything is sent", async (t) => {
  const p = computePlan(topo(LAB), []);
  const sent: unknown[] = [];
  const send = async (req: Record<string, unknown>) => {
    sent.push(req);
    return { version: '1', verbs: ['add-lan', 'add-a2b', 'add-tap', 'set', 'del', 'show', 'version'] };
  };
  t.deepEqual(await unknownVerbs(p, send), ['this containet has no "add-node" (needed by: + node n1)']);
  t.deepEqual(sent, [{ version: {} }]);
  t.deepEqual(await unknownVerbs(p, async () => ({ version: '0' })), [], 'a daemon that lists no verbs is not judged');
});

// ------------------------------------------------------------ export

test('export: a running lab written as a file reads back as the same lab (no plan), units for people, defaults left out', (t) => {
  const text = exportLab(labShow(), chooseLab(labShow(), undefined));
  t.regex(text, /delay: 10ms/);
  t.notRegex(text, /aging|lan0|n1\.eth0/);
  const again = parseTopology(text, 'export.yaml');
  t.deepEqual(computePlan(again, labShow()).steps, []);
  t.throws(() => chooseLab([lanShow('a', 'x'), lanShow('b', 'y')], undefined), { message: /several labs run in this daemon \(x, y\): name one with --lab/ });
  t.throws(() => chooseLab([lanShow('lan0')], undefined), { message: /no lab runs in this daemon/ });
});

// ------------------------------------------------------------ conlink

test("conlink: bridges, veth links, netem, routes, tunnels and commands map; what does not is named with its line", (t) => {
  const c = fromConlink(fixture('conlink.yaml'), 'conlink.yaml', 'cl');
  t.deepEqual(c.ignored, [
    'conlink.yaml:4: ignored: bridge s2 mode "patch" (a plain lan is made)',
    'conlink.yaml:11: ignored: netem option "slot 10ms" of h2 eth0',
    'conlink.yaml:12: ignored: link "forward" of h2',
    'conlink.yaml:13: ignored: link of type vlan of h3 (only veth links map: an interface on a lan)',
    'conlink.yaml:7: note: h2 has no command in the file; its node runs "sleep infinity" (conlink joins containers it does not start)',
  ]);
  const t2 = parseTopology(stringify(c.doc), 'converted');
  t.is(t2.name, 'cl');
  t.deepEqual(t2.entries.map((e) => `${e.section.key}:${e.name}`), ['lans:s1', 'lans:s2', 'lans:h2-eth0', 'links:h2-eth0-link', 'tunnels:vxlan-s2-1000', 'nodes:h1', 'nodes:h2']);
  t.like(t2.entries.find((e) => e.name === 'h2-eth0-link')!.values, { a: 'h2-eth0', b: 's1', a2b: { delay: 40_000, jitter: 5000, loss: 2 } });
  t.like(t2.entries.find((e) => e.name === 'h1')!.values, { command: ['sh', '-c', 'ip addr'], interfaces: [{ ifname: 'eth0', lan: 's1', addrs: ['10.70.0.1/24'], mtu: 1500, mac: '02:00:00:70:00:01' }] });
  t.like(t2.entries.find((e) => e.name === 'h2')!.values, { routes: [{ dst: 'default', via: '10.70.0.254' }], interfaces: [{ ifname: 'eth0', lan: 'h2-eth0' }, { ifname: 'eth1', lan: 's2' }] });
  const bad = t.throws(() => fromConlink('links:\n  - {bridge: s1}\n', 'c.yaml', 'x'), { instanceOf: TopologyError });
  t.is(bad!.message, 'c.yaml:2:5: a veth link needs a "service" or "container" and a "bridge"');
});

test('docs/topology.md has a section for every topology section, with a row for each of its fields', (t) => {
  const doc = readFileSync(path.join(packageRoot, 'docs', 'topology.md'), 'utf8');
  for (const s of topologySections()) {
    const at = doc.indexOf(`### \`${s.key}\``);
    t.true(at >= 0, `no section ${s.key}`);
    const next = doc.indexOf('\n## ', at);
    const part = doc.slice(at, next < 0 ? undefined : next);
    const rows = (fields: Fields, prefix: string): string[] =>
      Object.entries(fields).flatMap(([k, f]) => [`| \`${prefix}${k}\``, ...(f.type === 'list' && f.items.type === 'object' ? rows(f.items.fields, `${prefix}${k}[].`) : []), ...(f.type === 'object' ? rows(f.fields, '') : [])]);
    for (const r of rows(s.fields, '')) t.true(part.includes(r), `docs/topology.md: ${s.key} has no row ${r}`);
  }
});
