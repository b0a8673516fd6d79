/**
 * The lab of a running daemon: its show and stats replies, made a Lab with
 * the registered sections' graph hooks (an entry of a section without one is
 * drawn from its fields). See docs/graph.md.
 */
import { sections } from '../kinds/index.js';
import { buildLab, derivedPart, portCounters, type Lab } from './model.js';
import type { GraphPart } from './part.js';
import type { Sample } from './rates.js';

/** One request to the daemon; rejects with the reason when it cannot answer. */
export type DaemonRequest = (req: Record<string, unknown>, o?: { fd?: number; timeoutMs?: number }) => Promise<Record<string, unknown>>;

/** What entry @e is in the picture, said by its section (or by its fields). */
export function partOf(e: Record<string, unknown>): GraphPart | undefined {
  const sec = sections().find((s) => s.showKind === e.kind);
  return sec?.graph ? sec.graph(e) : derivedPart(e);
}

/** The lab of the daemon @request talks to, and its ports' counters as a sample. */
export async function fetchLab(request: DaemonRequest): Promise<{ lab: Lab; sample: Sample }> {
  const show = await request({ show: {} });
  const stats = await request({ stats: {} });
  const at = Date.now();
  const objects = Array.isArray(show.objects) ? (show.objects as Record<string, unknown>[]) : [];
  return { lab: buildLab(objects, stats, partOf), sample: { at, counters: portCounters(stats) } };
}
