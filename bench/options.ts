/** Command-line options of `npm run bench`. */
import { Command, InvalidArgumentError } from 'commander';

import { PING_FAST_INTERVAL_S, PING_INTERVAL_S } from './results.js';

/** What a run does, after defaults. */
export interface Settings {
  /** Repetitions of every measurement. */
  reps: number;
  /** Seconds measured per iperf3 run (after the omitted ones) and per UDP window. */
  seconds: number;
  /** Seconds iperf3 omits at the start of a run (slow start). */
  omit: number;
  /** Seconds of each 64-byte UDP window (netns section). */
  udpSeconds: number;
  /** Seconds of each iperf3 run of the NAT section (after the omitted ones). */
  natSeconds: number;
  /** Echoes per ping run, and their interval in seconds (p50, p99). */
  pings: number;
  pingIntervalS: number;
  /** Echoes per fast ping run, and their interval in seconds (p50fast, p99fast). */
  pingsFast: number;
  pingFastIntervalS: number;
  /** Repetitions of every vhost-user measurement. */
  vhostReps: number;
  /** vhost-user paths: seconds of each packet-rate window (after a warm-up of vhostWarmupS). */
  vhostSeconds: number;
  vhostWarmupS: number;
  /** Repetitions of every measurement of the later sections (a2b, capture, ...). */
  sectionReps: number;
  /** Repetitions of the sections whose peers vary from run to run (NAT), enough for a median with its spread. */
  noisyReps: number;
  /** vhost-user TCP from a VM: MiB sent per repetition. */
  vmMiB: number;
  /** Path keys or names to run; null for every path. */
  only: string[] | null;
  quick: boolean;
}

/** A positive integer option value. */
function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
  return n;
}

/** Parse @argv (process.argv) into Settings; exits with usage on --help or a bad option. */
export function parseOptions(argv: string[]): Settings {
  const cmd = new Command('npm run bench --')
    .description('Packet-path benchmark: containet against a Linux bridge, a veth pair and Open vSwitch (and, over vhost-user, OVS-DPDK and DPDK), side by side')
    .option('--quick', 'one repetition, shorter runs (1 s, 100 pings)')
    .option('--only <paths>', 'comma-separated path keys or names to run, e.g. a,b or vx0,vx1 (default: all)')
    .option('--reps <n>', 'repetitions of every measurement (default 3; vhost-user and NAT paths 5; a2b, capture, containode and lab paths 2; 1 with --quick)', positiveInt)
    .option('--seconds <n>', 'seconds per iperf3 run and per UDP window (default 3; 1 with --quick)', positiveInt)
    .option('--vhost-seconds <n>', 'seconds per vhost-user packet-rate window (default 1)', positiveInt)
    .option('--vm-mib <n>', 'MiB the VM sends per repetition of containet-vhost-tcp (default 16; 8 with --quick)', positiveInt)
    .showHelpAfterError();
  cmd.parse(argv);
  const o = cmd.opts<{ quick?: boolean; only?: string; reps?: number; seconds?: number; vhostSeconds?: number; vmMib?: number }>();
  const quick = o.quick ?? false;
  return {
    reps: o.reps ?? (quick ? 1 : 3),
    seconds: o.seconds ?? (quick ? 1 : 3),
    omit: 1,
    // Shorter windows where the figure is steady, so the whole bench stays under 5 minutes.
    udpSeconds: o.seconds ?? (quick ? 1 : 2),
    natSeconds: o.seconds ?? (quick ? 1 : 2),
    // 5: enough for a median with its spread (OVS-DPDK's and the VM's rates vary between repetitions).
    vhostReps: o.reps ?? (quick ? 1 : 5),
    vhostSeconds: o.vhostSeconds ?? 1,
    vhostWarmupS: 0.3,
    vmMiB: o.vmMib ?? (quick ? 8 : 16),
    sectionReps: o.reps ?? (quick ? 1 : 2),
    // slirp4netns and pasta move by several times between repetitions: 5 give a median with its spread.
    noisyReps: o.reps ?? (quick ? 1 : 5),
    pings: quick ? 100 : 200,
    pingIntervalS: PING_INTERVAL_S,
    pingsFast: quick ? 500 : 1000,
    pingFastIntervalS: PING_FAST_INTERVAL_S,
    only: o.only === undefined ? null : o.only.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    quick,
  };
}
