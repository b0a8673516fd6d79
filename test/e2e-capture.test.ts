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
import { closeSync, constants, openSync, readFileSync } from 'node:fs';

import { execa } from 'execa';

import type { ExecutionContext } from 'ava';

import { binPath, childrenOf, cliWords as cli, collectOutput, containerInitPid, pipeline, rootTest, startDaemon, stopChild, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { shell, shellContainer, type ShellContainer } from './helpers/containers.js';

/** Wait until capture @name is running (listed by show). */
async function running(d: TestDaemon, name: string): Promise<void> {
  await waitFor(`capture ${name} to run`, async () => ((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === name), 20000);
}

/** Two containers a (10.0.0.2) and b (10.0.0.1) on one daemon. */
async function twoContainers(t: ExecutionContext, daemonArgs: string[] = []): Promise<{ d: TestDaemon; a: ShellContainer; b: ShellContainer; pa: string; pb: string }> {
  const d = await startDaemon(t, { args: daemonArgs });
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

rootTest('capture --format pcap: tcpdump reads it live; --dir in sees only what the port received (a daemon with --state, which keeps no capture)', async (t) => {
  const state = `${tempDir(t)}/state.json`;
  const { d, a, pa } = await twoContainers(t, ['--state', state]);
  const td = pipeline(t, `${cli(d)} capture ${pa} --name cap3 --format pcap --dir in --filter icmp -c 3 -w - | tcpdump -nr - 2>/dev/null`);
  const snap = pipeline(t, `${cli(d)} capture ${pa} --name cap3s --dir out -s 64 --filter icmp -c 3 -w - | tshark -r - -T fields -e frame.cap_len -e frame.len -e frame.packet_flags_direction 2>/dev/null`);
  await running(d, 'cap3');
  await running(d, 'cap3s');
  t.is(await shell(a.c, 'ping -c 3 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  t.is(await td.done, 0, td.out.output());
  const lines = td.out.stdout().trim().split('\n');
  t.is(lines.length, 3, td.out.stdout());
  t.true(lines.every((l) => /10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo request/.test(l)), td.out.stdout());
  t.notRegex(readFileSync(state, 'utf8'), /cap3/);
  // -s 64 --dir out: the replies a was sent, cut to 64 bytes, their length kept.
  t.is(await snap.done, 0, snap.out.output());
  t.deepEqual(snap.out.stdout().trim().split('\n').map((l) => l.split('\t').map(Number)).map(([cap, len, f]) => [cap, len, f! & 3]), [[64, 98, 2], [64, 98, 2], [64, 98, 2]], snap.out.stdout());
});

rootTest('capture of a lan with two threads: every port of it, each its own interface, in order; a port that goes, and a client killed, end cleanly', async (t) => {
  const { d, a, b, pa, pb } = await twoContainers(t, ['--threads', '2']);
  const show = (await d.request({ show: {} })) as { objects: { name: string; thread?: number }[] };
  t.not(show.objects.find((o) => o.name === pa)!.thread, show.objects.find((o) => o.name === pb)!.thread, 'the ports are on different workers');
  const ts = pipeline(t, `${cli(d)} capture lan0 --name cap4 --filter icmp -c 8 -w - | tshark -r - -T fields -e frame.interface_name -e frame.packet_flags_direction -e icmp.type 2>/dev/null`);
  await running(d, 'cap4');
  t.is(await shell(a.c, 'ping -c 2 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  t.is(await ts.done, 0, ts.out.output());
  // Merged from two workers' rings by time: request in at a, out at b, reply in at b, out at a.
  const rows = ts.out.stdout().trim().split('\n').map((l) => l.split('\t')).map(([ifname, flags, type]) => `${ifname} ${Number(flags) & 3} ${type}`);
  const one = [`${pa} 1 8`, `${pb} 2 8`, `${pb} 1 0`, `${pa} 2 0`];
  t.deepEqual(rows, [...one, ...one], ts.out.stdout());

  // A capture whose port goes away runs on; its client killed, it goes too.
  const fds = d.fdCount();
  const cap = spawn(process.execPath, [binPath('containet'), '-s', d.sock, 'capture', pa, pb, '--name', 'cap7', '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => stopChild(cap));
  await running(d, 'cap7');
  a.c.child.stdin!.end('exit 0\n');
  await waitFor(`port ${pa} to go`, async () => !((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === pa));
  t.is(await shell(b.c, 'ping -c 1 -W 1 10.0.0.9 >/dev/null'), 1, 'b still runs');
  process.kill(cap.pid!, 'SIGKILL');
  await waitFor('the capture to go with its client', async () => !((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === 'cap7'));
  t.regex(await d.logged(/capture cap7: \d+ frames written/), /capture cap7 removed: its client went away/);
  await waitFor('no fd left behind', () => d.fdCount() <= fds);
});

rootTest('capture of a lan follows it: a port that joins after the start is captured too, on an interface of its own (pcapng)', async (t) => {
  const d = await startDaemon(t);
  const a = await shellContainer(t, d, '10.0.0.2/24');
  const pa = `${a.id}.eth0`;
  const ts = pipeline(t, `${cli(d)} capture lan0 --name cap9 --filter icmp -c 4 -w - | tshark -r - -T fields -e frame.interface_name -e frame.packet_flags_direction -e icmp.type 2>/dev/null`);
  await running(d, 'cap9');
  const b = await shellContainer(t, d, '10.0.0.1/24');
  const pb = `${b.id}.eth0`;
  t.regex(await d.logged(/capture cap9: port \S+ joined lan0, captured too/), new RegExp(`capture cap9: port ${pb.replace(/\./g, '\\.')} joined lan0, captured too`));
  const show = (await d.request({ show: {} })) as { objects: { name: string; ports?: string[] }[] };
  t.deepEqual(show.objects.find((o) => o.name === 'cap9')!.ports, [pa, pb]);
  t.is(await shell(a.c, 'ping -c 1 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  t.is(await ts.done, 0, ts.out.output());
  const rows = ts.out.stdout().trim().split('\n').map((l) => l.split('\t')).map(([ifname, flags, type]) => `${ifname} ${Number(flags) & 3} ${type}`);
  t.deepEqual(rows, [`${pa} 1 8`, `${pb} 2 8`, `${pb} 1 0`, `${pa} 2 0`], ts.out.stdout());
});

/** The pid of the containet CLI in pipeline @p (its shell's child running bin/containet.js). */
async function cliPid(p: { child: ChildProcess }): Promise<number> {
  return waitFor('the capture command', () => childrenOf(p.child.pid!).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('containet.js');
    } catch {
      return false;
    }
  }) ?? 0);
}

/** Start iperf3 -s in container @c (one test), listening on @ip. */
async function iperfServer(t: ExecutionContext, c: ShellContainer, ip: string): Promise<number> {
  const pid = await containerInitPid(c.c);
  const srv = spawn('nsenter', ['-t', String(pid), '-n', 'iperf3', '-s', '-B', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stopChild(srv));
  await waitFor('iperf3 -s to listen', async () => (await execa('nsenter', ['-t', String(pid), '-n', 'ss', '-ltn'], { reject: false })).stdout.includes(`${ip}:5201`));
  return pid;
}

/** Run iperf3 -c from container @c; its JSON result. */
async function iperfClient(c: ShellContainer, dst: string, args: string[]): Promise<{ end: { sum_received: { bytes: number; bits_per_second: number } } }> {
  const pid = await containerInitPid(c.c);
  const r = await execa('nsenter', ['-t', String(pid), '-n', 'iperf3', '-c', dst, '-J', ...args], { reject: false, timeout: 60000 });
  if (r.exitCode !== 0) throw new Error(`iperf3 failed: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** What tshark reads in capture file @file of a's data stream to 10.0.0.1:5201
 *  (the connection from a that carried the most bytes): the bytes its
 *  captured segments cover, the holes in them, the largest frame, and whether
 *  every one of a's frames is inbound on a's port. */
async function dataStream(t: ExecutionContext, file: string): Promise<{ span: number; holes: number; largest: number; inbound: boolean }> {
  const r = await execa('tshark', ['-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'tcp.seq_raw', '-e', 'tcp.len', '-e', 'frame.packet_flags_direction', '-e', 'frame.len'], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  const segs = new Map<string, [number, number][]>();
  let largest = 0;
  let inbound = true;
  for (const line of r.stdout.trim().split('\n')) {
    const [src, port, seq, len, flags, flen] = line.split('\t');
    largest = Math.max(largest, Number(flen));
    if (src !== '10.0.0.2' || !Number(len)) continue;
    if ((Number(flags) & 3) !== 1) inbound = false;
    const l = segs.get(port!) ?? [];
    l.push([Number(seq), Number(len)]);
    segs.set(port!, l);
  }
  const data = [...segs.values()].sort((x, y) => y.length - x.length)[0]!;
  data.sort((x, y) => x[0] - y[0]);
  let end = data[0]![0];
  const start = end;
  let holes = 0;
  for (const [seq, len] of data) {
    if (seq > end) holes++;
    end = Math.max(end, seq + len);
  }
  return { span: end - start, holes, largest, inbound };
}

rootTest('capture of a TCP transfer: every byte of the data stream is in the file, seen entering the sender\'s port; GSO frames whole, or segmented with --segment; Ctrl-C ends it', async (t) => {
  const { d, a, b, pa } = await twoContainers(t);
  const dir = tempDir(t);
  // The taps' MTU is 64000: at 1500, TCP hands the tap GSO frames of many segments.
  for (const c of [a, b]) t.is(await shell(c.c, 'ip link set eth0 mtu 1500'), 0, c.c.output());
  await iperfServer(t, b, '10.0.0.1');
  const fdsBefore = d.fdCount();
  const p = pipeline(t, `${cli(d)} capture ${pa} --name cap5 --filter 'tcp port 5201' -w - 2>${dir}/err | cat > ${dir}/tcp.pcapng`);
  const ps = pipeline(t, `${cli(d)} capture ${pa} --name cap6 --segment --filter 'tcp port 5201' -w - 2>${dir}/err6 | cat > ${dir}/seg.pcapng`);
  await running(d, 'cap5');
  await running(d, 'cap6');
  const bytesSent = 8 << 20;
  // At a rate the readers (cat into a file, on a shared machine) keep up with:
  // a faster burst overflows the rings, which the test below is about.
  await iperfClient(a, '10.0.0.1', ['-n', String(bytesSent), '-b', '400M']);
  process.kill(await cliPid(p), 'SIGINT');
  process.kill(await cliPid(ps), 'SIGINT');
  t.is(await p.done, 0, p.out.output());
  t.is(await ps.done, 0, ps.out.output());
  for (const f of ['err', 'err6']) t.regex(readFileSync(`${dir}/${f}`, 'utf8'), /frames written, 0 dropped \(stopped\)/);
  const whole = await dataStream(t, `${dir}/tcp.pcapng`);
  const seg = await dataStream(t, `${dir}/seg.pcapng`);
  t.log(`as seen: largest frame ${whole.largest} B, ${whole.span} B of stream; --segment: largest ${seg.largest} B, ${seg.span} B`);
  for (const s of [whole, seg]) {
    t.is(s.holes, 0, 'no gap in the captured sequence space');
    t.true(s.span >= bytesSent, `captured ${s.span} bytes of the stream, sent ${bytesSent}`);
    t.true(s.inbound, "a's frames are inbound on its port");
  }
  t.true(whole.largest > 1514, 'GSO frames are written as the port saw them');
  t.true(seg.largest <= 1514, 'with --segment, as the wire segments (MTU 1500)');

  await waitFor('the daemon to close the captures\' fds', () => d.fdCount() <= fdsBefore);
  t.false(((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === 'cap5' || o.name === 'cap6'));
});

rootTest('a reader that stops reading costs the capture drops, not the transfer; Ctrl-C then ends it and leaves nothing', async (t) => {
  const { d, a, b, pa } = await twoContainers(t);
  const dir = tempDir(t);
  await iperfServer(t, b, '10.0.0.1');
  const without = await iperfClient(a, '10.0.0.1', ['-t', '3']);
  const fdsBefore = d.fdCount();
  await execa('mkfifo', [`${dir}/fifo`]);
  // A reader that opens the FIFO and never reads from it.
  const reader = openSync(`${dir}/fifo`, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => closeSync(reader));
  const cap = spawn(process.execPath, [binPath('containet'), '-s', d.sock, 'capture', pa, '--name', 'stuck', '-w', `${dir}/fifo`], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => stopChild(cap));
  const capOut = collectOutput(cap);
  const capDone = new Promise<number>((r) => cap.once('close', (code) => r(code ?? -1)));
  await running(d, 'stuck');
  const withCap = await iperfClient(a, '10.0.0.1', ['-t', '3']);
  const gbps = (x: typeof without) => (x.end.sum_received.bits_per_second / 1e9).toFixed(2);
  t.log(`iperf3 3 s: ${gbps(without)} Gbit/s without a capture, ${gbps(withCap)} Gbit/s with a capture whose reader does not read`);
  const st = (await d.request({ stats: { name: 'stuck' } })) as { captures: { drops: number }[] };
  t.true(st.captures[0]!.drops > 0, JSON.stringify(st));
  // The CLI's tables list it, and its drops.
  const shown = await d.cli('show');
  t.regex(shown.stdout, new RegExp(`stuck\\s+${pa.replace('.', '\\.')}\\s+pcapng\\s+both`), shown.stdout);
  const counted = await d.cli('stats');
  t.regex(counted.stdout, /CAPTURE\s+FRAMES\s+BYTES\s+DROPS/, counted.stdout);
  t.regex(counted.stdout, /stuck\s+\d+\s+[\d.]+ \S+\s+[1-9]/, counted.stdout);
  process.kill(cap.pid!, 'SIGINT');
  t.is(await capDone, 0, capOut.output());
  const m = /capture stuck: (\d+) frames? written, (\d+) dropped/.exec(capOut.stderr());
  t.truthy(m, capOut.stderr());
  t.true(Number(m![2]) > 0, capOut.stderr());
  t.true(withCap.end.sum_received.bytes > 0);
  await waitFor('the daemon to close the capture\'s fds', () => d.fdCount() <= fdsBefore);
  t.false(((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === 'stuck'));
});

rootTest('a capture ends when its reader goes away; a bad filter or snap length is refused with the reason', async (t) => {
  const { d, a, pa } = await twoContainers(t);
  const dir = tempDir(t);
  const fds = d.fdCount();
  let r = await d.cli('capture', pa, '--filter', 'host and', '-w', '/dev/null');
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /bad filter "host and": .*syntax error/);
  r = await d.cli('capture', pa, '-s', '300000', '-w', '/dev/null');
  t.regex(r.stderr, /"snaplen" must be an integer from 1 to 262144/);
  // The daemon closes a client's connection once it sees the client gone.
  await waitFor('no fd left behind', () => d.fdCount() <= fds);
  const p = pipeline(t, `${cli(d)} capture ${pa} --name gone -w - 2>${dir}/err | head -c 200 > /dev/null`);
  await running(d, 'gone');
  t.is(await shell(a.c, 'ping -c 5 -i 0.2 -W 5 10.0.0.1 >/dev/null'), 0, a.c.output());
  await p.done;
  await waitFor('the capture command to end', () => /reader gone/.test(readFileSync(`${dir}/err`, 'utf8')));
  t.false(((await d.request({ show: {} })) as { objects: { name: string }[] }).objects.some((o) => o.name === 'gone'));
});

rootTest('capture refuses bad input with the reason: an unknown port, a bad filter, a bad snap length', async (t) => {
  const d = await startDaemon(t);
  const fds = d.fdCount();
  let r = await d.cli('capture', 'nosuch', '-w', '/dev/null');
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /no port or lan named "nosuch"/);
  r = await d.cli('capture', 'lan0', '-w', '/dev/null');
  t.regex(r.stderr, /no ports on lan0/);
  r = await d.cli('capture', 'lan0', '-s', '0', '-w', '/dev/null');
  t.regex(r.stderr, /-s must be a positive integer/);
  r = await d.cli('capture', 'lan0', '--format', 'xml', '-w', '/dev/null');
  t.not(r.exitCode, 0);
  // The daemon closes a client's connection once it sees the client gone.
  await waitFor('no fd left behind', () => d.fdCount() <= fds);
});
