/**
 * The example labs of examples/ (examples/README.md), each applied to real
 * daemons with `containet apply` as a user runs it, checked, and destroyed:
 * the original demo (two nodes on the default lan ping each other); the NAT
 * lab (the far node pings the nat's gateway and fetches a file from the
 * daemon's loopback across the 20 ms link, its round trip at least the sum of
 * the link's two delays as show gives them); the three-site VXLAN lab on
 * three daemons in three namespaces joined by exactly the underlay the files
 * name (192.168.77.1-3 on a bridge), every node pinging the others. Then a
 * link's state in the file: the NAT lab applied with its link down (pings
 * across fail, show says admin down), applied again up (one change in place,
 * `~ link`, pings cross again), and a shell script that flaps it three times
 * by applying the file, pinging across after each apply.
 *
 * Every daemon runs in a network namespace of the test's; all traffic stays
 * in namespaces the test made (the nat's "host" is the daemon's namespace,
 * its loopback served by a server the test starts there). Every wait polls
 * for a condition with a generous deadline; delays are asserted as lower
 * bounds only.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../src/native.js';
import { cliWords, collectOutput, netns, rootTest, run, startDaemon, stopChild, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { nsExec, underlay } from './helpers/tunnel.js';
import { ok, show, stable, type Shown } from './helpers/lab.js';

/** The examples' directory. */
const EXAMPLES = path.join(packageRoot, 'examples');

/** The path of example file @rel. */
const example = (rel: string) => path.join(EXAMPLES, rel);

/** The object @name of daemon @d, throwing when there is none. */
async function shownAs(d: TestDaemon, name: string): Promise<Shown> {
  const o = (await show(d)).find((x) => x.name === name);
  if (!o) throw new Error(`daemon shows no ${name}`);
  return o;
}

/** `containet exec NODE -- ...args` on @d (never throws). */
function execIn(d: TestDaemon, node: string, ...args: string[]) {
  return d.cli('exec', node, '--', ...args);
}

/** Wait (up to 60 s: ARP, a tunnel's learning, a busy machine) until node
 *  @node of @d gets an answer to a ping of @to. */
async function pingUntil(d: TestDaemon, node: string, to: string): Promise<void> {
  let last = '';
  await waitFor(`${node} to ping ${to}`, async () => {
    const r = await execIn(d, node, 'ping', '-c', '1', '-W', '2', to);
    last = `${r.stdout}${r.stderr}`;
    return r.exitCode === 0;
  }, 60000).catch((e: Error) => {
    throw new Error(`${e.message}: ${last}`);
  });
}

/** The smallest round trip, ms, of 3 pings from node @node of @d to @to (all answered). */
async function minRtt(d: TestDaemon, node: string, to: string): Promise<number> {
  const r = await execIn(d, node, 'ping', '-c', '3', '-i', '0.2', '-W', '5', to);
  const m = /= ([\d.]+)\//.exec(r.stdout);
  if (r.exitCode !== 0 || !m) throw new Error(`ping ${to} from ${node} failed (${r.exitCode}): ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** Received of @count pings from @node of @d to @to, one second each. */
async function received(d: TestDaemon, node: string, to: string, count = 3): Promise<number> {
  const r = await execIn(d, node, 'ping', '-c', String(count), '-i', '0.3', '-W', '1', to);
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  if (!m) throw new Error(`no ping summary from ${node}: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** The pids of the nodes (their containodes) of lab @lab on @d. */
async function nodePids(d: TestDaemon, lab: string): Promise<number[]> {
  return (await show(d)).filter((o) => o.lab === lab && o.objectKind === 'node').map((o) => Number(o.pid));
}

/** Is process @pid gone (or a zombie)? */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Destroy the lab of @file on @d and check that nothing of lab @lab is left:
 *  the daemon shows what it showed @before, and the nodes' containodes are gone. */
async function destroyed(t: ExecutionContext, d: TestDaemon, file: string, lab: string, before: Shown[]): Promise<void> {
  const pids = await nodePids(d, lab);
  t.regex(await ok(d, 'destroy', file), new RegExp(`lab ${lab}: done$`));
  const after = await show(d);
  t.false(after.some((o) => o.lab === lab), `nothing of ${lab} in show`);
  t.deepEqual(after.map(stable), before.map(stable), 'the daemon is as before the apply');
  await waitFor(`the containodes of ${lab} (${pids.join(', ')}) to end`, () => pids.every(gone), 15000);
  t.regex(await ok(d, 'destroy', file), /nothing to remove/);
}

/** A daemon in a network namespace of the test's own (its loopback up: a nat's host side). */
async function labDaemon(t: ExecutionContext): Promise<{ ns: string; d: TestDaemon }> {
  const ns = await netns(t, 'ex');
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return { ns, d: await startDaemon(t, { netns: ns }) };
}

rootTest('examples/demo.yaml: the original demo as a lab: two nodes on the default lan ping each other; destroy leaves nothing', async (t) => {
  t.timeout(180000);
  const { d } = await labDaemon(t);
  const before = await show(d);
  const file = example('demo.yaml');
  t.is(await ok(d, 'apply', file), 'lab demo: 2 steps\n+ node demo1\n+ node demo2\nlab demo: done');
  t.like(await shownAs(d, 'demo1'), { lab: 'demo', state: 'running', interfaces: [{ lan: 'lan0', addrs: ['10.0.0.1/24'] }] });
  await pingUntil(d, 'demo1', '10.0.0.2');
  await pingUntil(d, 'demo2', '10.0.0.1');
  t.is(await received(d, 'demo1', '10.0.0.2'), 3, 'demo1 pings demo2');
  t.regex(await ok(d, 'apply', file), /nothing to change/);
  await destroyed(t, d, file, 'demo', before);
});

/** Delays of link @name as show gives them, both directions added up, ms. */
async function roundTripDelay(d: TestDaemon, name: string): Promise<number> {
  const l = (await shownAs(d, name)).a2b as { a2b: { delay: number }; b2a: { delay: number } };
  return (l.a2b.delay + l.b2a.delay) / 1000;
}

/**
 * A file server (python3 http.server) on 127.0.0.1 of namespace @ns, the
 * nat's host side, serving a file of random text; stopped by pid at
 * teardown. Its port, and the file's name and text.
 */
async function loopbackServer(t: ExecutionContext, ns: string): Promise<{ port: number; name: string; text: string }> {
  const dir = tempDir(t);
  const text = randomBytes(16).toString('hex');
  writeFileSync(path.join(dir, 'token.txt'), text);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const srv = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(srv);
  t.teardown(() => stopChild(srv));
  await out.until('the file server to listen', async () => (await nsExec(ns, ['ss', '-Hltn', `src 127.0.0.1:${port}`])).stdout.includes(`:${port}`), 30000);
  return { port, name: 'token.txt', text };
}

rootTest("examples/nat-lab.yaml: the far node reaches the nat's gateway and the host's loopback across the 20 ms link, the round trip at least both delays; destroy leaves nothing", async (t) => {
  t.timeout(240000);
  const { ns, d } = await labDaemon(t);
  const before = await show(d);
  const file = example('nat-lab.yaml');
  t.is(await ok(d, 'apply', file), 'lab natlab: 6 steps\n+ lan near\n+ lan far\n+ link wan\n+ nat out\n+ node near1\n+ node far1\nlab natlab: done');
  t.like(await shownAs(d, 'wan'), { lab: 'natlab', admin: 'up', a2b: { a: 'near', b: 'far', a2b: { rate: 10_000_000, delay: 20_000 }, b2a: { rate: 10_000_000, delay: 20_000 } } });
  const rtt = await roundTripDelay(d, 'wan');
  t.is(rtt, 40, 'the file says 20 ms each way');
  await pingUntil(d, 'near1', '10.0.2.2');
  await pingUntil(d, 'far1', '10.0.2.2');
  const toGateway = await minRtt(d, 'far1', '10.0.2.2');
  t.true(toGateway >= rtt, `far1 to the nat's gateway across the link: ${toGateway} ms >= ${rtt} ms`);
  const toNear = await minRtt(d, 'far1', '10.0.2.15');
  t.true(toNear >= rtt, `far1 to near1 across the link: ${toNear} ms >= ${rtt} ms`);
  t.log(`round trips across the link: to the gateway ${toGateway} ms, to near1 ${toNear} ms (link delays ${rtt} ms)`);

  // The host's loopback through the gateway (host-loopback), from the far lan.
  const srv = await loopbackServer(t, ns);
  const got = await execIn(d, 'far1', 'busybox', 'wget', '-q', '-O', '-', `http://10.0.2.2:${srv.port}/${srv.name}`);
  t.is(got.exitCode, 0, got.stderr);
  t.is(got.stdout, srv.text, "far1 fetched the file from the daemon's 127.0.0.1 through the nat");

  t.regex(await ok(d, 'apply', file), /nothing to change/);
  await destroyed(t, d, file, 'natlab', before);
});

rootTest('examples/three-site: three daemons joined by the underlay the files name (192.168.77.1-3), each applies its site; every node pings the others over VXLAN; destroy leaves nothing', async (t) => {
  t.timeout(300000);
  const { hosts } = await underlay(t, 3, { net4: '192.168.77' });
  const sites = ['a', 'b', 'c'] as const;
  const ds: TestDaemon[] = [];
  const befores: Shown[][] = [];
  for (const [i, s] of sites.entries()) {
    t.is(hosts[i]!.v4, `192.168.77.${i + 1}`, `site ${s}'s host has the address its file names`);
    const d = await startDaemon(t, { netns: hosts[i]!.ns });
    befores.push(await show(d));
    const out = await ok(d, 'apply', example(`three-site/site-${s}.yaml`));
    t.is(out, `lab site-${s}: 3 steps\n+ lan overlay\n+ tunnel vx-${s}\n+ node node-${s}\nlab site-${s}: done`);
    t.like(await shownAs(d, `vx-${s}`), { objectKind: 'vxlan', lab: `site-${s}`, vni: 7700, local: `192.168.77.${i + 1}` });
    ds.push(d);
  }
  for (const [i, s] of sites.entries()) {
    for (const j of [0, 1, 2].filter((x) => x !== i)) {
      await pingUntil(ds[i]!, `node-${s}`, `10.77.0.${j + 1}`);
      t.is(await received(ds[i]!, `node-${s}`, `10.77.0.${j + 1}`), 3, `node-${s} pings node-${sites[j]}`);
    }
  }
  for (const [i, s] of sites.entries()) await destroyed(t, ds[i]!, example(`three-site/site-${s}.yaml`), `site-${s}`, befores[i]!);
});

/** examples/nat-lab.yaml with its link's state @state, written in @dir; its path. */
function natLab(dir: string, state: 'up' | 'down'): string {
  const text = readFileSync(example('nat-lab.yaml'), 'utf8');
  const lines = text.match(/^ {4}state: up\b/gm) ?? [];
  if (lines.length !== 1) throw new Error(`examples/nat-lab.yaml has ${lines.length} link states "state: up", not 1`);
  const p = path.join(dir, `nat-lab-${state}.yaml`);
  writeFileSync(p, text.replace(/^ {4}state: up\b/m, `    state: ${state}`));
  return p;
}

/** A failure test's flap loop: @rounds times, apply the file with the link
 *  down (a ping across must fail), then up (a ping across must get through
 *  within 60 s). $CONTAINET is the CLI with its socket; $1 and $2 the files. */
const FLAP = `#!/bin/sh
set -e
for i in $(seq "$3"); do
  $CONTAINET apply "$1"
  if $CONTAINET exec far1 -- ping -c 2 -W 1 -q 10.0.2.2 >/dev/null; then echo "round $i: a ping crossed the link while it was down"; exit 1; fi
  echo "round $i: down, no ping across"
  $CONTAINET apply "$2"
  n=0
  until $CONTAINET exec far1 -- ping -c 1 -W 2 -q 10.0.2.2 >/dev/null; do
    n=$((n + 1)); if [ $n -ge 30 ]; then echo "round $i: no ping across the link once up"; exit 1; fi
  done
  echo "round $i: up, pings across"
done
`;

rootTest("link state in the file: the nat lab applied with its link down (no ping across, show says admin down), applied up (~ link in place, pings cross), flapped three times by a script", async (t) => {
  t.timeout(300000);
  const { d } = await labDaemon(t);
  const before = await show(d);
  const dir = tempDir(t);
  const down = natLab(dir, 'down');
  const up = natLab(dir, 'up');
  t.regex(await ok(d, 'apply', down), /\n\+ link wan\n/);
  const made = await shownAs(d, 'wan');
  t.is(made.admin, 'down', 'show: the link is down');
  t.regex(await ok(d, 'show'), /^wan\s.*down \(admin\)$/m, "the CLI's STATE column");
  await pingUntil(d, 'near1', '10.0.2.2'); // the nat answers on its own lan: only the link is down
  t.is(await received(d, 'far1', '10.0.2.2'), 0, 'no ping crosses a link that is down');
  t.is(await received(d, 'far1', '10.0.2.15'), 0, 'nor reaches the node on the other side');
  t.regex(await ok(d, 'apply', down), /nothing to change/, 'down applied again: nothing to do');

  t.is(await ok(d, 'apply', '--dry-run', up), 'lab natlab: 1 step (dry run: nothing is changed)\n~ link wan: state down -> up');
  t.is((await shownAs(d, 'wan')).admin, 'down', 'a dry run changes nothing');
  t.is(await ok(d, 'apply', up), 'lab natlab: 1 step\n~ link wan: state down -> up\nlab natlab: done');
  const upNow = await shownAs(d, 'wan');
  t.is(upNow.admin, 'up');
  t.is(upNow.created, made.created, 'the same a2b: changed in place');
  await pingUntil(d, 'far1', '10.0.2.2');
  t.true((await minRtt(d, 'far1', '10.0.2.2')) >= (await roundTripDelay(d, 'wan')), 'across the link again, with its delay');

  // The flap loop, from a shell script, as a failure test would run it.
  const script = path.join(dir, 'flap.sh');
  writeFileSync(script, FLAP, { mode: 0o755 });
  const r = await execa('sh', [script, down, up, '3'], { reject: false, all: true, timeout: 240000, env: { CONTAINET: cliWords(d) } });
  t.is(r.exitCode, 0, r.all);
  const all = r.all ?? '';
  t.is(all.match(/^~ link wan: state up -> down$/gm)?.length, 3, all);
  t.is(all.match(/^~ link wan: state down -> up$/gm)?.length, 3, all);
  t.is(all.match(/^round \d: down, no ping across$/gm)?.length, 3, all);
  t.is(all.match(/^round \d: up, pings across$/gm)?.length, 3, all);
  t.notRegex(all, /^[+-] /m, 'nothing made or removed: only changes in place');
  t.like(await shownAs(d, 'wan'), { admin: 'up', created: made.created });
  await destroyed(t, d, up, 'natlab', before);
});
