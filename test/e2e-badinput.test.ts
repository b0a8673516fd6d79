/**
 * Bad input against a real daemon process: malformed and unknown requests,
 * missing, extra and wrong fds, oversized messages, clients that vanish, a
 * socket path in use, stale or not a socket, and a tap whose device goes away.
 * Every case must get a clear error or a closed connection, the daemon must
 * keep answering, and its count of open fds must come back to where it was.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';

import { native } from '../src/native.js';
import { binPath, collectOutput, fdTable, inNetns, netns, rootTest, startDaemon, tempDir, waitFor, type TestDaemon } from './helpers/env.js';

/** Wait until the daemon holds exactly the fds of @before (closing is asynchronous). */
async function fdsSettle(t: ExecutionContext, d: TestDaemon, before: Map<string, string>, what: string): Promise<void> {
  try {
    await waitFor(`the daemon's fds to return to ${before.size}`, () => d.fdCount() === before.size, 5000);
  } catch {
    /* reported by the assertion below */
  }
  const now = fdTable(d.pid);
  const extra = [...now].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
  const gone = [...before].filter(([fd]) => !now.has(fd)).map(([fd, target]) => `${fd} -> ${target}`);
  t.deepEqual({ extra, gone }, { extra: [], gone: [] }, `fds changed after ${what}`);
}

/**
 * Control connections the daemon holds open: its unix stream sockets that have
 * an address (its listening socket's, which accepted ones share; socketpairs
 * have none) and are not the listening one (flag __SO_ACCEPTCON), from
 * /proc/net/unix of the test's network namespace (the daemon's too).
 */
function controlConnections(d: TestDaemon): number {
  const inodes = new Set(
    [...fdTable(d.pid).values()].filter((l) => l.startsWith('socket:[')).map((l) => l.slice('socket:['.length, -1)),
  );
  let n = 0;
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const [, , , flags, , , inode, addr] = line.trim().split(/\s+/);
    if (inode !== undefined && inodes.has(inode) && addr !== undefined && flags !== '00010000') n++;
  }
  return n;
}

/**
 * Start a daemon and warm it up (a served request, a refused one, a dropped
 * connection) so every fd Node opens lazily is open before counting, and wait
 * until it has closed the warm-up connections (closing is asynchronous): an
 * fd still open then would be counted as the daemon's own.
 */
async function warmDaemon(t: ExecutionContext, opts: Parameters<typeof startDaemon>[1] = {}): Promise<TestDaemon> {
  const d = await startDaemon(t, opts);
  await native().request(d.sock, '{"version":{}}', -1, 5000);
  await native().request(d.sock, '{"nonsense":{}}', -1, 5000);
  await rawExchange(d.sock, 'x', { idleMs: 300 });
  const [a, b] = native().socketpair('stream');
  await native().request(d.sock, '{"show":{}}', a, 5000);
  native().closeFd(a);
  native().closeFd(b);
  await waitFor('the daemon to close the warm-up connections', () => controlConnections(d) === 0, 30000);
  return d;
}

/** The daemon still answers a valid request. */
async function stillServing(t: ExecutionContext, d: TestDaemon, what: string): Promise<void> {
  const r = await d.request({ version: {} });
  t.is(typeof r.version, 'string', `daemon answers after ${what}`);
}

/**
 * Send raw @bytes on a fresh connection and collect what comes back until the
 * daemon closes, or until @idleMs passes after the first reply byte (or
 * without any). The daemon closes at once in every case here: the default
 * (15 s) is a backstop long enough for a busy machine, not a measure.
 */
function rawExchange(sock: string, bytes: Buffer | string, opts: { endAfterWrite?: boolean; idleMs?: number } = {}) {
  return new Promise<{ reply: string; closed: boolean }>((resolve, reject) => {
    const c = net.createConnection(sock);
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve({ reply, closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), opts.idleMs ?? 15000);
    };
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      reply += d;
      arm();
    });
    c.on('end', () => finish(true));
    c.on('close', () => finish(true));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? finish(true) : reject(e)));
    c.on('connect', () => {
      c.write(bytes);
      if (opts.endAfterWrite) c.end();
      arm();
    });
  });
}

/** Fds of things that are not taps, each with a label; closed at teardown. */
function notTaps(t: ExecutionContext): { label: string; fd: number }[] {
  const dir = tempDir(t);
  const file = path.join(dir, 'file');
  writeFileSync(file, 'not a tap');
  const fifo = path.join(dir, 'fifo');
  mkdirSync(path.join(dir, 'dir'));
  const out = [
    { label: 'a regular file', fd: openSync(file, 'r') },
    { label: 'a directory', fd: openSync(path.join(dir, 'dir'), 'r') },
    { label: '/dev/null', fd: openSync('/dev/null', 'r+') },
    { label: 'a stream socket', fd: native().socketpair('stream')[0] },
  ];
  // A named pipe, opened read-write so the open does not block.
  execFileSync('mkfifo', [fifo]);
  out.push({ label: 'a fifo', fd: openSync(fifo, 'r+') });
  t.teardown(() => {
    for (const { fd } of out) native().closeFd(fd);
  });
  return out;
}

test.serial('malformed and unknown requests get a clear error; the daemon serves on and leaks no fd', async (t) => {
  const d = await warmDaemon(t);
  const base = fdTable(d.pid);
  const cases: [string, string, RegExp][] = [
    ['JSON with garbage inside', '{"add-etherfd": garbage}', /malformed|JSON|Unexpected/i],
    ['unknown request', '{"frobnicate":{}}', /unknown request|frobnicate/i],
    ['two verbs', '{"show":{},"version":{}}', /one request|verb|both|more than one/i],
    ['unknown field', '{"show":{},"extra":1}', /extra|unknown/i],
    ['unknown field in a body', '{"add-lan":{"name":"x1","colour":"red"}}', /colour|unknown/i],
    ['wrong field type', '{"add-lan":{"name":5}}', /name/i],
    ['wrong body type', '{"stats":"all"}', /stats|object/i],
    ['an array', '[1,2,3]', /object/i],
    ['add-etherfd without its fd', '{"add-etherfd":{"ifname":"eth0","nodeid":"n1"}}', /needs a file descriptor/],
    ['add-etherfd without nodeid', '{"add-etherfd":{"ifname":"eth0"}}', /nodeid/],
    ['remove-etherfd of nobody', '{"remove-etherfd":{"nodeid":"nobody"}}', /no port of node/],
    ['del of nothing', '{"del":{"name":"nothing"}}', /no object|nothing/],
    ['a lan name taken', '{"add-lan":{"name":"lan0"}}', /exists|taken|already/i],
  ];
  for (const [what, json, re] of cases) {
    const reply = await native().request(d.sock, json, -1, 5000);
    const parsed = JSON.parse(reply) as { error?: string };
    t.is(typeof parsed.error, 'string', `${what}: ${reply}`);
    t.regex(parsed.error ?? '', re, what);
  }
  await stillServing(t, d, 'bad requests');
  await fdsSettle(t, d, base, 'bad requests');
});

test.serial('non-JSON bytes, an oversized request and a client that leaves mid-message: error or close, no harm', async (t) => {
  const d = await warmDaemon(t);
  const base = fdTable(d.pid);

  const junk = await rawExchange(d.sock, 'hello, switch\n');
  t.true(junk.closed, 'a stream that cannot be JSON is closed');
  t.regex(junk.reply, /"error":"malformed request/);

  const big = await rawExchange(d.sock, `{"show":{},"pad":"${'x'.repeat((1 << 20) + 10)}"}`);
  t.true(big.closed, 'an oversized request closes the connection');
  t.regex(big.reply, /larger than 1048576 bytes/);

  const bigOpen = await rawExchange(d.sock, `{"show":"${'y'.repeat((1 << 20) + 10)}`);
  t.true(bigOpen.closed, 'an oversized unfinished request closes the connection');
  t.regex(bigOpen.reply, /larger than/);

  const half = await rawExchange(d.sock, '{"add-lan":{"name":"half', { endAfterWrite: true, idleMs: 500 });
  t.is(half.reply, '', 'half a message gets no answer');
  const halfShow = (await d.request({ show: {} })) as { objects: { name: string }[] };
  t.false(halfShow.objects.some((o) => o.name === 'half'), 'half a request does nothing');

  // Several requests in one write, the last one cut off by a disconnect.
  const multi = await rawExchange(d.sock, '{"version":{}}{"show":{}}{"add-lan":', { endAfterWrite: true });
  t.regex(multi.reply, /^\{"version":"[^"]+","verbs":\["add-lan",[^\]]*"version"\],"threads":\d\}\{"objects":/);

  await stillServing(t, d, 'stream abuse');
  await fdsSettle(t, d, base, 'stream abuse');
});

test.serial('clients over the connection limit wait in the backlog and are served; clients that vanish leave nothing behind', async (t) => {
  const d = await warmDaemon(t);
  const base = fdTable(d.pid);
  // One at a time, so the listen backlog never refuses any.
  const socks: net.Socket[] = [];
  t.teardown(() => socks.forEach((c) => c.destroy()));
  // A connect the kernel refuses (EAGAIN: the backlog is full on a busy machine)
  // is tried again, so 300 clients really reach the daemon.
  const connectOne = async (): Promise<net.Socket> => {
    for (let attempt = 0; ; attempt++) {
      const c = await new Promise<net.Socket | null>((resolve) => {
        const s = net.createConnection(d.sock);
        s.on('error', () => resolve(null));
        s.on('connect', () => resolve(s));
      });
      if (c) return c;
      if (attempt > 100) throw new Error('cannot connect to the daemon');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  for (let i = 0; i < 300; i++) {
    const c = await connectOne();
    c.on('error', () => undefined);
    socks.push(c);
  }
  // 256 are served; the rest, and any newcomer, wait in the listen backlog:
  // neither served nor refused while every slot is held, served once one frees.
  // (Less a few: connections of the warm-up may still have been open at `base`.)
  await waitFor('the daemon to hold its connection limit', () => d.fdCount() >= base.size + 256 - 4, 30000);
  let answered = false;
  const late = native()
    .request(d.sock, '{"version":{}}', -1, 120000)
    .then((r) => {
      answered = true;
      return r;
    });
  await new Promise((r) => setTimeout(r, 300));
  t.false(answered, 'a client over the limit waits while every slot is held');
  const held = d.fdCount() - base.size;
  t.true(held >= 256 - 4 && held < 300, `the daemon holds 256 connections, not all 300 (it holds ${held} fds more than at start)`);
  for (const c of socks) c.destroy();
  t.regex(await late, /"version"/, 'the waiting client is served once the others go');
  await waitFor('the daemon to serve again', () => d.request({ version: {} }).then(() => true, () => false));
  await stillServing(t, d, '300 clients left');
  await fdsSettle(t, d, base, '300 clients');
});

test.serial('missing, extra, surplus and wrong fds are refused and every fd is closed', async (t) => {
  const d = await warmDaemon(t);
  const base = fdTable(d.pid);
  const add = (id: string) => `{"add-etherfd":{"ifname":"eth0","nodeid":"${id}"}}`;

  for (const { label, fd } of notTaps(t)) {
    const reply = JSON.parse(await native().request(d.sock, add('bad'), fd, 5000)) as { error?: string };
    t.regex(reply.error ?? '', /not a tap|tap|socket|unsupported|not/i, `${label}: ${JSON.stringify(reply)}`);
    await fdsSettle(t, d, base, label);
  }

  const [a, b] = native().socketpair('stream');
  t.teardown(() => {
    native().closeFd(a);
    native().closeFd(b);
  });
  // Two fds are a tap's first two queues (docs/fd.md): a stream socket is neither.
  const two = JSON.parse(await native().request(d.sock, add('two'), [a, b], 5000)) as { error?: string };
  t.regex(two.error ?? '', /fd is a stream socket/);
  await fdsSettle(t, d, base, 'two fds');
  const nine = JSON.parse(await native().request(d.sock, add('nine'), Array.from({ length: 9 }, () => a), 5000)) as { error?: string };
  t.regex(nine.error ?? '', /add-etherfd takes 1 to 8 file descriptors, got 9/);
  await fdsSettle(t, d, base, 'nine fds');

  const showFd = JSON.parse(await native().request(d.sock, '{"show":{}}', a, 5000)) as { error?: string };
  t.regex(showFd.error ?? '', /show takes 0 file descriptors/);
  await fdsSettle(t, d, base, 'an fd on show');

  // More fds than one message may carry: the kernel drops the rest (MSG_CTRUNC).
  const many = Array.from({ length: 12 }, () => a);
  const surplus = JSON.parse(await native().request(d.sock, add('many'), many, 5000)) as { error?: string };
  t.regex(surplus.error ?? '', /add-etherfd takes 1 to 8 file descriptors/);
  await fdsSettle(t, d, base, '12 fds');

  await stillServing(t, d, 'wrong fds');
  t.deepEqual(((await d.request({ show: {} })) as { objects: { kind: string }[] }).objects.filter((o) => o.kind === 'port'), []);
});

test.serial('the socket file is owner-only; SIGTERM closes it and removes the file', async (t) => {
  const d = await startDaemon(t);
  t.is(statSync(d.sock).mode & 0o777, 0o600);
  const exited = new Promise<number | null>((r) => d.child.once('exit', (code) => r(code)));
  process.kill(d.pid, 'SIGTERM');
  t.is(await exited, 0);
  t.false(existsSync(d.sock), 'socket file removed');
});

test.serial('a socket path in use is refused; the running daemon keeps serving', async (t) => {
  const d = await startDaemon(t);
  const second = await execa(process.execPath, [binPath('containet'), '-s', d.sock], { reject: false, timeout: 20000 });
  t.not(second.exitCode, 0);
  t.regex(second.stderr.trim(), /^containet: .*(in use|already listening|running)/i);
  t.is(second.stderr.trim().split('\n').length, 1, 'a one-line reason');
  await stillServing(t, d, 'a second daemon tried its path');
  t.true(existsSync(d.sock));
});

test.serial('a stale socket file (its daemon died) is replaced; a regular file at the path is left alone', async (t) => {
  const dir = tempDir(t);
  const stale = path.join(dir, 'stale.sock');
  // A server that dies without unlinking its socket: bind, then SIGKILL.
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (holder.exitCode === null && holder.signalCode === null) process.kill(holder.pid!, 'SIGKILL');
  });
  await collectOutput(holder).untilStdout('the socket holder to listen', (out) => /^up$/m.test(out));
  process.kill(holder.pid!, 'SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  t.true(statSync(stale).isSocket(), 'the stale socket file is there');
  const d = await startDaemon(t, { sock: stale });
  await stillServing(t, d, 'replacing a stale socket');

  const file = path.join(dir, 'file.sock');
  writeFileSync(file, 'precious');
  const r = await execa(process.execPath, [binPath('containet'), '-s', file], { reject: false, timeout: 20000 });
  t.not(r.exitCode, 0);
  t.regex(r.stderr.trim(), /^containet: .*not a socket/);
  t.is(readFileSync(file, 'utf8'), 'precious', 'the file is untouched');
});

test.serial('an authtoken daemon refuses requests without the token or with a wrong one', async (t) => {
  const d = await startDaemon(t, { authtoken: 's3cret' });
  for (const json of ['{"show":{}}', '{"authtoken":"nope","show":{}}', '{"authtoken":5,"show":{}}']) {
    const r = JSON.parse(await native().request(d.sock, json, -1, 5000)) as { error?: string };
    t.regex(r.error ?? '', /token/i, json);
  }
  const ok = JSON.parse(await native().request(d.sock, '{"authtoken":"s3cret","show":{}}', -1, 5000)) as { objects?: unknown[] };
  t.true(Array.isArray(ok.objects));
  const cli = await d.cli('show', '--json');
  t.is(cli.exitCode, 0, cli.stderr);
});

rootTest('a tap whose device disappears is removed, reported and its fd closed', async (t) => {
  const d = await warmDaemon(t);
  const base = fdTable(d.pid);
  const ns = await netns(t);
  const fd = native().tapCreate({ netns: `/run/netns/${ns}`, ifname: 'eth0', vnetHdr: true, ipv4: '10.4.0.1', prefix: 24 });
  const reply = await native().request(d.sock, '{"add-etherfd":{"ifname":"eth0","nodeid":"gone"}}', fd, 5000);
  closeSync(fd);
  t.is(reply, '{}');
  // (The request's own connection may still be closing: wait for the count to settle.)
  // The port holds its tap and a pidfd of its client (this test's process, whose exit would remove it).
  await waitFor('the fd count to settle', () => d.fdCount() === base.size + 2, 3000).catch(() => undefined);
  t.is(d.fdCount(), base.size + 2, 'the port holds its tap and its client watch');
  const del = await inNetns(ns, ['ip', 'link', 'del', 'eth0']);
  t.is(del.exitCode, 0, del.stderr);
  await waitFor('the port to be removed', async () => {
    const r = (await d.request({ show: {} })) as { objects: { name: string }[] };
    return !r.objects.some((o) => o.name === 'gone.eth0');
  });
  t.regex(await d.logged(/port gone\.eth0 removed from lan0: /), /port gone\.eth0 removed from lan0: /);
  await fdsSettle(t, d, base, 'the tap vanished');
  await stillServing(t, d, 'a vanished tap');
});
