/**
 * An Open vSwitch of the bench's own: ovsdb-server and ovs-vswitchd (userspace
 * "netdev" datapath; or ovs-vswitchd-dpdk, the same with DPDK ports) run
 * inside a dedicated namespace, with their database, sockets, pidfiles and
 * logs in a private directory, so the ovs-netdev tap and the bridge's
 * internal port live in that namespace and vanish with it.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';

import { OVS_SCHEMA as SCHEMA, OVS_VSWITCHD_DPDK, findProgram, ovsMissing, pidfileProcess } from '../src/ovs/instance.js';
import { exec, run, sleep } from './proc.js';
import type { Scope } from './scope.js';

export { OVS_VSWITCHD_DPDK };


/** True when @file is an executable found in $PATH or the sbin directories. */
export function onPath(file: string): boolean {
  return findProgram(file) !== undefined;
}

export { ovsMissing };

/** A running OVS instance. */
export interface Ovs {
  /** Run ovs-vsctl against this instance's database; returns stdout. */
  vsctl(...args: string[]): Promise<string>;
  /** Run ovs-ofctl against this instance's bridges (their mgmt sockets in its directory); returns stdout. */
  ofctl(...args: string[]): Promise<string>;
  /** ovs-vswitchd's log so far. */
  log(): string;
  /** ovs-vswitchd's pid while it runs, else null. */
  vswitchdPid(): number | null;
}


/** Why OVS-DPDK cannot run here, or null when it can. */
export function ovsDpdkMissing(): string | null {
  const base = ovsMissing();
  if (base !== null) return base;
  if (!onPath('ovs-ofctl')) return 'ovs-ofctl is not installed (apt-get install openvswitch-switch)';
  try {
    accessSync(OVS_VSWITCHD_DPDK, constants.X_OK);
  } catch {
    return `${OVS_VSWITCHD_DPDK} is not installed (apt-get install openvswitch-switch-dpdk)`;
  }
  return null;
}

/**
 * Start ovsdb-server and ovs-vswitchd inside namespace @ns with their files in
 * @dir, after setting @otherConfig (e.g. userspace-tso-enable) in the database
 * so vswitchd reads it at start; @opts.vswitchd is the program (default
 * ovs-vswitchd; OVS_VSWITCHD_DPDK for dpdkvhostuser ports). @scope stops both
 * (`ovs-appctl exit`, then a kill of the pidfile's pid if it is still that
 * daemon) and deletes the taps the netdev datapath leaves in @ns.
 */
export async function startOvs(
  scope: Scope,
  ns: string,
  dir: string,
  otherConfig: Record<string, string>,
  opts: { vswitchd?: string } = {},
): Promise<Ovs> {
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
  const db = `unix:${path.join(dir, 'db.sock')}`;
  /** ovs-vsctl against this instance's database. */
  const vsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${db}`, '--timeout=20', ...args], { env, timeoutMs: 30000 });
  /** ovs-ofctl against this instance's bridges. */
  const ofctl = (...args: string[]) => run('ovs-ofctl', args, { env, timeoutMs: 30000 });
  /** Start OVS daemon @name (program @bin) inside @ns, detached, with its files in @dir. */
  const daemon = (name: string, extra: string[], bin = name) =>
    run(
      'ip',
      [
        'netns', 'exec', ns, bin, ...extra,
        `--pidfile=${path.join(dir, `${name}.pid`)}`,
        `--unixctl=${path.join(dir, `${name}.ctl`)}`,
        `--log-file=${path.join(dir, `${name}.log`)}`,
        '--detach', '--no-chdir',
      ],
      { env, timeoutMs: 30000 },
    );

  await run('ovsdb-tool', ['create', path.join(dir, 'conf.db'), SCHEMA], { env });
  scope.defer('stop ovsdb-server', () => stopDaemon(dir, 'ovsdb-server', [], env));
  await daemon('ovsdb-server', [path.join(dir, 'conf.db'), `--remote=punix:${path.join(dir, 'db.sock')}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options']);
  await vsctl('--no-wait', 'init');
  const settings = Object.entries(otherConfig).map(([k, v]) => `other_config:${k}=${v}`);
  if (settings.length > 0) await vsctl('--no-wait', 'set', 'Open_vSwitch', '.', ...settings);
  // Runs after vswitchd is stopped (scopes undo in reverse order).
  scope.defer('delete the taps of the netdev datapath', () => deleteDatapathTaps(ns));
  const bin = opts.vswitchd ?? 'ovs-vswitchd';
  scope.defer('stop ovs-vswitchd', () => stopDaemon(dir, 'ovs-vswitchd', ['--cleanup'], env, path.basename(bin)));
  await daemon('ovs-vswitchd', [db], bin);
  return {
    vsctl,
    ofctl,
    vswitchdPid: () => pidfileProcess(dir, 'ovs-vswitchd', path.basename(bin)) ?? null,
    log: () => {
      try {
        return readFileSync(path.join(dir, 'ovs-vswitchd.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
}

/**
 * Stop OVS daemon @name of @dir (program @program): `ovs-appctl -t CTL exit
 * @exitArgs`, then, if its pidfile's pid is still that daemon after 5 s,
 * SIGKILL that pid.
 */
async function stopDaemon(dir: string, name: string, exitArgs: string[], env: NodeJS.ProcessEnv, program = name): Promise<void> {
  if (pidfileProcess(dir, name, program) === undefined) return;
  await exec('ovs-appctl', ['-t', path.join(dir, `${name}.ctl`), 'exit', ...exitArgs], { env, timeoutMs: 10000 });
  for (let i = 0; i < 50 && pidfileProcess(dir, name, program) !== undefined; i++) await sleep(100);
  const pid = pidfileProcess(dir, name, program);
  if (pid === undefined) return;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 30 && pidfileProcess(dir, name, program) !== undefined; i++) await sleep(100);
  if (pidfileProcess(dir, name, program) !== undefined) throw new Error(`${name} (pid ${pid}) does not exit`);
}

/** Delete every tun/tap device left in @ns (ovs-netdev, the bridge's internal port). */
async function deleteDatapathTaps(ns: string): Promise<void> {
  const r = await exec('ip', ['-n', ns, '-o', 'link', 'show', 'type', 'tun']);
  if (r.code !== 0) return; // the namespace is gone already
  for (const line of r.stdout.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name) await exec('ip', ['-n', ns, 'link', 'del', name]);
  }
}
