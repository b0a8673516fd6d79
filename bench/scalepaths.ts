/**
 * The scale section: N containodes started at once against one daemon (100,
 * 500, 1000), all on one lan. Measured: how many containers start per second,
 * each one's attach latency (from its spawn to its program running, which
 * containode allows only once eth0 is on the switch), the daemon's memory and
 * each containode's own (outside the container), a sample of pings between
 * containers, and how fast they all go away again. Every containode is this
 * bench's child, stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { request } from '../src/client.js';
import { packageRoot } from '../src/native.js';
import { startContainet, type Containet } from './containet.js';
import { exec, sleep } from './proc.js';
import type { Scope } from './scope.js';
import type { SectionContext, SectionDef, SectionPathDef, SectionRig } from './section.js';
import { percentile } from './stats.js';

/** How long a burst may take to attach, or to go away, before the rep fails. */
const BURST_DEADLINE_MS = 600_000;
/** Pings tried between random pairs of containers after each burst. */
const PING_SAMPLE = 10;

/** argv that runs containode: the package's bin, as a user runs it. */
function containodeArgv(): string[] {
  return [path.join(packageRoot, 'bin', 'containode')];
}

/** Address of container @k (0-based) in 10.77.0.0/16. */
function addressOf(k: number): string {
  const h = k + 1;
  return `10.77.${h >> 8}.${h & 255}`;
}

/** A field of /proc/@pid/status in kB (VmRSS ...), or 0 when the process is gone. */
function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Private memory of @pid in kB (smaps_rollup Private_Clean + Private_Dirty), 0 when gone. */
function privateKb(pid: number): number {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    let kb = 0;
    for (const m of t.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
    return kb;
  } catch {
    return 0;
  }
}

/** Children of @pid (every thread's). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** The processes from @top down to, but not including, @init: a container's supervisors. */
function supervisors(top: number, init: number): number[] {
  const out: number[] = [];
  let level = [top];
  while (level.length > 0) {
    out.push(...level);
    level = level.flatMap(childrenOf).filter((p) => p !== init);
  }
  return out;
}

/** One containode of a burst. */
interface Member {
  id: string;
  ip: string;
  child: ChildProcess;
  spawnedAt: number;
  /** When its program printed "up" (NaN until then). */
  upAt: number;
  exited: boolean;
  /** What it printed on stderr (for a failure's reason). */
  err: string;
}

/** Start @n containodes at once on @d; resolves when all run their program (or fails naming the first that ended). */
async function burst(d: Containet, scope: Scope, id: string, n: number): Promise<Member[]> {
  const argv = containodeArgv();
  const members: Member[] = [];
  scope.defer(`stop the containodes of ${id}`, async () => {
    for (const m of members) if (!m.exited) m.child.kill('SIGKILL');
    const deadline = Date.now() + 60000;
    while (members.some((m) => !m.exited) && Date.now() < deadline) await sleep(100);
  });
  for (let k = 0; k < n; k++) {
    const m: Member = { id: `${id}n${k}`, ip: addressOf(k), child: undefined as unknown as ChildProcess, spawnedAt: performance.now(), upAt: NaN, exited: false, err: '' };
    m.child = spawn(argv[0]!, [...argv.slice(1), '-s', d.sock, '-i', m.id, '-4', `${m.ip}/16`, '--', '/bin/sh', '-c', 'echo up; exec sleep 100000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    m.child.stdout!.on('data', (b: Buffer) => {
      if (Number.isNaN(m.upAt) && b.toString().includes('up')) m.upAt = performance.now();
    });
    m.child.stderr!.on('data', (b: Buffer) => {
      if (m.err.length < 2000) m.err += b.toString();
    });
    m.child.on('exit', () => (m.exited = true));
    m.child.on('error', (e) => {
      m.exited = true;
      m.err += e.message;
    });
    members.push(m);
  }
  const deadline = Date.now() + BURST_DEADLINE_MS;
  for (;;) {
    const dead = members.find((m) => m.exited && Number.isNaN(m.upAt));
    if (dead) throw new Error(`containode ${dead.id} ended before its program ran: ${dead.err.trim().split('\n').slice(-2).join(' / ')}`);
    if (members.every((m) => !Number.isNaN(m.upAt))) return members;
    if (Date.now() > deadline) throw new Error(`${members.filter((m) => Number.isNaN(m.upAt)).length} of ${n} containers not up after ${BURST_DEADLINE_MS / 1000} s`);
    await sleep(50);
  }
}

/** The fd ports of @d: name to container init pid. */
async function portPids(d: Containet): Promise<Map<string, number>> {
  const r = (await request(d.sock, { show: {} }, -1, 60000)) as { objects: { name: string; pid?: number }[] };
  return new Map(r.objects.filter((o) => typeof o.pid === 'number').map((o) => [o.name, o.pid!]));
}

/** Ping from a random container to another; true when the echo came back. */
async function pingPair(members: Member[], pids: Map<string, number>): Promise<boolean> {
  const a = members[Math.floor(Math.random() * members.length)]!;
  let b = members[Math.floor(Math.random() * members.length)]!;
  if (b === a) b = members[(members.indexOf(a) + 1) % members.length]!;
  const pid = pids.get(`${a.id}.eth0`);
  if (pid === undefined) return false;
  const r = await exec('nsenter', ['-t', String(pid), '-n', 'ping', '-c', '3', '-i', '0.2', '-W', '5', b.ip], { timeoutMs: 30000 });
  return r.code === 0;
}

/** A path of @n containers. */
function scalePath(key: string, n: number): SectionPathDef {
  return {
    key,
    name: `containode-x${n}`,
    title: `${n} containode started at once, one daemon, one lan`,
    setup: async (ctx: SectionContext): Promise<SectionRig> => {
      const d = await startContainet(ctx.scope, ctx.dir, []);
      const notes: string[] = [];
      return {
        measure: async (rep) => {
          const idle = statusKb(d.proc.pid, 'VmRSS');
          const members = await burst(d, ctx.scope, `${ctx.id}r${rep}`, n);
          const t0 = Math.min(...members.map((m) => m.spawnedAt));
          const t1 = Math.max(...members.map((m) => m.upAt));
          const lat = members.map((m) => m.upAt - m.spawnedAt);
          const pids = await portPids(d);
          if (pids.size < n) throw new Error(`only ${pids.size} of ${n} ports on the lan`);
          const busy = statusKb(d.proc.pid, 'VmRSS');
          const sample = members.slice(0, 20);
          const rss = sample.map((m) => supervisors(m.child.pid!, pids.get(`${m.id}.eth0`)!).reduce((s, p) => s + statusKb(p, 'VmRSS'), 0));
          const priv = sample.map((m) => supervisors(m.child.pid!, pids.get(`${m.id}.eth0`)!).reduce((s, p) => s + privateKb(p), 0));
          let pings = 0;
          for (let i = 0; i < PING_SAMPLE; i++) if (await pingPair(members, pids)) pings++;
          // All go: SIGTERM to every containode, then the ports leave the lan.
          const s0 = performance.now();
          for (const m of members) m.child.kill('SIGTERM');
          const deadline = Date.now() + BURST_DEADLINE_MS;
          while ((members.some((m) => !m.exited) || (await portPids(d)).size > 0) && Date.now() < deadline) await sleep(100);
          const left = (await portPids(d)).size;
          if (left > 0) throw new Error(`${left} ports still on the lan ${BURST_DEADLINE_MS / 1000} s after their containers were stopped`);
          const s1 = performance.now();
          notes.push(`rep ${rep}: pings ${pings}/${PING_SAMPLE} pairs; daemon ${(idle / 1024).toFixed(1)} MB idle, ${(busy / 1024).toFixed(1)} MB with ${n} ports`);
          return {
            starts: n / ((t1 - t0) / 1000),
            p50: percentile(lat, 50)!,
            p99: percentile(lat, 99)!,
            daemon: busy / 1024,
            perPort: (busy - idle) / n,
            sup: percentile(rss, 50)! / 1024,
            supPriv: percentile(priv, 50)! / 1024,
            pings,
            stops: n / ((s1 - s0) / 1000),
          };
        },
        notes: async () => notes,
      };
    },
  };
}

/** The scale section. */
export const SCALE_SECTION: SectionDef = {
  key: 'scale',
  title: 'Scale',
  figures: [
    { key: 'starts', label: 'started', unit: '/s', digits: 0 },
    { key: 'p50', label: 'attach p50', unit: 'ms', digits: 0 },
    { key: 'p99', label: 'attach p99', unit: 'ms', digits: 0 },
    { key: 'daemon', label: 'daemon RSS', unit: 'MB', digits: 1 },
    { key: 'perPort', label: 'daemon per port', unit: 'kB', digits: 0 },
    { key: 'sup', label: 'containode RSS', unit: 'MB', digits: 2 },
    { key: 'supPriv', label: 'containode private', unit: 'MB', digits: 2 },
    { key: 'pings', label: `pings ok /${PING_SAMPLE}`, unit: '', digits: 0 },
    { key: 'stops', label: 'stopped', unit: '/s', digits: 0 },
  ],
  baseline: null,
  paths: [scalePath('s1', 100), scalePath('s2', 500), scalePath('s3', 1000)],
  reps: () => 1,
  legend: () => [
    'N containode -s SOCK -4 ADDR/16 -- sh -c "echo up; exec sleep" spawned in one go by the bench; attach = from its spawn to "up" (its',
    'program runs only once eth0 is on the switch); started/s = N over first spawn to last "up". Memory: VmRSS of the daemon with the N',
    'ports, its growth per port, and per container the median over 20 of what runs outside the container (containode and any helper',
    `it keeps; VmRSS and private). Pings: ${PING_SAMPLE} random pairs, 3 echoes each. stopped/s: N over SIGTERM to all until the lan is empty.`,
  ],
};
