/**
 * The capture section: what a running capture costs the dataplane. Stations A
 * and B in namespaces, iperf3 TCP A->B without a capture and with one capture
 * of A's port written to a FIFO, read by two readers in turn, within each
 * repetition (the order alternates), so all runs see the same machine. Two
 * paths: `containet capture` of a containet port (both directions, pcapng, no
 * filter), and what users would otherwise pick, `tcpdump -w` of a Linux bridge
 * port. The figures of interest are the ratios with / without.
 */
import path from 'node:path';

import { request } from '../src/client.js';
import { packageRoot } from '../src/native.js';
import { attachTap, startContainet } from './containet.js';
import { startIperfServer, tcpGbps } from './measure.js';
import { addNetns, waitReachable } from './netns.js';
import { onPath } from './ovs.js';
import { bridgeStations, type Endpoints } from './paths.js';
import { errorText, run, sleep, start, type Proc } from './proc.js';
import type { SectionContext, SectionDef, SectionPathDef, SectionRig } from './section.js';

/** Seconds of a TCP run after the omitted one: one less than --seconds, at least 1. */
const tcpSeconds = (seconds: number) => Math.max(1, seconds - 1);

/** The readers of a capture: `splice` moves the pipe's pages to /dev/null
 *  without a copy (what is left is what containet costs), `cat` copies them
 *  out as tcpdump or Wireshark would (and costs what a reader costs). */
type Reader = 'splice' | 'cat';

/** The command line of a @reader of @fifo. */
function readerArgs(reader: Reader, fifo: string): string[] {
  if (reader === 'cat') return ['sh', '-c', `exec cat ${fifo} > /dev/null`];
  const py = 'import os,sys\nfi=os.open(sys.argv[1],os.O_RDONLY)\nfo=os.open("/dev/null",os.O_WRONLY)\nwhile os.splice(fi,fo,1<<20): pass';
  return ['python3', '-c', py, fifo];
}

/** A capture running, and its reader. */
interface Running {
  cap: Proc;
  reader: Proc;
}

/** Make FIFO @name in @dir with a @kind reader of it. */
async function startReader(dir: string, name: string, kind: Reader): Promise<{ fifo: string; reader: Proc }> {
  const fifo = path.join(dir, `${name}.fifo`);
  await run('mkfifo', [fifo]);
  const [cmd, ...args] = readerArgs(kind, fifo);
  return { fifo, reader: start(cmd!, args) };
}

/** Start `containet capture PORT -w FIFO` with a @kind reader of it; resolves
 *  once the daemon lists the capture. */
async function startCapture(sock: string, dir: string, port: string, name: string, kind: Reader): Promise<Running> {
  const { fifo, reader } = await startReader(dir, name, kind);
  const cap = start(process.execPath, [path.join(packageRoot, 'bin', 'containet.js'), '-s', sock, 'capture', port, '--name', name, '-w', fifo]);
  const deadline = Date.now() + 15000;
  for (;;) {
    const show = (await request(sock, { show: {} })) as { objects: { name: string }[] };
    if (show.objects.some((o) => o.name === name)) return { cap, reader };
    if (cap.hasExited() || Date.now() > deadline) {
      await reader.stop();
      throw new Error(`the capture did not start: ${cap.output().trim()}`);
    }
    await sleep(50);
  }
}

/** Start `tcpdump -i PORT -w FIFO` in namespace @ns (16 MiB of buffer, as
 *  containet's rings) with a @kind reader; resolves once it listens. */
async function startTcpdump(ns: string, dir: string, port: string, name: string, kind: Reader): Promise<Running> {
  const { fifo, reader } = await startReader(dir, name, kind);
  const cap = start('ip', ['netns', 'exec', ns, 'tcpdump', '-i', port, '-B', '16384', '-w', fifo]);
  const deadline = Date.now() + 15000;
  while (!/listening on/.test(cap.output())) {
    if (cap.hasExited() || Date.now() > deadline) {
      await cap.stop();
      await reader.stop();
      throw new Error(`tcpdump did not start: ${cap.output().trim()}`);
    }
    await sleep(50);
  }
  return { cap, reader };
}

/** What a capture said at its end: frames written and dropped. */
function captureSaid(out: string): string {
  const ours = /(\d+) frames? written, (\d+) dropped/.exec(out);
  if (ours) return `wrote ${ours[1]} frames, dropped ${ours[2]}`;
  const got = /(\d+) packets? captured/.exec(out);
  const drop = /(\d+) packets? dropped by kernel/.exec(out);
  if (got && drop) return `wrote ${got[1]} frames, dropped ${drop[1]}`;
  return `said ${errorText(out.trim())}`;
}

/** The measurement of a capture path: TCP A->B without a capture and with
 *  one (read by splice, then by cat), in an order that alternates. */
function measureCapture(ctx: SectionContext, ep: Endpoints, begin: (name: string, kind: Reader) => Promise<Running>): SectionRig {
  const s = ctx.settings;
  const notes: string[] = [];
  return {
    measure: async (rep) => {
      const v: Record<string, number> = {};
      const without = async () => {
        v.tcp0 = await tcpGbps(ep, 1, tcpSeconds(s.seconds), s.omit);
      };
      const withCapture = (kind: Reader, key: string) => async () => {
        const { cap, reader } = await begin(`cap${rep}${kind}`, kind);
        try {
          v[key] = await tcpGbps(ep, 1, tcpSeconds(s.seconds), s.omit);
        } finally {
          await cap.stop('SIGINT', 5000);
          await reader.stop('SIGTERM', 2000);
        }
        notes.push(`repetition ${rep}, ${kind} reader: the capture ${captureSaid(cap.output())}`);
      };
      const runs = [without, withCapture('splice', 'tcp1'), withCapture('cat', 'tcp2')];
      for (const f of rep % 2 === 1 ? runs.reverse() : runs) await f();
      v.ratio = v.tcp1! / v.tcp0!;
      v.ratio2 = v.tcp2! / v.tcp0!;
      return v;
    },
    notes: async () => notes,
  };
}

/** Namespaces for stations A and B. */
async function captureStations(ctx: SectionContext): Promise<Endpoints> {
  const a = await addNetns(ctx.scope, `${ctx.id}a`);
  const b = await addNetns(ctx.scope, `${ctx.id}b`);
  return { a: { ns: a, ifname: 'eth0', ip: '10.77.131.1' }, b: { ns: b, ifname: 'eth0', ip: '10.77.131.2' } };
}

const capturePath: SectionPathDef = {
  key: 'cap',
  name: 'containet-capture',
  title: 'containet daemon, stations A and B on one lan (vnet taps, MTU 1500), iperf3 A->B with and without `containet capture` of A\'s port',
  unavailable: () => (onPath('iperf3') ? null : 'iperf3 not installed'),
  setup: async (ctx) => {
    const ep = await captureStations(ctx);
    const d = await startContainet(ctx.scope, ctx.dir, []);
    await attachTap(d, { ns: ep.a.ns, ip: ep.a.ip, vnetHdr: true, nodeid: 'benchA' });
    await attachTap(d, { ns: ep.b.ns, ip: ep.b.ip, vnetHdr: true, nodeid: 'benchB' });
    await waitReachable(ep.a.ns, ep.b.ip);
    await startIperfServer(ctx.scope, ep);
    return measureCapture(ctx, ep, (name, kind) => startCapture(d.sock, ctx.dir, 'benchA.eth0', name, kind));
  },
};

const bridgeCapturePath: SectionPathDef = {
  key: 'capb',
  name: 'bridge-tcpdump',
  title: 'Linux bridge, stations A and B on veth pairs (MTU 1500), iperf3 A->B with and without `tcpdump -w` of A\'s bridge port',
  unavailable: () => (!onPath('iperf3') ? 'iperf3 not installed' : !onPath('tcpdump') ? 'tcpdump not installed' : null),
  setup: async (ctx) => {
    const ep = await captureStations(ctx);
    const sw = await bridgeStations(ctx.scope, ctx.id, ep);
    await waitReachable(ep.a.ns, ep.b.ip);
    await startIperfServer(ctx.scope, ep);
    return measureCapture(ctx, ep, (name, kind) => startTcpdump(sw, ctx.dir, `${ctx.id}pa`, name, kind));
  },
};

/** The capture section. */
export const CAPTURE_SECTION: SectionDef = {
  key: 'capture',
  title: 'Capture cost',
  figures: [
    { key: 'tcp0', label: 'TCP A->B, no capture', unit: 'Gbit/s', digits: 2 },
    { key: 'tcp1', label: 'TCP A->B, capture of A read by splice', unit: 'Gbit/s', digits: 2 },
    { key: 'ratio', label: 'with (splice) / without', unit: 'x', digits: 2 },
    { key: 'tcp2', label: 'TCP A->B, capture of A read by cat', unit: 'Gbit/s', digits: 2 },
    { key: 'ratio2', label: 'with (cat) / without', unit: 'x', digits: 2 },
  ],
  baseline: null,
  paths: [capturePath, bridgeCapturePath],
  reps: (s) => s.sectionReps,
  legend: (s) => [
    `Medians of ${s.sectionReps} repetition(s) of iperf3 -t ${tcpSeconds(s.seconds)} -O ${s.omit}, 1 stream, each with and without one capture of A's port`,
    '(containet: pcapng, both directions, no filter, default 16 MiB of rings; tcpdump: pcap, -B 16384) written to a FIFO; the order alternates.',
    'Readers: splice moves the pipe\'s pages into /dev/null without a copy (the capture\'s own cost), cat copies them out as tcpdump or Wireshark reading would.',
  ],
  targets: (paths) => {
    const r = paths.find((p) => p.name === 'containet-capture')?.values.ratio ?? null;
    return [{ text: 'TCP with a capture running >= 0.8x without', value: r === null ? null : `${r.toFixed(2)}x`, met: r === null ? null : r >= 0.8 }];
  },
};
