/**
 * After the run: anything of this run still on the machine. Looks at names
 * only (namespaces and root links carrying the run id, processes started here
 * or whose command line names the run's files); never touches anything.
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/** Describe every namespace, root link and process of run @runId still there. */
export async function findLeftovers(runId: string): Promise<string[]> {
  const found: string[] = [];
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
