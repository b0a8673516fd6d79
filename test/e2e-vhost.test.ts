/**
 * vhost-user ports end to end, with real peers: DPDK testpmd as a virtio_user
 * frontend (containet as server, and as a reconnecting client) exchanging
 * traffic with a containode container; a QEMU guest pinging a container and
 * sending it a file checked by sha256; frontends that misbehave, which must be
 * disconnected with the reason while the rest of the switch forwards on.
 */
import type { ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../src/native.js';
import { inNetns, rootTest, startDaemon, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer } from './helpers/containers.js';
import { buildInitramfs, guestScripts, peerTest, qemuGuest, testpmd } from './helpers/peers.js';
import { RECEIVER, tapPort } from './helpers/traffic.js';

/** Text of file @p, '' while it is not there. */
function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** The port named @name as `show` has it. */
async function shown(d: TestDaemon, name: string): Promise<{ state: string; offloads: string[]; type: string }> {
  const r = (await d.request({ show: {} })) as { objects: { name: string; state: string; offloads: string[]; type: string }[] };
  const o = r.objects.find((x) => x.name === name);
  if (!o) throw new Error(`no port ${name}`);
  return o;
}

/** Counters of port @name. */
async function counters(d: TestDaemon, name: string) {
  const r = (await d.request({ stats: { name } })) as { ports: { rxPackets: number; txPackets: number; drops: Record<string, number> }[] };
  return r.ports[0]!;
}

/** A daemon with a vhost-user port "vh" (server at a temp path, or client). */
async function vhostDaemon(t: ExecutionContext, client = false) {
  const d = await startDaemon(t);
  const sock = path.join(tempDir(t), 'vh.sock');
  const r = await d.cli('add', 'vhost', 'vh', '--socket', sock, ...(client ? ['--client'] : []));
  t.is(r.exitCode, 0, r.stderr);
  return { d, sock };
}

/** A container at 10.30.0.1 pings testpmd's icmpecho (any address answers ARP) through port vh. */
async function pingTestpmd(t: ExecutionContext, d: TestDaemon, label: string) {
  const c = await shellContainer(t, d, '10.30.0.1/24');
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.30.0.99'), 0, `${label}: ${c.c.output()}`);
  const st = await counters(d, 'vh');
  t.true(st.rxPackets >= 3 && st.txPackets >= 3, `${label}: ${JSON.stringify(st)}`);
  return c;
}

peerTest('testpmd as a virtio_user client of a containet vhost server: a container pings through it, both ways', ['testpmd'], async (t) => {
  const { d, sock } = await vhostDaemon(t);
  t.regex((await shown(d, 'vh')).state, /listening/);
  const pmd = await testpmd(t, { socket: sock, mode: 'icmpecho' });
  await pmd.ready;
  await waitFor('the frontend to connect', async () => /connected/.test((await shown(d, 'vh')).state));
  await pingTestpmd(t, d, 'server mode');
  const st = await pmd.stats();
  t.true(st.rxPackets >= 3 && st.txPackets >= 3, `testpmd counted ${JSON.stringify(st)}`);
  // The frontend goes away and another comes: the port takes it, no restart.
  await pmd.stop();
  await waitFor('the port to notice', async () => /listening/.test((await shown(d, 'vh')).state));
  const again = await testpmd(t, { socket: sock, mode: 'icmpecho' });
  await again.ready;
  const c = await shellContainer(t, d, '10.30.0.2/24');
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.30.0.98'), 0, c.c.output());
});

peerTest('testpmd as a virtio_user server, containet the client: it connects, and reconnects when testpmd restarts', ['testpmd'], async (t) => {
  const { d, sock } = await vhostDaemon(t, true);
  await waitFor('a retry state', async () => /client, connecting/.test((await shown(d, 'vh')).state));
  const pmd = await testpmd(t, { socket: sock, server: true, mode: 'icmpecho' });
  await pmd.ready;
  // containet retries with a backoff of up to 5 s: give it a few tries.
  await waitFor('containet to connect', async () => /client, connected/.test((await shown(d, 'vh')).state), 30000);
  await pingTestpmd(t, d, 'client mode');
  await pmd.stop();
  await waitFor('the port to notice', async () => /reconnecting|connecting/.test((await shown(d, 'vh')).state));
  const again = await testpmd(t, { socket: sock, server: true, mode: 'icmpecho' });
  await again.ready;
  await waitFor('containet to reconnect', async () => /client, connected/.test((await shown(d, 'vh')).state), 30000);
  const c = await shellContainer(t, d, '10.30.0.3/24');
  t.is(await shell(c.c, 'ping -c 3 -W 5 10.30.0.97'), 0, c.c.output());
});

peerTest('testpmd with 2 queue pairs (MQ negotiated): a container pings through it, both ways', ['testpmd'], async (t) => {
  const { d, sock } = await vhostDaemon(t);
  const pmd = await testpmd(t, { socket: sock, mode: 'icmpecho', queues: 2 });
  await pmd.ready;
  await pingTestpmd(t, d, '2 queue pairs');
  const st = await pmd.stats();
  t.true(st.rxPackets >= 3 && st.txPackets >= 3, `testpmd counted ${JSON.stringify(st)}`);
});

peerTest('testpmd txonly floods a container through containet; the container counts the frames', ['testpmd'], async (t) => {
  const { d, sock } = await vhostDaemon(t);
  const tap = await tapPort(t, d, { framing: 'vnet', ipv4: '10.31.0.1' });
  const mac = (await inNetns(tap.ns, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
  const pmd = await testpmd(t, { socket: sock, mode: 'txonly', ethPeer: mac, txpkts: 64, autoStart: false });
  await pmd.ready;
  const rx0 = Number((await inNetns(tap.ns, ['cat', '/sys/class/net/eth0/statistics/rx_packets'])).stdout);
  await pmd.start();
  await new Promise((r) => setTimeout(r, 2000));
  await pmd.stopForwarding();
  const sent = (await pmd.stats()).txPackets;
  // What testpmd sent last may still be in the ring: wait for containet to
  // have taken it all in (not a fixed 300 ms: a busy machine takes longer);
  // the exact count is asserted below.
  await waitFor('containet to take in every frame testpmd sent', async () => (await counters(d, 'vh')).rxPackets >= sent, 30000).catch(() => undefined);
  const rx = Number((await inNetns(tap.ns, ['cat', '/sys/class/net/eth0/statistics/rx_packets'])).stdout) - rx0;
  const st = await counters(d, 'vh');
  t.true(sent > 1000, `testpmd sent ${sent}`);
  t.is(st.rxPackets, sent, 'containet took in every frame testpmd sent');
  const out = await counters(d, tap.name);
  t.true(rx > 0 && rx <= out.txPackets, `the container got ${rx} of the ${out.txPackets} written to its tap`);
  t.log(`testpmd sent ${sent} frames in 2 s; containet wrote ${out.txPackets} to the tap (drops ${JSON.stringify(out.drops)})`);
});

for (const plain of [false, true]) {
  const how = plain ? 'without mrg_rxbuf, checksum or TSO offloads (segmented in software)' : 'with mrg_rxbuf, checksum and TSO offloads';
  peerTest(`a QEMU guest ${how} pings a container and exchanges files with it both ways, intact`, ['qemu'], async (t) => {
  const { d, sock } = await vhostDaemon(t);
  const c = await shellContainer(t, d, '10.32.0.1/24');
  const bytes = 4 << 20;
  const dir = tempDir(t);
  const rx = path.join(dir, 'receiver.py');
  const sum = path.join(dir, 'got.sum');
  const out = path.join(dir, 'out.bin');
  writeFileSync(rx, RECEIVER);
  // The receiver prints "ready" (once it listens), then the sha256 and length of what came.
  t.is(await shell(c.c, `python3 ${rx} 10.32.0.1 5555 > ${sum} & true`), 0);
  await waitFor('the receiver in the container to listen', () => readText(sum).startsWith('ready\n'), 60000);
  const initrd = buildInitramfs(tempDir(t), {
    ip: '10.32.0.2/24',
    script: [
      'ping -c 3 -W 5 10.32.0.1 && echo "@@RESULT@@ ping ok"',
      guestScripts.tcpSend('10.32.0.1', 5555, bytes),
      // The guest's kernel still sends what nc left in its socket: wait.
      'sleep 5',
      guestScripts.tcpReceive(6000),
    ].join('\n'),
  });
  const vm = qemuGuest(t, { socket: sock, initrd, ...(plain ? { tso: false, csum: false, mrgRxbuf: false, ufo: false } : {}) });
  await vm.waitFor('@@RESULT@@ ping ok', 120000);
  const show = await shown(d, 'vh');
  t.is(show.offloads.includes('csum'), !plain, `offloads the guest took: ${JSON.stringify(show)}`);
  t.is(show.offloads.includes('tso'), !plain);
  const [sentHash, sentLen] = (await vm.waitFor('@@RESULT@@ sent', 120000)).trim().split(/\s+/);
  t.is(Number(sentLen), bytes);
  const line = await waitFor('the container to hash what came', () => /^ready\n(.+)\n/.exec(readText(sum))?.[1], 60000);
  t.is(line, `${sentHash} ${bytes}`, 'sha256 and length of what the container got from the guest');
  // And the other way: the container sends, the guest hashes.
  await vm.waitFor('@@RESULT@@ listening 6000', 60000);
  t.is(await shell(c.c, `head -c ${bytes} /dev/urandom > ${out} && busybox nc 10.32.0.2 6000 < ${out}`, 60000), 0);
  const [recvHash, recvLen] = (await vm.waitFor('@@RESULT@@ recv', 120000)).trim().split(/\s+/);
  t.is(Number(recvLen), bytes, 'bytes the guest got from the container');
  const local = await shell(c.c, `sha256sum ${out} | grep -q ${recvHash}`);
  t.is(local, 0, 'sha256 of what the guest got');
  t.log(`vh ${JSON.stringify(await counters(d, 'vh'))}`);
});
}

for (const [mode, reason] of [
  ['loop', /looped descriptor chain/],
  ['outside', /outside guest memory/],
  ['bigregion', /does not fit its fd/],
  ['garbage', /payload too large/],
] as const) {
  rootTest(`a hostile vhost-user frontend (${mode}) is disconnected with the reason; the switch forwards on`, async (t) => {
    const { d, sock } = await vhostDaemon(t);
    const a = await tapPort(t, d, { framing: 'vnet', ipv4: '10.33.0.1' });
    await tapPort(t, d, { framing: 'pi', ipv4: '10.33.0.2' });
    const fixture = path.join(packageRoot, 'test', 'fixtures', 'vhost_hostile.py');
    const { execa } = await import('execa');
    const r = await execa('python3', [fixture, sock, mode], { reject: false, timeout: 30000 });
    t.is(r.stdout.trim(), 'closed', `the backend hung up on it: ${r.stderr}`);
    await waitFor('the reason in the port state', async () => reason.test((await shown(d, 'vh')).state), 5000).catch(() => undefined);
    t.regex((await shown(d, 'vh')).state, reason);
    t.regex(await d.logged(reason), reason, 'and in the log');
    t.regex((await shown(d, 'vh')).state, /listening/, 'the port waits for the next frontend');
    const ping = await inNetns(a.ns, ['ping', '-c', '2', '-W', '5', '10.33.0.2']);
    t.is(ping.exitCode, 0, 'the other ports forward on');
  });
}
