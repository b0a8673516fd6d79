/**
 * The "lan" kind: a learning switch (the engine's lan: a MAC table, flooding,
 * aging). Every port kind joins one; deleting a lan takes what is on it along
 * only with --force. See docs/lan.md.
 */
import { Option, type Command } from 'commander';

import { positiveInt } from '../cli/args.js';
import { ProtocolError, checkName, onlyFields, posInt, type Body } from '../daemon/fields.js';
import { table } from '../format.js';
import type { KindContext, ModelObject, Section } from './kind.js';
import { kindOf, register } from './registry.js';
import { field, runVerb, savedOwner } from './saved.js';

/** A learning switch. */
export interface LanObject extends ModelObject {
  kind: 'lan';
  /** native lan id */
  id: number;
  /** MAC aging time in seconds */
  aging: number;
  /** MAC table entries it can hold (as asked; the engine rounds up) */
  macTableSize: number;
}

/** add-lan, validated. */
export interface AddLanRequest {
  verb: 'add-lan';
  name: string;
  aging?: number;
  macTableSize?: number;
}

declare module './kind.js' {
  interface KindRequests {
    'add-lan': AddLanRequest;
  }
  interface SetParts {
    /** a lan's new MAC aging time, seconds */
    aging?: number;
  }
}

/** Most seconds of MAC aging. */
const MAX_AGING = 1_000_000;

/** The lan named @name, or a ProtocolError saying what it is instead. */
export function lanNamed(ctx: KindContext, name: string): LanObject {
  const o = ctx.model.get(name);
  if (!o) throw new ProtocolError(`no lan named "${name}" (add it with: containet add lan ${name})`);
  if (o.kind !== 'lan') throw new ProtocolError(`"${name}" is a ${kindOf(o).noun}, not a lan`);
  return o as LanObject;
}

/** Make lan @name (the daemon's defaults where @aging or @macTableSize are not given). */
export function addLan(ctx: KindContext, name: string, aging = ctx.defaults.aging, macTableSize = ctx.defaults.macTableSize): LanObject {
  checkName(name, 'lan name');
  if (ctx.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
  const id = ctx.call((e) => e.addLan({ macTableSize, agingMs: aging * 1000 }));
  const lan: LanObject = { kind: 'lan', name, id, aging, macTableSize, created: new Date() };
  ctx.model.add(lan);
  ctx.log.info(`lan ${name} added (aging ${aging}s, ${macTableSize} MAC entries)`);
  return lan;
}

/** The lans' section of show and stats. */
const LANS: Section = {
  key: 'lans',
  showKind: 'lan',
  showTable: (lans) =>
    table(
      ['LAN', 'PORTS', 'MACS', 'AGING', 'MAC TABLE'],
      lans.map((l) => [String(l.name), Number(l.ports), Number(l.macs), `${l.aging}s`, Number(l.macTableSize)]),
    ),
  statsTable: (lans) =>
    table(
      ['LAN', 'PORTS', 'MACS', 'LEARNED', 'MOVED', 'EVICTED', 'EXPIRED', 'FLOODED', 'UNKNOWN', 'FILTERED'],
      lans.map((l) => [String(l.name), Number(l.ports), `${l.macs}/${l.macCapacity}`, Number(l.learned), Number(l.moved), Number(l.evicted), Number(l.expired), Number(l.flooded), Number(l.unknownUnicast), Number(l.filtered)]),
    ),
};

register<LanObject>({
  name: 'lan',
  noun: 'lan',
  section: LANS,
  verbs: [
    {
      name: 'add-lan',
      fds: 0,
      parse(b: Body): AddLanRequest {
        onlyFields(b, 'add-lan', ['name', 'aging', 'mac-table-size']);
        const r: AddLanRequest = { verb: 'add-lan', name: checkName(b.name, 'add-lan: "name"') };
        const aging = posInt(b, 'aging', 'add-lan', MAX_AGING);
        if (aging !== undefined) r.aging = aging;
        const size = posInt(b, 'mac-table-size', 'add-lan', 1 << 24);
        if (size !== undefined) r.macTableSize = size;
        return r;
      },
      run(ctx, req: AddLanRequest) {
        addLan(ctx, req.name, req.aging, req.macTableSize);
        return {};
      },
    },
  ],
  set: {
    fields: ['aging'],
    keys: ['aging'],
    what: 'aging',
    parse: (b) => ({ aging: posInt(b, 'aging', 'set', MAX_AGING) }),
    apply(ctx, lan, req) {
      if (req.aging !== undefined) {
        ctx.call((e) => e.setLanAging(lan.id, req.aging! * 1000));
        lan.aging = req.aging;
      }
      ctx.log.info(`lan ${lan.name}: aging ${lan.aging}s`);
    },
  },
  lans: () => [],
  ports: () => [],
  remove: (ctx, lan) => ctx.call((e) => e.delLan(lan.id)),
  save: (lan) => ({ aging: lan.aging, macTableSize: lan.macTableSize }),
  restore(ctx, name, rec) {
    runVerb(ctx, 'add-lan', { name, aging: field(rec, 'aging', 'number', true)!, 'mac-table-size': field(rec, 'macTableSize', 'number', true)! }, savedOwner(rec));
  },
  show(ctx, l) {
    const st = ctx.call((e) => e.lanStats(l.id));
    return { name: l.name, kind: 'lan', ports: st.ports, macs: st.macs, aging: l.aging, macTableSize: st.macCapacity };
  },
  stats: (ctx, l) => ({ name: l.name, ...ctx.call((e) => e.lanStats(l.id)) }),
  cli: {
    add: {
      description: 'add a lan (a learning switch)',
      verb: 'add-lan',
      configure(cmd: Command) {
        cmd
          .addOption(new Option('--aging <seconds>', 'MAC aging time').argParser(positiveInt))
          .addOption(new Option('--mac-table-size <entries>', 'MAC table size').argParser(positiveInt));
      },
      body(name, opts) {
        const b: Body = { name };
        if (opts.aging !== undefined) b.aging = opts.aging;
        if (opts.macTableSize !== undefined) b['mac-table-size'] = opts.macTableSize;
        return b;
      },
    },
    set: {
      help: "a lan's aging",
      configure(cmd: Command) {
        cmd.addOption(new Option('--aging <seconds>', 'MAC aging time of a lan').argParser(positiveInt));
      },
      body: (opts) => (opts.aging !== undefined ? { aging: opts.aging } : {}),
    },
  },
});
