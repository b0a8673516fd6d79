/**
 * Per-port rates for the live page of `containet graph --serve`: packets,
 * bytes and drops per second from the difference of two samples of the
 * ports' counters. Pure. See docs/graph.md.
 */
import type { PortCounters } from './model.js';

/** The ports' counters at one time. */
export interface Sample {
  /** when it was taken, ms */
  at: number;
  counters: Map<string, PortCounters>;
}

/** What a port did per second between two samples (null: its switch gives no count). */
export interface PortRates {
  rxPps: number | null;
  txPps: number | null;
  /** bytes per second */
  rxBps: number | null;
  txBps: number | null;
  dropsPs: number;
}

/** @n per second over @s seconds since @before; null when either is unknown.
 *  A counter that went back (the port was made again) counts from 0. */
function perSecond(n: number | null, before: number | null | undefined, s: number): number | null {
  if (n === null || before === null || before === undefined) return null;
  return (n >= before ? n - before : n) / s;
}

/** The rates of every port of @cur that @prev has too; none when no time passed. */
export function rates(prev: Sample, cur: Sample): Map<string, PortRates> {
  const out = new Map<string, PortRates>();
  const s = (cur.at - prev.at) / 1000;
  if (!(s > 0)) return out;
  for (const [name, c] of cur.counters) {
    const p = prev.counters.get(name);
    if (!p) continue;
    out.set(name, {
      rxPps: perSecond(c.rxPackets, p.rxPackets, s),
      txPps: perSecond(c.txPackets, p.txPackets, s),
      rxBps: perSecond(c.rxBytes, p.rxBytes, s),
      txBps: perSecond(c.txBytes, p.txBytes, s),
      dropsPs: perSecond(c.drops, p.drops, s) ?? 0,
    });
  }
  return out;
}

/** A rate for people: "0", "12", "3.4k", "1.2M" (base 1000). */
export function shortRate(n: number | null): string {
  if (n === null) return '-';
  if (n < 1000) return n < 10 && n % 1 !== 0 ? n.toFixed(1) : String(Math.round(n));
  const units = ['k', 'M', 'G', 'T'];
  let i = -1;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(1)}${units[i]}`;
}

/** A port's rates as one line: "rx 3/s tx 3/s 294B/s 0 drop/s". */
export function rateLine(r: PortRates | undefined): string {
  if (!r) return 'rx -/s tx -/s';
  const bps = r.rxBps === null || r.txBps === null ? null : r.rxBps + r.txBps;
  return `rx ${shortRate(r.rxPps)}/s tx ${shortRate(r.txPps)}/s ${shortRate(bps)}B/s${r.dropsPs ? ` drop ${shortRate(r.dropsPs)}/s` : ''}`;
}

/** A port's counters as one line: "rx 12 tx 12 pkts, 3 drops". */
export function counterLine(c: PortCounters | undefined): string {
  if (!c) return '';
  return `rx ${c.rxPackets ?? '-'} tx ${c.txPackets ?? '-'} pkts${c.drops ? `, ${c.drops} drops` : ''}`;
}
