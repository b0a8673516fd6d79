/**
 * The a2b section: containet's link emulator between two lans (rate, delay,
 * loss per direction), measured against what it promises and, for the rate,
 * side by side with the kernel's tbf on the same rates, in one run. Station A
 * sends, station B receives, each in a namespace of the path's own; every
 * figure is an error against a setting, except the no-shaping TCP throughput,
 * whose baseline is the plain lan path: a third station C on A's lan, in the
 * same daemon, measured right before or after.
 *
 * What is counted for the rate: the L2 bytes B's interface received
 * (rx_bytes: the ethernet frame without FCS, 1514 B per datagram here), which
 * is what a2b charges (a frame's ethernet length) and what tbf charges (the
 * skb's length, the same frame), read from /proc/PID/net/dev of a process in
 * B every 5 ms and fitted by least squares over the window.
 */
import { request } from '../src/client.js';
import { native } from '../src/native.js';
import { startContainet, type Containet } from './containet.js';
import { tcpGbps } from './measure.js';
import { addNetns, addVeth, ipIn, nsExec, procNetDev, readNetAttr, setAddress, waitReachable } from './netns.js';
import { onPath } from './ovs.js';
import type { Endpoints, Station } from './paths.js';
import { errorText, run, sleep, start, type Proc } from './proc.js';
import { progress } from './runpath.js';
import type { Scope } from './scope.js';
import type { SectionContext, SectionDef, SectionPathDef, SectionPathResult, SectionRig, SectionTarget } from './section.js';
import type { Settings } from './options.js';
import { percentile } from './stats.js';

/** Rate points, Mbit/s. */
const RATES_MBIT = [1, 10, 100, 1000];
/** UDP payload per datagram: IPv4 1500 B, ethernet frame 1514 B (no FCS). */
const PAYLOAD = 1472;
const FRAME = PAYLOAD + 8 + 20 + 14;
/** Offered L2 load, as a multiple of the rate set. */
const OFFER = 1.2;
/**
 * UDP streams of the offered load (iperf3 -P; -b is per stream). A socket may
 * hold only wmem_max (208 KiB) in a qdisc, about 1 ms at 1 Gbit/s: with one,
 * tbf runs dry whenever the sender is off its CPU that long. Four hold 4 ms.
 */
const STREAMS = 4;
/** Queue of both shapers in seconds at the rate set: a2b's limit (in frames), tbf's latency. */
const QUEUE_S = 0.1;
/** After traffic starts arriving at B, seconds before a rate window opens (the queue fills, tbf's bucket empties). */
const WARMUP_S = 0.2;
/** Interval of the rx_bytes reads during a rate window, ms. */
const POLL_MS = 5;
/** One-way delay set for the delay figures, ms; probes are the settings' ping count and interval. */
const DELAY_MS = 10;
/** Loss settings (percent), and datagrams sent per setting and repetition, and their interval. */
const LOSSES = [10, 1];
const LOSS_PROBES = 2500;
const LOSS_INTERVAL_S = 0.00025;
/** iperf3's port (measure.ts's tcpGbps talks to it) and the UDP probes' port, both on B's address. */
const IPERF_PORT = 5201;
const PROBE_PORT = 5301;

/** Seconds of a rate window: a third of --seconds, at least 0.5 (1 s by default, 0.5 s with --quick). */
const rateWindowS = (s: Settings) => Math.max(0.5, s.seconds / 3);
/** Seconds of a TCP run after the omitted one: one less than --seconds, at least 1 (2 s by default). */
const tcpSeconds = (s: Settings) => Math.max(1, s.seconds - 1);
/** tbf's bucket for @bps: 4 ms of the rate (rate/HZ at HZ=250), at least two frames. */
const tbfBurst = (bps: number) => Math.max(Math.round(bps / 8 / 250), 2 * FRAME);
/**
 * a2b's queue limit for @bps, in frames (all are FRAME bytes): QUEUE_S of the
 * rate, at least four. Not limit-bytes: its least is 64 KiB + 18 (a whole GSO
 * frame), half a second at 1 Mbit/s.
 */
const a2bLimit = (bps: number) => Math.max(Math.round((bps / 8 / FRAME) * QUEUE_S), 4);

/**
 * UDP probes with kernel receive timestamps: `recv ADDR PORT IDLE_S` binds,
 * prints "ready", takes datagrams until an end marker or IDLE_S without any,
 * and prints {"seqs": [...], "owdNs": [...]}: each data datagram's number and
 * its one-way delay, the receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME)
 * minus the send time it carries. `send ADDR PORT COUNT INTERVAL_S` sends
 * COUNT numbered 64-byte datagrams, each stamped with time.time_ns() just
 * before send(), one every INTERVAL_S, then 5 end markers 10 ms apart, and
 * prints {"sent": COUNT, "lateUs": [...]}: how late each sleep before a
 * datagram woke up (this machine's timer wake-up latency, at the same time as
 * the a2b's). The namespaces share the clock, so the difference of the
 * timestamps is the one-way delay.
 */
const PROBE = String.raw`
import json, socket, struct, sys, time
TS = getattr(socket, 'SO_TIMESTAMPNS', 35)
HDR = struct.Struct('!BIq')
def recv(addr, port, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        pass
    s.setsockopt(socket.SOL_SOCKET, TS, 1)
    s.bind((addr, port))
    print('ready', flush=True)
    s.settimeout(idle)
    seqs, owd = [], []
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            data, anc, _, _ = s.recvmsg(128, 256)
        except socket.timeout:
            break
        if len(data) < HDR.size:
            continue
        kind, seq, tx = HDR.unpack_from(data)
        if kind == 1:
            break
        rx = None
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == TS:
                sec, ns = struct.unpack('qq', d[:16])
                rx = sec * 1000000000 + ns
        seqs.append(seq)
        owd.append(rx - tx if rx is not None else None)
    print(json.dumps({'seqs': seqs, 'owdNs': owd}), flush=True)
def send(addr, port, count, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    pad = bytes(64 - HDR.size)
    late = []
    t0 = time.monotonic()
    for i in range(count):
        due = t0 + i * interval
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
            late.append(round((time.monotonic() - due) * 1e6))
        s.send(HDR.pack(0, i, time.time_ns()) + pad)
    for _ in range(5):
        time.sleep(0.01)
        try:
            s.send(HDR.pack(1, 0, 0) + pad)
        except OSError:
            break
    print(json.dumps({'sent': count, 'lateUs': late}), flush=True)
if sys.argv[1] == 'recv':
    recv(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
else:
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
`;

/** The tools every path needs, or why they are missing. */
function toolsMissing(extra: string[] = []): string | null {
  const missing = ['iperf3', ...extra].filter((t) => !onPath(t));
  return missing.length === 0 ? null : `${missing.join(', ')} not installed`;
}

/** Make namespaces ID+"a" and ID+"b" (stations on eth0 at @subnet.1 and .2). */
async function stations(ctx: SectionContext, subnet: string): Promise<Endpoints> {
  const a = await addNetns(ctx.scope, `${ctx.id}a`);
  const b = await addNetns(ctx.scope, `${ctx.id}b`);
  return { a: { ns: a, ifname: 'eth0', ip: `${subnet}.1` }, b: { ns: b, ifname: 'eth0', ip: `${subnet}.2` } };
}

/**
 * Make vnet tap eth0 (MTU 1500, up, @ip/24) in @ns with the addon and hand it
 * to the daemon on lan @lan (`add-etherfd` with "lan"); our fd is closed
 * whatever happens. As containet.ts's attachTap, which only knows lan0.
 */
async function attachTapTo(d: Containet, ns: string, ip: string, nodeid: string, lan: string): Promise<void> {
  const fd = native().tapCreate({ netns: `/run/netns/${ns}`, ifname: 'eth0', vnetHdr: true, packetInfo: false, ipv4: ip, prefix: 24, mtu: 1500, up: true, loUp: true });
  try {
    await request(d.sock, { 'add-etherfd': { ifname: 'eth0', nodeid, lan } }, fd);
  } finally {
    native().closeFd(fd);
  }
}

/**
 * Both stations reach each other; then permanent neighbour entries on both,
 * so no ARP crosses a lossy or slow link during the measurements.
 */
async function finishStations(ep: Endpoints): Promise<void> {
  await waitReachable(ep.a.ns, ep.b.ip);
  for (const [me, peer] of [[ep.a, ep.b], [ep.b, ep.a]] as const) {
    const mac = await readNetAttr(peer.ns, peer.ifname, 'address');
    await ipIn(me.ns, 'neigh', 'replace', peer.ip, 'lladdr', mac, 'dev', me.ifname, 'nud', 'permanent');
  }
}

/**
 * Start `iperf3 -s` in B bound to B's address (as measure.ts does, but keeping
 * the process: /proc/PID/net/dev is B's counters); @scope stops it by its pid.
 */
async function iperfServer(scope: Scope, ep: Endpoints): Promise<Proc> {
  let server: Proc | undefined;
  scope.defer('stop the iperf3 server', () => server?.stop());
  server = start('ip', ['netns', 'exec', ep.b.ns, 'iperf3', '-s', '-B', ep.b.ip, '-p', String(IPERF_PORT), '--forceflush']);
  const deadline = Date.now() + 10000;
  while (!/Server listening/.test(server.output())) {
    if (server.hasExited()) throw new Error(`iperf3 -s exited: ${server.output().trim()}`);
    if (Date.now() > deadline) throw new Error(`iperf3 -s does not listen: ${server.output().trim()}`);
    await sleep(50);
  }
  return server;
}

/** rx bytes and packets of @ifname in the namespace of process @pid (/proc/PID/net/dev), and when they were read. */
function rxCounters(pid: number, ifname: string): { bytes: number; packets: number; t: number } {
  const c = procNetDev(pid, ifname);
  return { bytes: c.rxBytes, packets: c.rxPackets, t: c.t };
}

/** Least-squares slope of @ys over @xs. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxy / sxx;
}

/** What one rate window measured. */
interface Delivered {
  /** L2 bit/s at B (fitted). */
  bps: number;
  /** Mean bytes per frame counted at B over the window. */
  frameBytes: number;
}

/** A built path's means to measure a delivered rate. */
interface RateMeter {
  ep: Endpoints;
  /** B's iperf3 server: its /proc/PID/net/dev gives B's counters, its output says when it is free again. */
  server: Proc;
  /** Whether the shaper's queue is empty. */
  queueEmpty(): Promise<boolean>;
}

/** Times B's iperf3 server said it listens (once at start, then after every test). */
const listening = (server: Proc) => server.output().split('Server listening').length - 1;

/**
 * Offer OFFER times @bps of 1514-byte frames from A to B (`iperf3 -u -P 4 -l
 * 1472`, its -b scaled to the payload and split over the streams) and measure
 * what B's eth0 receives: once two frames a stream have arrived (iperf3's own
 * exchanges before its data are well under that), WARMUP_S, then a window of
 * @windowS reading rx_bytes every POLL_MS ms through /proc/PID/net/dev of B's
 * server; the rate is the least-squares slope. Then the client is stopped
 * (SIGINT, by its pid), and the next measurement waits until the shaper's
 * queue is empty, the server is free again and nothing has arrived at B for
 * 60 ms.
 */
async function deliveredL2(m: RateMeter, bps: number, windowS: number): Promise<Delivered> {
  const { ep, server } = m;
  const rx = () => rxCounters(server.pid, ep.b.ifname);
  const offered = Math.round((bps * OFFER * PAYLOAD) / FRAME / STREAMS);
  const args = ['netns', 'exec', ep.a.ns, 'iperf3', '-c', ep.b.ip, '-p', String(IPERF_PORT), '-u', '-P', String(STREAMS), '-b', String(offered), '-l', String(PAYLOAD), '-t', '60', '--connect-timeout', '3000', '--forceflush'];
  let client: Proc | undefined;
  const tests = listening(server);
  try {
    // Retry while the server is still busy with the previous test.
    for (let attempt = 1; ; attempt++) {
      const c0 = rx().bytes;
      client = start('ip', args);
      const deadline = performance.now() + 5000;
      while (!client.hasExited() && performance.now() < deadline && rx().bytes < c0 + 2 * STREAMS * FRAME) await sleep(POLL_MS);
      if (!client.hasExited() && performance.now() < deadline) break;
      const out = client.output().trim().split('\n').slice(-2).join(' / ');
      await client.stop('SIGINT', 2000);
      if (!/busy/.test(out) || attempt >= 10) throw new Error(`iperf3 -u -b ${offered}: ${out || 'nothing arrived at B in 5 s'}`);
      await sleep(200);
    }
    await sleep(WARMUP_S * 1000);
    const ts: number[] = [];
    const ys: number[] = [];
    const first = rx();
    let last = first;
    ts.push(first.t);
    ys.push(first.bytes);
    while (last.t - first.t < windowS) {
      await sleep(POLL_MS);
      last = rx();
      ts.push(last.t);
      ys.push(last.bytes);
    }
    if (client.hasExited()) throw new Error(`iperf3 -u stopped during the window: ${client.output().trim().split('\n').slice(-2).join(' / ')}`);
    return {
      bps: slope(ts.map((t) => t - first.t), ys.map((y) => y - first.bytes)) * 8,
      frameBytes: (last.bytes - first.bytes) / Math.max(1, last.packets - first.packets),
    };
  } finally {
    await client?.stop('SIGINT', 2000);
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline && !(await m.queueEmpty())) await sleep(20);
    while (performance.now() < deadline && listening(server) <= tests) await sleep(20);
    let prev = rx().bytes;
    for (let still = 0; still < 3 && performance.now() < deadline; ) {
      await sleep(20);
      const now = rx().bytes;
      still = now === prev ? still + 1 : 0;
      prev = now;
    }
  }
}

/** What one probe run received: numbers and one-way delays (ms) of the data datagrams. */
interface ProbeRun {
  sent: number;
  /** How late the sender's sleeps woke up, ms. */
  lateMs: number[];
  seqs: number[];
  owdMs: number[];
}

/** Send @count probes every @intervalS from A to B (see PROBE); the receiver in B is stopped by its pid. */
async function probe(ep: Endpoints, count: number, intervalS: number): Promise<ProbeRun> {
  const recv = start('ip', ['netns', 'exec', ep.b.ns, 'python3', '-c', PROBE, 'recv', ep.b.ip, String(PROBE_PORT), '2']);
  try {
    const deadline = Date.now() + 10000;
    while (!recv.output().includes('ready')) {
      if (recv.hasExited() || Date.now() > deadline) throw new Error(`probe receiver: ${recv.output().trim() || 'not ready in 10 s'}`);
      await sleep(10);
    }
    const snd = await nsExec(ep.a.ns, ['python3', '-c', PROBE, 'send', ep.b.ip, String(PROBE_PORT), String(count), String(intervalS)], (count * intervalS + 20) * 1000);
    if (snd.code !== 0) throw new Error(`probe sender: ${snd.signal ?? `exit ${snd.code}`}: ${snd.stderr.trim()}`);
    const until = Date.now() + 5000;
    while (!recv.hasExited() && Date.now() < until) await sleep(10);
    const line = recv.output().trim().split('\n').at(-1) ?? '';
    let j: { seqs: number[]; owdNs: (number | null)[] };
    try {
      j = JSON.parse(line) as typeof j;
    } catch {
      throw new Error(`probe receiver: no result (${line})`);
    }
    const owdMs = j.owdNs.map((n) => (n === null ? NaN : n / 1e6));
    if (owdMs.some((x) => Number.isNaN(x))) throw new Error('probe receiver: a datagram without a kernel timestamp');
    let sj: { sent: number; lateUs: number[] };
    try {
      sj = JSON.parse(snd.stdout.trim()) as typeof sj;
    } catch {
      throw new Error(`probe sender: no result (${snd.stdout.trim()})`);
    }
    return { sent: sj.sent, lateMs: sj.lateUs.map((u) => u / 1000), seqs: j.seqs, owdMs };
  } finally {
    await recv.stop('SIGTERM', 2000);
  }
}

/** Mean of @xs. */
function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Signed error in percent of @got against @want. */
const errPct = (got: number, want: number) => (got / want - 1) * 100;

/** Figure key of the rate point @mbit. */
const rateKey = (mbit: number) => `r${mbit}`;
/** Figure key of the loss setting @pct. */
const lossKey = (pct: number) => `loss${pct}`;

/** Take figure @key into @v with @fn; a failure is kept in @errors (shown under the table) and the rest goes on. */
async function figure(name: string, v: Record<string, number>, errors: string[], key: string, fn: () => Promise<number>): Promise<void> {
  try {
    v[key] = await fn();
  } catch (e) {
    errors.push(`${key}: ${errorText(e)}`);
    progress(name, `${key} failed: ${errorText(e)}`);
  }
}

/** Delivered-rate notes: the worst sample per rate point and the frame size counted at B. */
function rateNotes(samples: Map<number, { err: number[]; frame: number[] }>): string[] {
  const parts = [...samples].map(([mbit, x]) => `${mbit}M ${x.err.map((e) => `${e >= 0 ? '+' : ''}${e.toFixed(2)}`).join('/')}%`);
  const frames = [...samples.values()].flatMap((x) => x.frame);
  return parts.length === 0
    ? []
    : [`rate error per repetition: ${parts.join(', ')}; bytes per frame counted at B: ${Math.min(...frames).toFixed(1)}-${Math.max(...frames).toFixed(1)}`];
}

/** The a2b's name in the daemon. */
const a2bName = (ctx: SectionContext) => `${ctx.id}ab`;

/** Every parameter the section touches back to its default, both directions. */
const RESET = { dir: 'both', rate: 0, delay: 0, jitter: 0, loss: 0, limit: 1000, 'limit-bytes': 16 << 20 };

/**
 * containet with an a2b between lan A (station A's tap) and lan B (station
 * B's tap), and a station C on lan A: A to C is the plain lan path, both taps
 * on one lan of the same daemon.
 */
const a2bPath: SectionPathDef = {
  key: 'l1',
  name: 'containet-a2b',
  title: 'containet daemon, station A on lan A, B on lan B, an a2b between the lans, C on lan A (vnet taps); every setting in direction a2b only',
  unavailable: () => toolsMissing(['python3']),
  setup: async (ctx) => {
    const s = ctx.settings;
    const ep = await stations(ctx, '10.77.121');
    const d = await startContainet(ctx.scope, ctx.dir, []);
    const [lanA, lanB, ab] = [`${ctx.id}A`, `${ctx.id}B`, a2bName(ctx)];
    await request(d.sock, { 'add-lan': { name: lanA } });
    await request(d.sock, { 'add-lan': { name: lanB } });
    await request(d.sock, { 'add-a2b': { name: ab, a: lanA, b: lanB } });
    const c: Station = { ns: await addNetns(ctx.scope, `${ctx.id}c`), ifname: 'eth0', ip: '10.77.121.3' };
    const lan: Endpoints = { a: ep.a, b: c };
    await attachTapTo(d, ep.a.ns, ep.a.ip, 'benchA', lanA);
    await attachTapTo(d, ep.b.ns, ep.b.ip, 'benchB', lanB);
    await attachTapTo(d, c.ns, c.ip, 'benchC', lanA);
    await finishStations(ep);
    await finishStations(lan);
    const server = await iperfServer(ctx.scope, ep);
    await iperfServer(ctx.scope, lan);
    const meter: RateMeter = {
      ep,
      server,
      queueEmpty: async () => {
        const st = (await request(d.sock, { stats: { name: ab } })) as { a2b?: { a2b?: { queued?: number } } };
        return st.a2b?.a2b?.queued === 0;
      },
    };
    const set = async (fields: Record<string, unknown>) => {
      await request(d.sock, { set: { name: ab, ...fields } });
    };
    const errors: string[] = [];
    const rates = new Map<number, { err: number[]; frame: number[] }>();
    const base: number[] = [];
    const delayed: number[] = [];
    const delayErrs: number[] = [];
    const late: number[] = [];
    const loss = new Map<number, { sent: number; got: number }>();
    let capacity: number | null = null;
    const rig: SectionRig = {
      measure: async (rep) => {
        const v: Record<string, number> = {};
        await set(RESET);
        // TCP A->B across the a2b with nothing set and A->C on lan A, in turns (lan first in odd repetitions).
        for (const [key, e] of rep % 2 === 1 ? ([['tcplan', lan], ['tcp1', ep]] as const) : ([['tcp1', ep], ['tcplan', lan]] as const))
          await figure('containet-a2b', v, errors, key, () => tcpGbps(e, 1, tcpSeconds(s), s.omit));
        if (v.tcp1 !== undefined && v.tcplan !== undefined) v.tcpx = v.tcp1 / v.tcplan;
        for (const mbit of RATES_MBIT) {
          await figure('containet-a2b', v, errors, rateKey(mbit), async () => {
            await set({ dir: 'a2b', rate: mbit * 1e6, limit: a2bLimit(mbit * 1e6) });
            const r = await deliveredL2(meter, mbit * 1e6, rateWindowS(s));
            const e = errPct(r.bps, mbit * 1e6);
            const x = rates.get(mbit) ?? { err: [], frame: [] };
            x.err.push(e);
            x.frame.push(r.frameBytes);
            rates.set(mbit, x);
            return e;
          });
        }
        await set(RESET);
        if (rep === 1) {
          // What the path carries with nothing set, under the top point's offered load (a note: the ceiling of the last rate point).
          try {
            const top = Math.max(...RATES_MBIT) * 1e6;
            capacity = (await deliveredL2(meter, top, rateWindowS(s))).bps;
          } catch (e) {
            errors.push(`capacity: ${errorText(e)}`);
          }
        }
        // Delay: one-way delays with nothing set, then with DELAY_MS in direction a2b; each
        // probe's error is its delay minus the median with nothing set minus the setting.
        let b0: ProbeRun | null = null;
        try {
          b0 = await probe(ep, s.pings, s.pingIntervalS);
          base.push(...b0.owdMs);
          late.push(...b0.lateMs);
        } catch (e) {
          errors.push(`delay (nothing set): ${errorText(e)}`);
        }
        if (b0 !== null && b0.owdMs.length > 0) {
          const b0mean = mean(b0.owdMs);
          const b0med = percentile(b0.owdMs, 50)!;
          let errs: number[] = [];
          await figure('containet-a2b', v, errors, 'dmean', async () => {
            await set({ dir: 'a2b', delay: DELAY_MS * 1000 });
            const r = await probe(ep, s.pings, s.pingIntervalS);
            delayed.push(...r.owdMs);
            late.push(...r.lateMs);
            errs = r.owdMs.map((x) => x - b0med - DELAY_MS);
            delayErrs.push(...errs);
            return mean(r.owdMs) - b0mean - DELAY_MS;
          });
          if (errs.length > 0) v.dp99 = percentile(errs.map(Math.abs), 99)!;
        }
        await set(RESET);
        for (const pct of LOSSES) {
          await figure('containet-a2b', v, errors, lossKey(pct), async () => {
            await set({ dir: 'a2b', loss: pct });
            const r = await probe(ep, LOSS_PROBES, LOSS_INTERVAL_S);
            const got = new Set(r.seqs.filter((q) => q < r.sent)).size;
            const x = loss.get(pct) ?? { sent: 0, got: 0 };
            x.sent += r.sent;
            x.got += got;
            loss.set(pct, x);
            return 100 * (1 - got / r.sent);
          });
        }
        await set(RESET);
        return v;
      },
      notes: async () => {
        const out: string[] = [];
        out.push(...rateNotes(rates));
        if (capacity !== null)
          out.push(`nothing set, ${(OFFER * Math.max(...RATES_MBIT)).toFixed(0)} Mbit/s offered (repetition 1): ${(capacity / 1e6).toFixed(0)} Mbit/s delivered at B`);
        if (base.length > 0 && delayed.length > 0) {
          const b50 = percentile(base, 50)!;
          out.push(
            `one-way delay, nothing set: mean ${mean(base).toFixed(3)} ms, p50 ${b50.toFixed(3)}, p99 ${percentile(base, 99)!.toFixed(3)}; ` +
              `with ${DELAY_MS} ms: mean ${mean(delayed).toFixed(3)}, p50 ${percentile(delayed, 50)!.toFixed(3)}, p99 ${percentile(delayed, 99)!.toFixed(3)} ms; ` +
              `pooled over ${delayErrs.length} probes: mean error ${mean(delayErrs) >= 0 ? '+' : ''}${mean(delayErrs).toFixed(3)} ms, p99 |error| ${percentile(delayErrs.map(Math.abs), 99)!.toFixed(3)} ms, ` +
              `largest ${Math.max(...delayErrs.map(Math.abs)).toFixed(3)} ms (the path's own p99-p50 with nothing set: ${(percentile(base, 99)! - b50).toFixed(3)} ms; ` +
              `the probe sender's ${s.pingIntervalS * 1000} ms sleeps woke up late by p50 ${percentile(late, 50)!.toFixed(3)}, p99 ${percentile(late, 99)!.toFixed(3)}, max ${Math.max(...late).toFixed(3)} ms)`,
          );
        }
        for (const [pct, x] of loss) {
          const p = pct / 100;
          const got = 1 - x.got / x.sent;
          const se = Math.sqrt((p * (1 - p)) / x.sent);
          out.push(
            `loss ${pct}%: ${x.sent - x.got} of ${x.sent} datagrams lost = ${(100 * got).toFixed(2)}%, binomial SE ${(100 * se).toFixed(2)}% ` +
              `(${((got - p) / se >= 0 ? '+' : '')}${((got - p) / se).toFixed(2)} SE from the setting)`,
          );
        }
        try {
          const st = (await request(d.sock, { stats: { name: ab } })) as { a2b?: Record<string, Record<string, number>> };
          for (const dir of ['a2b', 'b2a']) {
            const c = st.a2b?.[dir];
            if (c) out.push(`a2b counters ${dir}: ${Object.entries(c).map(([k, n]) => `${k}=${n}`).join(' ')}`);
          }
        } catch (e) {
          out.push(`a2b stats: ${errorText(e)}`);
        }
        out.push(...errors.map((e) => `error: ${e}`));
        return out;
      },
    };
    return rig;
  },
};

/** The kernel's tbf on a veth pair, on A's egress, at the same rates. */
const tbfPath: SectionPathDef = {
  key: 'l2',
  name: 'tbf',
  title: `a veth pair between the stations, tbf on A's eth0 (burst max(rate/250 B/s, 2 frames), latency ${QUEUE_S * 1000} ms)`,
  unavailable: () => toolsMissing(['tc']),
  setup: async (ctx) => {
    const s = ctx.settings;
    const ep = await stations(ctx, '10.77.122');
    await addVeth({ ns: ep.a.ns, name: ep.a.ifname }, { ns: ep.b.ns, name: ep.b.ifname });
    for (const st of [ep.a, ep.b]) await setAddress(st.ns, st.ifname, st.ip);
    await finishStations(ep);
    const server = await iperfServer(ctx.scope, ep);
    const errors: string[] = [];
    const rates = new Map<number, { err: number[]; frame: number[] }>();
    const tc = (...args: string[]) => run('ip', ['netns', 'exec', ep.a.ns, 'tc', ...args]);
    const meter: RateMeter = { ep, server, queueEmpty: async () => / backlog 0b 0p/.test(await tc('-s', 'qdisc', 'show', 'dev', ep.a.ifname)) };
    const drops: string[] = [];
    return {
      measure: async () => {
        const v: Record<string, number> = {};
        for (const mbit of RATES_MBIT) {
          await figure('tbf', v, errors, rateKey(mbit), async () => {
            const bps = mbit * 1e6;
            await tc('qdisc', 'replace', 'dev', ep.a.ifname, 'root', 'tbf', 'rate', `${bps}bit`, 'burst', String(tbfBurst(bps)), 'latency', `${QUEUE_S * 1000}ms`);
            try {
              const r = await deliveredL2(meter, bps, rateWindowS(s));
              const e = errPct(r.bps, bps);
              const x = rates.get(mbit) ?? { err: [], frame: [] };
              x.err.push(e);
              x.frame.push(r.frameBytes);
              rates.set(mbit, x);
              return e;
            } finally {
              const st = await tc('-s', 'qdisc', 'show', 'dev', ep.a.ifname).catch(() => '');
              const m = /dropped (\d+), overlimits (\d+)/.exec(st);
              if (m) drops.push(`${mbit}M dropped ${m[1]}`);
              await tc('qdisc', 'del', 'dev', ep.a.ifname, 'root');
            }
          });
        }
        return v;
      },
      notes: async () => [
        ...rateNotes(rates),
        `bursts: ${RATES_MBIT.map((m) => `${m}M ${tbfBurst(m * 1e6)} B`).join(', ')}; tbf drops: ${drops.join(', ') || 'none'}`,
        ...errors.map((e) => `error: ${e}`),
      ],
    };
  },
};

/** The worst rate error of @p over the rate points, as text and value; null if a point is missing. */
function worstRate(p: SectionPathResult | undefined): { err: number; text: string } | null {
  if (!p || p.status !== 'ok') return null;
  let worst: { err: number; text: string } | null = null;
  for (const mbit of RATES_MBIT) {
    const e = p.values[rateKey(mbit)];
    if (e === null || e === undefined) return null;
    if (worst === null || Math.abs(e) > Math.abs(worst.err)) worst = { err: e, text: `${e >= 0 ? '+' : ''}${e.toFixed(2)}% at ${mbit} Mbit/s` };
  }
  return worst;
}

/** The a2b section. */
export const A2B_SECTION: SectionDef = {
  key: 'a2b',
  title: 'a2b',
  figures: [
    ...RATES_MBIT.map((m) => ({ key: rateKey(m), label: `${m}M`, unit: 'err %', digits: 2 })),
    { key: 'dmean', label: 'delay mean', unit: 'err ms', digits: 3 },
    { key: 'dp99', label: 'p99', unit: '|err| ms', digits: 3 },
    ...LOSSES.map((l) => ({ key: lossKey(l), label: `loss ${l}%`, unit: 'got %', digits: 2 })),
    { key: 'tcp1', label: 'TCP a2b', unit: 'Gbit/s', digits: 2 },
    { key: 'tcplan', label: 'TCP lan', unit: 'Gbit/s', digits: 2 },
    { key: 'tcpx', label: 'a2b/lan', unit: 'x', digits: 2 },
  ],
  baseline: null,
  paths: [a2bPath, tbfPath],
  reps: (s) => s.sectionReps,
  legend: (s) => [
    `Medians of ${s.sectionReps} repetition(s). Rate: error in % of the delivered L2 rate against the setting (1M..1000M = Mbit/s), set in direction a2b only (tbf: on A's egress);`,
    `  iperf3 -u -P ${STREAMS} -l ${PAYLOAD} offers ${OFFER}x the rate in ${FRAME}-byte frames; B's rx_bytes (frames without FCS, what both shapers charge) read every ${POLL_MS} ms over ${rateWindowS(s)} s after ${WARMUP_S} s of warm-up, least-squares slope;`,
    `  queues: a2b --limit (frames) and tbf latency both ${QUEUE_S * 1000} ms of the rate (a2b at least 4 frames); tbf burst max(rate/250 B, 2 frames).`,
    `Delay: --delay ${DELAY_MS}ms a2b only; ${s.pings} UDP probes ${s.pingIntervalS * 1000} ms apart, one-way delay = B's kernel receive timestamp - A's send time; err = delay - median with nothing set - ${DELAY_MS} ms`,
    `  (mean: mean delay - mean with nothing set - ${DELAY_MS} ms; p99 of |err| per probe). Loss: --loss a2b only, ${LOSS_PROBES} datagrams ${LOSS_INTERVAL_S * 1000} ms apart per repetition, % not received.`,
    `TCP: iperf3 -t ${tcpSeconds(s)} -O ${s.omit}, 1 stream, A->B across the a2b with nothing set ("a2b"), and A->C, a third station on A's lan ("lan": the plain lan path, same daemon),`,
    `  in turns; a2b/lan is the median of the ratios of each repetition. Nothing pinned.`,
  ],
  targets: (paths) => {
    const a2b = paths.find((p) => p.name === 'containet-a2b');
    const tbf = worstRate(paths.find((p) => p.name === 'tbf'));
    const rate = worstRate(a2b);
    const v = (k: string) => (a2b?.status === 'ok' ? (a2b.values[k] ?? null) : null);
    const dmean = v('dmean');
    const dp99 = v('dp99');
    const tcp = v('tcpx');
    const t: SectionTarget[] = [
      {
        text: `a2b rate within 2% of the setting at ${RATES_MBIT.join(', ')} Mbit/s`,
        value: rate === null ? null : `worst ${rate.text} (tbf: ${tbf === null ? 'not measured' : `worst ${tbf.text}`})`,
        met: rate === null ? null : Math.abs(rate.err) <= 2,
      },
      { text: 'a2b mean delay error <= 0.2 ms', value: dmean === null ? null : `${dmean.toFixed(3)} ms`, met: dmean === null ? null : Math.abs(dmean) <= 0.2 },
      { text: 'a2b p99 delay error < 0.5 ms', value: dp99 === null ? null : `${dp99.toFixed(3)} ms`, met: dp99 === null ? null : dp99 < 0.5 },
      { text: 'a2b with nothing set TCP >= 0.9x plain lan', value: tcp === null ? null : `${tcp.toFixed(2)}x`, met: tcp === null ? null : tcp >= 0.9 },
    ];
    return t;
  },
};
