/** The figures the bench reports and the shape of its results (also the JSON file's). */
import type { MachineInfo } from './machine.js';
import type { Settings } from './options.js';
import type { SectionResult } from './section.js';

/** Keys of the figures, in table order. */
export type FigureKey = 'tcp1' | 'tcp4' | 'udp64' | 'p50' | 'p99' | 'p50fast' | 'p99fast';

/**
 * Seconds between pings: one run every 5 ms, where every CPU idles between
 * echoes and each wake-up of an idle CPU is paid (a userspace switch pays it
 * twice), and one every 0.5 ms, where they stay awake (docs/performance.md,
 * "Latency: where the time goes").
 */
export const PING_INTERVAL_S = 0.005;
export const PING_FAST_INTERVAL_S = 0.0005;

/** How a figure is shown. */
export interface FigureDef {
  key: FigureKey;
  /** Column title. */
  label: string;
  unit: string;
  /** Whether a larger value is better (throughput) or worse (latency). */
  better: 'higher' | 'lower';
  /** Decimals shown. */
  digits: number;
}

/** Every figure, in table order. */
export const FIGURES: FigureDef[] = [
  { key: 'tcp1', label: 'TCP 1 stream', unit: 'Gbit/s', better: 'higher', digits: 2 },
  { key: 'tcp4', label: 'TCP 4 streams', unit: 'Gbit/s', better: 'higher', digits: 2 },
  { key: 'udp64', label: 'UDP 64 B rx', unit: 'kpps', better: 'higher', digits: 0 },
  { key: 'p50', label: `ping p50 /${PING_INTERVAL_S * 1000} ms`, unit: 'ms', better: 'lower', digits: 3 },
  { key: 'p99', label: `ping p99 /${PING_INTERVAL_S * 1000} ms`, unit: 'ms', better: 'lower', digits: 3 },
  { key: 'p50fast', label: `ping p50 /${PING_FAST_INTERVAL_S * 1000} ms`, unit: 'ms', better: 'lower', digits: 3 },
  { key: 'p99fast', label: `ping p99 /${PING_FAST_INTERVAL_S * 1000} ms`, unit: 'ms', better: 'lower', digits: 3 },
];

/** One figure of one path. */
export interface Figure {
  /** The median over repetitions (ping: the percentile over all replies); null if not measured. */
  value: number | null;
  /** value / the baseline path's value in the same run; null without both. */
  ratio: number | null;
  /** Per repetition (ping: that repetition's percentile). */
  samples: number[];
  /** Why a repetition failed, if one did. */
  error?: string;
  /**
   * Packet rates (udp64): true when the path received (almost) all the
   * generator offered, so the figure is the generator's and compares no
   * switches; false when the path dropped; null when not known. Absent on
   * other figures.
   */
  generatorLimited?: boolean | null;
}

/** Everything measured on one path. */
export interface PathResult {
  key: string;
  name: string;
  title: string;
  /** ok: measured (some figures may carry an error); failed: setup failed; skipped: cannot run here. */
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
  figures: Record<FigureKey, Figure>;
  /** Median rate trafgen reported sending over its whole run, kpps (its own count at exit). */
  udpSentKpps: number | null;
  /** Median rate the generator offered over the measuring window (A's tx_packets + tx_dropped), kpps, and per repetition. */
  udpOfferedKpps: number | null;
  udpOfferedSamples: number[];
  /** Median CPU ns the switch's threads spent per 64-byte frame received, and per repetition; null on kernel paths (not measurable). */
  udpCpuNsPerFrame: number | null;
  udpCpuSamples: number[];
  /** Echoes without a reply, over every ping run. */
  pingLost: number;
  /** Wall time of the path (setup, measurements, teardown), s. */
  seconds: number;
  /** Teardown steps that failed. */
  cleanupErrors: string[];
}

/** Keys of the figures of the vhost-user paths (one per path). */
export type VhostFigureKey = 'mpps' | 'vmtcp';

/** How a vhost-user figure is shown, and which paths its ratios are relative to. */
export interface VhostFigureDef {
  key: VhostFigureKey;
  label: string;
  unit: string;
  digits: number;
  /** Names of the paths a value of this figure is divided by (same run), in column order. */
  baselines: string[];
}

/** The vhost-user figures. */
export const VHOST_FIGURES: VhostFigureDef[] = [
  { key: 'mpps', label: '64 B frames received', unit: 'Mpps', digits: 2, baselines: ['ovs-dpdk', 'dpdk-vhost'] },
  { key: 'vmtcp', label: 'TCP from a VM (TCG)', unit: 'Mbit/s', digits: 0, baselines: [] },
];

/** A goal of the vhost-user section: @path's figure at least @min times @baseline's. */
export interface VhostTarget {
  path: string;
  baseline: string;
  min: number;
  /** The ratio measured in this run, null when either path has no value. */
  ratio: number | null;
  /** Met by the whole spread of the repetitions, not met by any, or null: not measured, or the spread straddles @min. */
  met: boolean | null;
  /** The worst and best ratio the repetitions allow (ratioVerdict), null when not measured. */
  low: number | null;
  high: number | null;
  /** Why a verdict the spread allowed is not shown (a side was generator-limited), else null. */
  why: string | null;
}

/** The targets (filled in by the run). */
export const VHOST_TARGETS: Array<Pick<VhostTarget, 'path' | 'baseline' | 'min'>> = [
  { path: 'containet-vhost', baseline: 'ovs-dpdk', min: 1.0 },
  { path: 'containet-vhost', baseline: 'dpdk-vhost', min: 0.5 },
];

/** Everything measured on one vhost-user path. */
export interface VhostPathResult {
  key: string;
  name: string;
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  /** Which figure this path gives. */
  figure: VhostFigureKey;
  /** Median over repetitions; null if not measured. */
  value: number | null;
  /** Per repetition. */
  samples: number[];
  /** The least and greatest repetition (the median's spread), null if not measured. */
  spread: { min: number; max: number } | null;
  /** Packet paths: B received >= 95% of what A offered, so the rate is the sender's, not the switch's (verdict.ts); null when not known. */
  generatorLimited: boolean | null;
  /** Why a repetition failed, if one did. */
  error?: string;
  /** value / each baseline path's value (by name), same run; null without both. */
  ratios: Record<string, number | null>;
  /** Packet paths: median rate the sender's port counted as sent (TX-packets), Mpps. */
  offeredMpps: number | null;
  offeredSamples: number[];
  /** Packet paths: median µs of CPU the switch's threads spent per frame received (its CPU seconds over frames). */
  cpuUsPerFrame: number | null;
  cpuSamples: number[];
  /** Where each busy thread ran. */
  placement: string;
  /** Counters and remarks gathered after the measurements (drops, flooding). */
  notes: string[];
  /** Wall time of the path (setup, measurements, teardown), s. */
  seconds: number;
  cleanupErrors: string[];
}

/** A whole run. */
export interface RunReport {
  /** ISO 8601 start time. */
  date: string;
  machine: MachineInfo;
  settings: Settings;
  /** Name of the path the ratios are relative to. */
  baseline: string;
  paths: PathResult[];
  /** The vhost-user section (its own figures and baselines). */
  vhost: VhostPathResult[];
  /** The vhost-user targets and whether this run met them. */
  vhostTargets: VhostTarget[];
  /** The later sections (NAT, a2b): their own figures, baselines and targets. */
  sections: SectionResult[];
  /** Wall time of the whole run, s. */
  totalSeconds: number;
  /** Namespaces, links or processes of this run found after cleanup (should be empty). */
  leftovers: string[];
}

/** A figure not measured (yet). */
export function emptyFigure(): Figure {
  return { value: null, ratio: null, samples: [] };
}

/** All figures empty. */
export function emptyFigures(): Record<FigureKey, Figure> {
  return { tcp1: emptyFigure(), tcp4: emptyFigure(), udp64: emptyFigure(), p50: emptyFigure(), p99: emptyFigure(), p50fast: emptyFigure(), p99fast: emptyFigure() };
}
