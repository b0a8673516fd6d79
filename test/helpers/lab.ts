/**
 * Labs on a test daemon (docs/topology.md): its objects as `show` gives them,
 * what of them does not change by itself, and the CLI run as a user runs it,
 * for the tests of `containet apply` (test/e2e-apply.test.ts,
 * test/e2e-examples.test.ts).
 */
import type { TestDaemon } from './env.js';

/** A show entry, as the tests read them. */
export type Shown = Record<string, unknown> & { name: string };

/** Every object daemon @d shows. */
export async function show(d: TestDaemon): Promise<Shown[]> {
  return (await d.request({ show: {} })).objects as Shown[];
}

/** What of a show entry does not change by itself (counters, learned MACs,
 *  a port's state and offloads are left out). */
export function stable(o: Shown): Record<string, unknown> {
  const { macs: _m, ports: _p, state: _s, offloads: _o, ...rest } = o;
  return rest;
}

/** `containet ...args` on @d, throwing with its output unless it exits 0; its stdout. */
export async function ok(d: TestDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args);
  if (r.exitCode !== 0) throw new Error(`containet ${args.join(' ')} failed (${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
