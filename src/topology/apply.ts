/**
 * Carrying out a plan (plan.ts) through the daemon's protocol, step by step,
 * each request marked with the lab's name. When a step fails, what it did of
 * itself and every step before it are undone in reverse; what cannot be undone
 * is said, object by object, so that nobody has to guess what is left.
 */
import type { Plan, Step } from './plan.js';
import type { Request } from './section.js';

/** Sends one request to the daemon; rejects with the daemon's reason. */
export type Send = (req: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** How an apply went. */
export interface Outcome {
  /** every step done */
  ok: boolean;
  /** the step that failed and why, when one did */
  failed?: { step: Step; reason: string };
  /** steps undone after the failure */
  undone: Step[];
  /** what could not be undone: "+ tap t1: undoing it failed: REASON" */
  left: string[];
}

/** Send @reqs in order as lab @lab's; resolves with how many were done and
 *  the reason of the first that failed, if one did. */
async function sendAll(send: Send, lab: string, reqs: Request[]): Promise<{ done: number; error?: string }> {
  for (let i = 0; i < reqs.length; i++) {
    try {
      await send({ ...reqs[i], lab });
    } catch (e) {
      return { done: i, error: (e as Error).message };
    }
  }
  return { done: reqs.length };
}

/** Undo @step (done, or partly: @partial); a line for @left when it cannot be. */
async function undo(send: Send, lab: string, step: Step, left: string[]): Promise<boolean> {
  if (step.lost) {
    left.push(`${step.text}: cannot be undone: ${step.lost}`);
    return false;
  }
  const r = await sendAll(send, lab, step.undo);
  if (r.error === undefined) return true;
  left.push(`${step.text}: undoing it failed: ${r.error}`);
  return false;
}

/**
 * Carry out @plan with @send. On a failure, the failed step's own part (an
 * object made but not yet set up) and the steps before it are undone, last
 * first; the outcome says what is left where that failed.
 */
export async function runPlan(plan: Plan, send: Send, progress: (line: string) => void = () => {}): Promise<Outcome> {
  const done: Step[] = [];
  for (const step of plan.steps) {
    const r = await sendAll(send, plan.lab, step.requests);
    if (r.error === undefined) {
      done.push(step);
      progress(`done: ${step.text}`);
      continue;
    }
    const left: string[] = [];
    const undone: Step[] = [];
    // A step that made its object and failed setting it up takes it away;
    // a change half made is set back (an undo of what was not done is a no-op).
    if (r.done > 0 && step.op !== '-') await undo(send, plan.lab, step, left);
    for (const s of done.reverse()) if (await undo(send, plan.lab, s, left)) undone.push(s);
    return { ok: false, failed: { step, reason: r.error }, undone, left };
  }
  return { ok: true, undone: [], left: [] };
}

/**
 * The verbs @plan uses that the daemon behind @send does not take (a node on
 * a daemon without the node kind), each with the steps that need it, as its
 * `version` reply lists its verbs (a daemon that lists none is not asked).
 */
export async function unknownVerbs(plan: Plan, send: Send): Promise<string[]> {
  const known = (await send({ version: {} })).verbs;
  if (!Array.isArray(known)) return [];
  const users = new Map<string, string[]>();
  for (const s of plan.steps) for (const r of s.requests) for (const v of Object.keys(r)) if (!known.includes(v)) users.set(v, [...(users.get(v) ?? []), s.text]);
  return [...users].map(([verb, steps]) => `this containet has no "${verb}" (needed by: ${[...new Set(steps)].join('; ')})`);
}

/** The lines that tell what an outcome that failed left. */
export function outcomeLines(o: Outcome): string[] {
  if (o.ok || !o.failed) return [];
  const out = [`failed: ${o.failed.step.text}: ${o.failed.reason}`];
  if (!o.left.length) out.push(`rolled back: ${o.undone.length} step${o.undone.length === 1 ? '' : 's'} undone; the daemon is as it was before this apply`);
  else out.push(`rolled back where it could (${o.undone.length} step${o.undone.length === 1 ? '' : 's'} undone); left as it is now:`, ...o.left.map((l) => `  ${l}`));
  return out;
}
