/**
 * End to end, as root: the original containet demo (two containers on one
 * switch ping each other, both ways), lan isolation between containers, port
 * removal when a container ends, and a client speaking the original protocol
 * with taps of every framing the test made itself.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import type { ExecutionContext } from 'ava';

import { native, packageRoot } from '../src/native.js';
import { collectOutput, inNetns, netns, rootTest, startDaemon, stopChild, uniqueName, waitFor } from './helpers/env.js';
import { portNames, shell, shellContainer } from './helpers/containers.js';

rootTest('the demo: two containers on one switch ping each other, both ways, and leave no port', async (t) => {
  const d = await startDaemon(t);
  const a = await shellContainer(t, d, '10.0.0.2/24');
  const b = await shellContainer(t, d, '10.0.0.1/24');

  t.is(await shell(b.c, 'ping -c 3 -W 5 10.0.0.2'), 0, b.c.output());
  t.is(await shell(a.c, 'ping -c 3 -W 5 10.0.0.1'), 0, a.c.output());
  // Frames far above 1500 bytes cross whole (the taps' MTU is 64000).
  t.is(await shell(a.c, 'ping -c 2 -W 5 -s 30000 10.0.0.1'), 0, a.c.output());
  t.is(await shell(b.c, 'hostname'), 0);
  t.regex(b.c.stdout(), new RegExp(`^${b.id}$`, 'm'), b.c.output());

  const stats = (await d.request({ stats: { name: `${a.id}.eth0` } })) as { ports: { rxPackets: number; txPackets: number }[] };
  t.true(stats.ports[0]!.rxPackets >= 5 && stats.ports[0]!.txPackets >= 5, JSON.stringify(stats));

  a.c.child.stdin!.end('exit 0\n');
  t.is(await a.c.exited, 0);
  await waitFor('the first port to go', async () => !(await portNames(d)).includes(`${a.id}.eth0`));
  b.c.child.stdin!.end('exit 3\n');
  t.is(await b.c.exited, 3, 'containode exits with its program status');
  await waitFor('every port to go', async () => (await portNames(d)).length === 0);
});

rootTest('three containers on one lan reach each other and not the one on another lan', async (t) => {
  const d = await startDaemon(t);
  const r = await d.cli('add', 'lan', 'blue');
  t.is(r.exitCode, 0, r.stderr);
  const red = await Promise.all(['10.1.0.1/24', '10.1.0.2/24', '10.1.0.3/24'].map((a) => shellContainer(t, d, a)));
  const blue = await shellContainer(t, d, '10.1.0.4/24', ['-l', 'blue']);

  t.is(await shell(red[0]!.c, 'ping -c 2 -W 5 10.1.0.2 && ping -c 2 -W 5 10.1.0.3'), 0, red[0]!.c.output());
  t.is(await shell(red[2]!.c, 'ping -c 2 -W 5 10.1.0.1'), 0, red[2]!.c.output());
  t.not(await shell(red[1]!.c, 'ping -c 2 -W 2 10.1.0.4'), 0, 'a container on another lan must not answer');
  t.not(await shell(blue.c, 'ping -c 2 -W 2 10.1.0.1'), 0, 'nor be reached from it');

  const show = (await d.request({ show: {} })) as { objects: { kind: string; name: string; lan?: string }[] };
  const lanOf = (id: string) => show.objects.find((o) => o.name === `${id}.eth0`)?.lan;
  t.is(lanOf(blue.id), 'blue');
  t.is(lanOf(red[1]!.id), 'lan0');
  // The blue port never saw the red containers' ARP broadcasts.
  const st = (await d.request({ stats: { name: `${blue.id}.eth0` } })) as { ports: { txPackets: number }[] };
  t.is(st.ports[0]!.txPackets, 0, 'nothing from lan0 reached the blue port');
});

rootTest('a container killed with SIGKILL has its port removed', async (t) => {
  const d = await startDaemon(t);
  const a = await shellContainer(t, d, '10.2.0.1/24');
  process.kill(a.c.pid, 'SIGKILL');
  await a.c.exited;
  // containode could not say remove-etherfd: the daemon notices the container's
  // init is gone (pidfd) or the tap vanished with its namespace.
  await waitFor('the port to go', async () => !(await portNames(d)).includes(`${a.id}.eth0`), 20000);
  const port = new RegExp(`${a.id}\\.eth0`);
  t.regex(await d.logged(port), port);
});

/** Make a tap of the given framing in a fresh netns, with an address. */
async function tapInNetns(t: ExecutionContext, ip: string, framing: 'pi' | 'plain' | 'vnet') {
  const ns = await netns(t);
  const fd = native().tapCreate({
    netns: `/run/netns/${ns}`,
    ifname: 'eth0',
    packetInfo: framing === 'pi',
    vnetHdr: framing === 'vnet',
    ipv4: ip,
    prefix: 24,
    mtu: 64000,
    loUp: true,
  });
  return { ns, fd };
}

rootTest('an original containet client attaches packet-info, plain and vnet taps unchanged', async (t) => {
  const token = 'original-token';
  const d = await startDaemon(t, { authtoken: token });
  const framings = ['pi', 'plain', 'vnet'] as const;
  const nodes: { ns: string; id: string; ip: string }[] = [];
  for (const [i, framing] of framings.entries()) {
    const ip = `10.3.0.${i + 1}`;
    const { ns, fd } = await tapInNetns(t, ip, framing);
    const id = uniqueName('orig');
    // Byte for byte what the original client sends: no trailing byte, one fd.
    const reply = await native().request(
      d.sock,
      `{"authtoken":"${token}","add-etherfd":{"ifname":"eth0","nodeid":"${id}"}}`,
      fd,
      5000,
    );
    native().closeFd(fd);
    t.is(reply, '{}');
    nodes.push({ ns, id, ip });
  }
  const show = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  const port = (id: string) => show.objects.find((o) => o.name === `${id}.eth0`)!;
  t.is(port(nodes[0]!.id).packetInfo, true);
  t.is(port(nodes[1]!.id).packetInfo, false);
  t.is(port(nodes[1]!.id).vnetHdr, false);
  t.is(port(nodes[2]!.id).vnetHdr, true);

  for (const from of nodes)
    for (const to of nodes) {
      if (from === to) continue;
      const r = await inNetns(from.ns, ['ping', '-c', '2', '-W', '5', '-s', '20000', to.ip]);
      t.is(r.exitCode, 0, `${from.ip} -> ${to.ip}: ${r.stdout}${r.stderr}`);
    }

  // The original client's goodbye, without an fd.
  const bye = await native().request(d.sock, `{"authtoken":"${token}","remove-etherfd":{"nodeid":"${nodes[0]!.id}"}}`, -1, 5000);
  t.is(bye, '{}');
  t.false((await portNames(d)).includes(`${nodes[0]!.id}.eth0`));
  const bad = await native().request(d.sock, `{"authtoken":"wrong","remove-etherfd":{"nodeid":"${nodes[1]!.id}"}}`, -1, 5000);
  t.regex(bad, /"error":".*token/i);
});

rootTest('an original client that exits without remove-etherfd leaves no port; one that asked to keep its port keeps it', async (t) => {
  const d = await startDaemon(t);
  const ns = await netns(t);
  const client = path.join(packageRoot, 'test', 'fixtures', 'original_client.py');
  // Two clients at once in one namespace: one as the original sends (no pid:
  // the port goes with the client), one asking to keep its port.
  const clients = [
    { id: uniqueName('orig'), ifname: 'eth0', extra: [] as string[] },
    { id: uniqueName('keep'), ifname: 'eth1', extra: ['{"keep":true}'] },
  ].map((c) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', client, d.sock, c.id, c.ifname, ...c.extra], { stdio: ['pipe', 'pipe', 'pipe'] });
    t.teardown(() => stopChild(child));
    return { ...c, name: `${c.id}.${c.ifname}`, child, out: collectOutput(child) };
  });
  for (const c of clients) t.is((await c.out.untilStdout(`${c.name}'s reply`, (o) => /^\{.*\}$/m.exec(o)?.[0]))!, '{}', c.out.output());
  const shown = async () => ((await d.request({ show: {} })) as { objects: { name: string; pid: number | null }[] }).objects;
  const before = await shown();
  t.is(before.find((o) => o.name === clients[0]!.name)?.pid, clients[0]!.child.pid, 'tied to its client process');
  t.is(before.find((o) => o.name === clients[1]!.name)?.pid, null, 'kept: tied to no process');
  // Both clients exit, without a goodbye.
  for (const c of clients) c.child.stdin!.end();
  for (const c of clients) t.is(await c.out.closed, 0, c.out.output());
  await waitFor(`${clients[0]!.name} to go`, async () => !(await portNames(d)).includes(clients[0]!.name), 30000);
  t.regex(await d.logged(new RegExp(`port ${clients[0]!.name.replace('.', '\\.')} removed from lan0: owner process exited`)), /owner process exited/);
  // The kept one stayed through the same exit (nothing watches it).
  t.true((await portNames(d)).includes(clients[1]!.name), 'the kept port stays');
  const kept = await inNetns(ns, ['ip', 'link', 'show', 'eth1']);
  t.is(kept.exitCode, 0, 'its tap is still there (the daemon holds it)');
  const gone = await inNetns(ns, ['ip', 'link', 'show', 'eth0']);
  t.not(gone.exitCode, 0, 'the other tap went with its port');
  await d.request({ del: { name: clients[1]!.name } });
  t.false((await portNames(d)).includes(clients[1]!.name));
});
