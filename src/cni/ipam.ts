/**
 * IPAM delegation (the spec's section 4): the plugin named by "ipam.type" is
 * looked for in CNI_PATH and run with the same environment (CNI_COMMAND set to
 * the command delegated) and the same network config on stdin; its stderr is
 * ours, its stdout its result or its error, which is passed on as it came.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

import { runChild } from './child.js';
import type { CniCommand } from './config.js';
import { CniCode, CniError } from './errors.js';
import { parseResult, type CniResult } from './result.js';

/** How long a delegated plugin may take before it is killed. */
const PLUGIN_TIMEOUT_MS = 60000;

/** What every delegation needs: what we were given. */
export interface Delegation {
  /** the ipam plugin's name (ipam.type) */
  type: string;
  /** CNI_PATH's directories */
  dirs: string[];
  /** the network config exactly as it came on stdin */
  stdin: string;
  /** our environment (its CNI_COMMAND is replaced) */
  env: Record<string, string | undefined>;
}

/** The executable @type in the first of @dirs that has one; CniError otherwise. */
export function findPlugin(type: string, dirs: string[]): string {
  for (const d of dirs) {
    const p = path.join(d, type);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // not here
    }
  }
  throw new CniError(CniCode.ipamFailure, `ipam plugin "${type}" not found`, dirs.length ? `looked in CNI_PATH: ${dirs.join(':')}` : 'CNI_PATH is empty');
}

/**
 * Run the ipam plugin of @d for @command; its parsed stdout (an object, or
 * {} when it printed nothing). Its error JSON becomes a CniError with its
 * code; anything else that fails is CniCode.ipamFailure.
 */
async function delegate(d: Delegation, command: CniCommand): Promise<Record<string, unknown>> {
  const bin = findPlugin(d.type, d.dirs);
  const { status, stdout, startError } = await runChild(bin, [], { env: { ...d.env, CNI_COMMAND: command }, stdin: d.stdin, timeoutMs: PLUGIN_TIMEOUT_MS, inheritStderr: true });
  if (startError) throw new CniError(CniCode.ipamFailure, `cannot run ipam plugin ${bin}`, startError.message);
  let parsed: unknown;
  try {
    parsed = stdout.trim() ? JSON.parse(stdout) : {};
  } catch {
    parsed = undefined;
  }
  const o = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  if (status !== 0) {
    if (o && typeof o.code === 'number' && typeof o.msg === 'string')
      throw new CniError(o.code, `ipam ${d.type}: ${o.msg}`, typeof o.details === 'string' ? o.details : undefined);
    throw new CniError(CniCode.ipamFailure, `ipam ${d.type} ${command} failed (exit status ${status})`, stdout.trim() || undefined);
  }
  if (!o) throw new CniError(CniCode.ipamFailure, `ipam ${d.type} ${command} printed something that is not a JSON object`, stdout.slice(0, 500));
  return o;
}

/** IPAM ADD: the addresses, routes and dns the plugin allocated. */
export async function ipamAdd(d: Delegation): Promise<CniResult> {
  return parseResult(await delegate(d, 'ADD'), `the result of ipam ${d.type}`, CniCode.ipamFailure);
}

/** IPAM DEL: release what ADD allocated (the plugin is idempotent by the spec). */
export async function ipamDel(d: Delegation): Promise<void> {
  await delegate(d, 'DEL');
}

/** IPAM CHECK: the plugin's own check of its allocation. */
export async function ipamCheck(d: Delegation): Promise<void> {
  await delegate(d, 'CHECK');
}
