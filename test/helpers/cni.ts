/**
 * containet-cni in tests: the plugin run as a runtime runs it (CNI_* in its
 * environment, the network config on stdin), and the reference plugins'
 * directory.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { packageRoot } from '../../src/native.js';

/** Where Debian's containernetworking-plugins puts the reference plugins. */
export const REFERENCE_PLUGINS = '/usr/lib/cni';

/** Why the reference host-local plugin cannot be used, or undefined when it can. */
export function hostLocalMissing(): string | undefined {
  return existsSync(path.join(REFERENCE_PLUGINS, 'host-local')) ? undefined : `no ${REFERENCE_PLUGINS}/host-local (containernetworking-plugins)`;
}

/** The plugin's entry script in this checkout. */
export const pluginScript = path.join(packageRoot, 'bin', 'containet-cni.js');

/** What one run of the plugin gave. */
export interface PluginRun {
  exitCode: number;
  /** stdout parsed, or null when it printed nothing */
  json: Record<string, unknown> | null;
  stdout: string;
  stderr: string;
}

/** The CNI_* variables of one call. */
export interface CniVars {
  CNI_COMMAND: string;
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_PATH?: string;
}

/** Run the plugin with @vars (and PATH) in its environment and @conf on stdin. */
export async function runPlugin(vars: CniVars, conf: Record<string, unknown> | string): Promise<PluginRun> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  const r = await execa(process.execPath, [pluginScript], {
    env,
    extendEnv: false,
    input: typeof conf === 'string' ? conf : JSON.stringify(conf),
    reject: false,
    timeout: 60000,
  });
  let json: Record<string, unknown> | null = null;
  if (r.stdout.trim()) json = JSON.parse(r.stdout) as Record<string, unknown>;
  return { exitCode: r.exitCode ?? -1, json, stdout: r.stdout, stderr: r.stderr };
}

/** A /24 of 10.0.0.0/8 unlikely to be another test's: 10.(200-249).(0-255).0/24, as its first three octets. */
export function uniqueSubnet(): string {
  return `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
}
