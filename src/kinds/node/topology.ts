/**
 * The node kind in a topology file (docs/topology.md): the `nodes:` section,
 * containode containers the daemon starts and supervises (`add-node`, made by
 * the node kind's module, index.ts); the requests it makes are add-node's: {name, command, root?, env?, interfaces: [{ifname, lan, addrs?,
 * mtu?, mac?}], routes?: [{dst, via}]}, its interfaces being fd ports named
 * NODE.IFNAME. A change of a node restarts it (removed and started again);
 * nothing else is touched.
 */
import { isIP } from 'node:net';

import { checkCidr, checkMac } from '../tap.js';
import { validIfname } from '../phy.js';
import { registerSection, type Values } from '../../topology/section.js';
import { stringList, type FieldSpec } from '../../topology/spec.js';

/** A node's interface, canonical. */
interface Iface {
  ifname: string;
  lan: string;
  addrs: string[];
  mtu?: number;
  mac?: string;
}

/** An interface name's check. */
const IFNAME: FieldSpec = {
  type: 'string',
  doc: 'its name in the node (default eth0, eth1 ... by position)',
  check: (v) => {
    if (!validIfname(String(v))) throw new Error('is not an interface name (1 to 15 bytes, no "/", ":" or space)');
  },
};

/** Does running interface @cur have what @want asks (fields @want leaves out: anything)? */
function ifaceIs(cur: Iface | undefined, want: Iface): boolean {
  if (!cur) return false;
  return (Object.keys(want) as (keyof Iface)[]).every((k) => want[k] === undefined || JSON.stringify(cur[k]) === JSON.stringify(want[k]));
}

registerSection({
  key: 'nodes',
  noun: 'node',
  kinds: ['node'],
  stage: 2,
  doc: 'containode containers the daemon starts and keeps (it outlives the client that applied the file), each with interfaces on lans; made after their lans, in file order or after what they wait for',
  fields: {
    command: { type: 'list', minItems: 1, required: true, items: { type: 'string', doc: 'a word' }, doc: 'the program and its arguments, run as the node\'s init' },
    root: { type: 'string', pattern: /^\//, doc: "an image's root directory, absolute (default: none, the host's file system seen from new namespaces)" },
    env: { type: 'map', values: { type: 'string', doc: 'a value' }, doc: 'its environment, NAME: value' },
    interfaces: {
      type: 'list',
      doc: 'its network interfaces, each on a lan',
      items: {
        type: 'object',
        doc: 'an interface',
        fields: {
          ifname: IFNAME,
          lan: { type: 'string', required: true, doc: 'the lan it is on' },
          addrs: stringList('its addresses with their prefix length: 10.0.0.2/24, fd00::2/64', (v) => checkCidr(v, 'interface')),
          mtu: { type: 'integer', min: 68, max: 65521, doc: 'its MTU' },
          mac: { type: 'string', doc: 'its MAC (default: a random one)', check: (v) => checkMac(v, 'interface') },
        },
      },
    },
    routes: {
      type: 'list',
      doc: 'its routes',
      items: {
        type: 'object',
        doc: 'a route',
        fields: {
          dst: { type: 'string', required: true, doc: '"default" or a CIDR', check: (v) => (v === 'default' ? undefined : checkCidr(v, 'route')) },
          via: { type: 'string', required: true, doc: 'the gateway address', check: (v) => {
            if (!isIP(String(v))) throw new Error('is not an IPv4 or IPv6 address');
          } },
        },
      },
    },
    'wait-for': stringList('objects (nodes) made and running before it starts'),
  },
  canonical(v) {
    const ifaces = ((v.interfaces as Values[] | undefined) ?? []).map((i, n): Iface => ({
      ifname: (i.ifname as string | undefined) ?? `eth${n}`,
      lan: i.lan as string,
      addrs: (i.addrs as string[] | undefined) ?? [],
      ...(i.mtu !== undefined ? { mtu: i.mtu as number } : {}),
      ...(i.mac !== undefined ? { mac: checkMac(i.mac, 'interface') } : {}),
    }));
    const names = ifaces.map((i) => i.ifname);
    const twice = names.find((x, i) => names.indexOf(x) !== i);
    if (twice !== undefined) throw new Error(`two interfaces are named ${twice}`);
    return { command: v.command, root: v.root, env: v.env ?? {}, interfaces: ifaces, routes: v.routes ?? [], 'wait-for': v['wait-for'] ?? [] };
  },
  fromShow: (s) => ({
    name: String(s.name),
    values: {
      command: s.command,
      root: s.root ?? undefined,
      env: s.env ?? {},
      interfaces: ((s.interfaces as Values[] | undefined) ?? []).map((i) => ({ ifname: i.ifname, lan: i.lan, addrs: i.addrs ?? [], mtu: i.mtu ?? undefined, mac: i.mac ?? undefined })),
      routes: s.routes ?? [],
    },
  }),
  add(e) {
    const v = e.values;
    const body: Values = { name: e.name, command: v.command, interfaces: v.interfaces };
    if (v.root !== undefined) body.root = v.root;
    if (Object.keys(v.env as Values).length) body.env = v.env;
    if ((v.routes as unknown[]).length) body.routes = v.routes;
    return [{ 'add-node': body }];
  },
  // Where it waits is the file's business, not the node's; its interfaces
  // have what the file says of them (what it leaves out: anything).
  same(path, cur, want) {
    if (path === 'wait-for') return true;
    if (path !== 'interfaces') return false;
    const c = cur as Iface[];
    const w = want as Iface[];
    return c.length === w.length && w.every((i, n) => ifaceIs(c[n], i));
  },
  needs: (e) => [...new Set([...(e.values.interfaces as Iface[]).map((i) => i.lan), ...(e.values['wait-for'] as string[])])],
  parts: (e) => ((e.values.interfaces as Iface[] | undefined) ?? []).map((i) => `${e.name}.${i.ifname}`),
  toFile: (e) => ({
    ...e.values,
    'wait-for': undefined,
    env: Object.keys(e.values.env as Values).length ? e.values.env : undefined,
    routes: (e.values.routes as unknown[]).length ? e.values.routes : undefined,
  }),
});
