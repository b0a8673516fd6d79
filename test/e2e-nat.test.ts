/**
 * The NAT (libslirp) end to end, with real clients in containode containers:
 * busybox udhcpc gets a lease with a default route; HTTP from a container to a
 * server the test runs on the host's loopback, through the gateway address, with
 * the body checked, to taps with and without a vnet header (the NAT's checksums
 * left to the one's kernel, completed by the dataplane for the other); UDP echo; ping of the gateway and of an address beyond the
 * host (ICMP echo through a ping socket, and through a raw socket where ping
 * sockets are not allowed); a port forward from the host
 * into a container service, added and removed at run time; and removing the
 * NAT in the middle of a transfer leaves the daemon serving.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { packageRoot } from '../src/native.js';
import { collectOutput, inNetns, netns, rootTest, run, runContainode, startDaemon, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './helpers/env.js';
import { tapPort } from './helpers/traffic.js';
import { shell, shellContainer, type ShellContainer } from './helpers/containers.js';

/** A daemon with a nat "nat1" on its default lan (extra CLI args appended). */
async function natDaemon(t: ExecutionContext, ...args: string[]) {
  return natDaemonIn(t, undefined, ...args);
}

/** As natDaemon, with the daemon (so the nat's host sockets) inside network
 *  namespace @ns, started with @daemonArgs. */
async function natDaemonIn(t: ExecutionContext, ns: string | undefined, ...args: string[]) {
  return natDaemonWith(t, ns, [], ...args);
}

/** As natDaemonIn, the daemon started with @daemonArgs. */
async function natDaemonWith(t: ExecutionContext, ns: string | undefined, daemonArgs: string[], ...args: string[]) {
  const d = await startDaemon(t, { netns: ns, args: daemonArgs });
  const r = await d.cli('add', 'nat', 'nat1', ...args);
  t.is(r.exitCode, 0, r.stderr);
  return d;
}

/** The udhcpc hook of the tests: it configures eth0 and never touches /etc. */
const UDHCPC_SCRIPT = path.join(packageRoot, 'test', 'fixtures', 'udhcpc.script');

/** A container that took a lease from the nat with busybox udhcpc; returns it
 *  and what the lease said ("ip=... mask=... router=... dns=... lease=..."). */
async function dhcpContainer(t: ExecutionContext, d: TestDaemon): Promise<ShellContainer & { lease: string }> {
  const c = await shellContainer(t, d, null);
  const out = path.join(tempDir(t), 'lease.txt');
  const rc = await shell(c.c, `UDHCPC_OUT=${out} busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s ${UDHCPC_SCRIPT}`, 30000);
  t.is(rc, 0, `${c.c.output()}\n${d.log()}`);
  return { ...c, lease: readText(out) };
}

/** An HTTP server on the host's 127.0.0.1 answering @body; closed at teardown. */
async function loopbackServer(t: ExecutionContext, body: Buffer): Promise<number> {
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as AddressInfo).port;
}

rootTest('udhcpc gets a lease from the nat: an address in its network and a default route via the gateway', async (t) => {
  const d = await natDaemon(t);
  const c = await dhcpContainer(t, d);
  t.regex(c.lease, /^ip=10\.0\.2\.\d+ mask=24 router=10\.0\.2\.2 dns=10\.0\.2\.3 lease=\d+/);
  const dir = tempDir(t);
  const out = path.join(dir, 'ip.txt');
  t.is(await shell(c.c, `ip -4 addr show eth0 > ${out}; ip route >> ${out}`), 0);
  await waitFor('the output', () => readText(out).includes('default'));
  t.regex(readText(out), /inet 10\.0\.2\.(1[5-9]|[2-9]\d)\/24/);
  t.regex(readText(out), /default via 10\.0\.2\.2 dev eth0/);
  t.is(await shell(c.c, 'ping -c 2 -W 5 10.0.2.2'), 0, 'the gateway answers ping');
});

rootTest('HTTP through the gateway reaches a server on the host loopback; the body arrives intact', async (t) => {
  const d = await natDaemon(t);
  const body = randomBytes(3 << 20);
  const port = await loopbackServer(t, body);
  const c = await dhcpContainer(t, d);
  const got = path.join(tempDir(t), 'body.bin');
  t.is(await shell(c.c, `busybox wget -q -O ${got} http://10.0.2.2:${port}/`, 60000), 0, c.c.output());
  t.true(readBytes(got).equals(body), 'the body, byte for byte');
});

for (const threads of [1, 2])
rootTest(`host data to a tap without a vnet header (checksums completed by the dataplane) and to one with (left to its kernel) arrives intact [${threads} thread${threads > 1 ? 's' : ''}]`, async (t) => {
  const d = await natDaemonWith(t, undefined, ['--threads', String(threads)]);
  const body = randomBytes(4 << 20);
  const port = await loopbackServer(t, body);
  const dir = tempDir(t);
  for (const [framing, ip] of [['plain', '10.0.2.100'], ['vnet', '10.0.2.101']] as const) {
    const tap = await tapPort(t, d, { framing, ipv4: ip });
    t.is((await inNetns(tap.ns, ['ip', 'route', 'add', 'default', 'via', '10.0.2.2'])).exitCode, 0);
    const got = path.join(dir, `${framing}.bin`);
    const r = await inNetns(tap.ns, ['timeout', '60', 'busybox', 'wget', '-q', '-O', got, `http://10.0.2.2:${port}/`], { timeout: 90000 });
    t.is(r.exitCode, 0, `${framing}: ${r.stderr}`);
    t.true(readBytes(got).equals(body), `${framing}: the body, byte for byte`);
    // A wrong checksum would have been dropped (and counted) by the tap's kernel.
    const n = await inNetns(tap.ns, ['nstat', '-az', 'TcpInCsumErrors']);
    t.regex(n.stdout, /TcpInCsumErrors\s+0\s/, `${framing}: ${n.stdout}`);
  }
  // One worker: every frame slirp sent went straight into a packet, none
  // through the ring. Two: what slirp answered to the taps' ACKs on their own
  // worker went through the ring, the rest may have gone directly.
  const st = (await d.request({ stats: { name: 'nat1' } })) as { ports: { rxPackets: number; rxBytes: number; counters: Record<string, number> }[] };
  const nat = st.ports[0]!;
  t.true(nat.rxBytes >= 2 * body.length, `the nat sent both bodies: ${nat.rxBytes} bytes`);
  if (threads === 1) t.is(nat.counters.direct_frames, nat.rxPackets, `frames copied straight into packets: ${JSON.stringify(nat.counters)}, of ${nat.rxPackets}`);
  else t.true(nat.counters.direct_frames! <= nat.rxPackets, `frames copied straight into packets: ${JSON.stringify(nat.counters)}, of ${nat.rxPackets}`);
});

rootTest('--no-host-loopback: the gateway no longer reaches the host loopback', async (t) => {
  const d = await natDaemon(t, '--no-host-loopback');
  const port = await loopbackServer(t, Buffer.from('secret'));
  const c = await dhcpContainer(t, d);
  t.not(await shell(c.c, `timeout 5 busybox wget -q -O /dev/null http://10.0.2.2:${port}/`, 30000), 0);
});

rootTest('UDP through the nat: a datagram to an echo server on the host loopback comes back', async (t) => {
  const d = await natDaemon(t);
  const dir = tempDir(t);
  const echo = path.join(dir, 'echo.py');
  writeFileSync(echo, [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))',
    'print(s.getsockname()[1], flush=True)',
    'while True:',
    '    data, peer = s.recvfrom(65536); s.sendto(data, peer)',
  ].join('\n'));
  const srv = spawn('python3', [echo], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stopChild(srv));
  const port = await collectOutput(srv).untilStdout('the echo server', (out) => /^(\d+)\n/.exec(out)?.[1]);
  const c = await dhcpContainer(t, d);
  const client = path.join(dir, 'client.py');
  const out = path.join(dir, 'out.txt');
  writeFileSync(client, [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)',
    'got = 0',
    'for i in range(20):',
    '    m = b"ping %d " % i * 50',
    '    s.sendto(m, ("10.0.2.2", int(sys.argv[1])))',
    '    try:',
    '        if s.recv(65536) == m: got += 1',
    '    except socket.timeout: pass',
    `open("${out}", "w").write(str(got))`,
  ].join('\n'));
  t.is(await shell(c.c, `python3 ${client} ${port}`, 60000), 0, c.c.output());
  t.is(readText(out), '20', 'every datagram came back');
});

rootTest('ping beyond the gateway: ICMP echo through the host to another namespace, by ping socket and by raw socket', async (t) => {
  // The daemon's "host" is a namespace of the test's, so that its ping sockets
  // (net.ipv4.ping_group_range, per namespace) can be allowed there without
  // touching the machine's own setting; "beyond" is a second namespace behind a veth.
  const host = await netns(t, 'nh');
  const far = await netns(t, 'nx');
  const vh = uniqueName('vh');
  const sub = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  await run('ip', ['link', 'add', vh, 'netns', host, 'type', 'veth', 'peer', 'name', 'vx', 'netns', far]);
  for (const [ns, dev, ip] of [[host, vh, `${sub}.1/24`], [far, 'vx', `${sub}.2/24`]] as const) {
    t.is((await inNetns(ns, ['ip', 'addr', 'add', ip, 'dev', dev])).exitCode, 0);
    t.is((await inNetns(ns, ['ip', 'link', 'set', dev, 'up'])).exitCode, 0);
    t.is((await inNetns(ns, ['ip', 'link', 'set', 'lo', 'up'])).exitCode, 0);
  }
  const pingGroups = (range: string) => inNetns(host, ['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${range}`]);
  t.is((await pingGroups('0 2147483647')).exitCode, 0);
  const d = await natDaemonIn(t, host);
  const c = await dhcpContainer(t, d);
  t.is(await shell(c.c, `ping -c 3 -W 5 ${sub}.2`, 30000), 0, `echo through a ping socket: ${c.c.output()}`);
  const inEchos = async () => Number((await inNetns(far, ['cat', '/proc/net/snmp'])).stdout.match(/Icmp: (?:\d+ ){8}(\d+)/)?.[1]);
  const echoes = await inEchos();
  t.true(echoes >= 3, `the far namespace answered the echoes itself (InEchos ${echoes})`);

  // Without ping sockets, libslirp opens a raw ICMP socket (the daemon runs as
  // root, with CAP_NET_RAW) — to a second address, as it keeps a ping socket a while.
  t.is((await pingGroups('1 0')).exitCode, 0);
  t.is((await inNetns(far, ['ip', 'addr', 'add', `${sub}.3/24`, 'dev', 'vx'])).exitCode, 0);
  t.is(await shell(c.c, `ping -c 2 -W 5 ${sub}.3`, 30000), 0, `echo through a raw socket: ${c.c.output()}`);
  t.true((await inEchos()) >= echoes + 2, 'the far namespace answered those too');
});

rootTest('a port forward from the host into a container, added at creation and at run time, and removed', async (t) => {
  const hostPort = 20000 + Math.floor(Math.random() * 10000);
  const d = await natDaemon(t, '--forward', `tcp:127.0.0.1:${hostPort}:10.0.2.15:8000`);
  const c = await dhcpContainer(t, d);
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'index.html'), 'hello from the container\n');
  t.is(await shell(c.c, `cd ${dir} && (python3 -m http.server 8000 --bind 0.0.0.0 > /dev/null 2>&1 &) ; sleep 1`), 0);
  const fetch = async (p: number) => {
    try {
      const res = await globalThis.fetch(`http://127.0.0.1:${p}/index.html`, { signal: AbortSignal.timeout(5000) });
      return await res.text();
    } catch (e) {
      return `failed: ${(e as Error).message}`;
    }
  };
  // python3 -m http.server takes a while to start in the container on a busy machine.
  t.is(await waitFor('the forward', async () => ((await fetch(hostPort)).startsWith('hello') ? 'hello from the container\n' : ''), 60000), 'hello from the container\n');
  const show = (await d.request({ show: {} })) as { objects: { name: string; nat?: { forwards: string[] } }[] };
  t.deepEqual(show.objects.find((o) => o.name === 'nat1')?.nat?.forwards, [`tcp:127.0.0.1:${hostPort}:10.0.2.15:8000`]);
  const second = hostPort + 1;
  let r = await d.cli('set', 'nat1', '--add-forward', `tcp:127.0.0.1:${second}:10.0.2.15:8000`);
  t.is(r.exitCode, 0, r.stderr);
  t.is(await fetch(second), 'hello from the container\n');
  r = await d.cli('set', 'nat1', '--del-forward', `tcp:127.0.0.1:${hostPort}:10.0.2.15:8000`);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(await fetch(hostPort), /^failed/, 'the removed forward no longer listens');
  r = await d.cli('set', 'nat1', '--add-forward', 'tcp:1.2.3:80:10.0.2.15:80');
  t.not(r.exitCode, 0);
  t.regex(r.stderr, /tcp\|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT/);
});

rootTest('removing the nat in the middle of a transfer closes its sockets; the daemon serves on', async (t) => {
  const d = await natDaemon(t);
  const body = randomBytes(64 << 20);
  const port = await loopbackServer(t, body);
  const c = await dhcpContainer(t, d);
  const fdsBefore = d.fdCount();
  c.c.child.stdin!.write(`busybox wget -q -O /dev/null http://10.0.2.2:${port}/ &\n`);
  await waitFor('the transfer to start', async () => {
    const st = (await d.request({ stats: { name: 'nat1' } })) as { ports: { rxBytes: number }[] };
    return st.ports[0]!.rxBytes > 1 << 20;
  }, 30000);
  const r = await d.cli('del', 'nat1');
  t.is(r.exitCode, 0, r.stderr);
  await waitFor('the nat sockets to close', () => d.fdCount() <= fdsBefore, 10000);
  const v = await d.request({ version: {} });
  t.truthy(v.version);
  const again = await d.cli('add', 'nat', 'nat2');
  t.is(again.exitCode, 0, again.stderr);
  t.is(await shell(c.c, 'ping -c 4 -W 2 10.0.2.2'), 0, 'a new nat on the same lan answers');
});

/** Text of file @p, '' when missing. */
function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Bytes of file @p. */
function readBytes(p: string): Buffer {
  return readFileSync(p);
}

rootTest('--dns-upstream: a name is resolved through the nat by a resolver the test runs on loopback', async (t) => {
  const responder = spawn('python3', [path.join(packageRoot, 'test', 'fixtures', 'dns_responder.py'), 'test.containet', '10.9.8.7'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => stopChild(responder));
  const port = await collectOutput(responder).untilStdout('the resolver', (out) => /^(\d+)\n/.exec(out)?.[1]);
  const d = await natDaemon(t, '--dns-upstream', `127.0.0.1:${port}`);
  const c = await dhcpContainer(t, d);
  t.regex(c.lease, /dns=10\.0\.2\.3/, 'the lease names the nat as DNS server');
  const file = path.join(tempDir(t), 'ns.txt');
  t.is(await shell(c.c, `busybox nslookup test.containet 10.0.2.3 > ${file} 2>&1`, 30000), 0, c.c.output());
  t.regex(readText(file), /10\.9\.8\.7/);
  t.not(await shell(c.c, 'busybox nslookup nothing.containet 10.0.2.3 > /dev/null 2>&1', 30000), 0, 'NXDOMAIN comes back as such');
  const st = (await d.request({ stats: { name: 'nat1' } })) as { ports: { counters: Record<string, number> }[] };
  t.true(st.ports[0]!.counters.dns_answers! >= 2, JSON.stringify(st.ports[0]!.counters));
});

rootTest('bad input: malformed frames and a DHCP storm leave the nat serving; a connection flood is bounded', async (t) => {
  const body = Buffer.from('still here\n');
  const port = await loopbackServer(t, body);
  const d = await natDaemon(t, '--max-connections', '40');
  const c = await dhcpContainer(t, d);
  const abuse = await tapPort(t, d, { framing: 'vnet', ipv4: '10.0.2.200' });
  const fixture = path.join(packageRoot, 'test', 'fixtures', 'nat_abuse.py');
  for (const mode of ['malformed', 'dhcpstorm']) {
    const r = await inNetns(abuse.ns, ['python3', fixture, 'eth0', mode], { timeout: 60000 });
    t.is(r.exitCode, 0, `${mode}: ${r.stderr}`);
    t.true(Number(r.stdout) >= 500, `${mode}: sent ${r.stdout}`);
  }
  // A flood of connections: at most 40 host sockets, the rest refused.
  const dir = tempDir(t);
  const flood = path.join(dir, 'flood.py');
  const result = path.join(dir, 'flood.txt');
  writeFileSync(flood, [
    'import socket, sys',
    'socks, ok = [], 0',
    'for i in range(80):',
    '    s = socket.socket(); s.settimeout(0.2)',
    '    try:',
    `        s.connect(("10.0.2.2", ${port})); ok += 1`,
    '    except OSError: pass',
    '    socks.append(s)',
    `open("${result}", "w").write(str(ok))`,
  ].join('\n'));
  t.is(await shell(c.c, `python3 ${flood}`, 120000), 0, c.c.output());
  const st = (await d.request({ stats: { name: 'nat1' } })) as { ports: { counters: Record<string, number> }[] };
  const k = st.ports[0]!.counters;
  t.log(JSON.stringify(k), readText(result));
  t.true(k.syn_refused! > 0, `connections beyond the limit were refused: ${JSON.stringify(k)}`);
  t.true(k.sockets! <= 48, `host sockets stayed bounded: ${k.sockets}`);
  t.true(Number(readText(result)) <= 45, `connections that got through: ${readText(result)}`);
  // The daemon and the nat serve on once the flood is over.
  t.truthy((await d.request({ version: {} })).version);
  const got = path.join(dir, 'after.txt');
  await waitFor('the nat to serve again', async () => (await shell(c.c, `timeout 10 busybox wget -q -O ${got} http://10.0.2.2:${port}/`, 30000)) === 0 && readText(got) === 'still here\n', 60000);
  t.is(readText(got), 'still here\n');
  t.is(await shell(c.c, 'ping -c 2 -W 5 10.0.2.2'), 0);
});

/**
 * Run @script in a containode container whose root is an overlay of the host's
 * own root (its changes go to a private upper directory, so dhclient may write
 * /etc/resolv.conf), on the daemon's default lan; returns the exit code, the
 * script's stdout (to look in) and all the output (for messages: containode's
 * stderr may land inside a line of the script's).
 */
async function overlayContainer(t: ExecutionContext, d: TestDaemon, script: string): Promise<{ code: number; stdout: string; out: string }> {
  const top = path.join(tempDir(t), 'top');
  const r = await runContainode(['-r', '/', '-t', top, '-s', d.sock, '--', 'sh', '-c', script], 90000);
  return { code: r.exitCode, stdout: r.stdout, out: r.output };
}

rootTest('ISC dhclient gets a lease, a default route and the nat as its DNS server', async (t) => {
  const d = await natDaemon(t);
  const r = await overlayContainer(t, d, 'dhclient -v -1 eth0 2>&1 && ip -4 addr show eth0 && ip route && cat /etc/resolv.conf');
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /bound to 10\.0\.2\.\d+/, r.out);
  t.regex(r.stdout, /inet 10\.0\.2\.\d+\/24/, r.out);
  t.regex(r.stdout, /default via 10\.0\.2\.2 dev eth0/, r.out);
  t.regex(r.stdout, /nameserver 10\.0\.2\.3/, "the lease's DNS server went into the container's own /etc/resolv.conf");
});

rootTest('--ipv6: a container takes an address from the nat router advertisements and pings the gateway', async (t) => {
  const d = await natDaemon(t, '--ipv6');
  const r = await overlayContainer(
    t,
    d,
    'for i in $(seq 30); do ip -6 addr show eth0 | grep -q "inet6 fd00::" && break; sleep 0.5; done; ip -6 addr show eth0; ping -6 -c 2 -W 3 fd00::2',
  );
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /inet6 fd00::[0-9a-f:]+\/64/, r.out);
});
