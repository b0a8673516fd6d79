/**
 * The "a2b" kind: a link emulator between two lans (cloonix's a2b), shaping each
 * direction on its own: rate, delay, jitter, loss (independent or bursts),
 * duplication, reordering, corruption, queue limits. In the engine it is two
 * ports, side A on lan A and side B on lan B. Its settings' units and checks are
 * in ./settings.ts. See docs/a2b.md.
 */
import { Option, type Command } from 'commander';

import { nonNegInt, positiveInt, threadIndex } from '../../cli/args.js';
import { ProtocolError, checkName, onlyFields, str, thread, type Body } from '../../daemon/fields.js';
import { stateColumn } from '../../daemon/linkstate.js';
import type { NativePortStats } from '../../native.js';
import { bytes, table } from '../../format.js';
import type { KindContext, ModelObject, Section } from '../kind.js';
import { lanNamed } from '../lan.js';
import { checkThread } from '../port.js';
import { register } from '../registry.js';
import { field, runVerb, savedOwner, savedThread } from '../saved.js';
import {
  A2B_DEFAULTS,
  A2bError,
  applyChange,
  describe,
  nativeSettings,
  parseBytes,
  parseCloonix,
  parseGe,
  parsePercent,
  parseRate,
  parseTime,
  type A2bChange,
  type A2bDir,
  type A2bSettings,
} from './settings.js';
import './topology.js';

/** A link emulator between two lans: two engine ports, one on each. */
export interface A2bObject extends ModelObject {
  kind: 'a2b';
  /** the lans it joins */
  a: string;
  b: string;
  /** native port ids of side A (on lan a) and side B */
  portA: number;
  portB: number;
  /** what each direction does */
  settings: Record<A2bDir, A2bSettings>;
  /** the engine's worker thread that releases its frames */
  thread: number;
}

/** add-a2b, validated. */
export interface AddA2bRequest {
  verb: 'add-a2b';
  name: string;
  a: string;
  b: string;
  thread?: number;
}

declare module '../kind.js' {
  interface KindRequests {
    'add-a2b': AddA2bRequest;
  }
  interface SetParts {
    /** an a2b's directions and the settings they change */
    a2b?: { dirs: A2bDir[]; change: A2bChange };
  }
}

/** Fields of set that belong to an a2b. */
const A2B_FIELDS = ['dir', 'rate', 'delay', 'jitter', 'distribution', 'loss', 'loss-ge', 'duplicate', 'reorder', 'corrupt', 'limit', 'limit-bytes', 'seed', 'cloonix'];

/** The engine's mask of direction @d (its set's "dirs"). */
const DIR_MASK: Record<A2bDir, number> = { a2b: 1, b2a: 2 };

/** A string or a number field (units in strings), if present. */
function strOrNum(o: Body, key: string): string | number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ProtocolError(`set: "${key}" must be a string with a unit or a number`);
  return v;
}

/** The a2b part of a set: directions and the settings it changes. */
function parseChange(b: Body): { dirs: A2bDir[]; change: A2bChange } {
  try {
    if (b.cloonix !== undefined) {
      if (typeof b.cloonix !== 'string') throw new A2bError('"cloonix" must be a string such as "dir=0 cmd=delay val=1000"');
      if (A2B_FIELDS.some((k) => k !== 'cloonix' && b[k] !== undefined)) throw new A2bError('"cloonix" comes alone');
      return parseCloonix([b.cloonix]);
    }
    const dir = b.dir ?? 'both';
    if (dir !== 'a2b' && dir !== 'b2a' && dir !== 'both') throw new A2bError(`"dir" must be a2b, b2a or both (not ${JSON.stringify(dir)})`);
    const c: A2bChange = {};
    const v = (k: string) => strOrNum(b, k);
    if (v('rate') !== undefined) c.rate = parseRate(v('rate')!);
    if (v('delay') !== undefined) c.delay = parseTime(v('delay')!, 'delay');
    if (v('jitter') !== undefined) c.jitter = parseTime(v('jitter')!, 'jitter');
    if (b.distribution !== undefined) {
      if (b.distribution !== 'uniform' && b.distribution !== 'normal') throw new A2bError('"distribution" must be uniform or normal');
      c.distribution = b.distribution;
    }
    if (v('loss') !== undefined) c.loss = parsePercent(v('loss')!, 'loss');
    if (v('loss-ge') !== undefined) c.lossGe = parseGe(String(v('loss-ge')));
    if (v('duplicate') !== undefined) c.duplicate = parsePercent(v('duplicate')!, 'duplicate');
    if (v('reorder') !== undefined) c.reorder = parsePercent(v('reorder')!, 'reorder');
    if (v('corrupt') !== undefined) c.corrupt = parsePercent(v('corrupt')!, 'corrupt');
    if (v('limit') !== undefined) {
      const n = Number(v('limit'));
      if (!Number.isInteger(n) || n < 1) throw new A2bError('limit: a number of frames >= 1');
      c.limit = n;
    }
    if (v('limit-bytes') !== undefined) c.limitBytes = parseBytes(v('limit-bytes')!, 'limit-bytes');
    if (v('seed') !== undefined) {
      const n = Number(v('seed'));
      if (!Number.isSafeInteger(n) || n < 0) throw new A2bError('seed: an integer >= 0');
      c.seed = n;
    }
    return { dirs: dir === 'both' ? ['a2b', 'b2a'] : [dir], change: c };
  } catch (e) {
    if (e instanceof A2bError) throw new ProtocolError(`set: ${e.message}`);
    throw e;
  }
}

/** add-a2b: a link emulator between two lans, passing everything as it comes until set. */
function addA2b(ctx: KindContext, req: AddA2bRequest): void {
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  const a = lanNamed(ctx, req.a);
  const b = lanNamed(ctx, req.b);
  if (a === b) throw new ProtocolError('an a2b joins two different lans');
  checkThread(ctx, req.verb, req.thread);
  const [sideA, sideB] = ctx.call((e) => e.addPort('a2b', [a.id, b.id], {}, req.thread));
  const link: A2bObject = {
    kind: 'a2b',
    name: req.name,
    a: a.name,
    b: b.name,
    portA: sideA!.id,
    portB: sideB!.id,
    settings: { a2b: { ...A2B_DEFAULTS }, b2a: { ...A2B_DEFAULTS } },
    thread: sideA!.thread,
    created: new Date(),
  };
  ctx.model.add(link);
  ctx.log.info(`a2b ${req.name} joins ${a.name} and ${b.name}`);
}

/** Counters of a2b @l by direction (its sides' counters: side A counts a2b, side B b2a). */
function counters(ctx: KindContext, l: A2bObject): Record<A2bDir, Record<string, number>> {
  const names: Record<string, string> = {
    passed: 'passed', passed_bytes: 'passedBytes', drop_loss: 'dropLoss', drop_limit: 'dropLimit', drop_nobuf: 'dropNoBuffer',
    queued: 'queued', queued_bytes: 'queuedBytes', duplicated: 'duplicated', reordered: 'reordered', corrupted: 'corrupted',
  };
  const [a, b] = [ctx.call((e) => e.portStats(l.portA)), ctx.call((e) => e.portStats(l.portB))];
  // A direction's frames while down (docs/linkstate.md): those its lan sent
  // into its entry side, and those its queue let out of its exit side.
  const read = (entry: NativePortStats, exit: NativePortStats) => ({
    ...Object.fromEntries(Object.entries(names).map(([k, v]) => [v, entry.counters[k] ?? 0])),
    dropAdminDown: (entry.drops.admin_down_tx ?? 0) + (exit.drops.admin_down_rx ?? 0),
  });
  return { a2b: read(a, b), b2a: read(b, a) };
}

/** The a2bs' section of show and stats. */
const A2BS: Section = {
  key: 'a2bs',
  showKind: 'a2b',
  showTable(entries) {
    const a2bs = entries as unknown as { name: string; admin?: string; a2b: { a: string; b: string; a2b: A2bSettings; b2a: A2bSettings } }[];
    return table(
      ['A2B', 'A', 'B', 'A TO B', 'B TO A', 'STATE'],
      a2bs.map((l) => [l.name, l.a2b.a, l.a2b.b, describe(l.a2b.a2b), describe(l.a2b.b2a), stateColumn(l, 'up')]),
    );
  },
  statsTable(entries) {
    const a2bs = entries as unknown as ({ name: string } & Record<A2bDir, Record<string, number>>)[];
    return table(
      ['A2B', 'DIR', 'PASSED', 'BYTES', 'QUEUED', 'LOST', 'LIMIT DROPS', 'NO BUFFER', 'DOWN DROPS', 'DUPLICATED', 'REORDERED', 'CORRUPTED'],
      a2bs.flatMap((l) =>
        (['a2b', 'b2a'] as const).map((d) => {
          const c = l[d];
          return [l.name, d, c.passed!, bytes(c.passedBytes!), `${c.queued} (${bytes(c.queuedBytes!)})`, c.dropLoss!, c.dropLimit!, c.dropNoBuffer!, c.dropAdminDown!, c.duplicated!, c.reordered!, c.corrupted!];
        }),
      ),
    );
  },
  graph(entry) {
    const l = (entry as unknown as { a2b: { a: string; b: string; a2b: A2bSettings; b2a: A2bSettings } }).a2b;
    return { link: { a: l.a, b: l.b, ab: describe(l.a2b), ba: describe(l.b2a) } };
  },
};

/** The set options of an a2b: option (camelCase, as commander names it) and field. */
const SET_OPTIONS: [string, string][] = [
  ['dir', 'dir'], ['rate', 'rate'], ['delay', 'delay'], ['jitter', 'jitter'], ['distribution', 'distribution'], ['loss', 'loss'],
  ['lossGe', 'loss-ge'], ['duplicate', 'duplicate'], ['reorder', 'reorder'], ['corrupt', 'corrupt'], ['limit', 'limit'],
  ['limitBytes', 'limit-bytes'], ['seed', 'seed'],
];

register<A2bObject>({
  name: 'a2b',
  noun: 'a2b',
  section: A2BS,
  verbs: [
    {
      name: 'add-a2b',
      fds: 0,
      parse(b: Body): AddA2bRequest {
        const verb = 'add-a2b';
        onlyFields(b, verb, ['name', 'a', 'b', 'thread']);
        const r: AddA2bRequest = { verb, name: checkName(b.name, 'add-a2b: "name"'), a: str(b, 'a', verb, true)!, b: str(b, 'b', verb, true)! };
        const t = thread(b, verb);
        if (t !== undefined) r.thread = t;
        return r;
      },
      run(ctx, req: AddA2bRequest) {
        addA2b(ctx, req);
        return {};
      },
    },
  ],
  set: {
    fields: A2B_FIELDS,
    keys: ['a2b'],
    what: 'rate, delay, loss and the like',
    parse: (b) => ({ a2b: parseChange(b) }),
    apply(ctx, o, req) {
      if (!req.a2b) throw new ProtocolError(`set ${o.name}: nothing to set (e.g. --delay 20ms; see containet set --help)`);
      const { dirs, change } = req.a2b;
      const next: Partial<Record<A2bDir, A2bSettings>> = {};
      try {
        for (const d of dirs) next[d] = applyChange(o.settings[d], change);
      } catch (e) {
        if (e instanceof A2bError) throw new ProtocolError(`set ${o.name}: ${e.message}`);
        throw e;
      }
      for (const d of dirs) {
        ctx.call((e) => e.setPort(o.portA, { dirs: DIR_MASK[d], ...nativeSettings(next[d]!) }));
        o.settings[d] = next[d]!;
      }
      ctx.log.info(`a2b ${o.name}: a2b ${describe(o.settings.a2b)}; b2a ${describe(o.settings.b2a)}`);
    },
  },
  lans: (l) => [l.a, l.b],
  ports: (l) => [l.portA, l.portB],
  save: (l) => ({ a: l.a, b: l.b, settings: l.settings, thread: l.thread }),
  restore(ctx, name, rec) {
    const settings = field(rec, 'settings', 'object', true)!;
    // Each direction's settings, checked as a set would check them, before anything is made.
    const next = {} as Record<A2bDir, A2bSettings>;
    for (const d of ['a2b', 'b2a'] as const) {
      const s = settings[d];
      if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error(`its record has no settings of direction ${d}`);
      const change: A2bChange = {};
      for (const [k, v] of Object.entries(A2B_DEFAULTS) as [keyof A2bSettings, unknown][]) {
        const got = (s as Record<string, unknown>)[k];
        if (got === undefined) continue;
        if (v === null ? got !== null && typeof got !== 'object' : typeof got !== typeof v) throw new Error(`its ${d} setting "${k}" is not a ${typeof v}`);
        (change as Record<string, unknown>)[k] = got;
      }
      try {
        next[d] = applyChange(A2B_DEFAULTS, change);
      } catch (e) {
        throw new Error(`its ${d} settings: ${(e as Error).message}`);
      }
    }
    const body: Body = { name, a: field(rec, 'a', 'string', true)!, b: field(rec, 'b', 'string', true)! };
    const t = savedThread(ctx, rec);
    if (t !== undefined) body.thread = t;
    runVerb(ctx, 'add-a2b', body, savedOwner(rec));
    const l = ctx.model.get(name) as A2bObject;
    for (const d of ['a2b', 'b2a'] as const) {
      ctx.call((e) => e.setPort(l.portA, { dirs: DIR_MASK[d], ...nativeSettings(next[d]) }));
      l.settings[d] = next[d];
    }
  },
  remove(ctx, l) {
    ctx.call((e) => e.delPort(l.portA));
    ctx.call((e) => e.delPort(l.portB));
  },
  show: (_ctx, l) => ({ name: l.name, kind: 'a2b', a2b: { a: l.a, b: l.b, a2b: l.settings.a2b, b2a: l.settings.b2a }, created: l.created.toISOString() }),
  stats: (ctx, l) => ({ name: l.name, a: l.a, b: l.b, ...counters(ctx, l) }),
  statsAlone: (entry) => ({ a2b: { a2b: entry.a2b, b2a: entry.b2a } }),
  cli: {
    add: {
      description: 'add an a2b: a link emulator between two lans (rate, delay, jitter, loss ... per direction, see set)',
      verb: 'add-a2b',
      configure(cmd: Command) {
        cmd
          .requiredOption('--a <lan>', 'lan on side A')
          .requiredOption('--b <lan>', 'lan on side B')
          .addOption(new Option('--thread <n>', 'worker thread that releases its frames').argParser(threadIndex));
      },
      body(name, opts) {
        const b: Body = { name, a: opts.a, b: opts.b };
        if (opts.thread !== undefined) b.thread = opts.thread;
        return b;
      },
    },
    set: {
      help: "an a2b's shaping (units as tc's: 10mbit, 20ms, 1%; 0 turns a setting off; also cloonix's form: set NAME dir=0 cmd=delay val=1000)",
      words: "an a2b in cloonix's form: dir=0|1 cmd=delay|loss|rate val=N (ms, 1/10000, kilobytes/s)",
      configure(cmd: Command) {
        cmd
          .addOption(new Option('--dir <dir>', 'an a2b: the direction(s) to change').choices(['a2b', 'b2a', 'both']))
          .option('--rate <rate>', 'an a2b: serialization rate (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps = bytes/s)')
          .option('--delay <time>', 'an a2b: one-way delay (us, ms, s)')
          .option('--jitter <time>', 'an a2b: delay variation (us, ms, s)')
          .addOption(new Option('--distribution <dist>', 'an a2b: jitter distribution (uniform: delay±jitter; normal: sd jitter)').choices(['uniform', 'normal']))
          .option('--loss <percent>', 'an a2b: independent random loss')
          .option('--loss-ge <p,r[,1-h[,1-k]]>', 'an a2b: Gilbert-Elliott burst loss in percent (netem gemodel); 0: off')
          .option('--duplicate <percent>', 'an a2b: frames sent twice')
          .option('--reorder <percent>', 'an a2b: frames that skip the delay (and so overtake)')
          .option('--corrupt <percent>', 'an a2b: frames with one bit flipped')
          .addOption(new Option('--limit <frames>', 'an a2b: queue limit in frames (tail drop; default 1000)').argParser(positiveInt))
          .option('--limit-bytes <bytes>', 'an a2b: queue limit in bytes (k, m; default and most 16m)')
          .addOption(new Option('--seed <n>', 'an a2b: seed of loss, jitter and the rest (0: random)').argParser(nonNegInt));
      },
      body(opts, words) {
        const b: Body = {};
        for (const [k, wire] of SET_OPTIONS) if (opts[k] !== undefined) b[wire] = opts[k];
        if (words.length) b.cloonix = words.join(' ');
        return b;
      },
    },
  },
});
