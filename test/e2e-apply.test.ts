/**
 * Topology files on a real daemon (docs/topology.md): `containet apply` makes a
 * lab of two lans, an a2b link with delay between them, a host tap and a nat;
 * a containode container on one lan pings the tap across the link and the
 * nat's gateway. Then: the link's delay changed and applied again is one
 * change in place (the a2b keeps its creation time, a ping stream across it
 * loses nothing, the round trip grows); --dry-run changes nothing; a failing
 * step (a phy on an interface that does not exist) is rolled back; a destroy
 * that cannot finish (a container still on a lan) is rolled back; export,
 * destroy, apply of the export give the same lab; destroy leaves the daemon
 * as before; bad files are refused with line and column; a daemon restarted
 * with --state knows its lab; conlink's bridges and tunnels are made, what does
 * not map is named by line. The daemon runs in a
 * network namespace of the test's, so its tap is not the host's. Tests of
 * nodes run once the daemon has the node kind (add-node).
 */
import type { ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import '../src/kinds/index.js';
import { verbNamed } from '../src/kinds/registry.js';
import { shell, shellContainer } from './helpers/containers.js';
import { ok, show, stable, type Shown } from './helpers/lab.js';
import { containerInitPid, inContainer, isRoot, netns, rootTest, run, startDaemon, stopChild, tempDir, uniqueName } from './helpers/env.js';
import anyTest, { type TestFn } from 'ava';

/** The lab file's text, with link delay @delay each way and the nat's forwards @forwards. */
function labFile(lab: string, delay: string, forwards: string[]): string {
  return `name: ${lab}
lans:
  - name: lanA
  - name: lanB
    aging: 60
links:
  - name: l1
    a: lanA
    b: lanB
    a2b: {delay: ${delay}}
    b2a: {delay: ${delay}}
taps:
  - name: t1
    lan: lanB
    addrs: [10.77.0.1/24]
    mac: 02:00:00:77:00:01
nats:
  - name: n1
    lan: lanA
    net: 10.78.0.0/24
    forwards: [${forwards.join(', ')}]
`;
}

/** Write @text to file @name in @dir; its path. */
function write(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Transmitted and received of ping's summary in @out. */
function pingCounts(out: string): { sent: number; got: number } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  if (!m) throw new Error(`no ping summary in: ${out}`);
  return { sent: Number(m[1]), got: Number(m[2]) };
}

/** The smallest round trip of @count pings from container @pid to @to, ms. */
async function minRtt(pid: number, to: string, count = 3): Promise<number> {
  const r = await inContainer(pid, ['ping', '-c', String(count), '-i', '0.2', '-W', '5', to], 60000);
  const m = /= ([\d.]+)\//.exec(r.stdout);
  if (r.exitCode !== 0 || !m) throw new Error(`ping ${to} failed (${r.exitCode}): ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** A daemon in a namespace of its own, the lab applied, and a container at
 *  10.77.0.2/24 (and 10.78.0.50/24, for the nat) on lanA. */
async function setup(t: ExecutionContext) {
  const ns = await netns(t, 'ap');
  // The nat's forwards listen on the namespace's loopback.
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const d = await startDaemon(t, { netns: ns });
  const dir = tempDir(t);
  const lab = uniqueName('lab');
  const before = await show(d);
  const file = write(dir, 'lab.yaml', labFile(lab, '10ms', ['tcp:127.0.0.1:18080:10.78.0.50:80']));
  const out = await ok(d, 'apply', file);
  t.regex(out, /\+ lan lanA\n\+ lan lanB\n/, 'lans first');
  t.regex(out, /\+ link l1\n/);
  t.regex(out, /: done$/);
  const c = await shellContainer(t, d, '10.77.0.2/24', ['-l', 'lanA']);
  const pid = await containerInitPid(c.c);
  return { ns, d, dir, lab, before, file, c, pid };
}

rootTest('apply: a lab of lans, a link with delay, a tap and a nat; ping across; a delay change is made in place without a loss; dry run, rollback, destroy', async (t) => {
  const { d, dir, lab, before, file, c, pid } = await setup(t);
  const objs = await show(d);
  t.deepEqual(
    objs.filter((o) => o.lab === lab).map((o) => `${String(o.objectKind)} ${o.name}`),
    ['lan lanA', 'lan lanB', 'tap t1', 'nat n1', 'a2b l1'],
    "show marks the lab's objects",
  );
  t.is(objs.find((o) => o.name === 'lan0')?.lab, undefined, "the default lan is not the lab's");
  t.true((await minRtt(pid, '10.77.0.1')) >= 20, 'the ping crosses the link: 10 ms each way');
  t.is(await shell(c.c, 'ip addr add 10.78.0.50/24 dev eth0 && ping -c 1 -W 5 10.78.0.2 > /dev/null'), 0, "the nat's gateway answers");
  t.regex(await ok(d, 'apply', file), /nothing to change/, 'applied again: nothing to do');

  // The delay changed: one change in place.
  const created = objs.find((o) => o.name === 'l1')!.created;
  const slower = write(dir, 'slower.yaml', labFile(lab, '30ms', ['tcp:127.0.0.1:18081:10.78.0.50:80']));
  const dry = await ok(d, 'apply', '--dry-run', slower);
  t.is(
    dry,
    `lab ${lab}: 2 steps (dry run: nothing is changed)\n~ link l1: a2b.delay 10ms -> 30ms, b2a.delay 10ms -> 30ms\n~ nat n1: forwards [tcp:127.0.0.1:18080:10.78.0.50:80] -> [tcp:127.0.0.1:18081:10.78.0.50:80]`,
  );
  t.deepEqual((await show(d)).map(stable), objs.map(stable), 'a dry run changes nothing');
  const stream = inContainer(pid, ['ping', '-c', '80', '-i', '0.05', '-W', '5', '10.77.0.1'], 90000);
  await new Promise((r) => setTimeout(r, 1000));
  const out = await ok(d, 'apply', slower);
  t.regex(out, /~ link l1: a2b\.delay 10ms -> 30ms, b2a\.delay 10ms -> 30ms\n/);
  t.notRegex(out, /^[+-] /m, 'nothing is removed or added');
  const counts = pingCounts((await stream).stdout);
  t.is(counts.got, counts.sent, 'the ping stream across the link lost nothing while its delay changed');
  const after = await show(d);
  t.is(after.find((o) => o.name === 'l1')!.created, created, 'the same a2b: changed in place');
  t.like(after.find((o) => o.name === 'n1'), { nat: { forwards: ['tcp:127.0.0.1:18081:10.78.0.50:80'] } });
  t.true((await minRtt(pid, '10.77.0.1')) >= 60, '30 ms each way now');

  // A step that fails is rolled back: the lan made before it goes again.
  const shown = (await show(d)).map(stable);
  const failing = write(
    dir,
    'failing.yaml',
    labFile(lab, '30ms', ['tcp:127.0.0.1:18081:10.78.0.50:80']).replace('lans:\n', 'lans:\n  - name: lanX\n') + 'phys:\n  - name: p1\n    ifname: nosuchnic0\n    lan: lanX\n',
  );
  const bad = await d.cli('apply', failing);
  t.is(bad.exitCode, 1, bad.stdout);
  t.regex(bad.stdout, /\+ lan lanX\n\+ phy p1$/);
  t.regex(bad.stderr, /failed: \+ phy p1: .*nosuchnic0/);
  t.regex(bad.stderr, /rolled back: \d+ steps? undone; the daemon is as it was before this apply/);
  t.deepEqual((await show(d)).map(stable), shown, 'as it was');

  // A destroy that cannot finish (the container is still on lanA) is rolled back too.
  const stuck = await d.cli('destroy', file);
  t.is(stuck.exitCode, 1);
  t.regex(stuck.stderr, /failed: - lan lanA: .*still has 1 port/);
  t.deepEqual((await show(d)).map((o) => o.name).sort(), shown.map((o) => String(o.name)).sort(), 'every object is there again');
  // (The tap made again has its MAC from the file: the container's neighbour
  // entry still holds; else its pings would flood lanA and the nat there would
  // answer them for the host, without the link.)
  t.true((await minRtt(pid, '10.77.0.1')) >= 60, 'the link made again has its delay');

  await stopChild(c.c.child);
  await ok(d, 'destroy', file);
  t.deepEqual((await show(d)).map(stable), before.map(stable), 'destroy leaves the daemon as it was before the apply');
  t.regex(await ok(d, 'destroy', file), /nothing to remove/);
});

rootTest('apply: export, destroy, apply of the export give the same lab', async (t) => {
  const ns = await netns(t, 'ap');
  const d = await startDaemon(t, { netns: ns });
  const dir = tempDir(t);
  const lab = uniqueName('lab');
  const file = write(dir, 'lab.yaml', labFile(lab, '15ms', []).replace('b2a: {delay: 15ms}', 'b2a: {rate: 20mbit, loss: 1%, seed: 3}\n    state: up'));
  await ok(d, 'apply', file);
  const first = await show(d);
  const exported = await ok(d, 'export');
  t.regex(exported, new RegExp(`^name: ${lab}\n`));
  const again = write(dir, 'export.yaml', exported);
  await ok(d, 'destroy', again);
  t.false((await show(d)).some((o) => o.lab === lab), 'destroyed');
  await ok(d, 'apply', again);
  const second = await show(d);
  /** What must be the same (creation times and owners differ). */
  const same = (objs: Shown[]) => objs.map((o) => ({ ...stable(o), created: undefined, owner: undefined }));
  t.deepEqual(same(second), same(first), 'the same objects with the same settings');
  t.is(await ok(d, 'export'), exported, 'and the same export');
  await ok(d, 'destroy', again);
});

rootTest('apply: bad files are refused with every mistake at its line and column, and nothing is made (nor when the daemon lacks a verb the file needs)', async (t) => {
  const ns = await netns(t, 'ap');
  const d = await startDaemon(t, { netns: ns });
  const dir = tempDir(t);
  const before = await show(d);
  const file = write(dir, 'bad.yaml', 'name: x\nlans:\n  - name: lanA\n    agin: 3\nlinks:\n  - {name: l1, a: lanA, b: lan0, a2b: {delay: 5 parsecs}}\n');
  const r = await d.cli('apply', file);
  t.is(r.exitCode, 1);
  t.is(r.stderr, `containet: ${file}:4:5: lans[0]: unknown field "agin" (known: name, aging, mac-table-size, ovs)\ncontainet: ${file}:6:47: links[0].a2b.delay "5 parsecs": delay: unknown unit "parsecs" (us, ms, s)`);
  const clash = write(dir, 'clash.yaml', 'name: x\nlans:\n  - name: lan0\n');
  const c = await d.cli('apply', clash);
  t.is(c.exitCode, 1);
  t.regex(c.stderr, /clash\.yaml:3:5: lan lan0: an object of that name runs already and is not this lab's/);
  if (!verbNamed('add-node')) {
    const nodes = write(dir, 'nodes.yaml', 'name: x\nlans:\n  - name: lanN\nnodes:\n  - {name: n1, command: [sleep, "9"], interfaces: [{lan: lanN}]}\n');
    const n = await d.cli('apply', nodes);
    t.is(n.exitCode, 1);
    t.is(n.stderr, 'containet: this containet has no "add-node" (needed by: + node n1)\ncontainet: nothing was changed');
  }
  t.deepEqual((await show(d)).map(stable), before.map(stable));
});

rootTest('apply: with --state, a restarted daemon knows its lab: applied again, nothing to change; destroy removes it', async (t) => {
  const ns = await netns(t, 'ap');
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const dir = tempDir(t);
  const sock = path.join(dir, 'switch.sock');
  const state = path.join(dir, 'state.json');
  const lab = uniqueName('lab');
  const file = write(dir, 'lab.yaml', labFile(lab, '5ms', ['tcp:127.0.0.1:18082:10.78.0.50:80']));
  const d1 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  await ok(d1, 'apply', file);
  const before = (await show(d1)).map(stable);
  await stopChild(d1.child);
  const d2 = await startDaemon(t, { netns: ns, sock, args: ['--state', state] });
  t.regex(await d2.logged(/restored \d+ of/), /restored 6 of 6 objects/);
  t.deepEqual((await show(d2)).map(stable), before, 'the same objects, each of the lab');
  t.regex(await ok(d2, 'apply', file), /nothing to change/);
  await ok(d2, 'destroy', file);
  t.false((await show(d2)).some((o) => o.lab === lab));
});

rootTest("apply --from conlink: bridges and a tunnel of conlink's network file are made, what does not map is named by line; destroy --from conlink removes them", async (t) => {
  const ns = await netns(t, 'ap');
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const d = await startDaemon(t, { netns: ns });
  const dir = tempDir(t);
  const before = await show(d);
  const file = write(
    dir,
    'net.yaml',
    'bridges:\n  - {bridge: cl1, mode: auto}\n  - {bridge: cl2, mode: patch}\ntunnels:\n  - {type: vxlan, bridge: cl1, remote: 127.0.0.1, vni: 4242, netem: "delay 5ms"}\n',
  );
  const r = await d.cli('apply', '--from', 'conlink', file);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stderr, `${file}:3: ignored: bridge cl2 mode "patch" (a plain lan is made)\n${file}:5: ignored: tunnel cl1 netem (a tunnel port is not shaped; put a link before its lan)`);
  t.regex(r.stdout, /^lab net: 3 steps\n\+ lan cl1\n\+ lan cl2\n\+ tunnel vxlan-cl1-4242\n/);
  t.like((await show(d)).find((o) => o.name === 'vxlan-cl1-4242'), { objectKind: 'vxlan', lab: 'net', lan: 'cl1', vni: 4242, remotes: ['127.0.0.1'] });
  t.regex(await ok(d, 'apply', '--from', 'conlink', file), /nothing to change/);
  await ok(d, 'destroy', '--from', 'conlink', file);
  t.deepEqual((await show(d)).map(stable), before.map(stable));
});

/** Tests that need the node kind: run once the daemon has add-node. */
const nodeTest: (title: string, fn: (t: ExecutionContext) => Promise<void>) => void =
  isRoot && verbNamed('add-node')
    ? rootTest
    : (title, fn) => (anyTest as TestFn).skip(`${title} [skipped: ${isRoot ? 'this containet has no node kind (add-node) yet' : 'needs root'}]`, fn);

nodeTest("apply: nodes on lans ping each other; a node's command changed restarts that node only", async (t) => {
  const ns = await netns(t, 'ap');
  const d = await startDaemon(t, { netns: ns });
  const dir = tempDir(t);
  const lab = uniqueName('lab');
  /** The lab, n2 running sleep @cmd2. */
  const nodes = (cmd2: string) => `name: ${lab}
lans:
  - name: lanA
  - name: lanB
links:
  - {name: l1, a: lanA, b: lanB, a2b: {delay: 5ms}}
nodes:
  - name: n1
    command: [sleep, infinity]
    interfaces: [{lan: lanA, addrs: [10.79.0.1/24]}]
  - name: n2
    command: [sleep, "${cmd2}"]
    wait-for: [n1]
    interfaces: [{lan: lanB, addrs: [10.79.0.2/24]}]
`;
  const file = write(dir, 'nodes.yaml', nodes('100000'));
  t.regex(await ok(d, 'apply', file), /\+ node n1\n\+ node n2\n/);
  const pidOf = async (n: string, field: 'pid' | 'initPid' = 'pid') => Number((await show(d)).find((o) => o.name === n)?.[field]);
  const p1 = await pidOf('n1');
  t.true(p1 > 0);
  // From inside n1 (its init's namespaces; its containode is in the daemon's).
  t.true((await minRtt(await pidOf('n1', 'initPid'), '10.79.0.2')) >= 5, 'n1 pings n2 across the link (5 ms one way)');
  const changed = write(dir, 'changed.yaml', nodes('200000'));
  const out = await ok(d, 'apply', changed);
  t.regex(out, /- node n2 \(to be made again: command .*\)\n\+ node n2 \(again\)\n/);
  t.notRegex(out, /n1|lan|link/);
  t.is(await pidOf('n1'), p1, 'n1 kept running');
  t.deepEqual((await show(d)).find((o) => o.name === 'n2')?.command, ['sleep', '200000']);
  await ok(d, 'destroy', changed);
  t.false((await show(d)).some((o) => o.lab === lab));
});
