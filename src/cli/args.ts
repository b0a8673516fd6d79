/** Parsers of CLI option values shared by the commands and the kinds' options. */
import { InvalidArgumentError } from 'commander';

/** A positive integer. */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** An integer from 0 to 1000000. */
export function nonNegInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new InvalidArgumentError('must be an integer from 0 to 1000000');
  return n;
}

/** --thread: a worker index, 0 to 7. */
export function threadIndex(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 7) throw new InvalidArgumentError('must be 0 to 7');
  return n;
}

/** --threads: 1 to 8. */
export function threadCount(v: string): number {
  const n = positiveInt(v);
  if (n > 8) throw new InvalidArgumentError('must be 1 to 8');
  return n;
}

/** --serve: [ADDR:]PORT (an IPv6 ADDR in brackets); ADDR defaults to 127.0.0.1, PORT 0 takes a free one. */
export function listenAddress(v: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new InvalidArgumentError('must be [ADDR:]PORT, PORT from 0 to 65535 (e.g. 8080, 127.0.0.1:0, [::1]:8080)');
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}
