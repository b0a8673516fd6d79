/**
 * ovs-vsctl, driven: every change containet makes to Open vSwitch is one
 * ovs-vsctl run whose commands are joined with `--`, so one containet request
 * is one OVSDB transaction (each run rereads the whole database: Mininet found
 * that calling it per command is what makes OVS set-up slow). State is read
 * back with `--format=json` and decoded from OVSDB's JSON notation.
 *
 * The runs are synchronous (execaSync): the daemon's request handlers are,
 * and an OVS change takes milliseconds. The dataplane's worker threads forward
 * on meanwhile, and they also answer the vhost-user handshake of OVS's own
 * virtio_user ports, so waiting here for ovs-vswitchd cannot deadlock.
 */
import { execaSync } from 'execa';

/** An ovs-vsctl run that failed: its message is OVS's own words. */
export class OvsError extends Error {}

/** One ovs-vsctl command: its words (`['add-br', '_b_x']`). */
export type VsctlCommand = string[];

/** An OVSDB record as decoded: column to value (uuids as strings, sets as
 *  arrays, maps as objects). */
export type OvsRecord = Record<string, unknown>;

/**
 * A value of OVSDB's JSON notation (RFC 7047 section 5.1) as plain JSON: an
 * atom as it is, ["uuid", U] as U, ["set", [...]] as an array, ["map",
 * [[k, v]...]] as an object.
 */
export function decodeOvsdb(v: unknown): unknown {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') return v;
  const [tag, body] = v as [string, unknown];
  switch (tag) {
    case 'uuid':
    case 'named-uuid':
      return body;
    case 'set':
      return (body as unknown[]).map(decodeOvsdb);
    case 'map':
      return Object.fromEntries((body as [unknown, unknown][]).map(([k, x]) => [String(decodeOvsdb(k)), decodeOvsdb(x)]));
    default:
      return v;
  }
}

/** The records of a `--format=json list` output: {headings, data} to objects. */
export function decodeTable(json: string): OvsRecord[] {
  const t = JSON.parse(json) as { headings: string[]; data: unknown[][] };
  return t.data.map((row) => Object.fromEntries(t.headings.map((h, i) => [h, decodeOvsdb(row[i])])));
}

/** The words of ovs-vsctl for @cmds as one transaction: `a -- b -- c`. */
export function batch(cmds: VsctlCommand[]): string[] {
  return cmds.flatMap((c, i) => (i === 0 ? c : ['--', ...c]));
}

/** ovs-vsctl against one database. */
export class Vsctl {
  /** Commands run so far (transactions and reads): for tests and the log. */
  runs = 0;

  /**
   * @db: the database, `unix:PATH`; @timeoutS: how long one run may wait for
   * the database and for ovs-vswitchd to apply a change; @env: environment
   * (OVS_RUNDIR for a private instance).
   */
  constructor(
    readonly db: string,
    private readonly timeoutS = 20,
    private readonly env: Record<string, string> = {},
  ) {}

  /** Run @args (after --db and --timeout); stdout, or an OvsError with its stderr. */
  private run(args: string[]): { stdout: string; stderr: string } {
    this.runs += 1;
    const r = execaSync('ovs-vsctl', [`--db=${this.db}`, `--timeout=${this.timeoutS}`, ...args], {
      reject: false,
      env: this.env,
      timeout: (this.timeoutS + 5) * 1000,
    });
    if (r.failed) {
      const why = r.stderr.trim() || r.shortMessage || `exit status ${r.exitCode}`;
      throw new OvsError(why.replace(/^ovs-vsctl: /gm, '').split('\n')[0]!);
    }
    return { stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Carry out @cmds as one transaction. With @noWait, do not wait for
   * ovs-vswitchd to apply it (it is gone). Returns what ovs-vsctl printed on
   * stderr (the "Error detected while setting up" warnings) with stdout.
   */
  transact(cmds: VsctlCommand[], opts: { noWait?: boolean } = {}): { stdout: string; stderr: string } {
    if (cmds.length === 0) return { stdout: '', stderr: '' };
    return this.run([...(opts.noWait ? ['--no-wait'] : []), ...batch(cmds)]);
  }

  /** The records of table @table (every one; @columns only, when given). */
  list(table: string, columns?: string[]): OvsRecord[] {
    const cols = columns ? [`--columns=${columns.join(',')}`] : [];
    return decodeTable(this.run(['--format=json', ...cols, 'list', table]).stdout);
  }

  /** Value of @column (or `column:key`) of record @record of @table as
   *  ovs-vsctl prints it (a string's quotes removed); undefined when unset. */
  get(table: string, record: string, column: string): string | undefined {
    const out = this.run(['--if-exists', 'get', table, record, column]).stdout.trim();
    if (out === '') return undefined;
    return /^".*"$/.test(out) ? (JSON.parse(out) as string) : out;
  }
}
