/**
 * `containet apply --from conlink FILE`: conlink's network file (its `links`,
 * `bridges`, `tunnels` and `commands`) read into a topology file's form
 * (docs/topology.md#conlink). What maps:
 *
 * - a bridge (in `bridges` or named by a link or tunnel) is a lan; mode ovs an
 *   OVS lan;
 * - the veth links of one service or container are the interfaces of one node
 *   of that name (dev, ip, mac, mtu, routes "DST via ADDR"); its command is
 *   the `commands` entry of that service or container (a string runs under
 *   sh -c), else `sleep infinity`;
 * - a link's netem (delay, jitter, distribution, loss, rate, duplicate,
 *   reorder, corrupt, limit) shapes what the interface sends: the interface is
 *   put on a lan of its own (NODE-DEV) joined to the bridge by a link whose
 *   a2b direction carries the netem settings;
 * - a tunnel (geneve or vxlan: bridge, remote, vni) is a tunnel port on the
 *   bridge's lan.
 *
 * Everything else is named, line by line, as FILE:LINE: ignored: WHAT.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

import { TopologyError } from './validate.js';

/** A conlink file read into a topology file's form. */
export interface Converted {
  /** the topology document (as a file would give it) */
  doc: Record<string, unknown>;
  /** FILE:LINE: ignored: WHAT, one per thing not carried over (and
   *  FILE:LINE: note: WHAT for what was supplied) */
  ignored: string[];
}

/** The netem options that map onto a2b settings: the setting of each. */
const NETEM: Readonly<Record<string, string>> = { delay: 'delay', loss: 'loss', rate: 'rate', duplicate: 'duplicate', reorder: 'reorder', corrupt: 'corrupt', limit: 'limit' };

/** The items of a conlink "strings" value: one string or a list of them. */
function strings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

/** A2b direction settings from netem option strings @opts; @ignore gets
 *  what has no a2b equivalent. */
export function netemSettings(opts: string[], ignore: (what: string) => void): Record<string, string | number> {
  const words = opts.join(' ').trim().split(/\s+/).filter(Boolean);
  const out: Record<string, string | number> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    const isValue = (s: string | undefined) => s !== undefined && /^[\d.]/.test(s);
    if (!(w in NETEM) || !isValue(next)) {
      // An option we have no setting for, with its values.
      const rest = [w];
      while (isValue(words[i + 1])) rest.push(words[++i]!);
      ignore(`netem option "${rest.join(' ')}"`);
      continue;
    }
    out[NETEM[w]!] = w === 'limit' ? Number(next) : next!;
    i++;
    if (w === 'delay' && isValue(words[i + 1])) out.jitter = words[++i]!;
    if (w === 'delay' && isValue(words[i + 1])) ignore(`netem delay correlation "${words[++i]}"`);
    if (w === 'delay' && words[i + 1] === 'distribution') {
      const d = words[i + 2];
      i += 2;
      if (d === 'normal' || d === 'uniform') out.distribution = d;
      else ignore(`netem distribution "${d ?? ''}" (only normal and uniform)`);
    }
    if (w !== 'delay' && w !== 'limit' && w !== 'rate') while (isValue(words[i + 1])) ignore(`netem ${w} correlation "${words[++i]}"`);
  }
  return out;
}

/** The route "DST via ADDR" of ip route add args @r, or undefined. */
function route(r: string): { dst: string; via: string } | undefined {
  const m = /^\s*(\S+)\s+via\s+(\S+)\s*$/.exec(r);
  return m ? { dst: m[1]!, via: m[2]! } : undefined;
}

/**
 * Read conlink network file @file whose text is @text as lab @lab. Throws
 * TopologyError for what cannot be read at all (not YAML, a section that is
 * not a list, an entry without what it must have).
 */
export function fromConlink(text: string, file: string, lab: string): Converted {
  const lines = new LineCounter();
  const d = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  /** The line of node @n; its FILE:LINE:COL. */
  const line = (n: Node | null | undefined) => lines.linePos(n?.range?.[0] ?? 0).line;
  const place = (n: Node | null | undefined) => {
    const p = lines.linePos(n?.range?.[0] ?? 0);
    return `${file}:${p.line}:${p.col}`;
  };
  const errors = d.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? 1}:${e.linePos?.[0]?.col ?? 1}: YAML: ${e.message.split('\n')[0]}`);
  if (errors.length) throw new TopologyError(errors);
  const ignored: string[] = [];
  /** Say that @what, at node @n, is left out. */
  const ignore = (n: Node | null | undefined, what: string) => ignored.push(`${file}:${line(n)}: ignored: ${what}`);
  const top = d.contents as Node | null;
  if (!isMap(top)) throw new TopologyError([`${file}:1:1: a conlink network file is a mapping with links, bridges, tunnels and commands`]);

  /** The entries of top-level list @key, each a mapping, with its node. */
  const list = (key: string): { node: Node; v: Record<string, unknown> }[] => {
    const n = top.get(key, true) as Node | undefined;
    if (n === undefined) return [];
    if (!isSeq(n)) {
      errors.push(`${place(n)}: "${key}" must be a list`);
      return [];
    }
    return n.items.flatMap((it) => {
      if (!isMap(it)) {
        errors.push(`${place(it as Node)}: an entry of "${key}" must be a mapping`);
        return [];
      }
      return [{ node: it as Node, v: (it as Node).toJSON() as Record<string, unknown> }];
    });
  };
  /** The node of field @k of entry @n, for its line. */
  const at = (n: Node, k: string) => ((isMap(n) ? (n.get(k, true) as Node | undefined) : undefined) ?? n);
  for (const p of top.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!['links', 'bridges', 'tunnels', 'commands'].includes(k)) ignore(p.key as Node, `top-level "${k}"`);
  }

  const lans = new Map<string, Record<string, unknown>>();
  /** The lan of bridge @name (made on first mention). */
  const lan = (name: string) => {
    if (!lans.has(name)) lans.set(name, { name });
    return lans.get(name)!;
  };
  for (const { node, v } of list('bridges')) {
    if (typeof v.bridge !== 'string') {
      errors.push(`${place(node)}: a bridge needs "bridge" (its name)`);
      continue;
    }
    const l = lan(v.bridge);
    if (v.mode === 'ovs') l.ovs = true;
    else if (v.mode !== undefined && v.mode !== 'auto' && v.mode !== 'linux') ignore(at(node, 'mode'), `bridge ${v.bridge} mode "${String(v.mode)}" (a plain lan is made)`);
    for (const k of Object.keys(v)) if (k !== 'bridge' && k !== 'mode') ignore(at(node, k), `bridge ${v.bridge} "${k}"`);
  }

  const commands = new Map<string, string[]>();
  for (const { node, v } of list('commands')) {
    const who = (v.service ?? v.container) as string | undefined;
    if (typeof who !== 'string' || v.command === undefined) {
      errors.push(`${place(node)}: a command needs "command" and a "service" or "container"`);
      continue;
    }
    commands.set(who, Array.isArray(v.command) ? v.command.map(String) : ['sh', '-c', String(v.command)]);
  }

  const nodes = new Map<string, { name: string; interfaces: Record<string, unknown>[]; routes: { dst: string; via: string }[]; at: Node }>();
  const links: Record<string, unknown>[] = [];
  const used = new Set(['type', 'service', 'container', 'bridge', 'dev', 'ip', 'mac', 'mtu', 'route', 'netem']);
  for (const { node, v } of list('links')) {
    const who = (v.service ?? v.container) as string | undefined;
    const type = (v.type as string | undefined) ?? 'veth';
    if (type !== 'veth') {
      ignore(at(node, 'type'), `link of type ${type}${who ? ` of ${who}` : ''} (only veth links map: an interface on a lan)`);
      continue;
    }
    if (typeof who !== 'string' || typeof v.bridge !== 'string') {
      errors.push(`${place(node)}: a veth link needs a "service" or "container" and a "bridge"`);
      continue;
    }
    if (v.service !== undefined && v.container !== undefined) ignore(at(node, 'container'), `link's "container" ${String(v.container)} (its "service" ${String(v.service)} names the node)`);
    for (const k of Object.keys(v)) if (!used.has(k)) ignore(at(node, k), `link "${k}" of ${who}`);
    const n = nodes.get(who) ?? { name: who, interfaces: [], routes: [], at: node };
    nodes.set(who, n);
    const dev = (v.dev as string | undefined) ?? 'eth0';
    lan(v.bridge);
    const iface: Record<string, unknown> = { ifname: dev, lan: v.bridge };
    if (v.ip !== undefined) iface.addrs = [String(v.ip)];
    if (v.mac !== undefined) iface.mac = String(v.mac);
    if (v.mtu !== undefined) iface.mtu = v.mtu;
    for (const r of strings(v.route)) {
      const rt = route(r);
      if (rt) n.routes.push(rt);
      else ignore(at(node, 'route'), `route "${r}" of ${who} (only "DST via ADDR" maps)`);
    }
    if (v.netem !== undefined) {
      const a2b = netemSettings(strings(v.netem), (what) => ignore(at(node, 'netem'), `${what} of ${who} ${dev}`));
      if (Object.keys(a2b).length) {
        const own = `${who}-${dev}`;
        lan(own);
        iface.lan = own;
        links.push({ name: `${own}-link`, a: own, b: v.bridge, a2b });
      }
    }
    n.interfaces.push(iface);
  }

  const tunnels: Record<string, unknown>[] = [];
  for (const { node, v } of list('tunnels')) {
    if ((v.type !== 'geneve' && v.type !== 'vxlan') || typeof v.bridge !== 'string' || v.remote === undefined || v.vni === undefined) {
      errors.push(`${place(node)}: a tunnel needs "type" (geneve or vxlan), "bridge", "remote" and "vni"`);
      continue;
    }
    lan(v.bridge);
    tunnels.push({ name: `${v.type}-${v.bridge}-${String(v.vni)}`, type: v.type, lan: v.bridge, vni: v.vni, remotes: [String(v.remote)] });
    if (v.netem !== undefined) ignore(at(node, 'netem'), `tunnel ${v.bridge} netem (a tunnel port is not shaped; put a link before its lan)`);
    for (const k of Object.keys(v)) if (!['type', 'bridge', 'remote', 'vni', 'netem'].includes(k)) ignore(at(node, k), `tunnel "${k}"`);
  }
  if (errors.length) throw new TopologyError(errors);

  const doc: Record<string, unknown> = { name: lab, lans: [...lans.values()] };
  if (links.length) doc.links = links;
  if (tunnels.length) doc.tunnels = tunnels;
  if (nodes.size)
    doc.nodes = [...nodes.values()].map((n) => {
      const cmd = commands.get(n.name);
      if (!cmd) ignored.push(`${file}:${line(n.at)}: note: ${n.name} has no command in the file; its node runs "sleep infinity" (conlink joins containers it does not start)`);
      return { name: n.name, command: cmd ?? ['sleep', 'infinity'], interfaces: n.interfaces, ...(n.routes.length ? { routes: n.routes } : {}) };
    });
  for (const who of commands.keys()) if (!nodes.has(who)) ignored.push(`${file}: ignored: the command of ${who}, which has no veth link (no node)`);
  return { doc, ignored };
}
