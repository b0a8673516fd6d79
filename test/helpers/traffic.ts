/**
 * Traffic helpers for end-to-end tests: a TCP transfer between two namespaces
 * whose bytes are checked end to end (sha256) and whose receiving stack must
 * count no TCP checksum error, and a port's counters from a running daemon.
 */
import { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';

import { native } from '../../src/native.js';
import { collectOutput, inNetns, netns, stopChild, uniqueName, type TestDaemon } from './env.js';

/** Python receiver: accept one connection, print sha256 and length of what came. */
export const RECEIVER = `
import hashlib, socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print('ready', flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(h.hexdigest(), n, flush=True)
`;

/** Python sender: send N bytes from a seeded generator, print their sha256. */
export const SENDER = `
import hashlib, random, socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
c = socket.socket(fam, socket.SOCK_STREAM); c.settimeout(30)
c.connect((sys.argv[1], int(sys.argv[2])))
rnd = random.Random(int(sys.argv[4])); h = hashlib.sha256(); left = int(sys.argv[3])
while left:
    b = rnd.randbytes(min(left, 1 << 20)); c.sendall(b); h.update(b); left -= len(b)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
print(h.hexdigest(), flush=True)
`;

/** A process started by readyChild. */
export interface ReadyChild {
  /** what it printed to stdout so far */
  out(): string;
  /** what it printed to stderr so far */
  err(): string;
  /** resolves once it exited and all it printed was read (at 'exit' its last line may still be unread) */
  done: Promise<void>;
}

/**
 * Run @args in namespace @ns (stopped by pid at teardown) and wait until it
 * prints a "ready" line on stdout (60 s: a busy machine may be slow to start
 * it); when it ends first or does not get there, the error names it (@what)
 * and says what it printed.
 */
export async function readyChild(t: ExecutionContext, ns: string, args: string[], what: string): Promise<ReadyChild> {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  t.teardown(() => stopChild(child));
  await output.untilStdout(what, (out) => /^ready$/m.test(out));
  return { out: output.stdout, err: output.stderr, done: output.closed.then(() => undefined) };
}

/** Send @bytes from namespace @from to @addr (in namespace @to); both hashes must match. */
export async function transfer(t: ExecutionContext, from: string, to: string, addr: string, bytes: number, label: string) {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const rx = await readyChild(t, to, ['python3', '-c', RECEIVER, addr, port], `the receiver in ${to}`);
  const seed = String(Math.floor(Math.random() * 1e9));
  const tx = await inNetns(from, ['python3', '-c', SENDER, addr, port, String(bytes), seed], { timeout: 60000 });
  t.is(tx.exitCode, 0, `${label}: sender failed: ${tx.stderr}`);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([rx.done, new Promise((r) => (timer = setTimeout(r, 30000)))]);
  clearTimeout(timer); // a pending timer would keep the test worker alive
  const [hash, n] = rx.out().split('\n')[1]?.split(' ') ?? [];
  t.is(Number(n), bytes, `${label}: bytes received (${rx.err()})`);
  t.is(hash, tx.stdout.trim(), `${label}: sha256 of what arrived`);
  // TCP would hide a bad segment by retransmitting it: the receiving stack
  // must have found no checksum error at all.
  t.is(await tcpCsumErrors(to), 0, `${label}: TCP checksum errors counted by the receiver`);
}

/** TCP InCsumErrors of namespace @ns (from its /proc/net/snmp). */
export async function tcpCsumErrors(ns: string): Promise<number> {
  const lines = (await inNetns(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  const i = names?.indexOf('InCsumErrors') ?? -1;
  if (i < 0 || !values) throw new Error(`no TCP InCsumErrors in /proc/net/snmp of ${ns}`);
  return Number(values[i]);
}

/** Counters of port @name. */
export async function portStats(d: TestDaemon, name: string) {
  const r = (await d.request({ stats: { name } })) as { ports: { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; drops: Record<string, number> }[] };
  return r.ports[0]!;
}


/** A tap in a namespace of its own, attached to a running daemon. */
export interface TapPort {
  ns: string;
  /** the port's name in the daemon */
  name: string;
}

/**
 * Make a namespace (removed at teardown) holding an `eth0` tap with address
 * @ipv4/24 (and @ipv6/64 when given), MTU 1500, and attach it to @d as port
 * "<prefix><unique>"; @extra goes into the add-etherfd request (lan, thread).
 * @restorable: the port is kept with its namespace's path ("keep", "netns"),
 * so a daemon with --state makes it again after a restart. @queues: a
 * multi-queue tap with that many queues, every queue's fd handed over.
 */
export async function tapPort(
  t: ExecutionContext,
  d: TestDaemon,
  opts: { framing: 'vnet' | 'pi' | 'plain'; ipv4: string; ipv6?: string; extra?: Record<string, unknown>; restorable?: boolean; queues?: number },
): Promise<TapPort> {
  const ns = await netns(t, 'tp');
  const fds = native().tapCreate({
    netns: `/run/netns/${ns}`,
    ifname: 'eth0',
    vnetHdr: opts.framing === 'vnet',
    packetInfo: opts.framing === 'pi',
    ipv4: opts.ipv4,
    prefix: 24,
    mtu: 1500,
    up: true,
    loUp: true,
  }, opts.queues ?? 1);
  const name = uniqueName(opts.framing);
  try {
    const keep = opts.restorable ? { keep: true, netns: `/run/netns/${ns}` } : {};
    await d.request({ 'add-etherfd': { ifname: 'eth0', nodeid: name, name, ...keep, ...opts.extra } }, fds);
  } finally {
    for (const fd of fds) native().closeFd(fd);
  }
  if (opts.ipv6) {
    const r = await inNetns(ns, ['ip', '-6', 'addr', 'add', `${opts.ipv6}/64`, 'dev', 'eth0', 'nodad']);
    if (r.exitCode !== 0) throw new Error(`ip -6 addr add in ${ns}: ${r.stderr}`);
  }
  return { ns, name };
}
