/**
 * End to end, as root: `containet capture` read live by the real tools. Two
 * containers on one switch ping each other and move a TCP transfer while
 * captures of their ports stream pcapng or pcap into tcpdump and tshark: every
 * frame is there, on the right port, in the right direction. A reader that
 * stops reading costs drops (reported), not the transfer; COUNT, Ctrl-C and a
 * reader that goes away end a capture and leave nothing behind; bad input is
 * refused with the reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

import type { ExecutionContext } from 'ava';

import { binPath, collectOutput, rootTest, startDaemon, stopChild, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer, type ShellContainer } from './helpers/containers.js';

/** A shell pipeline of ours, stopped at teardown. */
function pipeline(t: ExecutionContext, cmd: string): { child: ChildProcess; done: Promise<number>; out: ReturnType<typeof collectOutput> } {
  const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(child);
  const done = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
  t.teardown(() => stopChild(child));
  return { child, done, out };
}

/** `node bin/containet.js -s SOCK` as a shell word list. */
function cli(d: TestDaemon): string {
  return `${process.execPath} ${binPath('containet')} -s ${d.sock}`;
}

/** Wait until capture @name is running (listed by show). */
async function running(d: TestDaemon, name: string): Promise<void> {
  await waitFor(`capture ${name} to run`, async () => ((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === name), 20000);
}

/** Two containers a (10.0.0.2) and b (10.0.0.1) on one daemon. */
async function twoContainers(t: ExecutionContext): Promise<{ d: TestDaemon; a: ShellContainer; b: ShellContainer; pa: string; pb: string }> {
  const d = await startDaemon(t);
  const a = await shellContainer(t, d, '10.0.0.2/24');
  const b = await shellContainer(t, d, '10.0.0.1/24');
  // ARP settled, so the captures below see only what the test sends.
  t.is(await shell(a.c, 'ping -c 1 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  return { d, a, b, pa: `${a.id}.eth0`, pb: `${b.id}.eth0` };
}

rootTest('capture: a ping, live into tcpdump (pcapng) and tshark: every request and reply, on the right port and direction', async (t) => {
  const { d, a, pa, pb } = await twoContainers(t);
  const dir = tempDir(t);
  const td = pipeline(t, `${cli(d)} capture ${pa} ${pb} --name cap1 --filter icmp -c 12 -w - 2>${dir}/err1 | tcpdump -nr - 2>/dev/null`);
  const ts = pipeline(t, `${cli(d)} capture ${pa} ${pb} --name cap2 --filter icmp -c 12 -w - 2>${dir}/err2 | tshark -r - -T fields -e frame.interface_name -e frame.packet_flags_direction -e icmp.type 2>/dev/null`);
  await running(d, 'cap1');
  await running(d, 'cap2');
  t.is(await shell(a.c, 'ping -c 3 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  t.is(await td.done, 0, td.out.output());
  t.is(await ts.done, 0, ts.out.output());
  const lines = td.out.stdout().trim().split('\n');
  t.is(lines.length, 12, td.out.stdout());
  t.is(lines.filter((l) => /10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo request/.test(l)).length, 6, td.out.stdout());
  t.is(lines.filter((l) => /10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo reply/.test(l)).length, 6, td.out.stdout());
  // tshark: interface (port), direction (1 inbound: the port received it, 2 outbound) and ICMP type.
  const rows = ts.out.stdout().trim().split('\n').map((l) => l.split('\t')).map(([ifname, flags, type]) => `${ifname} ${Number(flags) & 3} ${type}`);
  const n = (row: string) => rows.filter((r) => r === row).length;
  t.is(n(`${pa} 1 8`), 3, ts.out.stdout()); // a sends the requests
  t.is(n(`${pb} 2 8`), 3, ts.out.stdout()); // b is sent them
  t.is(n(`${pb} 1 0`), 3, ts.out.stdout()); // b sends the replies
  t.is(n(`${pa} 2 0`), 3, ts.out.stdout()); // a is sent them
  t.regex(readFileSync(`${dir}/err1`, 'utf8'), /12 frames written, 0 dropped \(count reached\)/);
  await waitFor('the captures to go', async () => ((await d.request({ show: {} })) as { objects: { kind: string }[] }).objects.every((o) => o.kind !== 'capture'));
});

rootTest('capture --format pcap: tcpdump reads it live; --dir in sees only what the port received', async (t) => {
  const { d, a, pa } = await twoContainers(t);
  const td = pipeline(t, `${cli(d)} capture ${pa} --name cap3 --format pcap --dir in --filter icmp -c 3 -w - | tcpdump -nr - 2>/dev/null`);
  await running(d, 'cap3');
  t.is(await shell(a.c, 'ping -c 3 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  t.is(await td.done, 0, td.out.output());
  const lines = td.out.stdout().trim().split('\n');
  t.is(lines.length, 3, td.out.stdout());
  t.true(lines.every((l) => /10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo request/.test(l)), td.out.stdout());
});
