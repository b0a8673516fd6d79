/**
 * The real-peer harness (helpers/peers.ts) checked against DPDK's own vhost-user
 * backend (testpmd with net_vhost vdevs), not containet's: testpmd frontends
 * (client and server mode) exchange frames through it, and QEMU guests booted
 * on the tiny initramfs ping it (icmpecho) and move a TCP stream through it.
 * When these pass, a failure of the same peers against containet is
 * containet's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';

import { tempDir, waitFor } from './helpers/env.js';
import {
  buildInitramfs,
  dpdkVhostBackend,
  guestScripts,
  MARK,
  moduleLoadOrder,
  parseVirtioFeatures,
  findGuestKernel,
  peerTest,
  qemuGuest,
  testpmd,
  testpmdAnswer,
  type PortStats,
  type Testpmd,
} from './helpers/peers.js';

/** Log how long the test has run, with @what. */
function stamp(t: ExecutionContext, t0: number, what: string): void {
  t.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
}

/** Wait until @pmd's port @port has received at least @n packets; returns its counters. */
async function waitRx(pmd: Testpmd, n: number, port?: number, timeoutMs = 20000): Promise<PortStats> {
  return waitFor<PortStats | undefined>(`${n} packets received by testpmd ${pmd.prefix}`, async () => {
    const s = await pmd.stats(port);
    return s.rxPackets >= n ? s : undefined;
  }, timeoutMs) as Promise<PortStats>;
}

test('testpmd answers are read up to the prompt, with the event notices of its interrupt thread cut out of the prompt and the echo', (t) => {
  t.is(testpmdAnswer('Configuring Port 0 (socket 0)\nChecking link statuses...\nDone\ntestpmd'), undefined, 'no prompt yet');
  t.is(testpmdAnswer('Done\ntestpmd> '), 'Done\n');
  // Prompt and echo are written a character at a time; an event notice (one write) may come between two of them.
  t.is(testpmdAnswer('Done\ntest\nPort 0: queue state event\npmd> '), 'Done\n', 'a notice inside the prompt');
  t.is(testpmdAnswer('Done\ntestpmd>\nPort 0: link state change event\n '), 'Done\n', 'a notice before its last character');
  const stats = 'show port stats all\r\n\n  RX-packets: 5          RX-missed: 0\ntestpmd> ';
  t.is(testpmdAnswer(stats, 'show port stats all'), '\r\n\n  RX-packets: 5          RX-missed: 0\n');
  t.is(testpmdAnswer('sho\nPort 1: queue state event\nw port stats all\r\n  RX-packets: 5\n\nPort 1: queue state event\ntestpmd> ', 'show port stats all'), '\r\n  RX-packets: 5\n', 'notices in the echo and the answer');
  t.is(testpmdAnswer('start\r\nPort 0: 52:54:00:12:34:56\ntestpmd> ', 'start'), '\r\nPort 0: 52:54:00:12:34:56\n', 'a port line is not a notice');
});

peerTest('testpmd txonly frontend -> DPDK vhost backend (io) -> testpmd rxonly frontend; frontends started first wait for the backend', ['testpmd'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const a = path.join(dir, 'a.sock');
  const b = path.join(dir, 'b.sock');
  // Client-mode frontends started before the backend exists: testpmd() waits and retries.
  const rxP = testpmd(t, { socket: b, mode: 'rxonly', mac: '02:00:00:00:00:0b' });
  const txP = testpmd(t, { socket: a, mode: 'txonly', txpkts: 64, ethPeer: '02:00:00:00:00:0b', mac: '02:00:00:00:00:0a' });
  await new Promise((r) => setTimeout(r, 1000));
  const backend = await dpdkVhostBackend(t, { sockets: [a, b], mode: 'io' });
  stamp(t, t0, `backend up: ${backend.argv.join(' ')}`);
  const rx = await rxP;
  const tx = await txP;
  stamp(t, t0, `frontends up: ${tx.argv.join(' ')}`);
  await tx.waitLinkUp(0);
  await waitRx(rx, 10000);
  // Counters are read while the forwarding lcore updates them: quiesce before comparing.
  await tx.stopForwarding();
  await rx.stopForwarding();
  const got = await rx.stats(0);
  stamp(t, t0, `rx frontend got ${got.rxPackets} packets, ${got.rxBytes} bytes`);
  t.is(got.rxBytes, got.rxPackets * 64, '--txpkts=64: 64-byte frames (no FCS on virtio)');
  const txs = await tx.stats(0);
  const ports = await backend.portStats();
  t.log(`tx: ${JSON.stringify(txs)}`);
  t.log(`backend: ${JSON.stringify(ports)}`);
  t.true(txs.txPackets >= got.rxPackets);
  t.true(ports[0]!.rxPackets > 0, 'the backend received on port 0 (a.sock)');
  t.true(ports[1]!.txPackets >= got.rxPackets, 'and forwarded on port 1 (b.sock)');
  await rx.stop();
  await tx.stop();
  await backend.stop();
  t.is(await backend.exited, 0);
  stamp(t, t0, 'all stopped');
});

peerTest('testpmd frontends as vhost-user servers, DPDK vhost backend as client (macswap round trip)', ['testpmd'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const a = path.join(dir, 'a.sock');
  // A server-mode frontend blocks in EAL init until its backend connects.
  const fe = await testpmd(t, { socket: a, server: true, mode: 'macswap', txpkts: 128, autoStart: false });
  stamp(t, t0, 'frontend listening');
  const early = await Promise.race([fe.ready.then(() => 'ready'), new Promise((r) => setTimeout(() => r('waiting'), 1500))]);
  t.is(early, 'waiting', 'no prompt before a backend connects');
  const backend = await dpdkVhostBackend(t, { sockets: [a], client: true, mode: 'macswap' });
  await fe.ready;
  stamp(t, t0, 'backend connected, frontend ready');
  await fe.waitLinkUp(0);
  // Both sides swap MACs and send back what they receive: 4 bursts of 128-byte frames bounce forever.
  await fe.start(4);
  await waitRx(fe, 10000, 0);
  await fe.stopForwarding();
  const got = await fe.stats(0);
  stamp(t, t0, `frontend got ${got.rxPackets} frames back`);
  t.is(got.rxBytes, got.rxPackets * 128);
  const bs = await backend.stats(0);
  t.true(bs.rxPackets > 0 && bs.txPackets > 0);
});

peerTest('a client-mode testpmd frontend with no backend fails with a clear error after connectTimeoutMs', ['testpmd'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const sock = path.join(dir, 'stale.sock');
  // A stale socket (bound, nobody listening): every probe is refused and testpmd() retries.
  execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sock]);
  const err = await t.throwsAsync(testpmd(t, { socket: sock, mode: 'rxonly', connectTimeoutMs: 3000 }));
  stamp(t, t0, err?.message.split('\n')[0] ?? '');
  t.regex(err?.message ?? '', /could not connect/);
  t.true(Date.now() - t0 < 15000);
  const missing = await t.throwsAsync(testpmd(t, { socket: path.join(dir, 'none.sock'), connectTimeoutMs: 500 }));
  t.regex(missing?.message ?? '', /vhost-user socket/);
});

peerTest('QEMU guest (client) on a DPDK vhost backend in icmpecho mode: ping gets answers', ['testpmd', 'qemu'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const sock = path.join(dir, 'vm.sock');
  const kernel = findGuestKernel()!;
  t.log(`modules: ${moduleLoadOrder(kernel.modulesDir, ['virtio_net', 'virtio_pci']).map((m) => path.basename(m)).join(' ')}`);
  const initrd = buildInitramfs(dir, {
    ip: '10.0.0.2/24',
    mac: '52:54:00:00:00:02',
    script: `${guestScripts.features()}\nping -c 3 -W 5 10.0.0.1; echo "@@RESULT@@ ping $?"`,
  });
  stamp(t, t0, `initramfs built: ${initrd}`);
  const backend = await dpdkVhostBackend(t, { sockets: [sock], mode: 'icmpecho' });
  const vm = qemuGuest(t, { socket: sock, initrd });
  t.log(vm.argv.join(' '));
  t.log(`guest ready: ${await vm.waitFor(MARK.ready)}`);
  stamp(t, t0, 'guest eth0 up');
  const status = await vm.waitFor('@@RESULT@@ ping');
  stamp(t, t0, 'ping done');
  t.log(vm.console().split('\n').filter((l) => /packets|bytes from/.test(l)).join('\n'));
  t.is(status, '0', vm.output());
  t.regex(vm.console(), /3 packets transmitted, 3 packets received/);
  const features = parseVirtioFeatures(await vm.waitFor('@@RESULT@@ features'));
  t.log(`negotiated: ${Object.entries(features).filter(([, on]) => on).map(([k]) => k).join(' ')}`);
  t.true(features.mrgRxbuf && features.version1);
  t.is(await vm.exited, 0, 'QEMU exits 0 after the guest powers off');
  stamp(t, t0, 'guest powered off');
  const s = await backend.stats(0);
  t.true(s.rxPackets >= 4 && s.txPackets >= 4, JSON.stringify(s)); // ARP + 3 echo requests and their answers
});

peerTest('QEMU guest as vhost-user server (mrg_rxbuf, csum, tso, ufo off), DPDK vhost backend as client in icmpecho: ping gets answers', ['testpmd', 'qemu'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const sock = path.join(dir, 'vm.sock');
  const initrd = buildInitramfs(dir, {
    ip: '10.0.0.3/24',
    mtu: 1400,
    script: `${guestScripts.features()}\nping -c 2 -s 1000 -W 5 10.0.0.1; echo "@@RESULT@@ ping $?"; ip link show eth0`,
  });
  const vm = qemuGuest(t, { socket: sock, server: true, initrd, mac: '52:54:00:00:00:03', mrgRxbuf: false, csum: false, tso: false, ufo: false });
  await waitFor('QEMU to create its socket', () => existsSync(sock), 10000);
  await dpdkVhostBackend(t, { sockets: [sock], client: true, mode: 'icmpecho' });
  t.log(`guest ready: ${await vm.waitFor(MARK.ready)}`);
  const status = await vm.waitFor('@@RESULT@@ ping');
  stamp(t, t0, 'ping done');
  await vm.waitFor(MARK.exit);
  t.is(status, '0', vm.output());
  t.regex(vm.console(), /2 packets transmitted, 2 packets received/);
  t.regex(vm.console(), /mtu 1400/);
  const features = parseVirtioFeatures(await vm.waitFor('@@RESULT@@ features'));
  t.log(`negotiated: ${Object.entries(features).filter(([, on]) => on).map(([k]) => k).join(' ')}`);
  t.false(features.mrgRxbuf || features.csum || features.guestCsum || features.hostTso4 || features.guestTso4 || features.hostUfo || features.guestUfo, 'the device options took effect');
  t.is(await vm.exited, 0);
});

peerTest('two QEMU guests through a DPDK vhost backend (io): a 2 MB TCP stream arrives intact', ['testpmd', 'qemu'], async (t) => {
  const t0 = Date.now();
  const dir = tempDir(t);
  const a = path.join(dir, 'a.sock');
  const b = path.join(dir, 'b.sock');
  const recvRd = buildInitramfs(dir, { ip: '10.0.0.1/24', script: guestScripts.tcpReceive(5001) });
  const sendRd = buildInitramfs(dir, { ip: '10.0.0.2/24', script: `sleep 1\n${guestScripts.tcpSend('10.0.0.1', 5001, 2 << 20)}` });
  await dpdkVhostBackend(t, { sockets: [a, b], mode: 'io' });
  const recv = qemuGuest(t, { socket: a, initrd: recvRd, mac: '52:54:00:00:01:01' });
  const send = qemuGuest(t, { socket: b, initrd: sendRd, mac: '52:54:00:00:01:02' });
  await recv.waitFor('@@RESULT@@ listening');
  stamp(t, t0, 'receiver listening');
  const sent = await send.waitFor('@@RESULT@@ sent', 50000);
  const got = await recv.waitFor('@@RESULT@@ recv', 20000);
  stamp(t, t0, `sent ${sent}, received ${got}`);
  t.is(got, sent);
  t.regex(got, /^[0-9a-f]{64} 2097152$/);
  t.is(await recv.exited, 0);
  t.is(await send.exited, 0);
});
