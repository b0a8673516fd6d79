/**
 * The "capture" kind: frames crossing ports, written as pcapng (one interface
 * per port, each frame's direction in its flags) or pcap to an fd the client
 * hands over with the request (its stdout piped into tcpdump or wireshark, a
 * FIFO, a file). The copy is made in the dataplane's workers into bounded
 * rings and written out by a thread of the capture (native/core/capture.c):
 * a reader that falls behind costs the capture drops, not the dataplane.
 * The request is answered when the capture ends (its count written, its reader
 * gone, its client gone, or `del`), with what it wrote and dropped; meanwhile
 * show and stats list it. See docs/capture.md.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';

import type { Command } from 'commander';
import { Option } from 'commander';

import { ProtocolError, bool, checkName, onlyFields, posInt, str, type Body } from '../daemon/fields.js';
import { bytes, table } from '../format.js';
import type { CapturePoint, NativeCaptureStats } from '../native.js';
import type { Call, CliClient, KindContext, ModelObject, Reply, Section } from './kind.js';
import type { OvsPortInfo } from './ovsport.js';
import { closeSinks, openSink, type OvsSink } from './ovssink.js';
import { kindOf } from './registry.js';
import { register } from './registry.js';

/** A running capture. */
export interface CaptureObject extends ModelObject {
  kind: 'capture';
  /** the engine's capture id */
  id: number;
  /** the ports and lans asked for */
  of: string[];
  /** the ports watched, as the file names its interfaces */
  ports: string[];
  format: 'pcapng' | 'pcap';
  dir: 'in' | 'out' | 'both';
  filter: string | undefined;
  snaplen: number | undefined;
  count: number | undefined;
  /** GSO frames written as their wire segments */
  segment: boolean;
  owner: { pid: number; uid: number };
  /** why it is being removed, for the reply */
  why?: string;
  /** the poll that notices it ended on its own */
  timer: NodeJS.Timeout;
  /** stops following the lans of `of` (new ports on them are captured too) */
  unfollow: () => void;
  /** engine ids of the ports watched */
  portIds: number[];
  /** the sinks of the ports Open vSwitch runs that it watches */
  sinks: OvsSink[];
  /** answers the capture request (once) */
  answer: (r: Reply) => void;
}

/** capture, validated. */
export interface CaptureRequest {
  verb: 'capture';
  name: string;
  of: string[];
  format: 'pcapng' | 'pcap';
  dir: 'in' | 'out' | 'both';
  snaplen?: number | undefined;
  count?: number | undefined;
  filter?: string | undefined;
  segment?: boolean | undefined;
}

declare module './kind.js' {
  interface KindRequests {
    capture: CaptureRequest;
  }
}

/** Largest snap length taken (tcpdump's default). */
const SNAPLEN_MAX = 262144;
/** How often a running capture is asked whether it ended on its own, ms. */
const POLL_MS = 100;

/** Validate a capture request. */
function parseCapture(b: Body): CaptureRequest {
  onlyFields(b, 'capture', ['name', 'of', 'format', 'dir', 'snaplen', 'count', 'filter', 'segment']);
  const name = checkName(b.name, 'capture: "name"');
  if (!Array.isArray(b.of) || b.of.length === 0) throw new ProtocolError('capture: "of" must be a non-empty list of port and lan names');
  const of = b.of.map((n, i) => checkName(n, `capture: "of"[${i}]`));
  const format = b.format ?? 'pcapng';
  if (format !== 'pcapng' && format !== 'pcap') throw new ProtocolError('capture: "format" must be "pcapng" or "pcap"');
  const dir = b.dir ?? 'both';
  if (dir !== 'in' && dir !== 'out' && dir !== 'both') throw new ProtocolError('capture: "dir" must be "in", "out" or "both"');
  const filter = str(b, 'filter', 'capture', false);
  if (filter !== undefined && filter.length > 4096) throw new ProtocolError('capture: "filter" longer than 4096 characters');
  return {
    verb: 'capture',
    name,
    of,
    format,
    dir,
    snaplen: posInt(b, 'snaplen', 'capture', SNAPLEN_MAX),
    count: posInt(b, 'count', 'capture', Number.MAX_SAFE_INTEGER),
    filter,
    segment: bool(b, 'segment', 'capture'),
  };
}

/** The ports of @o with their lans, paired (a link has one on each lan), and
 *  the name each gets as an interface of a capture. */
function sides(o: ModelObject): { id: number; lan: string | undefined; name: string }[] {
  const k = kindOf(o);
  const ports = k.ports(o);
  const lans = k.lans(o);
  return ports.map((id, i) => ({ id, lan: lans[i], name: ports.length > 1 ? `${o.name}:${lans[i] ?? i}` : o.name }));
}

/** The OVS port of @o when Open vSwitch runs it (it has no engine port). */
function ovsPort(o: ModelObject): OvsPortInfo | undefined {
  const x = (o as { ovs?: Partial<OvsPortInfo> }).ovs;
  return x?.port !== undefined && x.bridge !== undefined ? (x as OvsPortInfo) : undefined;
}

/** What a capture of @of watches: the engine ports named (ports, or lans for
 *  every port on them), each once, with the name its interface gets, and the
 *  ports Open vSwitch runs among them (watched through sinks). */
function resolvePorts(ctx: KindContext, of: string[]): { ports: CapturePoint[]; ovs: { name: string; info: OvsPortInfo }[] } {
  const ports: CapturePoint[] = [];
  const ovs: { name: string; info: OvsPortInfo }[] = [];
  const add = (id: number, name: string) => {
    if (!ports.some((p) => p.id === id)) ports.push({ id, name });
  };
  const addOvs = (o: ModelObject, info: OvsPortInfo) => {
    if (!ovs.some((p) => p.name === o.name)) ovs.push({ name: o.name, info });
  };
  for (const name of of) {
    const o = ctx.model.get(name);
    if (!o) throw new ProtocolError(`capture: no port or lan named "${name}"`);
    if (o.kind === 'lan') {
      for (const x of ctx.model.all()) {
        for (const s of sides(x)) if (s.lan === name) add(s.id, s.name);
        const info = ovsPort(x);
        if (info && (x as { lan?: string }).lan === name) addOvs(x, info);
      }
    } else {
      const ss = sides(o);
      const info = ovsPort(o);
      if (info) addOvs(o, info);
      else if (!ss.length) throw new ProtocolError(`capture: "${name}" is ${kindOf(o).noun === 'capture' ? 'a capture' : `a ${kindOf(o).noun}`}, not a port or a lan`);
      for (const s of ss) add(s.id, s.name);
    }
  }
  if (!ports.length && !ovs.length) throw new ProtocolError(`capture: no ports on ${of.join(', ')}`);
  return { ports, ovs };
}

/** Sinks for OVS port @p (object @name) of capture @cname, one per direction
 *  captured, pushed onto @into and numbered from @first + its length; the
 *  points they are in the file as. */
function sinksFor(ctx: KindContext, cname: string, first: number, dir: CaptureRequest['dir'], name: string, p: OvsPortInfo, into: OvsSink[]): CapturePoint[] {
  const points: CapturePoint[] = [];
  for (const as of ['in', 'out'] as const) {
    if (dir !== 'both' && dir !== as) continue;
    const s = openSink(ctx, 'capture', cname, first + into.length, p.bridge, [p.port], as);
    into.push(s);
    points.push({ id: s.id, name, as });
  }
  return points;
}

/** A lan capture @c of @lans: port object @o just made; watch its sides on
 *  those lans too (the file gains an interface for each). */
function follow(ctx: KindContext, c: CaptureObject, lans: string[], o: ModelObject): void {
  if (o.kind === 'capture' || ctx.model.get(c.name) !== c) return;
  const info = ovsPort(o);
  const lan = (o as { lan?: string }).lan;
  if (info && lan !== undefined && lans.includes(lan)) {
    try {
      const made: OvsSink[] = [];
      let points: CapturePoint[];
      try {
        points = sinksFor(ctx, c.name, c.sinks.length, c.dir, o.name, info, made);
      } finally {
        c.sinks.push(...made);
      }
      for (const p of points) ctx.call((e) => e.captureAddPort(c.id, p.id, p.name, p.as));
      c.ports.push(o.name);
      ctx.log.info(`capture ${c.name}: port ${o.name} (in Open vSwitch) joined ${lan}, captured too`);
    } catch (e) {
      ctx.log.warn(`capture ${c.name}: port ${o.name} joined ${lan} but is not captured: ${(e as Error).message}`);
    }
    return;
  }
  for (const s of sides(o)) {
    if (s.lan === undefined || !lans.includes(s.lan) || c.portIds.includes(s.id)) continue;
    try {
      ctx.call((e) => e.captureAddPort(c.id, s.id, s.name));
      c.portIds.push(s.id);
      c.ports.push(s.name);
      ctx.log.info(`capture ${c.name}: port ${s.name} joined ${s.lan}, captured too`);
    } catch (e) {
      ctx.log.warn(`capture ${c.name}: port ${s.name} joined ${s.lan} but is not captured: ${(e as Error).message}`);
    }
  }
}

/** The reply of a capture that ended, from its final counters. */
function endReply(c: CaptureObject, st: NativeCaptureStats): Reply {
  return { frames: st.frames, bytes: st.bytes, drops: st.drops, filtered: st.filtered, reason: st.reason || c.why || 'stopped' };
}

/** capture: start it and answer when it ends. */
function runCapture(ctx: KindContext, req: CaptureRequest, call: Call): Reply {
  if (!call.defer || !call.onClose) throw new ProtocolError('capture: only a client can capture');
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  const { ports, ovs } = resolvePorts(ctx, req.of);
  const sinks: OvsSink[] = [];
  let id: number;
  try {
    for (const p of ovs) ports.push(...sinksFor(ctx, req.name, 0, req.dir, p.name, p.info, sinks));
    const fd = call.fds[0]!;
    id = ctx.call((e) => e.captureStart(fd, ports, { format: req.format, dir: req.dir, snaplen: req.snaplen, count: req.count, filter: req.filter, segment: req.segment }));
    call.unused.delete(fd);
  } catch (e) {
    closeSinks(ctx, sinks);
    throw e;
  }
  const answer = call.defer();
  const c: CaptureObject = {
    kind: 'capture',
    name: req.name,
    created: new Date(),
    id,
    of: req.of,
    ports: [...new Set(ports.map((p) => p.name))],
    format: req.format,
    dir: req.dir,
    filter: req.filter,
    snaplen: req.snaplen,
    count: req.count,
    segment: req.segment === true,
    owner: call.client,
    answer,
    portIds: ports.map((p) => p.id),
    sinks,
    unfollow: () => undefined,
    timer: setInterval(() => {
      let st: NativeCaptureStats;
      try {
        st = ctx.engine().captureStats(id);
      } catch {
        return;
      }
      if (st.done && ctx.model.get(c.name) === c) ctx.remove(c, st.reason);
    }, POLL_MS),
  };
  ctx.model.add(c);
  const lans = req.of.filter((n) => ctx.model.get(n)?.kind === 'lan');
  if (lans.length) c.unfollow = ctx.model.onAdd((o) => follow(ctx, c, lans, o));
  call.onClose(() => {
    if (ctx.model.get(c.name) === c) {
      c.why = 'client gone';
      ctx.remove(c, 'its client went away');
    }
  });
  ctx.log.info(`capture ${c.name} of ${c.ports.join(', ')} (${req.format}, dir ${req.dir}${req.filter ? `, filter "${req.filter}"` : ''}${req.count ? `, ${req.count} frames` : ''}) for pid ${call.client.pid}`);
  return {};
}

/** The captures' section of show and stats. */
const CAPTURES: Section = {
  key: 'captures',
  showKind: 'capture',
  showTable: (cs) =>
    table(
      ['CAPTURE', 'PORTS', 'FORMAT', 'DIR', 'FILTER', 'SNAPLEN', 'COUNT', 'PID'],
      cs.map((c) => [
        String(c.name),
        (c.ports as string[]).join(','),
        String(c.format),
        String(c.dir),
        String(c.filter ?? '-'),
        c.snaplen === null ? '-' : Number(c.snaplen),
        c.count === null ? '-' : Number(c.count),
        Number((c.owner as { pid: number }).pid),
      ]),
    ),
  statsTable: (cs) =>
    table(
      ['CAPTURE', 'FRAMES', 'BYTES', 'DROPS', 'FILTERED'],
      cs.map((c) => [String(c.name), Number(c.frames), bytes(Number(c.bytes)), Number(c.drops), Number(c.filtered)]),
    ),
  graph: (c) => ({ marks: (c.ports as string[]).map((port) => ({ port, mark: 'captured' })) }),
};

/** The output a capture command writes to: stdout for "-", else @file
 *  (a FIFO's open waits for its reader). */
function openOutput(client: CliClient, file: string): number {
  if (file === '-') {
    if (isatty(1)) client.die('refusing to write a capture to a terminal: pipe it (-w - | tcpdump -r -) or pass -w FILE');
    try {
      fstatSync(1);
    } catch {
      client.die('stdout is closed');
    }
    return 1;
  }
  try {
    return openSync(file, 'w');
  } catch (e) {
    client.die(`cannot open ${file}: ${(e as Error).message}`);
  }
}

/** `containet capture NAME... [-w FILE|-] [-c N] [-s SNAPLEN] [--dir] [--format] [--filter]`. */
function captureCommand(program: Command, client: CliClient): void {
  program
    .command('capture')
    .description('write the frames crossing ports (or every port of a lan) as pcapng or pcap, until COUNT, Ctrl-C or the reader goes')
    .argument('<names...>', 'ports and lans')
    .option('-w, --write <file>', 'where to write: a file, a FIFO, or - for stdout', '-')
    .option('-c, --count <n>', 'stop after N frames')
    .option('-s, --snaplen <bytes>', `bytes kept of each frame (default ${SNAPLEN_MAX})`)
    .addOption(new Option('--dir <dir>', 'frames a port received (in), sent (out), or both').choices(['in', 'out', 'both']).default('both'))
    .addOption(new Option('--format <format>', 'file format').choices(['pcapng', 'pcap']).default('pcapng'))
    .option('--filter <expr>', 'a pcap-filter(7) expression (tcpdump syntax)')
    .option('--segment', 'write a GSO frame as the wire segments it stands for (default: as the port saw it)')
    .option('--name <name>', 'name of the capture, for show, stats and del (default capture-PID)')
    .option('-q, --quiet', 'do not print the summary on stderr')
    .action(async (names: string[], o: { write: string; count?: string; snaplen?: string; dir: string; format: string; filter?: string; segment?: boolean; name?: string; quiet?: boolean }, cmd: Command) => {
      const num = (v: string | undefined, what: string) => {
        if (v === undefined) return undefined;
        if (!/^\d+$/.test(v) || Number(v) < 1) client.die(`${what} must be a positive integer, not "${v}"`);
        return Number(v);
      };
      const count = num(o.count, '-c');
      const snaplen = num(o.snaplen, '-s');
      const name = o.name ?? `capture-${process.pid}`;
      const fd = openOutput(client, o.write);
      let interrupted = false;
      const stop = () => {
        if (interrupted) return;
        interrupted = true;
        // The capture answers its request once it has stopped.
        void client.request(cmd, { del: { name, force: false } }, { timeoutMs: 5000, orThrow: true }).catch(() => undefined);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const body: Body = { name, of: names, format: o.format, dir: o.dir };
      if (count !== undefined) body.count = count;
      if (snaplen !== undefined) body.snaplen = snaplen;
      if (o.filter !== undefined) body.filter = o.filter;
      if (o.segment) body.segment = true;
      const r = await client.request(cmd, { capture: body }, { fd, timeoutMs: 2 ** 31 - 1 });
      if (fd !== 1) closeSync(fd);
      if (!o.quiet)
        process.stderr.write(`containet: capture ${name}: ${r.frames} frame${r.frames === 1 ? '' : 's'} written, ${r.drops} dropped (${r.reason})\n`);
      process.exit(0);
    });
}

register<CaptureObject>({
  name: 'capture',
  noun: 'capture',
  section: CAPTURES,
  verbs: [{ name: 'capture', fds: 1, parse: parseCapture, run: runCapture }],
  lans: () => [],
  ports: () => [],
  remove(ctx, c) {
    clearInterval(c.timer);
    c.unfollow();
    const st = ctx.call((e) => e.captureStop(c.id));
    closeSinks(ctx, c.sinks);
    c.answer(endReply(c, st));
    ctx.log.info(`capture ${c.name}: ${st.frames} frames written, ${st.drops} dropped, ${st.filtered} filtered out`);
  },
  show: (_ctx, c) => ({
    name: c.name,
    kind: 'capture',
    of: c.of,
    ports: c.ports,
    format: c.format,
    dir: c.dir,
    filter: c.filter ?? null,
    snaplen: c.snaplen ?? null,
    count: c.count ?? null,
    segment: c.segment,
    owner: c.owner,
    created: c.created.toISOString(),
  }),
  stats(ctx, c) {
    const st = ctx.call((e) => e.captureStats(c.id));
    return { name: c.name, frames: st.frames, bytes: st.bytes, drops: st.drops, filtered: st.filtered };
  },
  cli: { commands: captureCommand },
});
