/**
 * The "phy" kind: an existing interface of the daemon's network namespace (a
 * NIC, one end of a veth ...) on a lan, as cloonix's phy: the engine reads and
 * writes it through an AF_PACKET socket (a TPACKET_V3 ring in, sendmmsg out,
 * virtio-net headers both ways), promiscuous while the port lasts. See
 * docs/phy.md.
 */
import { Option, type Command } from 'commander';

import { ProtocolError, checkName, onlyFields, posInt, str, thread, type Body } from '../daemon/fields.js';
import { threadIndex } from '../cli/args.js';
import { newPortChecks, portFields, portHooks, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner, savedThread } from './saved.js';
import { registerSection } from '../topology/section.js';

/** A phy port. */
export interface PhyObject extends PortObject {
  kind: 'phy';
  /** its receive ring: TPACKET_V3 (blocks of frames) or TPACKET_V2 (a slot per frame) */
  tpacket: 2 | 3;
}

/** add-phy, validated. */
export interface AddPhyRequest {
  verb: 'add-phy';
  /** the interface, in the daemon's network namespace */
  ifname: string;
  /** the port's name (default: ifname) */
  name: string;
  lan?: string;
  thread?: number;
  /** the receive ring's version (default 2) */
  tpacket?: 2 | 3;
}

declare module './kind.js' {
  interface KindRequests {
    'add-phy': AddPhyRequest;
  }
}

/** Is @s a name the kernel could give an interface (IFNAMSIZ - 1 bytes, no
 *  slash, colon or white space)? */
export function validIfname(s: string): boolean {
  return s.length > 0 && Buffer.byteLength(s) <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

register<PhyObject>({
  name: 'phy',
  noun: 'port',
  ...portHooks((p) => ({ tpacket: p.tpacket })),
  // Taken again by name if the interface is still there; else the engine's
  // reason ("no interface ...") is logged and the port dropped.
  save: (p) => ({ lan: p.lan, ifname: p.ifname, tpacket: p.tpacket, thread: p.thread, owner: p.owner }),
  restore(ctx, name, rec) {
    const body: Body = { name, ifname: field(rec, 'ifname', 'string', true)!, lan: field(rec, 'lan', 'string', true)! };
    const tp = field(rec, 'tpacket', 'number', false);
    if (tp !== undefined) body.tpacket = tp;
    const t = savedThread(ctx, rec);
    if (t !== undefined) body.thread = t;
    runVerb(ctx, 'add-phy', body, savedOwner(rec));
  },
  verbs: [
    {
      name: 'add-phy',
      fds: 0,
      parse(b: Body): AddPhyRequest {
        const verb = 'add-phy';
        onlyFields(b, verb, ['ifname', 'name', 'lan', 'thread', 'tpacket']);
        const ifname = str(b, 'ifname', verb, true)!;
        if (!validIfname(ifname)) throw new ProtocolError(`${verb}: "ifname" ${JSON.stringify(ifname)} is not an interface name (1 to 15 bytes, no "/", ":" or space)`);
        const r: AddPhyRequest = { verb, ifname, name: checkName(b.name ?? ifname, `${verb}: "name"`) };
        const lan = str(b, 'lan', verb, false);
        if (lan !== undefined) r.lan = lan;
        const t = thread(b, verb);
        if (t !== undefined) r.thread = t;
        const tp = posInt(b, 'tpacket', verb, 3, 2);
        if (tp !== undefined) r.tpacket = tp as 2 | 3;
        return r;
      },
      run(ctx, req: AddPhyRequest, call) {
        const lan = newPortChecks(ctx, req);
        const other = ctx.model.ofKind<PhyObject>('phy').find((p) => p.ifname === req.ifname);
        if (other) throw new ProtocolError(`${req.ifname} is already port ${other.name} on ${other.lan}`);
        const tap = ctx.model.ofKind<PortObject>('fd').find((p) => p.type === 'tap' && p.ifname === req.ifname && p.netns === undefined && p.pid === undefined);
        if (tap) throw new ProtocolError(`${req.ifname} is the tap of port ${tap.name} on ${tap.lan}`);
        const tpacket = req.tpacket ?? 2;
        const info = ctx.call((e) => e.addPort('phy', [lan.id], { ifname: req.ifname, tpacket }, req.thread))[0]!;
        const port: PhyObject = { ...portFields(info, lan, call.client), kind: 'phy', name: req.name, ifname: req.ifname, tpacket };
        ctx.model.add(port);
        ctx.log.info(`port ${req.name} (phy ${req.ifname}, ${info.state}, offloads ${info.offloads.join(',') || '-'}) joined ${lan.name}`);
        return {};
      },
    },
  ],
  cli: {
    add: {
      description: "add a phy port: an existing interface of the daemon's network namespace on a lan (promiscuous, AF_PACKET)",
      verb: 'add-phy',
      argument: { name: 'ifname', help: "the interface, in the daemon's network namespace (the port's name too, unless --name)" },
      configure(cmd: Command) {
        cmd
          .option('--lan <lan>', "lan to join (default: the daemon's default lan)")
          .option('--name <name>', 'name of the port (default: the interface name)')
          .addOption(new Option('--tpacket <version>', 'receive ring: 2 (one slot per frame, handed over at once: the default) or 3 (blocks of frames, handed over when full or after 1 ms)').choices(['2', '3']))
          .addOption(new Option('--thread <n>', 'worker thread that polls it').argParser(threadIndex));
      },
      body(ifname, opts) {
        const b: Body = { ifname };
        if (opts.name !== undefined) b.name = opts.name;
        if (opts.lan !== undefined) b.lan = opts.lan;
        if (opts.thread !== undefined) b.thread = opts.thread;
        if (opts.tpacket !== undefined) b.tpacket = Number(opts.tpacket);
        return b;
      },
    },
  },
});

registerSection({
  key: 'phys',
  noun: 'phy',
  kinds: ['phy'],
  stage: 1,
  doc: "existing interfaces of the daemon's network namespace on a lan (docs/phy.md)",
  fields: {
    lan: { type: 'string', required: true, doc: 'the lan it joins' },
    ifname: { type: 'string', doc: 'the interface (default: the entry\'s name)', check: (v) => {
      if (!validIfname(String(v))) throw new Error('is not an interface name (1 to 15 bytes, no "/", ":" or space)');
    } },
  },
  canonical: (v) => v,
  fromShow: (s) => ({ name: String(s.name), values: { lan: s.lan, ifname: s.ifname } }),
  add: (e) => [{ 'add-phy': { name: e.name, ifname: e.values.ifname ?? e.name, lan: e.values.lan } }],
  needs: (e) => [e.values.lan as string],
  toFile: (e) => ({ lan: e.values.lan, ifname: e.values.ifname === e.name ? undefined : e.values.ifname }),
});
