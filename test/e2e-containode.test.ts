/**
 * End to end, as root: containode as a product. Real namespaces, real mounts,
 * real taps on a real daemon: identity and hostname, the namespaces it makes
 * (and keeps with -N / -I), the container's /dev, /proc and loopback, the
 * program's environment, exit statuses and signal forwarding, eth0 on the
 * switch (-s, -4, -l, --mtu, --ifname) and its removal, a busybox root (-r, -t)
 * whose changes land in the overlay's top directory, and option errors.
 */
import type { ExecutionContext } from 'ava';
import { existsSync, readFileSync, readlinkSync, writeFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';

import {
  childrenOf,
  containerInitPid,
  inContainer,
  rootTest,
  containodePath,
  runContainode,
  startContainode,
  startDaemon,
  tempDir,
  uniqueName,
  waitFor,
  type TestContainer,
  type TestDaemon,
} from './helpers/env.js';
import { busyboxRoot } from './helpers/containers.js';

/** Namespaces containode always makes new, unless kept with -N / -I. */
const NAMESPACES = ['uts', 'ipc', 'mnt', 'net', 'pid'] as const;
type Ns = (typeof NAMESPACES)[number];

/** The test process's (the host's) namespace ids, e.g. `net:[4026531833]`. */
function hostNs(): Record<Ns, string> {
  const out = {} as Record<Ns, string>;
  for (const n of NAMESPACES) out[n] = readlinkSync(`/proc/self/ns/${n}`);
  return out;
}

/** Namespace ids as seen by a process inside a container started with @extra. */
async function containerNs(t: ExecutionContext, extra: string[] = []): Promise<Record<Ns, string>> {
  const script = NAMESPACES.map((n) => `echo ${n}=$(readlink /proc/self/ns/${n})`).join('; ');
  const r = await runContainode([...extra, '--', '/bin/sh', '-c', script]);
  t.is(r.exitCode, 0, r.output);
  const out = {} as Record<Ns, string>;
  for (const n of NAMESPACES) {
    const m = new RegExp(`^${n}=(${n}:\\[\\d+\\])$`, 'm').exec(r.stdout);
    if (!m) throw new Error(`no ${n} namespace in: ${r.output}`);
    out[n] = m[1]!;
  }
  return out;
}

/** Lines of @text without trailing empties. */
function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Ports (as `show` reports them) of daemon @d. */
async function ports(d: TestDaemon): Promise<{ name: string; lan: string; pid: number | null; ifname: string }[]> {
  const r = (await d.request({ show: {} })) as { objects: { kind: string; name: string; lan: string; pid: number | null; ifname: string }[] };
  return r.objects.filter((o) => o.kind === 'port');
}

async function portNames(d: TestDaemon): Promise<string[]> {
  return (await ports(d)).map((p) => p.name);
}

/** True while process @pid exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** True while process @pid sleeps in read(0, ...): /proc/PID/syscall says syscall 0 (x86-64 read), first argument 0. */
function readingStdin(pid: number): boolean {
  try {
    const [nr, fd] = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ');
    return nr === '0' && fd === '0x0';
  } catch {
    return false;
  }
}

/**
 * Start a container that prints `ready` once its program runs and then waits
 * for a line on stdin before exiting with @status.
 */
async function waitingContainer(t: ExecutionContext, args: string[], status = 0): Promise<TestContainer> {
  const c = startContainode(t, [...args, '--', '/bin/sh', '-c', `echo ready; read line; exit ${status}`]);
  await c.untilStdout('the program to start', (out) => /^ready$/m.test(out));
  return c;
}

/** Let a waitingContainer's program finish; resolves with containode's exit status. */
function release(c: TestContainer): Promise<number> {
  c.child.stdin!.end('go\n');
  return c.exited;
}

// ---------------------------------------------------------------------------
// Identity and namespaces

rootTest('-i sets the identity, which is the hostname and $HOSTNAME', async (t) => {
  const id = uniqueName('host-');
  const r = await runContainode(['-i', id, '--', '/bin/sh', '-c', 'hostname; echo "HN=$HOSTNAME"']);
  t.is(r.exitCode, 0, r.output);
  t.deepEqual(lines(r.stdout), [id, `HN=${id}`]);
});

rootTest('the default identity is 11 base62 digits, different on every run', async (t) => {
  const [a, b] = await Promise.all([runContainode(['--', 'hostname']), runContainode(['--', 'hostname'])]);
  t.is(a.exitCode, 0, a.output);
  t.is(b.exitCode, 0, b.output);
  t.regex(a.stdout.trim(), /^[0-9A-Za-z]{11}$/);
  t.regex(b.stdout.trim(), /^[0-9A-Za-z]{11}$/);
  t.not(a.stdout.trim(), b.stdout.trim());
});

rootTest('the program runs as pid 2 of a new pid namespace, under an init that is pid 1', async (t) => {
  const r = await runContainode(['--', '/bin/sh', '-c', 'echo "me=$$"; exec cat /proc/self/status']);
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /^me=2$/m);
  // exec keeps the pid: cat is the shell, pid 2 inside (the container's /proc
  // shows pids of its own namespace only, so NSpid has that one entry).
  t.regex(r.stdout, /^NSpid:\s+2$/m);
  t.regex(r.stdout, /^PPid:\s+1$/m);
  const ps = await runContainode(['--', '/bin/sh', '-c', "ls /proc | grep -E '^[0-9]+$'"]);
  t.is(ps.exitCode, 0, ps.output);
  const pids = lines(ps.stdout).filter((l) => /^\d+$/.test(l)).map(Number);
  t.true(pids.includes(1) && pids.includes(2), ps.stdout);
  t.true(pids.every((p) => p < 20), `only the container's processes are visible: ${pids.join(' ')}`);
});

rootTest('uts, ipc, mount, net and pid namespaces all differ from the host', async (t) => {
  const host = hostNs();
  const inside = await containerNs(t);
  for (const n of NAMESPACES) t.not(inside[n], host[n], `${n} namespace`);
});

rootTest('-N keeps the host network namespace and -I the host IPC namespace, nothing else', async (t) => {
  const host = hostNs();
  const keepNet = await containerNs(t, ['-N']);
  t.is(keepNet.net, host.net);
  for (const n of ['uts', 'ipc', 'mnt', 'pid'] as const) t.not(keepNet[n], host[n], `-N: ${n} namespace`);
  const keepIpc = await containerNs(t, ['-I']);
  t.is(keepIpc.ipc, host.ipc);
  for (const n of ['uts', 'net', 'mnt', 'pid'] as const) t.not(keepIpc[n], host[n], `-I: ${n} namespace`);
  const both = await containerNs(t, ['-N', '-I']);
  t.is(both.net, host.net);
  t.is(both.ipc, host.ipc);
  t.not(both.uts, host.uts);
});

// ---------------------------------------------------------------------------
// What the container sees

rootTest('without -s the container has only lo, up, and 127.0.0.1 answers ping', async (t) => {
  const r = await runContainode(['--', '/bin/sh', '-c', 'ls /sys/class/net; echo ---; ip -o link']);
  t.is(r.exitCode, 0, r.output);
  const [sys, link] = r.stdout.split('---\n');
  t.deepEqual(lines(sys!), ['lo']);
  const links = lines(link!);
  t.is(links.length, 1, link);
  t.regex(links[0]!, /^1: lo: <[^>]*\bUP\b[^>]*>/);
  const ping = await runContainode(['--', 'ping', '-c', '1', '-W', '5', '127.0.0.1']);
  t.is(ping.exitCode, 0, ping.output);
  t.regex(ping.stdout, /1 received/);
});

rootTest('the container has /proc, a tmpfs /dev with the usual nodes, /dev/pts, /dev/shm and its own /sys', async (t) => {
  const script = [
    'for d in null zero random urandom tty console; do test -c /dev/$d && echo "dev $d"; done',
    'echo x > /dev/null && echo "null ok"',
    'test "$(head -c 3 /dev/zero | od -An -tx1 | tr -d " ")" = 000000 && echo "zero ok"',
    'test "$(head -c 16 /dev/urandom | wc -c)" = 16 && echo "urandom ok"',
    'test -L /dev/ptmx && echo "ptmx link"',
    'cat /proc/self/mountinfo',
  ].join('; ');
  const r = await runContainode(['--', '/bin/sh', '-c', script]);
  t.is(r.exitCode, 0, r.output);
  for (const d of ['null', 'zero', 'random', 'urandom', 'tty', 'console']) t.regex(r.stdout, new RegExp(`^dev ${d}$`, 'm'));
  for (const ok of ['null ok', 'zero ok', 'urandom ok', 'ptmx link']) t.regex(r.stdout, new RegExp(`^${ok}$`, 'm'));
  // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER"
  const mounts = lines(r.stdout)
    .map((l) => /^\d+ \d+ \S+ \S+ (\S+) (\S+).* - (\S+) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ at: m[1]!, opts: m[2]!, fs: m[3]! }));
  // The last mount on a path is the one visible.
  const top = (at: string) => mounts.filter((m) => m.at === at).at(-1);
  t.is(top('/proc')?.fs, 'proc', r.stdout);
  t.is(top('/dev')?.fs, 'tmpfs');
  t.is(top('/dev/pts')?.fs, 'devpts');
  t.is(top('/dev/shm')?.fs, 'tmpfs');
  t.is(top('/sys')?.fs, 'sysfs');
  t.regex(top('/sys')?.opts ?? '', /^ro\b/);
});

rootTest('the program starts with PATH, HOME, TERM and HOSTNAME; -e adds and overrides variables', async (t) => {
  const id = uniqueName('env');
  process.env.CONTAINODE_TEST_LEAK = 'leaked';
  t.teardown(() => {
    delete process.env.CONTAINODE_TEST_LEAK;
  });
  const r = await runContainode(['-i', id, '--', 'env']);
  t.is(r.exitCode, 0, r.output);
  const env = new Map(lines(r.stdout).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  t.regex(env.get('PATH') ?? '', /(^|:)\/usr\/bin(:|$)/);
  t.regex(env.get('PATH') ?? '', /(^|:)\/bin(:|$)/);
  t.is(env.get('HOME'), '/root');
  t.truthy(env.get('TERM'));
  t.is(env.get('HOSTNAME'), id);
  // Nothing of the caller's environment leaks in.
  t.false(env.has('CONTAINODE_TEST_LEAK'), r.stdout);
  t.is(env.get('container'), 'containode');

  const e = await runContainode(['-e', 'FOO=bar baz', '-e', 'TERM=dumb', '-e', 'EMPTY=', '--', '/bin/sh', '-c', 'echo "[$FOO] [$TERM] [${EMPTY-unset}]"']);
  t.is(e.exitCode, 0, e.output);
  t.is(e.stdout.trim(), '[bar baz] [dumb] []');
});

rootTest("the program reads containode's stdin with blocking reads (fd 0 is not left non-blocking)", async (t) => {
  const c = startContainode(t, [
    '--', '/bin/sh', '-c', 'grep ^flags: /proc/self/fdinfo/0; echo ready; read line; echo "got=$line"; read rest; echo "rest=$rest"',
  ]);
  await c.untilStdout('the program to start', (out) => /^ready$/m.test(out));
  const flags = /^flags:\s+([0-7]+)$/m.exec(c.stdout());
  t.truthy(flags, c.output());
  t.is(Number.parseInt(flags![1]!, 8) & 0o4000, 0, 'O_NONBLOCK is clear on the program\'s stdin');
  // Once the program sleeps in read(0, ...) (the shell, pid 2: the init's
  // child), data that comes later still arrives.
  const init = await containerInitPid(c);
  await waitFor('the program to block reading its stdin', () => childrenOf(init).some(readingStdin), 30000);
  c.child.stdin!.write('hello\n');
  await c.untilStdout('the first line', (out) => /^got=hello$/m.test(out), 30000);
  c.child.stdin!.end('world\n');
  t.is(await c.closed, 0, c.output());
  t.regex(c.stdout(), /^rest=world$/m);
});

// ---------------------------------------------------------------------------
// Exit status and signals

rootTest("containode exits with the program's status, 128+N when it dies of signal N", async (t) => {
  const seven = await runContainode(['--', '/bin/sh', '-c', 'exit 7']);
  t.is(seven.exitCode, 7, seven.output);
  const zero = await runContainode(['--', 'true']);
  t.is(zero.exitCode, 0, zero.output);
  const killed = await runContainode(['--', '/bin/sh', '-c', 'kill -KILL $$']);
  t.is(killed.exitCode, 137, killed.output);
});

rootTest('a missing program exits 127 and a non-executable one 126, each with a one-line reason', async (t) => {
  const missing = await runContainode(['--', '/no/such/program', 'arg']);
  t.is(missing.exitCode, 127, missing.output);
  t.deepEqual(lines(missing.output), ['containode: exec /no/such/program: No such file or directory']);
  const notInPath = await runContainode(['--', 'no-such-command-anywhere']);
  t.is(notInPath.exitCode, 127, notInPath.output);
  t.is(lines(notInPath.output).length, 1, notInPath.output);

  const dir = tempDir(t);
  const file = path.join(dir, 'not-executable');
  writeFileSync(file, '#!/bin/sh\necho never\n', { mode: 0o644 });
  const cannot = await runContainode(['--', file]);
  t.is(cannot.exitCode, 126, cannot.output);
  t.deepEqual(lines(cannot.output), [`containode: exec ${file}: Permission denied`]);
});

rootTest('SIGTERM to containode reaches the program (a trap runs), and kills it when untrapped', async (t) => {
  const c = startContainode(t, ['--', '/bin/sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done']);
  await c.untilStdout('the trap to be set', (out) => /^ready$/m.test(out));
  process.kill(c.pid, 'SIGTERM');
  t.is(await c.closed, 42, c.output());
  t.regex(c.stdout(), /^got-term$/m);

  const u = startContainode(t, ['--', '/bin/sh', '-c', 'echo ready; while :; do sleep 0.1; done']);
  await u.untilStdout('the program to start', (out) => /^ready$/m.test(out));
  const init = await containerInitPid(u);
  process.kill(u.pid, 'SIGTERM');
  t.is(await u.exited, 128 + 15, u.output());
  t.false(alive(init), 'the container init is gone');
});

rootTest('SIGHUP and SIGUSR1 are forwarded too', async (t) => {
  const c = startContainode(t, [
    '--', '/bin/sh', '-c', 'trap "echo got-usr1" USR1; trap "echo got-hup; exit 3" HUP; echo ready; while :; do sleep 0.1; done',
  ]);
  await c.untilStdout('the traps to be set', (out) => /^ready$/m.test(out));
  process.kill(c.pid, 'SIGUSR1');
  await c.untilStdout('the USR1 trap', (out) => /^got-usr1$/m.test(out), 30000);
  process.kill(c.pid, 'SIGHUP');
  t.is(await c.closed, 3, c.output());
  t.regex(c.stdout(), /^got-usr1$/m);
  t.regex(c.stdout(), /^got-hup$/m);
});

// ---------------------------------------------------------------------------
// eth0 on the switch

rootTest('with -s and -4, eth0 has the address, MTU 64000 and is up; its port is shown while running and removed after', async (t) => {
  const d = await startDaemon(t);
  const id = uniqueName('eth');
  const c = startContainode(t, [
    '-s', d.sock, '-4', '10.77.0.2/24', '-i', id, '--', '/bin/sh', '-c',
    'ip -o -4 addr show dev eth0; cat /sys/class/net/eth0/mtu; ip -o link show eth0; ls /sys/class/net | tr "\\n" " "; echo; echo ready; read line; exit 5',
  ]);
  await c.untilStdout('the program to start', (out) => /^ready$/m.test(out));
  const out = c.stdout();
  t.regex(out, /^\d+: eth0\s+inet 10\.77\.0\.2\/24 /m);
  t.regex(out, /^64000$/m);
  t.regex(out, /^\d+: eth0: <[^>]*\bUP\b[^>]*\bLOWER_UP\b[^>]*> mtu 64000 /m);
  t.regex(out, /^eth0 lo $/m);

  // The port, named IDENTITY.eth0, is on lan0, watching the container's init.
  const init = await containerInitPid(c);
  const port = (await ports(d)).find((p) => p.name === `${id}.eth0`);
  t.truthy(port, JSON.stringify(await ports(d)));
  t.is(port!.lan, 'lan0');
  t.is(port!.pid, init);
  const show = await d.cli('show');
  t.is(show.exitCode, 0, show.stderr);
  t.regex(show.stdout, new RegExp(`^${id}\\.eth0\\s+lan0\\s`, 'm'));

  t.is(await release(c), 5, c.output());
  await waitFor('the port to go', async () => !(await portNames(d)).includes(`${id}.eth0`), 5000);
  const after = await d.cli('show');
  t.notRegex(after.stdout, new RegExp(`${id}\\.eth0`));
});

rootTest('-4 without a length takes the class prefix; --ifname and --mtu shape the interface', async (t) => {
  const d = await startDaemon(t);
  const id = uniqueName('if');
  const r = await runContainode([
    '-s', d.sock, '-4', '172.20.0.9', '--ifname', 'net7', '--mtu', '1400', '-i', id, '--',
    '/bin/sh', '-c', 'ip -o -4 addr show dev net7; cat /sys/class/net/net7/mtu; test -e /sys/class/net/eth0 || echo no-eth0',
  ]);
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /^\d+: net7\s+inet 172\.20\.0\.9\/16 /m);
  t.regex(r.stdout, /^1400$/m);
  t.regex(r.stdout, /^no-eth0$/m);
  t.deepEqual(await portNames(d), [], 'the port is gone after exit');
  const named = new RegExp(`${id}\\.net7`);
  t.regex(await d.logged(named), named, 'the daemon had a port named IDENTITY.IFNAME');
});

rootTest('-s without -4 still attaches an up interface, with no IPv4 address', async (t) => {
  const d = await startDaemon(t);
  const id = uniqueName('noip');
  const c = await waitingContainer(t, ['-s', d.sock, '-i', id]);
  const init = await containerInitPid(c);
  const r = await inContainer(init, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), '');
  const link = await inContainer(init, ['ip', '-o', 'link', 'show', 'eth0']);
  t.regex(link.stdout, /<[^>]*\bUP\b[^>]*>/);
  t.true((await portNames(d)).includes(`${id}.eth0`));
  t.is(await release(c), 0);
});

rootTest('a SIGKILLed containode leaves no port and no container process behind', async (t) => {
  const d = await startDaemon(t);
  const id = uniqueName('kill');
  const c = await waitingContainer(t, ['-s', d.sock, '-4', '10.77.1.2/24', '-i', id]);
  const init = await containerInitPid(c);
  await waitFor('the port', async () => (await portNames(d)).includes(`${id}.eth0`), 10000);
  process.kill(c.pid, 'SIGKILL');
  await c.exited;
  // containode could not send remove-etherfd: the daemon watches the init's pid.
  await waitFor('the port to go', async () => !(await portNames(d)).includes(`${id}.eth0`), 20000);
  await waitFor('the container init to die', () => !alive(init), 10000);
  t.false(alive(init));
  // The daemon took it out itself (its pidfd on the init, or the tap vanishing).
  const removed = new RegExp(`port ${id}\\.eth0 removed from lan0: `);
  t.regex(await d.logged(removed), removed);
});

rootTest('-l joins the named lan, where two containers reach each other', async (t) => {
  const d = await startDaemon(t);
  const add = await d.cli('add', 'lan', 'blue');
  t.is(add.exitCode, 0, add.stderr);
  const idA = uniqueName('blueA');
  const a = await waitingContainer(t, ['-s', d.sock, '-4', '10.78.0.1/24', '-l', 'blue', '-i', idA]);
  t.is((await ports(d)).find((p) => p.name === `${idA}.eth0`)?.lan, 'blue');
  const b = await runContainode(['-s', d.sock, '-4', '10.78.0.2/24', '--lan', 'blue', '--', 'ping', '-c', '2', '-W', '5', '10.78.0.1']);
  t.is(b.exitCode, 0, b.output);
  t.regex(b.stdout, /2 received/);
  const show = await d.cli('show');
  t.regex(show.stdout, new RegExp(`^${idA}\\.eth0\\s+blue\\s`, 'm'));
  t.is(await release(a), 0);
});

rootTest('a lan that does not exist, or no daemon on the socket, fails setup with 125 and one line', async (t) => {
  const d = await startDaemon(t);
  const r = await runContainode(['-s', d.sock, '-l', 'nosuchlan', '--', '/bin/sh', '-c', 'echo program-ran']);
  t.is(r.exitCode, 125, r.output);
  t.notRegex(r.output, /program-ran/);
  t.is(lines(r.output).length, 1, r.output);
  t.regex(r.output, /^containode: .*no lan named "nosuchlan"/);
  t.deepEqual(await portNames(d), []);

  const dir = tempDir(t);
  const gone = await runContainode(['-s', path.join(dir, 'nothing.sock'), '--', '/bin/sh', '-c', 'echo program-ran']);
  t.is(gone.exitCode, 125, gone.output);
  t.notRegex(gone.output, /program-ran/);
  t.is(lines(gone.output).length, 1, gone.output);
  t.regex(gone.output, /^containode: .*nothing\.sock/);
});

rootTest('a second container with the same identity on one switch is refused', async (t) => {
  const d = await startDaemon(t);
  const id = uniqueName('dup');
  const a = await waitingContainer(t, ['-s', d.sock, '-i', id]);
  const b = await runContainode(['-s', d.sock, '-i', id, '--', '/bin/sh', '-c', 'echo program-ran']);
  t.is(b.exitCode, 125, b.output);
  t.notRegex(b.output, /program-ran/);
  t.regex(b.output, /already exists/);
  // The first container's port survives the refused one.
  t.true((await portNames(d)).includes(`${id}.eth0`));
  t.is(await release(a), 0);
  await waitFor('the port to go', async () => !(await portNames(d)).includes(`${id}.eth0`), 5000);
});

/** Open @n control connections to daemon @d and keep them (closed at teardown). */
async function holdConnections(t: ExecutionContext, d: TestDaemon, n: number): Promise<Socket[]> {
  const held = await Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve, reject) => {
      const c = connect(d.sock, () => resolve(c));
      c.once('error', reject);
    })),
  );
  t.teardown(() => held.forEach((c) => c.destroy()));
  return held;
}

/** The daemon's control connections at once (native/core/ctl.h CTN_CTL_MAX_CONNS). */
const MAX_CONTROL_CONNECTIONS = 256;

rootTest('a daemon with every control connection taken is waited for: the request waits in its backlog until one is free', async (t) => {
  const d = await startDaemon(t);
  const base = d.fdCount();
  const held = await holdConnections(t, d, MAX_CONTROL_CONNECTIONS);
  // (Less a few: the start's own probe connections may still have been open at `base`.)
  await waitFor('the daemon to hold them all', () => d.fdCount() >= base + MAX_CONTROL_CONNECTIONS - 4, 30000);
  const id = uniqueName('busy');
  const run = runContainode(['-s', d.sock, '-4', '10.77.9.2/24', '-i', id, '--', '/bin/sh', '-c', 'ip -o -4 addr show dev eth0']);
  await new Promise((r) => setTimeout(r, 700));
  held.forEach((c) => c.destroy());
  const r = await run;
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /eth0\s+inet 10\.77\.9\.2\/24/);
});

/**
 * A stand-in switch (python3) that answers the first @busy add-etherfd requests
 * as a daemon with every connection taken did before it queued them ("too many
 * control connections"), then {} (to version too: a daemon that does not say
 * its threads); it closes every fd it gets and prints one line per request
 * ("req N VERB"), before it answers, so the line is out when the client is done.
 */
const BUSY_STANDIN = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(16)
print('ready', flush=True)
n = adds = 0
while True:
    c, _ = s.accept()
    msg, anc, _, _ = c.recvmsg(65536, socket.CMSG_SPACE(4 * 8))
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            for f in array.array('i', data[: len(data) - len(data) % 4]): os.close(f)
    verb = list(json.loads(msg))[0]
    n += 1
    adds = adds + 1 if verb == 'add-etherfd' else adds
    busy = verb == 'add-etherfd' and adds <= int(sys.argv[2])
    print('req', n, verb, flush=True)
    c.sendall(b'{"error":"too many control connections open; try again later"}' if busy else b'{}')
    c.close()
`;

rootTest('a switch that answers "too many control connections" is asked again after a pause, and the program runs', async (t) => {
  const sock = path.join(tempDir(t), 'busy.sock');
  const standin = execa('python3', ['-c', BUSY_STANDIN, sock, '2'], { reject: false, all: true });
  t.teardown(() => standin.kill('SIGKILL'));
  await waitFor('the stand-in to listen', () => existsSync(sock), 30000);
  const r = await runContainode(['-s', sock, '-i', uniqueName('std'), '--', '/bin/sh', '-c', 'echo program-ran']);
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /^program-ran$/m);
  standin.kill('SIGKILL');
  const out = (await standin).all ?? '';
  // First the question of how many queues (answered without "threads": one).
  t.deepEqual(out.split('\n').filter((l) => l.startsWith('req ')), ['req 1 version', 'req 2 add-etherfd', 'req 3 add-etherfd', 'req 4 add-etherfd', 'req 5 remove-etherfd'], out);
});

rootTest('CONTAINODE_ATTACH_TIMEOUT bounds the wait: a busy daemon, or a socket nobody accepts on, fails with 125 naming socket and reason', async (t) => {
  const d = await startDaemon(t);
  await holdConnections(t, d, MAX_CONTROL_CONNECTIONS);
  const env = { CONTAINODE_ATTACH_TIMEOUT: '1' };
  const busy = await execa(containodePath(), ['-s', d.sock, '--', '/bin/sh', '-c', 'echo program-ran'], { reject: false, all: true, env });
  t.is(busy.exitCode, 125, busy.all);
  t.notRegex(busy.all ?? '', /program-ran/);
  t.is(lines(busy.all ?? '').length, 1, busy.all);
  // Its request waits in the daemon's backlog, unanswered, until the deadline.
  t.true((busy.all ?? '').startsWith(`containode: aborted: no reply from ${d.sock} within `), busy.all);

  // A socket file nobody listens on (its process gone): ECONNREFUSED, tried again until the deadline.
  const stale = path.join(tempDir(t), 'stale.sock');
  await execa('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stale]);
  const t0 = Date.now();
  const refused = await execa(containodePath(), ['-s', stale, '--', '/bin/sh', '-c', 'echo program-ran'], { reject: false, all: true, env });
  t.is(refused.exitCode, 125, refused.all);
  t.true(Date.now() - t0 >= 900, 'it waited for the deadline');
  t.is(lines(refused.all ?? '').length, 1, refused.all);
  t.regex(refused.all ?? '', /^containode: aborted: cannot connect to .*stale\.sock: Connection refused \(tried for 1\.\d s\)$/);
});

// ---------------------------------------------------------------------------
// A root filesystem

rootTest('-r runs in an overlay of ROOT: writes go to ROOT.ID/upper, never to ROOT', async (t) => {
  const { root } = busyboxRoot(t);
  const id = uniqueName('root');
  const top = `${root}.${id}`;
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const r = await runContainode([
    '-r', root, '-i', id, '--', '/bin/sh', '-c',
    'echo hi > /file; cat /file; echo "home=$HOME pwd=$(pwd)"; hostname; ls /; readlink /bin/sh; test -c /dev/null && echo devnull; test -e /proc/1/stat && echo proc',
  ]);
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /^hi$/m);
  t.regex(r.stdout, /^home=\/home\/boss pwd=\/home\/boss$/m, "HOME comes from the root's /etc/passwd");
  t.regex(r.stdout, new RegExp(`^${id}$`, 'm'));
  t.regex(r.stdout, /^busybox$/m, "/bin/sh is the root's busybox");
  t.notRegex(r.stdout, /^(usr|lib|var)$/m, "the host's / is not visible");
  t.regex(r.stdout, /^devnull$/m);
  t.regex(r.stdout, /^proc$/m);

  t.is(readFileSync(path.join(top, 'upper', 'file'), 'utf8'), 'hi\n');
  t.false(existsSync(path.join(root, 'file')), 'ROOT is not written');
  // Nothing stays mounted on the host.
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(top));
});

rootTest('-t TOP keeps the changes in TOP, and a later container on the same TOP sees them', async (t) => {
  const { dir, root } = busyboxRoot(t);
  const top = path.join(dir, 'changes');
  const first = await runContainode(['-r', root, '-t', top, '--', '/bin/sh', '-c', 'echo kept > /home/boss/note; rm /etc/passwd']);
  t.is(first.exitCode, 0, first.output);
  t.is(readFileSync(path.join(top, 'upper/home/boss/note'), 'utf8'), 'kept\n');
  t.true(existsSync(path.join(root, 'etc/passwd')), 'a deletion in the container does not touch ROOT');
  t.false(existsSync(path.join(root, 'home/boss/note')));
  const second = await runContainode(['-r', root, '-t', top, '--', '/bin/sh', '-c', 'cat /home/boss/note; test -e /etc/passwd || echo no-passwd']);
  t.is(second.exitCode, 0, second.output);
  t.deepEqual(lines(second.stdout), ['kept', 'no-passwd']);
  const other = await runContainode(['-r', root, '-t', path.join(dir, 'fresh'), '--', '/bin/cat', '/etc/passwd']);
  t.is(other.exitCode, 0, other.output);
  t.regex(other.stdout, /^root:x:0:0:/);
});

rootTest('-r with a network: eth0 on the switch inside the busybox root', async (t) => {
  const d = await startDaemon(t);
  const { dir, root } = busyboxRoot(t);
  const id = uniqueName('rnet');
  const r = await runContainode([
    '-r', root, '-t', path.join(dir, 'top'), '-s', d.sock, '-4', '10.79.0.5/24', '-i', id, '--',
    '/bin/sh', '-c', 'ip -o -4 addr show dev eth0; ping -c 1 -W 5 127.0.0.1 >/dev/null && echo lo-ok',
  ]);
  t.is(r.exitCode, 0, r.output);
  t.regex(r.stdout, /eth0\s+inet 10\.79\.0\.5\/24/);
  t.regex(r.stdout, /^lo-ok$/m);
  t.deepEqual(await portNames(d), []);
});

rootTest('a root that cannot be set up fails with 125 and a one-line reason', async (t) => {
  const { dir, root } = busyboxRoot(t);
  const r = await runContainode(['-r', root, '-t', path.join(dir, 'no', 'such', 'parent'), '--', '/bin/sh', '-c', 'echo program-ran']);
  t.is(r.exitCode, 125, r.output);
  t.notRegex(r.output, /program-ran/);
  t.deepEqual(lines(r.output).length, 1, r.output);
  t.regex(r.output, /^containode: .*no\/such\/parent/);
});

// ---------------------------------------------------------------------------
// Option errors

rootTest('inconsistent options fail before anything starts, with a one-line reason', async (t) => {
  const dir = tempDir(t);
  const notDir = path.join(dir, 'plain-file');
  writeFileSync(notDir, '');
  const cases: [string[], RegExp][] = [
    [['-t', path.join(dir, 'top')], /-t needs -r/],
    [['-4', '10.0.0.1/24'], /-4 needs -s/],
    [['-N', '-s', path.join(dir, 'x.sock')], /-N .*cannot be combined with -s/],
    [['-r', path.join(dir, 'missing')], /root .*missing: ENOENT/],
    [['-r', notDir], /is not a directory/],
  ];
  for (const [args, reason] of cases) {
    const r = await runContainode([...args, '--', '/bin/sh', '-c', 'echo program-ran']);
    const what = `containode ${args.join(' ')}: ${r.output}`;
    t.is(r.exitCode, 125, what);
    t.is(lines(r.output).length, 1, what);
    t.regex(r.output, /^containode: /, what);
    t.regex(r.output, reason, what);
    t.notRegex(r.output, /program-ran/, what);
  }
  t.false(existsSync(path.join(dir, 'top')), 'the refused -t made nothing');
});

rootTest('bad option values and unknown options exit non-zero with the reason first', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /unknown option '--bogus'/],
    [['-4', '1.2.3'], /"1\.2\.3" is not an IPv4 address/],
    [['-4', '10.0.0.1/33', '-s', '/nonexistent.sock'], /prefix length/],
    [['-4', '300.0.0.1', '-s', '/nonexistent.sock'], /0 to 255/],
    [['-4', '224.0.0.1', '-s', '/nonexistent.sock'], /class D\/E/],
    [['-i', 'bad_id'], /identity "bad_id"/],
    [['-i', '-leading-dash'], /identity|unknown option/],
    [['--mtu', '10'], /68 to 65521/],
    [['--mtu', 'big'], /68 to 65521/],
    [['-e', 'NOEQUALS'], /KEY=VALUE/],
  ];
  for (const [args, reason] of cases) {
    const r = await runContainode([...args, '--', '/bin/sh', '-c', 'echo program-ran']);
    const what = `containode ${args.join(' ')}: ${r.output}`;
    t.not(r.exitCode, 0, what);
    t.notRegex(r.output, /program-ran/, what);
    const first = lines(r.stderr)[0] ?? '';
    t.regex(first, reason, what);
  }
  const noSock = await runContainode(['-s']);
  t.not(noSock.exitCode, 0);
  t.regex(lines(noSock.stderr)[0] ?? '', /'-s, --socket <path>' argument missing/);
  const none = await runContainode([]);
  t.not(none.exitCode, 0);
  t.regex(lines(none.stderr)[0] ?? '', /missing required argument 'program'/);
  const dashes = await runContainode(['--']);
  t.not(dashes.exitCode, 0);
  t.regex(lines(dashes.stderr)[0] ?? '', /missing required argument 'program'/);
});

rootTest('options after PROGRAM belong to the program', async (t) => {
  const r = await runContainode(['/bin/sh', '-c', 'echo "args:$0:$1"', '-i', 'x']);
  t.is(r.exitCode, 0, r.output);
  t.is(r.stdout.trim(), 'args:-i:x');
});
