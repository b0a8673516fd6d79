/**
 * One path end to end: build it, check B answers A, take every figure
 * settings.reps times, and tear everything down whatever happened. A setup
 * failure becomes the path's reason; a failing measurement becomes that
 * figure's error and the others go on.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { pingRtts, startIperfServer, tcpGbps } from './measure.js';
import { waitReachable } from './netns.js';
import type { Settings } from './options.js';
import { PATHS, type Endpoints, type PathDef } from './paths.js';
import { errorText } from './proc.js';
import { emptyFigures, type Figure, type PathResult } from './results.js';
import { isInterrupted, Scope } from './scope.js';
import { median, percentile } from './stats.js';
import { udp64 } from './trafgen.js';
import { generatorLimited } from './verdict.js';

/** Print a progress line for path @name on stderr (stdout is for the table). */
export function progress(name: string, text: string): void {
  process.stderr.write(`[${name}] ${text}\n`);
}

/** Run @fn, pushing its value on @fig.samples or keeping its first error on @fig.error. */
async function sample(fig: Figure, label: string, name: string, fn: () => Promise<number>): Promise<void> {
  if (isInterrupted()) return;
  try {
    const v = await fn();
    fig.samples.push(v);
    progress(name, `${label} ${v.toFixed(3)}`);
  } catch (e) {
    fig.error ??= errorText(e);
    progress(name, `${label} failed: ${errorText(e)}`);
  }
}

/**
 * One ping run of @count echoes @intervalS apart on @ep: its replies' times
 * go on @rtts, its p50 and p99 on @p50 and @p99, its losses on @r; a failure
 * becomes both figures' error.
 */
async function pings(ep: Endpoints, count: number, intervalS: number, p50: Figure, p99: Figure, rtts: number[], r: PathResult, tag: string): Promise<void> {
  const every = `every ${intervalS * 1000} ms`;
  try {
    const p = await pingRtts(ep, count, intervalS);
    rtts.push(...p.rttsMs);
    r.pingLost += p.lost;
    p50.samples.push(percentile(p.rttsMs, 50)!);
    p99.samples.push(percentile(p.rttsMs, 99)!);
    progress(r.name, `${tag} ping ${every} p50 ${p50.samples.at(-1)!.toFixed(3)} ms, p99 ${p99.samples.at(-1)!.toFixed(3)} ms`);
  } catch (e) {
    p50.error ??= errorText(e);
    p99.error ??= errorText(e);
    progress(r.name, `${tag} ping ${every} failed: ${errorText(e)}`);
  }
}

/** Take every figure @s.reps times on built path @ep, into @r. */
async function measure(ep: Endpoints, dir: string, s: Settings, r: PathResult): Promise<void> {
  const f = r.figures;
  const rtts: number[] = [];
  const rttsFast: number[] = [];
  const sent: number[] = [];
  for (let rep = 1; rep <= s.reps && !isInterrupted(); rep++) {
    const tag = `rep ${rep}/${s.reps}`;
    await sample(f.tcp1, `${tag} tcp1 Gbit/s`, r.name, () => tcpGbps(ep, 1, s.seconds, s.omit));
    await sample(f.tcp4, `${tag} tcp4 Gbit/s`, r.name, () => tcpGbps(ep, 4, s.seconds, s.omit));
    await sample(f.udp64, `${tag} udp64 rx kpps`, r.name, async () => {
      const u = await udp64(ep, s.udpSeconds, dir);
      if (u.sentPps !== null) sent.push(u.sentPps / 1000);
      r.udpOfferedSamples.push(u.offeredPps / 1000);
      if (u.cpuNsPerFrame !== null) r.udpCpuSamples.push(u.cpuNsPerFrame);
      progress(r.name, `${tag} udp64 offered kpps ${(u.offeredPps / 1000).toFixed(3)}${u.cpuNsPerFrame === null ? '' : `, switch CPU ns/frame ${u.cpuNsPerFrame.toFixed(0)}`}`);
      return u.rxPps / 1000;
    });
    if (isInterrupted()) break;
    await pings(ep, s.pings, s.pingIntervalS, f.p50, f.p99, rtts, r, tag);
    await pings(ep, s.pingsFast, s.pingFastIntervalS, f.p50fast, f.p99fast, rttsFast, r, tag);
  }
  for (const k of ['tcp1', 'tcp4', 'udp64'] as const) f[k].value = median(f[k].samples);
  // Latency percentiles over every reply of every repetition.
  f.p50.value = percentile(rtts, 50);
  f.p99.value = percentile(rtts, 99);
  f.p50fast.value = percentile(rttsFast, 50);
  f.p99fast.value = percentile(rttsFast, 99);
  r.udpSentKpps = median(sent);
  r.udpOfferedKpps = median(r.udpOfferedSamples);
  r.udpCpuNsPerFrame = median(r.udpCpuSamples);
  f.udp64.generatorLimited = generatorLimited(f.udp64.value, r.udpOfferedKpps);
}

/**
 * Build, measure and tear down path @def; names start with @id (unique, at
 * most 10 characters), addresses are in @subnet/24, files go under @rootDir.
 */
export async function benchPath(def: PathDef, id: string, subnet: string, rootDir: string, s: Settings): Promise<PathResult> {
  const t0 = performance.now();
  const r: PathResult = {
    key: def.key,
    name: def.name,
    title: def.title,
    status: 'ok',
    figures: emptyFigures(),
    udpSentKpps: null,
    udpOfferedKpps: null,
    udpOfferedSamples: [],
    udpCpuNsPerFrame: null,
    udpCpuSamples: [],
    pingLost: 0,
    seconds: 0,
    cleanupErrors: [],
  };
  const missing = unavailableHere(def);
  if (missing !== null) return { ...r, status: 'skipped', reason: missing };
  const scope = new Scope(def.name);
  try {
    const dir = pathDir(scope, rootDir, id);
    let ep: Endpoints;
    try {
      progress(def.name, `setting up: ${def.title}`);
      ep = await def.setup({ scope, id, subnet, dir });
      await waitReachable(ep.a.ns, ep.b.ip);
      await startIperfServer(scope, ep);
    } catch (e) {
      r.status = 'failed';
      r.reason = errorText(e);
      progress(def.name, `setup failed: ${r.reason}`);
      return r;
    }
    await measure(ep, dir, s, r);
  } finally {
    await endPath(scope, r, t0);
  }
  return r;
}

/**
 * Why path @def cannot run here (printed as its progress line), or null: its
 * unavailable() check, shared by every section.
 */
export function unavailableHere(def: { name: string; unavailable?: () => string | null }): string | null {
  const missing = def.unavailable?.() ?? null;
  if (missing !== null) progress(def.name, `skipped: ${missing}`);
  return missing;
}

/** A private directory @rootDir/@id for one path, removed when @scope closes. */
export function pathDir(scope: Scope, rootDir: string, id: string): string {
  const dir = path.join(rootDir, id);
  scope.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir);
  return dir;
}

/** A path's teardown (any section): close its scope, record what failed to
 *  clean up and how long the path took since @t0. */
export async function endPath(scope: Scope, r: { name: string; cleanupErrors: string[]; seconds: number }, t0: number): Promise<void> {
  r.cleanupErrors = await scope.close();
  for (const c of r.cleanupErrors) progress(r.name, `cleanup failed: ${c}`);
  r.seconds = (performance.now() - t0) / 1000;
}

/**
 * Bench every path of @selected in turn (stopping early when interrupted). A
 * path's names start with @runId and its place in PATHS, and its addresses are
 * 10.77.(place+1).0/24, so paths never share a name or subnet.
 */
export async function runPaths(selected: PathDef[], runId: string, rootDir: string, s: Settings): Promise<PathResult[]> {
  const out: PathResult[] = [];
  for (const def of selected) {
    if (isInterrupted()) break;
    const place = PATHS.indexOf(def);
    out.push(await benchPath(def, `${runId}${place.toString(36)}`, `10.77.${place + 1}`, rootDir, s));
  }
  return out;
}
