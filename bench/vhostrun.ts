/**
 * The vhost-user section end to end: each selected path built, measured
 * settings.vhostReps times and torn down whatever happened, one after the other;
 * then the ratios of every figure to its baselines and the targets.
 */
import type { Settings } from './options.js';
import { errorText } from './proc.js';
import { endPath, pathDir, progress, unavailableHere } from './runpath.js';
import { VHOST_FIGURES, VHOST_TARGETS, type VhostPathResult, type VhostTarget } from './results.js';
import { isInterrupted, Scope } from './scope.js';
import { median, ratio, spread } from './stats.js';
import { generatorLimited, ratioVerdict, withGeneratorLimits } from './verdict.js';
import { CannotRunHere, VHOST_PATHS, type VhostPathDef, type VhostRig } from './vhostpaths.js';

/** Build, measure and tear down vhost-user path @def; names start with @id, files go under @rootDir. */
async function benchVhostPath(def: VhostPathDef, id: string, subnet: string, rootDir: string, s: Settings): Promise<VhostPathResult> {
  const t0 = performance.now();
  const r: VhostPathResult = {
    key: def.key,
    name: def.name,
    title: def.title,
    status: 'ok',
    figure: def.figure,
    value: null,
    samples: [],
    spread: null,
    generatorLimited: null,
    ratios: {},
    offeredMpps: null,
    offeredSamples: [],
    cpuUsPerFrame: null,
    cpuSamples: [],
    placement: def.placement,
    notes: [],
    seconds: 0,
    cleanupErrors: [],
  };
  const missing = unavailableHere(def);
  if (missing !== null) return { ...r, status: 'skipped', reason: missing };
  const fig = VHOST_FIGURES.find((f) => f.key === def.figure)!;
  const scope = new Scope(def.name);
  try {
    const dir = pathDir(scope, rootDir, id);
    let rig: VhostRig;
    try {
      progress(def.name, `setting up: ${def.title}`);
      rig = await def.setup({ scope, id, subnet, dir, settings: s });
    } catch (e) {
      r.status = e instanceof CannotRunHere ? 'skipped' : 'failed';
      r.reason = errorText(e);
      progress(def.name, `${r.status === 'skipped' ? 'skipped' : 'setup failed'}: ${r.reason}`);
      return r;
    }
    for (let rep = 1; rep <= s.vhostReps && !isInterrupted(); rep++) {
      try {
        const v = await rig.measure(rep);
        r.samples.push(v.value);
        if (v.offeredMpps !== undefined) r.offeredSamples.push(v.offeredMpps);
        if (v.cpuUsPerFrame !== undefined) r.cpuSamples.push(v.cpuUsPerFrame);
        const offered = v.offeredMpps === undefined ? '' : ` (offered ${v.offeredMpps.toFixed(2)} Mpps)`;
        const cpu = v.cpuUsPerFrame === undefined ? '' : `, switch CPU ${v.cpuUsPerFrame.toFixed(3)} us/frame`;
        progress(def.name, `rep ${rep}/${s.vhostReps} ${fig.key} ${v.value.toFixed(fig.digits + 1)} ${fig.unit}${offered}${cpu}`);
      } catch (e) {
        r.error ??= errorText(e);
        progress(def.name, `rep ${rep}/${s.vhostReps} failed: ${errorText(e)}`);
        if (def.figure === 'vmtcp') break; // the guest's sequence is lost
      }
    }
    if (rig.notes) r.notes = await rig.notes().catch((e) => [`notes: ${errorText(e)}`]);
    r.value = median(r.samples);
    r.spread = spread(r.samples);
    r.offeredMpps = median(r.offeredSamples);
    r.generatorLimited = def.figure === 'mpps' ? generatorLimited(r.value, r.offeredMpps) : null;
    r.cpuUsPerFrame = median(r.cpuSamples);
  } finally {
    await endPath(scope, r, t0);
  }
  return r;
}

/**
 * Bench every path of @selected in turn (stopping early when interrupted). A
 * path's names start with @runId, "v" and its place in VHOST_PATHS; its
 * addresses (containet-vhost-tcp) are 10.77.(100+place).0/24.
 */
export async function runVhostPaths(selected: VhostPathDef[], runId: string, rootDir: string, s: Settings): Promise<VhostPathResult[]> {
  const out: VhostPathResult[] = [];
  for (const def of selected) {
    if (isInterrupted()) break;
    const place = VHOST_PATHS.indexOf(def);
    out.push(await benchVhostPath(def, `${runId}v${place.toString(36)}`, `10.77.${100 + place}`, rootDir, s));
  }
  addVhostRatios(out);
  return out;
}

/** Fill each result's ratios to the baselines of its figure (paths of this run, by name). */
export function addVhostRatios(results: VhostPathResult[]): void {
  for (const r of results) {
    const fig = VHOST_FIGURES.find((f) => f.key === r.figure)!;
    for (const b of fig.baselines) {
      const base = results.find((x) => x.name === b && x.status === 'ok' && x.figure === r.figure);
      r.ratios[b] = ratio(r.value, base?.value ?? null);
    }
  }
}

/**
 * The targets, with this run's ratios, judged over the spread of the
 * repetitions: met only when the path's worst repetition against the
 * baseline's best reaches the target (ratioVerdict), and not against a
 * baseline whose rate its sender set (withGeneratorLimits).
 */
export function vhostTargets(results: VhostPathResult[]): VhostTarget[] {
  return VHOST_TARGETS.map((t) => {
    const p = results.find((x) => x.name === t.path && x.status === 'ok');
    const b = results.find((x) => x.name === t.baseline && x.status === 'ok');
    const r = p?.ratios[t.baseline] ?? null;
    const v = withGeneratorLimits(ratioVerdict(p?.samples ?? [], b?.samples ?? [], t.min, r), p?.generatorLimited === true, b?.generatorLimited === true, t.path, t.baseline);
    return { ...t, ratio: r, met: r === null ? null : v.met, low: v.low, high: v.high, why: v.why };
  });
}
