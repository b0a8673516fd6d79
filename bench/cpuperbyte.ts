/**
 * Machine-wide CPU per byte of TCP through netns paths (docs/performance.md,
 * "Several flows on several cores"): for each path, 1 and 4 iperf3 streams,
 * the machine's busy time from /proc/stat (every CPU, user, system, irq,
 * softirq, steal) over the bytes the receiver got. On a quiet machine this is
 * what a path costs, kernel forwarding included, which the bench's per-process
 * switch CPU cannot see.
 *
 *   node dist/bench/cpuperbyte.js [KEYS] [REPS]     e.g. b,a,f 3 (the default)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startIperfServer } from './measure.js';
import { nsExec, waitReachable } from './netns.js';
import { PATHS } from './paths.js';
import { Scope } from './scope.js';
import { median } from './stats.js';

/** Nanoseconds all CPUs have been busy since boot (USER_HZ 100). */
function busyNs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + steal) * 1e7;
}

/** One iperf3 run of @streams for 4 s from A to B: Gbit/s, machine CPU ns per KiB, CPUs busy. */
async function sample(ep: { a: { ns: string }; b: { ip: string } }, streams: number): Promise<{ gbps: number; nsPerKiB: number; cpus: number }> {
  const b0 = busyNs();
  const t0 = process.hrtime.bigint();
  const r = await nsExec(ep.a.ns, ['iperf3', '-c', ep.b.ip, '-p', '5201', '-t', '4', '-P', String(streams), '-J'], 40000);
  const wall = Number(process.hrtime.bigint() - t0);
  const used = busyNs() - b0;
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
  return { gbps: j.end.sum_received.bits_per_second / 1e9, nsPerKiB: (used / j.end.sum_received.bytes) * 1024, cpus: used / wall };
}

const keys = (process.argv[2] ?? 'b,a,f').split(',');
const reps = Number(process.argv[3] ?? 3);
let n = 0;
for (const key of keys) {
  const def = PATHS.find((p) => p.key === key);
  if (!def) throw new Error(`no netns path ${key}`);
  const scope = new Scope(def.name);
  n++;
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'cpb'));
    scope.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    const ep = await def.setup({ scope, id: `cpb${n}${key}`, subnet: `10.79.${n}`, dir });
    await waitReachable(ep.a.ns, ep.b.ip);
    await startIperfServer(scope, ep);
    for (const streams of [1, 4]) {
      const rows: Awaited<ReturnType<typeof sample>>[] = [];
      for (let i = 0; i < reps; i++) rows.push(await sample(ep, streams));
      const m = (k: 'gbps' | 'nsPerKiB' | 'cpus') => median(rows.map((x) => x[k]))!;
      console.log(`${def.name} ${streams} stream(s): ${m('gbps').toFixed(1)} Gbit/s, ${m('nsPerKiB').toFixed(0)} ns of CPU per KiB, ${m('cpus').toFixed(2)} CPUs busy (medians of ${reps})`);
    }
  } finally {
    const errs = await scope.close();
    if (errs.length) console.log(`${def.name}: cleanup: ${errs.join('; ')}`);
  }
}
