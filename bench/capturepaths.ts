/**
 * The capture section: what a running `containet capture` costs the dataplane.
 * One path: stations A and B in namespaces, vnet taps on one lan of one daemon,
 * iperf3 TCP A->B without a capture and with one capture of A's port (both
 * directions, pcapng, no filter) whose reader keeps up (`cat` from a FIFO into
 * /dev/null), in turns within each repetition (the order alternates), so both
 * runs see the same machine. The figure of interest is their ratio.
 */
import path from 'node:path';

import { request } from '../src/client.js';
import { packageRoot } from '../src/native.js';
import { attachTap, startContainet } from './containet.js';
import { startIperfServer, tcpGbps } from './measure.js';
import { addNetns, waitReachable } from './netns.js';
import { onPath } from './ovs.js';
import type { Endpoints } from './paths.js';
import { errorText, run, sleep, start, type Proc } from './proc.js';
import type { SectionDef, SectionPathDef } from './section.js';

/** Seconds of a TCP run after the omitted one: one less than --seconds, at least 1. */
const tcpSeconds = (seconds: number) => Math.max(1, seconds - 1);

/** Start `containet capture PORT -w FIFO` with `cat FIFO > /dev/null` reading it;
 *  resolves once the daemon lists the capture. */
async function startCapture(sock: string, dir: string, port: string, name: string): Promise<{ cap: Proc; reader: Proc }> {
  const fifo = path.join(dir, `${name}.fifo`);
  await run('mkfifo', [fifo]);
  const reader = start('sh', ['-c', `exec cat ${fifo} > /dev/null`]);
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

const capturePath: SectionPathDef = {
  key: 'cap',
  name: 'containet-capture',
  title: 'containet daemon, stations A and B on one lan (vnet taps, MTU 1500), iperf3 A->B with and without a capture of A\'s port read by cat into /dev/null',
  unavailable: () => (onPath('iperf3') ? null : 'iperf3 not installed'),
  setup: async (ctx) => {
    const s = ctx.settings;
    const a = await addNetns(ctx.scope, `${ctx.id}a`);
    const b = await addNetns(ctx.scope, `${ctx.id}b`);
    const ep: Endpoints = { a: { ns: a, ifname: 'eth0', ip: '10.77.131.1' }, b: { ns: b, ifname: 'eth0', ip: '10.77.131.2' } };
    const d = await startContainet(ctx.scope, ctx.dir, []);
    await attachTap(d, { ns: a, ip: ep.a.ip, vnetHdr: true, nodeid: 'benchA' });
    await attachTap(d, { ns: b, ip: ep.b.ip, vnetHdr: true, nodeid: 'benchB' });
    await waitReachable(a, ep.b.ip);
    await startIperfServer(ctx.scope, ep);
    const notes: string[] = [];
    return {
      measure: async (rep) => {
        const v: Record<string, number> = {};
        const without = async () => {
          v.tcp0 = await tcpGbps(ep, 1, tcpSeconds(s.seconds), s.omit);
        };
        const withCapture = async () => {
          const name = `cap${rep}`;
          const { cap, reader } = await startCapture(d.sock, ctx.dir, 'benchA.eth0', name);
          try {
            v.tcp1 = await tcpGbps(ep, 1, tcpSeconds(s.seconds), s.omit);
          } finally {
            await cap.stop('SIGINT', 5000);
            await reader.stop('SIGTERM', 2000);
          }
          const m = /(\d+) frames? written, (\d+) dropped/.exec(cap.output());
          notes.push(m ? `repetition ${rep}: the capture wrote ${m[1]} frames, dropped ${m[2]}` : `repetition ${rep}: capture said ${errorText(cap.output().trim())}`);
        };
        for (const f of rep % 2 === 1 ? [withCapture, without] : [without, withCapture]) await f();
        v.ratio = v.tcp1! / v.tcp0!;
        return v;
      },
      notes: async () => notes,
    };
  },
};

/** The capture section. */
export const CAPTURE_SECTION: SectionDef = {
  key: 'capture',
  title: 'Capture cost',
  figures: [
    { key: 'tcp0', label: 'TCP A->B, no capture', unit: 'Gbit/s', digits: 2 },
    { key: 'tcp1', label: 'TCP A->B, capture of A', unit: 'Gbit/s', digits: 2 },
    { key: 'ratio', label: 'with / without', unit: 'x', digits: 2 },
  ],
  baseline: null,
  paths: [capturePath],
  reps: (s) => s.sectionReps,
  legend: (s) => [
    `Medians of ${s.sectionReps} repetition(s) of iperf3 -t ${tcpSeconds(s.seconds)} -O ${s.omit}, 1 stream, each with and without one capture of A's port`,
    '(pcapng, both directions, no filter, default 4 MiB of rings) whose reader, cat from a FIFO into /dev/null, keeps up; the order alternates.',
  ],
  targets: (paths) => {
    const r = paths.find((p) => p.name === 'containet-capture')?.values.ratio ?? null;
    return [{ text: 'TCP with a capture running >= 0.8x without', value: r === null ? null : `${r.toFixed(2)}x`, met: r === null ? null : r >= 0.8 }];
  },
};
