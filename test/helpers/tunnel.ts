/**
 * Helpers for the tunnel interop tests (test/e2e-tunnel.test.ts): "hosts" that
 * are network namespaces the test makes, joined by a veth underlay (a direct
 * pair for two, a Linux bridge in a namespace of its own for more), each with
 * IPv4 and IPv6 addresses unique to the test; endpoints (a container, or a
 * namespace) that ping each other and exchange checksummed files over HTTP;
 * a Linux vxlan device on a Linux bridge with a namespace behind it; an Open
 * vSwitch of the test's own (userspace datapath) run inside a host namespace;
 * crafted VXLAN datagrams; the counters of a port. Everything is removed in
 * t.teardown, so a failing test leaves the machine as it found it; processes
 * are only ever killed by the pid the test started (or, for OVS's detached
 * daemons, the pid of their pidfile, checked to be that daemon).
 */
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { OVS_SCHEMA, pidfileProcess } from '../../src/ovs/instance.js';

import { collectOutput, containerInitPid, netns, run, stopChild, tempDir, uniqueName, waitFor, type TestDaemon } from './env.js';
import { shellContainer, type ShellContainer } from './containers.js';

/**
 * The underlay's MTU. The containers keep the standard 1500 and the underlay
 * carries the encapsulation on top (1550 for VXLAN or Geneve over IPv4, 1570
 * over IPv6), as a datacenter fabric with a larger MTU does: one inner MTU for
 * every case (containet to containet, to a Linux vxlan device, to OVS, IPv4 or
 * IPv6 underlay), the Linux vxlan device's and OVS's defaults (1500) work as
 * they are, and containet's default inner MTU (the underlay's minus the
 * encapsulation) is exercised rather than overridden. Shrinking the containers
 * to 1450 instead would not fit an IPv6 underlay (70 bytes of headers).
 */
export const UNDERLAY_MTU = 1600;

/** The MTU of every container's eth0 (containode's default is 64000). */
export const CONTAINER_MTU = 1500;

/** One host: a network namespace with an underlay device and its addresses. */
export interface Host {
  ns: string;
  /** its underlay device (in ns) */
  dev: string;
  /** IPv4 address on dev, no prefix */
  v4: string;
  /** IPv6 address on dev, no prefix */
  v6: string;
}

/** Hosts joined by an underlay. */
export interface Underlay {
  hosts: Host[];
  /** the IPv4 /24, "10.X.Y" */
  net4: string;
  /** the IPv6 /64 prefix, "fd00:X:Y:Z" */
  net6: string;
}

let nets = 0;

/** An IPv4 /24 and an IPv6 /64 of their own for each call in this run. */
export function subnets(): { net4: string; net6: string } {
  nets += 1;
  const a = 100 + (process.pid % 100);
  const b = (nets * 37 + Math.floor(Math.random() * 250)) % 250;
  // Each group is written as ip(8) prints it (RFC 5952: no leading zeros, never 0,
  // so no "::" can shorten it), so tests can look for addresses in its output.
  const group = (n: number) => ((n % 0xffff) + 1).toString(16);
  return { net4: `10.${a}.${b}`, net6: `fd00:${group(process.pid)}:${group(nets)}:${group(randomBytes(2).readUInt16BE())}` };
}

/** An inner (overlay) /24 "10.X.Y", distinct from the underlay's (10.200-10.249). */
export function innerNet(): string {
  nets += 1;
  return `10.${200 + (process.pid % 50)}.${(nets * 53 + Math.floor(Math.random() * 250)) % 250}`;
}

/** A VNI of its own for each call (1 .. 2^24-2). */
export function vni(): number {
  return 1 + (randomBytes(3).readUIntBE(0, 3) % 0xfffffe);
}

/**
 * @n host namespaces joined by an underlay of MTU UNDERLAY_MTU: two by a veth
 * pair, more by veths to a Linux bridge in a switch namespace of their own.
 * Host i has NET4.(i+1)/24 and NET6::(i+1)/64 (nodad); NET4 is @o.net4 when
 * given (addresses a file names: the namespaces are the test's, so they clash
 * with nothing), else one of this run's own. Every host reaches every other
 * over IPv4 and IPv6 before this returns.
 */
export async function underlay(t: ExecutionContext, n: number, o: { net4?: string } = {}): Promise<Underlay> {
  const own = subnets();
  const net4 = o.net4 ?? own.net4;
  const net6 = own.net6;
  const hosts: Host[] = [];
  for (let i = 0; i < n; i++) hosts.push({ ns: await netns(t, 'tnh'), dev: uniqueName('ul'), v4: `${net4}.${i + 1}`, v6: `${net6}::${i + 1}` });
  const mtu = String(UNDERLAY_MTU);
  if (n === 2) {
    const [a, b] = hosts as [Host, Host];
    await run('ip', ['-n', a.ns, 'link', 'add', a.dev, 'mtu', mtu, 'type', 'veth', 'peer', 'name', b.dev, 'mtu', mtu, 'netns', b.ns]);
  } else {
    const sw = await netns(t, 'tnsw');
    await run('ip', ['-n', sw, 'link', 'add', 'br0', 'mtu', mtu, 'type', 'bridge', 'mcast_snooping', '0']);
    await run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const h of hosts) {
      const peer = uniqueName('sw');
      await run('ip', ['-n', h.ns, 'link', 'add', h.dev, 'mtu', mtu, 'type', 'veth', 'peer', 'name', peer, 'mtu', mtu, 'netns', sw]);
      await run('ip', ['-n', sw, 'link', 'set', peer, 'master', 'br0', 'up']);
    }
  }
  for (const h of hosts) {
    await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', h.ns, 'addr', 'add', `${h.v4}/24`, 'dev', h.dev]);
    await run('ip', ['-n', h.ns, 'addr', 'add', `${h.v6}/64`, 'dev', h.dev, 'nodad']);
    await run('ip', ['-n', h.ns, 'link', 'set', h.dev, 'up']);
  }
  // The underlay carries before any tunnel is made: a failure here is the rig's, not containet's.
  for (const h of hosts.slice(1)) {
    for (const addr of [h.v4, h.v6]) {
      await waitFor(`${hosts[0]!.ns} to reach ${addr} on the underlay`, async () => (await nsExec(hosts[0]!.ns, ['ping', '-c', '1', '-W', '1', addr])).exitCode === 0, 30000);
    }
  }
  return { hosts, net4, net6 };
}

/** Run @args in namespace @ns (never throws). */
export function nsExec(ns: string, args: string[], timeoutMs = 30000) {
  return execa('ip', ['netns', 'exec', ns, ...args], { reject: false, timeout: timeoutMs });
}

/** The MAC address of @dev in namespace @ns. */
export async function macOf(ns: string, dev: string): Promise<string> {
  const out = await run('ip', ['-n', ns, '-o', 'link', 'show', dev]);
  const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
  if (!m) throw new Error(`no MAC on ${dev} in ${ns}: ${out}`);
  return m[1]!;
}

/** Somewhere a command runs: a container's network namespace, or a namespace of the test's. */
export interface Endpoint {
  label: string;
  /** its address on the overlay (IPv4, no prefix) */
  addr: string;
  /** Run @args there to completion (never throws). */
  exec(args: string[], timeoutMs?: number): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Start @args there; the pid is the program's (nsenter and ip netns exec both exec it). */
  spawn(args: string[]): ChildProcess;
}

/** Result of execa, reduced. */
async function execResult(p: ReturnType<typeof execa>) {
  const r = await p;
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** The network namespace of a running container, as an endpoint (its init pid found once). */
export async function containerEndpoint(sc: ShellContainer, addr: string): Promise<Endpoint> {
  const pid = String(await containerInitPid(sc.c));
  return {
    label: `container ${sc.id}`,
    addr,
    exec: (args, timeoutMs = 30000) => execResult(execa('nsenter', ['-t', pid, '-n', ...args], { reject: false, timeout: timeoutMs })),
    spawn: (args) => spawn('nsenter', ['-t', pid, '-n', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  };
}

/** Namespace @ns (the test's) as an endpoint. */
export function netnsEndpoint(ns: string, addr: string): Endpoint {
  return {
    label: `namespace ${ns}`,
    addr,
    exec: (args, timeoutMs = 30000) => execResult(nsExec(ns, args, timeoutMs)),
    spawn: (args) => spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  };
}

/**
 * A containode container (an interactive shell) on daemon @d's lan @lan (the
 * default lan when undefined) with address @addr/24 and MTU CONTAINER_MTU, as
 * an endpoint.
 */
export async function container(t: ExecutionContext, d: TestDaemon, addr: string, lan?: string): Promise<Endpoint & { sc: ShellContainer }> {
  const sc = await shellContainer(t, d, `${addr}/24`, ['--mtu', String(CONTAINER_MTU), ...(lan ? ['-l', lan] : [])]);
  return { ...(await containerEndpoint(sc, addr)), sc };
}

/**
 * A Linux vxlan device (VNI @vni, remote @remote, local @local, dstport 4789,
 * nolearning) in host @h, on a Linux bridge with a namespace of the test's
 * behind it (a veth, address @addr/24): the endpoint is that namespace.
 *
 * Host @h's underlay veth gets transmit checksum offload off. With it on, the
 * kernel leaves the checksum of an inner TCP segment for "the hardware" to
 * fill in (CHECKSUM_PARTIAL), and a veth carries the packet to the other
 * namespace as it is: Linux's own vxlan receiver is fine with that (the state
 * travels with the packet), but a VTEP that reads its datagrams from a UDP
 * socket (containet, or OVS's userspace datapath) gets inner segments whose
 * checksum holds only the pseudo-header sum, and their receiver drops them
 * (seen: every SYN-ACK from behind the vxlan device arrived "incorrect"). A
 * real NIC fills the checksum in on the wire; with offload off the kernel
 * does so before the veth. With @o.offload it is left on: containet then
 * takes such segments as unfinished (NEEDS_CSUM), as the kernel would.
 */
export async function linuxVtep(t: ExecutionContext, h: Host, o: { vni: number; remote: string; local: string; addr: string; offload?: boolean }): Promise<Endpoint & { ns: string; vx: string; br: string }> {
  const vx = uniqueName('vx');
  const br = uniqueName('br');
  const vb = uniqueName('vb');
  const behind = await netns(t, 'tnb');
  if (!o.offload) await run('ip', ['netns', 'exec', h.ns, 'ethtool', '-K', h.dev, 'tx', 'off']);
  await run('ip', ['-n', h.ns, 'link', 'add', vx, 'type', 'vxlan', 'id', String(o.vni), 'remote', o.remote, 'local', o.local, 'dstport', '4789', 'nolearning']);
  await run('ip', ['-n', h.ns, 'link', 'add', br, 'type', 'bridge']);
  await run('ip', ['-n', h.ns, 'link', 'add', vb, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', behind]);
  await run('ip', ['-n', h.ns, 'link', 'set', vx, 'master', br, 'up']);
  await run('ip', ['-n', h.ns, 'link', 'set', vb, 'master', br, 'up']);
  await run('ip', ['-n', h.ns, 'link', 'set', br, 'up']);
  await run('ip', ['-n', behind, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', behind, 'addr', 'add', `${o.addr}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', behind, 'link', 'set', 'eth0', 'up']);
  return { ...netnsEndpoint(behind, o.addr), label: `namespace ${behind} behind Linux vxlan ${vx}`, ns: behind, vx, br };
}

/**
 * Ping @to's address from @from until one answers (up to @timeoutMs: ARP and
 * a peer's learning take a moment on a busy machine), then 3 more that must
 * be answered; returns the rtt line.
 */
export async function pingOk(t: ExecutionContext, from: Endpoint, to: Endpoint | string, timeoutMs = 30000): Promise<string> {
  const addr = typeof to === 'string' ? to : to.addr;
  let last = '';
  const first = await waitFor(
    `${from.label} to ping ${addr}`,
    async () => {
      const r = await from.exec(['ping', '-c', '1', '-W', '2', addr]);
      last = r.stdout + r.stderr;
      return r.exitCode === 0;
    },
    timeoutMs,
  ).catch(() => false);
  if (!first) {
    t.fail(`${from.label} cannot ping ${addr}: ${last}`);
    return '';
  }
  const r = await from.exec(['ping', '-c', '3', '-i', '0.2', '-W', '3', addr]);
  t.is(r.exitCode, 0, `${from.label} -> ${addr}: ${r.stdout}${r.stderr}`);
  return r.stdout.split('\n').find((l) => l.startsWith('rtt')) ?? '';
}

/** Python that fetches URL argv[1] into file argv[2]. */
const FETCH = `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], 'wb') as f:
    while True:
        b = r.read(1 << 16)
        if not b:
            break
        f.write(b)
`;

/** sha256 of @b, hex. */
export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * @client fetches a file of @size random bytes over HTTP from a server on
 * @server (python3 http.server bound to its overlay address, started and
 * stopped by pid here); the sha256 of what arrived must match. Returns the
 * transfer rate, for the log.
 */
export async function transfer(t: ExecutionContext, server: Endpoint, client: Endpoint, size = 8 << 20): Promise<string> {
  const dir = tempDir(t);
  const body = randomBytes(size);
  writeFileSync(path.join(dir, 'blob'), body);
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const srv = server.spawn(['python3', '-m', 'http.server', '--bind', server.addr, '--directory', dir, port]);
  const out = collectOutput(srv);
  t.teardown(() => stopChild(srv));
  await out.until(`the HTTP server on ${server.label}`, async () => (await server.exec(['ss', '-Hltn', `src ${server.addr}:${port}`])).stdout.includes(`:${port}`), 30000);
  const got = path.join(tempDir(t), 'got');
  const t0 = Date.now();
  const r = await client.exec(['python3', '-c', FETCH, `http://${server.addr}:${port}/blob`, got], 150000);
  const ms = Date.now() - t0;
  await stopChild(srv);
  t.is(r.exitCode, 0, `${client.label} fetching from ${server.label}: ${r.stderr} ${out.output()}`);
  if (r.exitCode !== 0) return '';
  const data = readFileSync(got);
  t.is(data.length, body.length, `${client.label} got ${data.length} of ${body.length} bytes`);
  t.is(sha256(data), sha256(body), `sha256 of what ${client.label} got from ${server.label}`);
  return `${(size / (1 << 20)).toFixed(0)} MiB ${server.label} -> ${client.label} in ${ms} ms (${((size * 8) / ms / 1e3).toFixed(0)} Mbit/s)`;
}

/** A port's counters as stats reports them: rx/tx totals, drops by reason, the kind's own. */
export interface PortCounters {
  rxPackets: number;
  txPackets: number;
  drops: Record<string, number>;
  counters: Record<string, number>;
  /** counter @name: the kind's own of that name, else the drop reason of that name, else 0 */
  get(name: string): number;
}

/** The counters of port @name of daemon @d. */
export async function portCounters(d: TestDaemon, name: string): Promise<PortCounters> {
  const st = (await d.request({ stats: { name } })) as { ports?: Record<string, unknown>[] };
  const p = st.ports?.find((x) => x.name === name) ?? st.ports?.[0];
  if (!p) throw new Error(`stats of ${name} has no port: ${JSON.stringify(st)}`);
  const drops = (p.drops as Record<string, number> | undefined) ?? {};
  const counters = (p.counters as Record<string, number> | undefined) ?? {};
  return {
    rxPackets: Number(p.rxPackets ?? 0),
    txPackets: Number(p.txPackets ?? 0),
    drops,
    counters,
    get: (k) => counters[k] ?? drops[k] ?? 0,
  };
}

/** The show entry of object @name of daemon @d. */
export async function shown(d: TestDaemon, name: string): Promise<Record<string, unknown> | undefined> {
  const r = (await d.request({ show: {} })) as { objects: Record<string, unknown>[] };
  return r.objects.find((o) => o.name === name);
}

/** Run `containet add ...@args` on @d and assert it succeeded. */
export async function add(t: ExecutionContext, d: TestDaemon, ...args: string[]): Promise<void> {
  const r = await d.cli('add', ...args);
  t.is(r.exitCode, 0, `add ${args.join(' ')}: ${r.stderr}`);
  if (r.exitCode !== 0) throw new Error(`add ${args.join(' ')} failed: ${r.stderr}`);
}

/** The daemon is still running and answering. */
export async function alive(t: ExecutionContext, d: TestDaemon, what: string): Promise<void> {
  t.is(d.child.exitCode, null, `daemon exited after ${what}: ${d.log().slice(-2000)}`);
  t.is(d.child.signalCode, null, `daemon killed after ${what}`);
  const r = await d.request({ version: {} }).catch((e: Error) => ({ error: e.message }));
  t.is(typeof (r as { version?: unknown }).version, 'string', `daemon answers after ${what}: ${JSON.stringify(r)}`);
}

// ---------------------------------------------------------------- VXLAN frames

/** An 8-byte VXLAN header: @flags (0x08: the I flag), VNI @id. */
export function vxlanHeader(id: number, flags = 0x08): Buffer {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUIntBE(id, 4, 3);
  return h;
}

/**
 * A Geneve header (RFC 8926 section 3.4) for VNI @id followed by @o.options:
 * version @o.ver (0), option length @o.optWords (the options' own, in 4-byte
 * words), the O (OAM) and C (critical options) bits, protocol @o.proto
 * (0x6558, an ethernet frame).
 */
export function geneveHeader(id: number, o: { ver?: number; optWords?: number; oam?: boolean; critical?: boolean; proto?: number; options?: Buffer } = {}): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(8);
  h[0] = ((o.ver ?? 0) << 6) | ((o.optWords ?? opts.length / 4) & 0x3f);
  h[1] = (o.oam ? 0x80 : 0) | (o.critical ? 0x40 : 0);
  h.writeUInt16BE(o.proto ?? 0x6558, 2);
  h.writeUIntBE(id, 4, 3);
  return Buffer.concat([h, opts]);
}

/** A Geneve option: class @cls, type @type, data @data (a multiple of 4 bytes, at most 124). */
export function geneveOption(cls: number, type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(cls, 0);
  h[2] = type;
  h[3] = (data.length / 4) & 0x1f;
  return Buffer.concat([h, data]);
}

/**
 * An ethernet frame of @len bytes (at least 14): to @dst, from @src (MACs as
 * "aa:bb:..."), ethertype @type, the rest @fill then zeros.
 */
export function etherFrame(dst: string, src: string, type: number, len: number, fill = 'containet-tunnel-test'): Buffer {
  const f = Buffer.alloc(len);
  Buffer.from(dst.replace(/:/g, ''), 'hex').copy(f, 0);
  Buffer.from(src.replace(/:/g, ''), 'hex').copy(f, 6);
  f.writeUInt16BE(type, 12);
  Buffer.from(fill).copy(f, 14);
  return f;
}

/** Python: send datagrams (hex in argv[4:]) from address argv[1] to argv[2]:argv[3]. */
const SEND_UDP = `
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for h in sys.argv[4:]:
    s.sendto(bytes.fromhex(h), (dst, port))
`;

/** From namespace @ns, bound to address @src, send each of @datagrams to @dst:@port. */
export async function sendUdp(ns: string, src: string, dst: string, port: number, datagrams: Buffer[]): Promise<void> {
  const r = await nsExec(ns, ['python3', '-c', SEND_UDP, src, dst, String(port), ...datagrams.map((b) => b.toString('hex'))]);
  if (r.exitCode !== 0) throw new Error(`sending crafted datagrams from ${src} failed: ${r.stderr}`);
}

/**
 * Python: send argv[4] frames of ethertype argv[3] (hex) to MAC argv[2] out of
 * argv[1] (an AF_PACKET socket; the source is the device's MAC), each
 * carrying text argv[5], one every 20 ms.
 */
const SEND_FRAMES = `
import socket, sys, time
dev, dst, etype, n, text = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), int(sys.argv[3], 16), int(sys.argv[4]), sys.argv[5].encode()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
src = s.getsockname()[4]
for i in range(n):
    s.send(dst + src + etype.to_bytes(2, 'big') + (text + b' %d' % i).ljust(46, b'\\0'))
    time.sleep(0.02)
`;

/** Send @n raw frames of ethertype @etype to MAC @dst out of eth0 of @from. */
export async function sendFrames(from: Endpoint, dst: string, etype: number, n: number, text: string): Promise<void> {
  const r = await from.exec(['python3', '-c', SEND_FRAMES, 'eth0', dst, etype.toString(16), String(n), text]);
  if (r.exitCode !== 0) throw new Error(`sending frames from ${from.label} failed: ${r.stderr}`);
}

/** tcpdump on eth0 of an endpoint, counting frames by ethertype. */
export interface FrameWatch {
  /** frames of ethertype @etype seen so far */
  count(etype: number): number;
  output(): string;
}

/** Start tcpdump on eth0 of @on for ethertypes @etypes; resolves once it listens; stopped at teardown. */
export async function watchFrames(t: ExecutionContext, on: Endpoint, etypes: number[]): Promise<FrameWatch> {
  const filter = etypes.map((e) => `ether proto 0x${e.toString(16)}`).join(' or ');
  const dump = on.spawn(['tcpdump', '-i', 'eth0', '-nn', '-e', '-l', '-B', '4096', filter]);
  const out = collectOutput(dump);
  t.teardown(() => stopChild(dump));
  await out.until(`tcpdump on ${on.label} to listen`, () => /listening on/.test(out.stderr()), 30000);
  return {
    count: (etype) => out.stdout().split('\n').filter((l) => l.includes(`(0x${etype.toString(16).padStart(4, '0')})`)).length,
    output: () => out.output(),
  };
}

// ---------------------------------------------------------------- Open vSwitch


export { ovsMissing } from '../../src/ovs/instance.js';

/** An Open vSwitch of the test's own. */
export interface Ovs {
  vsctl(...args: string[]): Promise<string>;
  appctl(...args: string[]): Promise<string>;
  /** ovs-vswitchd's log so far. */
  log(): string;
}

/** Stop OVS daemon @name of @dir: `ovs-appctl exit`, then SIGKILL its pidfile's pid if it is still that daemon after 5 s. */
async function stopOvsDaemon(dir: string, name: string, exitArgs: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (pidfileProcess(dir, name) === undefined) return;
  await execa('ovs-appctl', ['-t', path.join(dir, `${name}.ctl`), 'exit', ...exitArgs], { env, reject: false, timeout: 10000 });
  await waitFor(`${name} to exit`, () => pidfileProcess(dir, name) === undefined, 5000).catch(() => undefined);
  const pid = pidfileProcess(dir, name);
  if (pid === undefined) return;
  process.kill(pid, 'SIGKILL');
  await waitFor(`${name} (pid ${pid}) to die`, () => pidfileProcess(dir, name) === undefined, 5000);
}

/**
 * ovsdb-server and ovs-vswitchd (userspace datapath only: this kernel has no
 * openvswitch module) with their database, sockets, pidfiles and logs in a
 * private directory, vswitchd inside namespace @ns so the taps of the netdev
 * datapath (ovs-netdev, bridges' internal ports) are made there. Both are
 * stopped at teardown and the taps they leave are deleted.
 */
export async function startOvs(t: ExecutionContext, ns: string): Promise<Ovs> {
  const dir = tempDir(t);
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
  const db = `unix:${path.join(dir, 'db.sock')}`;
  const ovsRun = async (cmd: string, args: string[]) => {
    const r = await execa(cmd, args, { env, reject: false, timeout: 30000 });
    if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.stdout;
  };
  const daemon = (name: string, args: string[]) =>
    ovsRun('ip', [
      'netns', 'exec', ns, name, ...args,
      `--pidfile=${path.join(dir, `${name}.pid`)}`,
      `--unixctl=${path.join(dir, `${name}.ctl`)}`,
      `--log-file=${path.join(dir, `${name}.log`)}`,
      '--detach', '--no-chdir',
    ]);
  const vsctl = (...args: string[]) => ovsRun('ovs-vsctl', [`--db=${db}`, '--timeout=30', ...args]);
  const appctl = (...args: string[]) => ovsRun('ovs-appctl', ['-t', path.join(dir, 'ovs-vswitchd.ctl'), ...args]);
  await ovsRun('ovsdb-tool', ['create', path.join(dir, 'conf.db'), OVS_SCHEMA]);
  t.teardown(() => stopOvsDaemon(dir, 'ovsdb-server', [], env));
  await daemon('ovsdb-server', [path.join(dir, 'conf.db'), `--remote=punix:${path.join(dir, 'db.sock')}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options']);
  await vsctl('--no-wait', 'init');
  // Teardowns run last-registered first: vswitchd stops, then its taps go, then ovsdb-server.
  t.teardown(async () => {
    const r = await execa('ip', ['-n', ns, '-o', 'link', 'show', 'type', 'tun'], { reject: false });
    for (const line of r.exitCode === 0 ? r.stdout.split('\n') : []) {
      const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
      if (name) await execa('ip', ['-n', ns, 'link', 'del', name], { reject: false });
    }
  });
  t.teardown(() => stopOvsDaemon(dir, 'ovs-vswitchd', ['--cleanup'], env));
  await daemon('ovs-vswitchd', [db]);
  return {
    vsctl,
    appctl,
    log: () => {
      try {
        return readFileSync(path.join(dir, 'ovs-vswitchd.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
}
