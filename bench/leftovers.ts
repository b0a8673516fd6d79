/**
 * After the run: anything of this run still on the machine. Looks at names
 * only (namespaces and root links carrying the run id, processes started here
 * or whose command line names the run's files, DPDK runtime directories of the
 * run's --file-prefixes, the run's temp directory), and at the hugepage count,
 * which the bench never changes; never touches anything.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DPDK_RUNTIME_DIR } from './dpdk.js';
import { listNetns, listRootLinks } from './netns.js';
import { livePids } from './proc.js';

/** Pids of processes whose command line contains @needle (from /proc/PID/cmdline). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The system's count of persistent hugepages (/proc/sys/vm/nr_hugepages), or null. */
export function hugepages(): number | null {
  try {
    return Number(readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim());
  } catch {
    return null;
  }
}

/**
 * Describe every namespace, root link, process, DPDK runtime directory and
 * temp directory of run @runId still there, and a hugepage count that is not
 * @hugepagesBefore (read at the start of the run).
 */
export async function findLeftovers(runId: string, hugepagesBefore: number | null): Promise<string[]> {
  const found: string[] = [];
  try {
    for (const e of readdirSync(DPDK_RUNTIME_DIR)) if (e.startsWith(runId)) found.push(`DPDK runtime dir ${path.join(DPDK_RUNTIME_DIR, e)}`);
  } catch {
    // no DPDK runtime dir at all
  }
  const root = path.join(os.tmpdir(), `containet-bench-${runId}`);
  if (existsSync(root)) found.push(`directory ${root}`);
  const huge = hugepages();
  if (huge !== hugepagesBefore) found.push(`nr_hugepages is ${huge}, was ${hugepagesBefore} at the start`);
  for (const ns of await listNetns()) if (ns.startsWith(runId)) found.push(`namespace ${ns}`);
  for (const l of await listRootLinks()) if (l.includes(runId)) found.push(`link ${l}`);
  const pids = new Set([...livePids(), ...pidsMentioning(runId)]);
  for (const pid of pids) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue; // exited meanwhile
    }
    found.push(`process ${pid}: ${cmd}`);
  }
  return found;
}
