/**
 * A private Open vSwitch with DPDK, started and stopped by the daemon
 * (`--ovs-rundir DIR`), as cloonix runs an OVS of its own per network:
 * ovsdb-server and the DPDK ovs-vswitchd run as the daemon's children in its
 * network namespace, with their database, sockets, pidfiles, logs and the
 * dpdkvhostuser sockets in DIR. DPDK runs without hugepages (`--no-huge -m
 * 2048 --legacy-mem`: with 1024 MB its shared mempool sometimes cannot be
 * made), with a --file-prefix of its own; its runtime files are in
 * /var/run/dpdk/PREFIX (EAL puts them there for root, whatever DIR is) and are
 * removed at stop. The PMD thread sleeps when idle (pmd-maxsleep), since on
 * a small machine a PMD that spins takes a CPU from everyone.
 *
 * Its children are watched: one that exits while the daemon has not asked it
 * to is reported through onDeath. Everything here is synchronous, as the
 * daemon's start and stop are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { execaSync } from 'execa';

import type { Logger } from '../log.js';
import { Vsctl } from './vsctl.js';

/** The OVS database schema of the Debian package. */
export const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/** Where openvswitch-switch-dpdk puts its DPDK-enabled ovs-vswitchd. */
export const OVS_VSWITCHD_DPDK = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk';

/** Where DPDK's EAL keeps a root process's runtime files, per --file-prefix. */
export const DPDK_RUNTIME_DIR = '/var/run/dpdk';

/** The tap the netdev datapath makes (one per network namespace). */
export const OVS_NETDEV_TAP = 'ovs-netdev';

/** The file in DIR listing the taps a running instance has (ovs-netdev and
 *  its bridges'): there until it stops cleanly. */
const TAPS_FILE = 'containet-taps.json';

/** DPDK memory of ovs-vswitchd, MB (no hugepages: ordinary shared memory). */
const DPDK_MEM_MB = 2048;

/** Most microseconds an idle PMD thread sleeps (OVS 3.1's pmd-maxsleep). */
const PMD_MAXSLEEP_US = 100;

/** The DPDK --file-prefix of the private OVS in @dir (its runtime files are
 *  in /var/run/dpdk/PREFIX). */
export function dpdkPrefix(dir: string): string {
  return `ctn-${createHash('sha1').update(path.resolve(dir)).digest('hex').slice(0, 10)}`;
}

/** Block the thread for @ms (the daemon's start and stop are synchronous). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** True when process @pid exists and has not exited (a zombie has). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/**
 * The pid in OVS daemon @name's pidfile in @dir (`NAME.pid`) while that
 * process is still running @program (default @name; its comm, which the
 * kernel cuts at 15 characters: "ovs-vswitchd-dp"), else undefined: a
 * pidfile left by a daemon that died, or a pid taken since, names no one.
 */
export function pidfileProcess(dir: string, name: string, program = name): number | undefined {
  const pid = Number(readText(path.join(dir, `${name}.pid`)).trim());
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return undefined;
  const comm = readText(`/proc/${pid}/comm`).trim();
  return comm && program.startsWith(comm) ? pid : undefined;
}

/** The path of executable @file in $PATH or the sbin directories, if any. */
export function findProgram(file: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    try {
      accessSync(path.join(d, file), constants.X_OK);
      return path.join(d, file);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * The DPDK ovs-vswitchd to run: @wanted if given, else the one
 * update-alternatives made ovs-vswitchd when it is DPDK's, else
 * openvswitch-switch-dpdk's. Throws, saying what to install, when it is
 * missing or has no DPDK.
 */
export function dpdkVswitchd(wanted?: string): string {
  const candidates = wanted ? [wanted] : [findProgram('ovs-vswitchd'), OVS_VSWITCHD_DPDK].filter((x): x is string => x !== undefined);
  for (const bin of candidates) {
    const r = execaSync(bin, ['--version'], { reject: false, timeout: 10000 });
    if (!r.failed && /^DPDK /m.test(r.stdout)) return bin;
  }
  if (wanted) throw new Error(`${wanted} is not an ovs-vswitchd with DPDK (its --version names no DPDK, or it does not run)`);
  throw new Error(`no ovs-vswitchd with DPDK is installed (apt-get install openvswitch-switch-dpdk: ${OVS_VSWITCHD_DPDK})`);
}

/** Why Open vSwitch (userspace datapath, no DPDK) cannot run here: a missing
 *  program or schema, or null when it can. */
export function ovsMissing(): string | null {
  for (const t of ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-appctl'])
    if (!findProgram(t)) return `${t} is not installed (apt-get install openvswitch-switch)`;
  if (!existsSync(OVS_SCHEMA)) return `${OVS_SCHEMA} is missing (apt-get install openvswitch-switch)`;
  return null;
}

/** Why a private OVS-DPDK cannot start here (a missing program), or null. */
export function privateOvsMissing(vswitchd?: string): string | null {
  for (const t of ['ovsdb-tool', 'ovsdb-server', 'ovs-vsctl', 'ovs-appctl'])
    if (!findProgram(t)) return `${t} is not installed (apt-get install openvswitch-switch openvswitch-switch-dpdk)`;
  if (!existsSync(OVS_SCHEMA)) return `${OVS_SCHEMA} is missing (apt-get install openvswitch-switch)`;
  try {
    dpdkVswitchd(vswitchd);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** One OVS daemon of the instance. */
interface Child {
  name: 'ovsdb-server' | 'ovs-vswitchd';
  proc: ChildProcess;
  /** it exited (or was seen gone) */
  gone: boolean;
}

/** How to start a private instance. */
export interface PrivateOvsOptions {
  /** its directory (made if missing) */
  dir: string;
  /** the DPDK ovs-vswitchd (default: see dpdkVswitchd) */
  vswitchd?: string | undefined;
  log: Logger;
  /** Called once when one of its daemons exits unasked, with what happened. */
  onDeath(why: string): void;
}

/** A running private OVS-DPDK. */
export class PrivateOvs {
  /** its database: unix:DIR/db.sock */
  readonly db: string;
  /** ovs-vsctl against it */
  readonly vsctl: Vsctl;
  /** DPDK's --file-prefix (runtime files in /var/run/dpdk/PREFIX) */
  readonly prefix: string;
  private readonly children: Child[] = [];
  private stopping = false;
  private readonly env: Record<string, string>;

  private constructor(private readonly opts: PrivateOvsOptions) {
    this.db = `unix:${path.join(opts.dir, 'db.sock')}`;
    this.env = { OVS_RUNDIR: opts.dir, OVS_DBDIR: opts.dir, OVS_LOGDIR: opts.dir };
    this.vsctl = new Vsctl(this.db, 20, this.env);
    this.prefix = dpdkPrefix(opts.dir);
  }

  /** The directory. */
  get dir(): string {
    return this.opts.dir;
  }

  /** Pid of its daemon @name while it runs. */
  pid(name: Child['name']): number | undefined {
    const c = this.children.find((x) => x.name === name);
    return c && !c.gone ? c.proc.pid : undefined;
  }

  /**
   * Start ovsdb-server and ovs-vswitchd (DPDK) in @opts.dir and wait until
   * DPDK is initialized. Throws with the reason (and stops what it started)
   * when it cannot.
   */
  static start(opts: PrivateOvsOptions): PrivateOvs {
    const missing = privateOvsMissing(opts.vswitchd);
    if (missing) throw new Error(`cannot start Open vSwitch: ${missing}`);
    // A daemon killed with SIGKILL leaves its instance's taps (its OVS
    // daemons die with it, their pidfiles removed): the list it kept in DIR
    // says which are ours.
    const left = readText(path.join(opts.dir, TAPS_FILE));
    if (left) {
      let names: string[] = [];
      try {
        names = (JSON.parse(left) as unknown[]).filter((x): x is string => typeof x === 'string');
      } catch {
        /* a torn file: ovs-netdev at least */
      }
      for (const tap of [OVS_NETDEV_TAP, ...names]) {
        if (!existsSync(`/sys/class/net/${tap}`)) continue;
        const r = execaSync('ip', ['link', 'del', tap], { reject: false });
        opts.log.warn(`Open vSwitch: ${r.failed ? 'could not delete' : 'deleted'} tap ${tap}, left by the instance that ran in ${opts.dir} before and did not stop`);
      }
    }
    if (existsSync(`/sys/class/net/${OVS_NETDEV_TAP}`))
      throw new Error(
        `cannot start Open vSwitch: a tap ${OVS_NETDEV_TAP} exists in this network namespace, so another OVS userspace datapath runs (or ran) here and two collide on it: use it with --ovs-db, run containet in a network namespace of its own, or delete the tap (ip link del ${OVS_NETDEV_TAP}) if nothing uses it`,
      );
    const ovs = new PrivateOvs(opts);
    try {
      ovs.boot(dpdkVswitchd(opts.vswitchd));
    } catch (e) {
      ovs.stop([]);
      throw e;
    }
    return ovs;
  }

  /** Files of a run, in DIR (the logs are kept). */
  private runFiles(): string[] {
    const d = this.opts.dir;
    return [TAPS_FILE, 'conf.db', '.conf.db.~lock~', 'db.sock', 'ovsdb-server.pid', 'ovsdb-server.ctl', 'ovs-vswitchd.pid', 'ovs-vswitchd.ctl'].map((f) => path.join(d, f));
  }

  /** Make the database, start ovsdb-server, configure DPDK, start @vswitchd
   *  and wait for DPDK to be initialized; throws with the reason. */
  private boot(vswitchd: string): void {
    const d = this.opts.dir;
    mkdirSync(d, { recursive: true, mode: 0o700 });
    for (const [name, program] of [['ovsdb-server', 'ovsdb-server'], ['ovs-vswitchd', path.basename(vswitchd)]] as const) {
      const pid = pidfileProcess(d, name, program);
      if (pid !== undefined) throw new Error(`cannot start Open vSwitch: ${name} (pid ${pid}) already runs in ${d}`);
    }
    for (const f of this.runFiles()) rmSync(f, { force: true });
    this.removeSockets();
    rmSync(path.join(DPDK_RUNTIME_DIR, this.prefix), { recursive: true, force: true });
    this.recordTaps([]);
    const conf = path.join(d, 'conf.db');
    const mk = execaSync('ovsdb-tool', ['create', conf, OVS_SCHEMA], { reject: false, env: this.env });
    if (mk.failed) throw new Error(`ovsdb-tool create ${conf}: ${mk.stderr.trim() || mk.shortMessage}`);

    this.spawnChild('ovsdb-server', 'ovsdb-server', [conf, `--remote=punix:${path.join(d, 'db.sock')}`]);
    this.waitFor('ovsdb-server to listen', 10000, () => existsSync(path.join(d, 'db.sock')));
    this.vsctl.transact([['--no-wait', 'init']]);
    const cpus = allowedCpus();
    const config: Record<string, string> = {
      'dpdk-init': 'true',
      'dpdk-extra': `--no-pci --no-huge -m ${DPDK_MEM_MB} --legacy-mem --file-prefix=${this.prefix}`,
      'pmd-maxsleep': String(PMD_MAXSLEEP_US),
      // One PMD thread, on the last CPU; DPDK's own thread on the first.
      'dpdk-lcore-mask': '0x1',
      'pmd-cpu-mask': `0x${(1 << Math.min(cpus - 1, 30)).toString(16)}`,
    };
    this.vsctl.transact([['--no-wait', 'set', 'Open_vSwitch', '.', ...Object.entries(config).map(([k, v]) => `other_config:${k}=${v}`)]]);
    this.spawnChild('ovs-vswitchd', vswitchd, [this.db]);
    this.waitFor('DPDK to initialize in ovs-vswitchd', 60000, () => this.vsctl.get('Open_vSwitch', '.', 'dpdk_initialized') === 'true');
    this.opts.log.info(`Open vSwitch started in ${d} (ovsdb-server pid ${this.pid('ovsdb-server')}, ${path.basename(vswitchd)} pid ${this.pid('ovs-vswitchd')}, DPDK --file-prefix=${this.prefix}, no hugepages)`);
  }

  /** Keep in DIR the names of the bridges' taps besides ovs-netdev (for the
   *  next start, should this daemon die without stopping it). */
  recordTaps(bridges: string[]): void {
    try {
      writeFileSync(path.join(this.opts.dir, TAPS_FILE), JSON.stringify(bridges));
    } catch (e) {
      this.opts.log.warn(`Open vSwitch: ${path.join(this.opts.dir, TAPS_FILE)}: ${(e as Error).message}`);
    }
  }

  /** Start OVS daemon @name (program @bin) as our child, its files in DIR. */
  private spawnChild(name: Child['name'], bin: string, args: string[]): void {
    const d = this.opts.dir;
    const argv = [
      ...args,
      `--pidfile=${path.join(d, `${name}.pid`)}`,
      `--unixctl=${path.join(d, `${name}.ctl`)}`,
      `--log-file=${path.join(d, `${name}.log`)}`,
      '--no-chdir',
      '-vconsole:off',
    ];
    // setpriv: the kernel stops it should the daemon die without stopping it.
    const setpriv = findProgram('setpriv');
    const proc = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'TERM', '--', bin, ...argv], { stdio: 'ignore', env: { ...process.env, ...this.env } })
      : spawn(bin, argv, { stdio: 'ignore', env: { ...process.env, ...this.env } });
    const child: Child = { name, proc, gone: false };
    this.children.push(child);
    proc.once('error', (e) => this.onExit(child, `could not be started: ${e.message}`));
    proc.once('exit', (code, sig) => this.onExit(child, sig ? `killed by ${sig}` : `exit status ${code}`));
  }

  /** Child @c exited: unasked, that is a death to report. */
  private onExit(c: Child, how: string): void {
    if (c.gone) return;
    c.gone = true;
    if (this.stopping) return;
    this.opts.onDeath(`${c.name} (pid ${c.proc.pid}) died (${how}); its log: ${path.join(this.opts.dir, `${c.name}.log`)}`);
  }

  /** Wait (blocking) until @cond, or throw naming @what with the logs' last errors. */
  private waitFor(what: string, timeoutMs: number, cond: () => boolean): void {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.children.find((c) => !alive(c.proc.pid));
      if (dead) throw new Error(`cannot start Open vSwitch: ${dead.name} exited while waiting for ${what}: ${this.lastErrors(dead.name)}`);
      let ok = false;
      try {
        ok = cond();
      } catch {
        ok = false;
      }
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`cannot start Open vSwitch: timed out after ${timeoutMs} ms waiting for ${what}: ${this.lastErrors('ovs-vswitchd')}`);
      sleepSync(50);
    }
  }

  /** The last error lines of daemon @name's log ('' when none). */
  lastErrors(name: Child['name']): string {
    const lines = readText(path.join(this.opts.dir, `${name}.log`)).split('\n').filter((l) => /\|(ERR|EMER|WARN)\|/.test(l));
    return lines.slice(-3).join(' / ') || '(nothing in its log)';
  }

  /**
   * Stop both daemons (`ovs-appctl exit`, then SIGKILL of the pid we started
   * if it lingers), delete the taps the netdev datapath leaves (ovs-netdev and
   * the internal ports @taps) and DPDK's runtime files, and remove the run's
   * files from DIR (the logs stay). Never throws; what fails is logged.
   */
  stop(taps: string[]): void {
    this.stopping = true;
    this.stopChild('ovs-vswitchd', ['--cleanup']);
    this.stopChild('ovsdb-server', []);
    for (const tap of [OVS_NETDEV_TAP, ...taps]) {
      if (!existsSync(`/sys/class/net/${tap}`)) continue;
      const r = execaSync('ip', ['link', 'del', tap], { reject: false });
      if (r.failed) this.opts.log.warn(`Open vSwitch: could not delete tap ${tap}: ${r.stderr.trim()}`);
    }
    rmSync(path.join(DPDK_RUNTIME_DIR, this.prefix), { recursive: true, force: true });
    for (const f of this.runFiles()) rmSync(f, { force: true });
    this.removeSockets();
  }

  /** Remove the sockets in DIR that an ovs-vswitchd that died leaves (its
   *  bridges' .mgmt and .snoop, its dpdkvhostuser ports'): a stale one would
   *  keep the next from listening there. */
  private removeSockets(): void {
    for (const f of readdirSafe(this.opts.dir)) {
      const p = path.join(this.opts.dir, f);
      try {
        if (lstatSync(p).isSocket()) rmSync(p, { force: true });
      } catch {
        /* gone meanwhile */
      }
    }
  }

  /** Stop daemon @name: ask it, then kill the pid we started. */
  private stopChild(name: Child['name'], exitArgs: string[]): void {
    const c = this.children.find((x) => x.name === name);
    if (!c || c.gone || !alive(c.proc.pid)) return;
    execaSync('ovs-appctl', ['-t', path.join(this.opts.dir, `${name}.ctl`), '--timeout=3', 'exit', ...exitArgs], { reject: false, env: this.env, timeout: 4000 });
    const deadline = Date.now() + 2000;
    while (alive(c.proc.pid) && Date.now() < deadline) sleepSync(20);
    if (alive(c.proc.pid)) {
      this.opts.log.warn(`Open vSwitch: ${name} (pid ${c.proc.pid}) did not exit when asked; killing it`);
      c.proc.kill('SIGKILL');
      const end = Date.now() + 1000;
      while (alive(c.proc.pid) && Date.now() < end) sleepSync(20);
    }
  }
}

/** The number of CPUs this process may run on (at least 1). */
function allowedCpus(): number {
  const m = /Cpus_allowed_list:\s*(\S+)/.exec(readText('/proc/self/status'));
  if (!m) return 1;
  let n = 0;
  for (const part of m[1]!.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return Math.max(1, n);
}

/** The entries of directory @d, none when unreadable. */
function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

/** A file's text, '' when unreadable. */
function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
