/**
 * `containet graph` end to end, as root, in Debian's chromium (driven by
 * playwright-core through /usr/bin/chromium; no browser is downloaded): a
 * daemon with lans lanA and lanB joined by an a2b with a 20 ms delay, two
 * namespaces with taps on lanA (static neighbours, IPv6 off: only the test's
 * pings cross). `graph --svg` draws them; the page of `graph --serve` shows
 * them, its counters move while a ping runs and stop when it ends, a click on
 * a port downloads a pcapng capture holding the pings, and the page says the
 * daemon is unreachable while it restarts, then goes on. With an authtoken,
 * a request without it gets 401 and one with it the page. A screenshot is
 * kept in test-artifacts/graph.png.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { execa } from 'execa';
import { chromium, type Browser, type Page } from 'playwright-core';

import { packageRoot } from '../src/native.js';
import { binPath, collectOutput, inNetns, isRoot, startDaemon, stopChild, tempDir, waitFor, type TestDaemon } from './helpers/env.js';
import { tapPort, type TapPort } from './helpers/traffic.js';
import { checkXml } from './helpers/xml.js';

const CHROMIUM = '/usr/bin/chromium';
const A_IP = '10.77.0.1';
const B_IP = '10.77.0.2';

/** A serial root test that needs Debian's chromium; skipped, saying why, without either. */
function browserTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const test = anyTest as TestFn;
  if (!isRoot) test.skip(`${title} [skipped: needs root]`, fn);
  else if (!existsSync(CHROMIUM)) test.skip(`${title} [skipped: needs ${CHROMIUM} (apt-get install chromium)]`, fn);
  else test.serial(title, fn);
}

/** `containet -s SOCK ...args`, throwing with its stderr unless it exits 0. */
async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args);
  if (r.exitCode !== 0) throw new Error(`containet ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** Run @args in @ns, throwing with stderr unless it succeeds. */
async function inNs(ns: string, args: string[]): Promise<string> {
  const r = await inNetns(ns, args);
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} in ${ns} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** A station on lanA at @ip, IPv6 off (no router solicitations or MLD of its own). */
async function station(t: ExecutionContext, d: TestDaemon, ip: string): Promise<TapPort & { mac: string }> {
  const s = await tapPort(t, d, { framing: 'plain', ipv4: ip, extra: { lan: 'lanA' } });
  await inNs(s.ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1']);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(await inNs(s.ns, ['ip', 'link', 'show', 'eth0']))?.[1];
  if (!mac) throw new Error(`no MAC on eth0 in ${s.ns}`);
  return { ...s, mac };
}

/** The lab: lanA and lanB, the a2b l1 between them (20 ms from a to b), stations a and b on lanA knowing each other's MAC (no ARP). */
async function lab(t: ExecutionContext, d: TestDaemon): Promise<{ a: TapPort; b: TapPort }> {
  await ok(d, 'add', 'lan', 'lanA');
  await ok(d, 'add', 'lan', 'lanB');
  await ok(d, 'add', 'a2b', 'l1', '--a', 'lanA', '--b', 'lanB');
  await ok(d, 'set', 'l1', '--dir', 'a2b', '--delay', '20ms');
  const [a, b] = await Promise.all([station(t, d, A_IP), station(t, d, B_IP)]);
  await inNs(a.ns, ['ip', 'neigh', 'replace', B_IP, 'lladdr', b.mac, 'nud', 'permanent', 'dev', 'eth0']);
  await inNs(b.ns, ['ip', 'neigh', 'replace', A_IP, 'lladdr', a.mac, 'nud', 'permanent', 'dev', 'eth0']);
  return { a, b };
}

/** Start `containet graph --serve 127.0.0.1:0` (with @pre before the command: --authtoken); its URL. */
async function serve(t: ExecutionContext, d: TestDaemon, pre: string[] = []): Promise<string> {
  const child = spawn(process.execPath, [binPath('containet'), '-s', d.sock, ...pre, 'graph', '--serve', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(child);
  t.teardown(() => stopChild(child));
  return out.untilStdout('the URL', (s) => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(s)?.[1]);
}

/** Debian's chromium, headless, closed at teardown. */
async function browser(t: ExecutionContext): Promise<Browser> {
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => b.close());
  return b;
}

/** A ping of @n requests from @from to @ip, one every 0.2 s, in the background; resolves with its exit status. */
function ping(t: ExecutionContext, from: TapPort, ip: string, n: number): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', from.ns, 'ping', '-n', '-q', '-i', '0.2', '-c', String(n), '-W', '5', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(child);
  t.teardown(() => stopChild(child));
  return out.closed;
}

/** The text of cell @col of port @port's row on @page ('' while there is none). */
async function cell(page: Page, port: string, col: string): Promise<string> {
  return (await page.locator(`#ports tr[data-port="${port}"] td.${col}`).textContent({ timeout: 1000 }).catch(() => '')) ?? '';
}

/** Resolve after the page updated @n more times (its status line changed). */
async function updates(page: Page, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = await page.locator('#status').textContent();
    await waitFor('the page to update', async () => (await page.locator('#status').textContent()) !== before, 30000);
  }
}

/** The frames of pcapng file @buf (its Enhanced Packet Blocks' data); throws unless it is pcapng. */
function pcapngFrames(buf: Buffer): Buffer[] {
  if (buf.length < 12 || buf.readUInt32LE(0) !== 0x0a0d0d0a) throw new Error(`not pcapng: it begins ${buf.subarray(0, 8).toString('hex')}`);
  if (buf.readUInt32LE(8) !== 0x1a2b3c4d) throw new Error('pcapng in an unexpected byte order');
  const frames: Buffer[] = [];
  for (let off = 0; off + 12 <= buf.length; ) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (len < 12 || off + len > buf.length) break;
    if (type === 6) frames.push(buf.subarray(off + 28, off + 28 + buf.readUInt32LE(off + 20)));
    off += len;
  }
  return frames;
}

/** True when @f is an ICMP echo (request or reply) between the stations. */
function icmpEcho(f: Buffer, type: 0 | 8): boolean {
  return f.length >= 42 && f.readUInt16BE(12) === 0x0800 && f[23] === 1 && f[34] === type;
}

browserTest('graph: --svg draws the lans, ports and the a2b\'s delay; the served page in chromium shows them, its counters move with a ping and stop after it, a click downloads a pcapng capture of the port (?count and a client that goes end one too), and it outlives a daemon restart', async (t) => {
  const d = await startDaemon(t);
  const { a, b } = await lab(t, d);

  const svg = await ok(d, 'graph', '--svg', '-');
  t.is(checkXml(svg), 'svg');
  for (const name of ['lanA', 'lanB', a.name, b.name, 'l1']) t.true(svg.includes(`>${name}<`), `${name} in the SVG`);
  t.true(svg.includes('lanA→lanB: delay 20ms'), 'the a2b\'s delay label');
  const file = path.join(tempDir(t), 'lab.svg');
  await ok(d, 'graph', '--svg', file);
  t.is(checkXml(readFileSync(file, 'utf8')), 'svg');

  const url = await serve(t, d);
  const page = await (await browser(t)).newPage({ acceptDownloads: true });
  page.setDefaultTimeout(60000);
  await page.goto(url);
  await waitFor('the page to show the lab', async () => (await page.locator('#picture svg').count()) > 0, 30000);
  const picture = (await page.locator('#picture').textContent()) ?? '';
  for (const name of ['lanA', 'lanB', a.name, b.name, 'l1']) t.true(picture.includes(name), `${name} on the page`);
  t.true(picture.includes('delay 20ms'));

  // Counters move while a ping runs: a's port receives its requests.
  const rx0 = Number(await cell(page, a.name, 'rxpackets'));
  const pinging = ping(t, a, B_IP, 40);
  await waitFor('a\'s rx rate to rise', async () => Number(await cell(page, a.name, 'rxpps')) > 0, 30000);
  await waitFor('a\'s rx counter to move', async () => Number(await cell(page, a.name, 'rxpackets')) > rx0, 30000);
  t.true(Number(await cell(page, b.name, 'txpps')) > 0 || Number(await cell(page, b.name, 'txpackets')) > 0, 'b is sent the requests');
  mkdirSync(path.join(packageRoot, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: path.join(packageRoot, 'test-artifacts', 'graph.png'), fullPage: true });
  t.is(await pinging, 0, 'the ping got its replies');
  // ... and stop after it: the rate falls to 0, the counter holds over two more updates.
  await waitFor('a\'s rx rate to fall to 0', async () => (await cell(page, a.name, 'rxpps')) === '0', 30000);
  const rx1 = await cell(page, a.name, 'rxpackets');
  t.true(Number(rx1) >= rx0 + 40, `${rx1} frames received, after ${rx0}`);
  await updates(page, 2);
  t.is(await cell(page, a.name, 'rxpackets'), rx1, 'no frames after the ping');
  t.is(await cell(page, a.name, 'rxpps'), '0');

  // A click on a's port: a capture of it for 3 s, downloaded, holding the pings.
  await page.fill('#seconds', '3');
  const pinging2 = ping(t, a, B_IP, 25);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.locator(`#picture g.portbox[data-port="${a.name}"] rect.port`).click()]);
  t.is(download.suggestedFilename(), `${a.name}.pcapng`);
  const got = await download.path();
  t.is(await download.failure(), null);
  const frames = pcapngFrames(readFileSync(got));
  t.true(frames.filter((f) => icmpEcho(f, 8)).length >= 3, `echo requests in the capture (${frames.length} frames)`);
  t.true(frames.filter((f) => icmpEcho(f, 0)).length >= 3, 'echo replies in the capture');
  t.is(await pinging2, 0);
  await waitFor('the capture to end', async () => !((await d.request({ show: {} })) as { objects: { kind: string }[] }).objects.some((o) => o.kind === 'capture'), 30000);

  // ?count=N: the download ends by itself after N frames.
  const pinging3 = ping(t, a, B_IP, 25);
  const counted = await fetch(`${url}capture/${a.name}?count=4`);
  t.is(counted.status, 200);
  t.is(counted.headers.get('content-disposition'), `attachment; filename="${a.name}.pcapng"`);
  t.is(pcapngFrames(Buffer.from(await counted.arrayBuffer())).length, 4);
  // A client that goes ends its capture.
  const ac = new AbortController();
  const open = await fetch(`${url}capture/${a.name}`, { signal: ac.signal });
  t.is(open.status, 200);
  const first = await open.body!.getReader().read();
  t.is(Buffer.from(first.value!).readUInt32LE(0), 0x0a0d0d0a, 'the stream begins with a pcapng section header');
  t.true(((await d.request({ show: {} })) as { objects: { kind: string }[] }).objects.some((o) => o.kind === 'capture'), 'its capture runs');
  ac.abort();
  await waitFor('the capture of a client that went to end', async () => !((await d.request({ show: {} })) as { objects: { kind: string }[] }).objects.some((o) => o.kind === 'capture'), 30000);
  t.is(await pinging3, 0);

  // The daemon restarts: the page says so, then shows the new one's lab.
  await stopChild(d.child);
  await waitFor('the page to say the daemon is unreachable', async () => /daemon unreachable/.test((await page.locator('#status').textContent()) ?? ''), 30000);
  t.is(await page.locator('#status.down').count(), 1);
  await startDaemon(t, { sock: d.sock });
  await waitFor('the page to show the new daemon\'s lab', async () => /^updated/.test((await page.locator('#status').textContent()) ?? '') && ((await page.locator('#picture').textContent()) ?? '').includes('lan0'), 30000);
  t.false(((await page.locator('#picture').textContent()) ?? '').includes('lanB'), 'the old lab is gone');
});

browserTest('graph --serve with an authtoken: 401 without it or with a wrong one, the page with ?token= (then a cookie) or a Bearer header; bad requests and options refused with the reason', async (t) => {
  const token = 'graph-secret-42';
  const d = await startDaemon(t, { authtoken: token });
  const url = await serve(t, d, ['--authtoken', token]);

  for (const path_ of ['', 'api/lab', 'graph.svg', 'capture/lan0']) t.is((await fetch(url + path_)).status, 401, `/${path_} without the token`);
  t.is((await fetch(`${url}api/lab?token=wrong`)).status, 401);
  t.is((await fetch(`${url}api/lab`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
  const bearer = await fetch(`${url}api/lab`, { headers: { Authorization: `Bearer ${token}` } });
  t.is(bearer.status, 200);
  const labJson = (await bearer.json()) as { lans: { name: string }[]; svg: string };
  t.deepEqual(labJson.lans.map((l) => l.name), ['lan0']);
  t.is(checkXml(labJson.svg), 'svg');
  const svg = await fetch(`${url}graph.svg`, { headers: { Authorization: `Bearer ${token}` } });
  t.is(svg.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
  const svgText = await svg.text();
  t.is(checkXml(svgText), 'svg');
  t.true(svgText.includes('>lan0<'));
  const bad = await fetch(`${url}capture/lan0?seconds=abc`, { headers: { Authorization: `Bearer ${token}` } });
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: string }).error, /"seconds" must be an integer/);
  const none = await fetch(`${url}capture/nope`, { headers: { Authorization: `Bearer ${token}` } });
  t.is(none.status, 404);
  t.regex(((await none.json()) as { error: string }).error, /no port named "nope"/);
  t.is(await statusWithHost(`${url}api/lab`, 'evil.example', token), 403, 'a host name that is not loopback');

  const page = await (await browser(t)).newPage();
  page.setDefaultTimeout(60000);
  t.is((await page.goto(url))!.status(), 401);
  t.regex((await page.textContent('body')) ?? '', /needs its authtoken/);
  const r = await page.goto(`${url}?token=${token}`);
  t.is(r!.status(), 200);
  t.is(new URL(page.url()).search, '', 'the token leaves the address bar');
  await waitFor('the page to show the lab', async () => ((await page.locator('#picture').textContent()) ?? '').includes('lan0'), 30000);
  t.regex((await page.locator('#status').textContent()) ?? '', /^updated/);

  // Options: a public address needs --public, and --public the authtoken.
  const pub = await d.cli('graph', '--serve', '0.0.0.0:0');
  t.is(pub.exitCode, 1);
  t.regex(pub.stderr, /0\.0\.0\.0 is not a loopback address.*--public/);
  const noTok = await execCli(d, ['graph', '--serve', '0.0.0.0:0', '--public']);
  t.is(noTok.exitCode, 1);
  t.regex(noTok.stderr, /--public needs the daemon's authtoken/);
  const badServe = await d.cli('graph', '--serve', 'x:y');
  t.is(badServe.exitCode, 1);
  t.regex(badServe.stderr, /--serve.*\[ADDR:\]PORT/);
  const nothing = await d.cli('graph');
  t.is(nothing.exitCode, 1);
  t.regex(nothing.stderr, /--svg FILE or --serve/);
});

/** `containet -s SOCK ...args` without the daemon's authtoken. */
async function execCli(d: TestDaemon, args: string[]): Promise<{ exitCode: number; stderr: string }> {
  const env = { ...process.env };
  delete env.CONTAINET_AUTHTOKEN;
  const r = await execa(process.execPath, [binPath('containet'), '-s', d.sock, ...args], { reject: false, env, extendEnv: false });
  return { exitCode: r.exitCode ?? -1, stderr: r.stderr };
}

/** The status of GET @url sent with Host header @host (fetch will not send another). */
function statusWithHost(url: string, host: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Host: host, Authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}
