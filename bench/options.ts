/** Command-line options of `npm run bench`. */
import { Command, InvalidArgumentError } from 'commander';

/** What a run does, after defaults. */
export interface Settings {
  /** Repetitions of every measurement. */
  reps: number;
  /** Seconds measured per iperf3 run (after the omitted ones) and per UDP window. */
  seconds: number;
  /** Seconds iperf3 omits at the start of a run (slow start). */
  omit: number;
  /** Echoes per ping run, and their interval in seconds. */
  pings: number;
  pingIntervalS: number;
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
    .description('Packet-path benchmark: containet against a Linux bridge, a veth pair and Open vSwitch, side by side')
    .option('--quick', 'one repetition, shorter runs (1 s, 100 pings)')
    .option('--only <paths>', 'comma-separated path keys or names to run, e.g. a,b (default: all)')
    .option('--reps <n>', 'repetitions of every measurement (default 3; 1 with --quick)', positiveInt)
    .option('--seconds <n>', 'seconds per iperf3 run and per UDP window (default 3; 1 with --quick)', positiveInt)
    .showHelpAfterError();
  cmd.parse(argv);
  const o = cmd.opts<{ quick?: boolean; only?: string; reps?: number; seconds?: number }>();
  const quick = o.quick ?? false;
  return {
    reps: o.reps ?? (quick ? 1 : 3),
    seconds: o.seconds ?? (quick ? 1 : 3),
    omit: 1,
    pings: quick ? 100 : 200,
    pingIntervalS: 0.005,
    only: o.only === undefined ? null : o.only.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    quick,
  };
}
