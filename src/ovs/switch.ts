/**
 * The daemon's Open vSwitch: a private OVS-DPDK it runs (`--ovs-rundir DIR`)
 * or one already running (`--ovs-db unix:PATH`), and the record of what
 * containet made in it (bridges, by lan), so that it all goes on daemon exit
 * and the lans of an OVS that died are known. Kinds reach it through their
 * context (`ctx.ovs()`); the names they give OVS objects are in names.ts.
 *
 * What containet makes carries `external_ids:containet-owner=<switch socket>`,
 * so a shared OVS shows whose it is.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execaSync } from 'execa';

import type { Logger } from '../log.js';
import { PrivateOvs } from './instance.js';
import { OvsError, Vsctl, type OvsRecord, type VsctlCommand } from './vsctl.js';

export { OvsError } from './vsctl.js';

/** How the daemon was told to use OVS. */
export interface OvsOptions {
  /** run a private OVS-DPDK with its files here */
  rundir?: string | undefined;
  /** use the OVS whose database is here (`unix:PATH`) */
  db?: string | undefined;
  /** the DPDK ovs-vswitchd of a private instance */
  vswitchd?: string | undefined;
  /** the daemon's switch socket: the owner mark of what it makes */
  owner: string;
  log: Logger;
}

/** The interface columns read for show and stats. */
const IFACE_COLUMNS = ['name', 'type', 'error', 'link_state', 'admin_state', 'statistics', 'options', 'external_ids', 'ofport'];

/** Open vSwitch as the daemon uses it. */
export class OvsSwitch {
  readonly vsctl: Vsctl;
  /** Why it is broken (an OVS daemon died), once it is. */
  broken: string | undefined;
  /** bridges containet made, to their lan */
  private readonly bridges = new Map<string, string>();
  /** files containet made for OVS objects (links to OVS's vhost-user sockets) */
  private readonly files = new Set<string>();
  /** the interfaces as last read, until the end of this loop turn */
  private cache: Map<string, OvsRecord> | undefined;
  /** where containet's own sockets for OVS go (the joins' vhost-user) */
  readonly sockDir: string;
  private closed = false;

  private constructor(
    private readonly opts: OvsOptions,
    private readonly instance: PrivateOvs | undefined,
    vsctl: Vsctl,
  ) {
    this.vsctl = vsctl;
    this.sockDir = instance ? instance.dir : path.join(tmpdir(), `containet-ovs-${process.pid}`);
    mkdirSync(this.sockDir, { recursive: true, mode: 0o700 });
  }

  /** Start the private OVS or check that the shared one answers; throws with the reason. */
  static open(opts: OvsOptions): OvsSwitch {
    if (opts.rundir !== undefined && opts.db !== undefined) throw new Error('--ovs-rundir and --ovs-db exclude each other: run a private OVS, or use a running one');
    if (opts.db !== undefined) {
      if (!/^unix:\//.test(opts.db)) throw new Error(`--ovs-db must be unix:PATH with an absolute path (got "${opts.db}")`);
      const vsctl = new Vsctl(opts.db);
      try {
        vsctl.list('Open_vSwitch', ['ovs_version']);
      } catch (e) {
        throw new Error(`cannot use Open vSwitch at ${opts.db}: ${(e as Error).message}`);
      }
      const sw = new OvsSwitch(opts, undefined, vsctl);
      opts.log.info(`using Open vSwitch at ${opts.db}${vsctl.get('Open_vSwitch', '.', 'dpdk_initialized') === 'true' ? ' (DPDK initialized)' : ' (without DPDK: OVS lans need it)'}`);
      return sw;
    }
    let sw: OvsSwitch | undefined;
    const instance = PrivateOvs.start({
      dir: path.resolve(opts.rundir!),
      vswitchd: opts.vswitchd,
      log: opts.log,
      onDeath: (why) => sw?.died(why),
    });
    sw = new OvsSwitch(opts, instance, instance.vsctl);
    return sw;
  }

  /** A private instance's directory, or undefined for a shared OVS. */
  get rundir(): string | undefined {
    return this.instance?.dir;
  }

  /** Pid of a private instance's daemon @name. */
  pid(name: 'ovsdb-server' | 'ovs-vswitchd'): number | undefined {
    return this.instance?.pid(name);
  }

  /** The owner mark of what containet makes: external_ids:containet-owner. */
  get owner(): string {
    return this.opts.owner;
  }

  /** The lans of the bridges containet made. */
  lans(): string[] {
    return [...this.bridges.values()];
  }

  /** One of the OVS daemons died: every OVS lan is broken. */
  private died(why: string): void {
    if (this.broken !== undefined) return;
    this.broken = why;
    const lans = this.lans();
    this.opts.log.error(`Open vSwitch: ${why}; ${lans.length ? `OVS lans broken: ${lans.join(', ')}` : 'no OVS lan was on it'}`);
  }

  /** Refuse new OVS objects once broken. */
  checkUsable(): void {
    if (this.broken !== undefined) throw new OvsError(`Open vSwitch is broken: ${this.broken}`);
  }

  /** Carry out @cmds as one transaction (not waiting for a dead ovs-vswitchd). */
  transact(cmds: VsctlCommand[]): string {
    this.cache = undefined;
    const r = this.vsctl.transact(cmds, { noWait: this.broken !== undefined });
    return r.stderr;
  }

  /** Containet made bridge @bridge for lan @lan (it goes on close). */
  trackBridge(bridge: string, lan: string): void {
    this.bridges.set(bridge, lan);
    this.instance?.recordTaps([...this.bridges.keys()]);
  }

  /** Bridge @bridge went. */
  untrackBridge(bridge: string): void {
    this.bridges.delete(bridge);
    this.instance?.recordTaps([...this.bridges.keys()]);
  }

  /** File @p (a link made for an OVS port) goes on close unless released. */
  trackFile(p: string): void {
    this.files.add(p);
  }

  /** File @p went with its port. */
  untrackFile(p: string): void {
    this.files.delete(p);
  }

  /** Does OVS have bridge @name (anyone's)? */
  hasBridge(name: string): boolean {
    return this.vsctl.list('Bridge', ['name']).some((b) => b.name === name);
  }

  /** Every interface of OVS by name, read once per loop turn (show and stats
   *  of many ports make one read). */
  interfaces(): Map<string, OvsRecord> {
    if (this.cache) return this.cache;
    const m = new Map<string, OvsRecord>();
    for (const r of this.vsctl.list('Interface', IFACE_COLUMNS)) m.set(String(r.name), r);
    this.cache = m;
    setImmediate(() => (this.cache = undefined));
    return m;
  }

  /** Interface @name as last read, if OVS has it. */
  iface(name: string): OvsRecord | undefined {
    try {
      return this.interfaces().get(name);
    } catch {
      return undefined;
    }
  }

  /** The error OVS gives interface @name ('' when none), read afresh. */
  ifaceError(name: string): string {
    this.cache = undefined;
    const r = this.interfaces().get(name);
    const e = r?.error;
    return typeof e === 'string' ? e : '';
  }

  /** ovs-vswitchd's control socket: a private instance's, or the one beside
   *  a shared OVS's database socket (named by its pid file); undefined when
   *  not found. */
  private vswitchdCtl(): string | undefined {
    if (this.instance) return path.join(this.instance.dir, 'ovs-vswitchd.ctl');
    const dir = path.dirname(this.vsctl.db.slice('unix:'.length));
    try {
      const pid = readFileSync(path.join(dir, 'ovs-vswitchd.pid'), 'utf8').trim();
      const ctl = path.join(dir, `ovs-vswitchd.${pid}.ctl`);
      return existsSync(ctl) ? ctl : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Have ovs-vswitchd drop its cached datapath flows (`revalidator/purge`),
   * so that a mirror just added applies from the next packet of every flow:
   * a flow cached before can otherwise go on without the mirror's output for
   * seconds, until a revalidator gets to it (seen with select-dst-port).
   * Logs, never throws.
   */
  purgeFlows(): void {
    const ctl = this.vswitchdCtl();
    if (!ctl) {
      this.opts.log.warn("Open vSwitch: no ovs-vswitchd control socket beside its database: a new mirror applies to flows OVS has cached once it revalidates them");
      return;
    }
    const r = execaSync('ovs-appctl', ['-t', ctl, '--timeout=10', 'revalidator/purge'], { reject: false, timeout: 11000 });
    if (r.exitCode !== 0) this.opts.log.warn(`Open vSwitch: ovs-appctl revalidator/purge: ${String(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
  }

  /**
   * Where OVS makes the socket of dpdkvhostuser port @port: its
   * vhost-sock-dir (relative to its run directory, which for a shared OVS is
   * taken to be its database socket's).
   */
  vhostUserSocket(port: string): string {
    const run = this.instance?.dir ?? path.dirname(this.vsctl.db.slice('unix:'.length));
    const dir = this.vsctl.get('Open_vSwitch', '.', 'other_config:vhost-sock-dir');
    return path.join(dir ? path.resolve(run, dir) : run, port);
  }

  /**
   * Remove everything containet made (its bridges with their ports and
   * mirrors, one transaction), then stop a private instance (its taps and
   * DPDK runtime files go too). Never throws.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const bridges = [...this.bridges.keys()];
    if (bridges.length) {
      try {
        this.transact(bridges.map((b) => ['--if-exists', 'del-br', b]));
      } catch (e) {
        this.opts.log.warn(`Open vSwitch: removing bridges ${bridges.join(', ')}: ${(e as Error).message}`);
      }
    }
    this.bridges.clear();
    for (const f of this.files) rmSync(f, { force: true });
    this.files.clear();
    if (this.instance) {
      // The internal ports of the netdev bridges are taps named as the bridges.
      this.instance.stop(bridges);
      this.opts.log.info(`Open vSwitch in ${this.instance.dir} stopped`);
    } else {
      rmSync(this.sockDir, { recursive: true, force: true });
    }
  }
}
