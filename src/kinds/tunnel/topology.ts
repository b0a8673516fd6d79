/**
 * The tunnel kinds in a topology file (docs/topology.md): the `tunnels:`
 * section, one entry per vxlan, geneve or c2c port (its "type"). A change of
 * a tunnel makes it again.
 */
import { registerSection, type Values } from '../../topology/section.js';
import { stringList } from '../../topology/spec.js';
import { DEFAULT_DSTPORT, MTU_MAX, MTU_MIN, VNI_MAX, parsePortRange, parseRemotes, underlayAddr, type TunnelKind } from './settings.js';

/** "LO-HI" of a source port range given as "LO-HI" or [LO, HI]; null when none. */
function range(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const [lo, hi] = parsePortRange(v, 'tunnel');
  return `${lo}-${hi}`;
}

/** The fields of an add request that a file and a show entry name alike. */
const SAME = ['lan', 'vni', 'remotes', 'local', 'dstport', 'mtu', 'ttl', 'tos', 'learn', 'udp-csum'] as const;

registerSection({
  key: 'tunnels',
  noun: 'tunnel',
  kinds: ['vxlan', 'geneve', 'c2c'],
  stage: 1,
  doc: 'a lan stretched over UDP to other hosts (docs/tunnel.md): vxlan, geneve, or c2c (a vxlan whose VNI comes from its lan\'s name)',
  fields: {
    type: { type: 'string', enum: ['vxlan', 'geneve', 'c2c'], required: true, doc: 'the encapsulation' },
    lan: { type: 'string', required: true, doc: 'the lan it stretches' },
    vni: { type: 'integer', min: 0, max: VNI_MAX, doc: 'the VNI (vxlan and geneve: required; c2c: derived from the lan\'s name)' },
    remotes: stringList('underlay addresses of the far ends, all of one family', (v) => underlayAddr(v, 'remote', 'tunnel')),
    local: { type: 'string', doc: "the daemon's address to send from and receive on (default: any)", check: (v) => underlayAddr(v, 'local', 'tunnel') },
    dstport: { type: 'integer', min: 1, max: 65535, doc: 'UDP port of both ends (default: vxlan and c2c 4789, geneve 6081)' },
    'srcport-range': { type: 'string', doc: "UDP source ports LO-HI (default: the kernel's ephemeral range)", check: (v) => parsePortRange(v, 'tunnel') },
    mtu: { type: 'integer', min: MTU_MIN, max: MTU_MAX, doc: "inner MTU (default: the underlay route's MTU minus the headers)" },
    ttl: { type: 'integer', min: 0, max: 255, doc: 'TTL or hop limit of the outer packets (0: the system default)' },
    tos: { type: 'integer', min: 0, max: 255, doc: 'TOS or traffic class of the outer packets' },
    learn: { type: 'boolean', default: false, doc: 'take datagrams from addresses that are not remotes, and add them' },
    'udp-csum': { type: 'boolean', default: false, doc: 'send UDP checksums over IPv4 too' },
  },
  canonical(v) {
    const type = v.type as TunnelKind;
    if (type === 'c2c' && v.vni !== undefined) throw new Error('a c2c takes no "vni": it is derived from its lan\'s name');
    if (type !== 'c2c' && v.vni === undefined) throw new Error(`a ${type} needs a "vni"`);
    return {
      ...v,
      remotes: parseRemotes(v.remotes ?? [], 'tunnel').remotes,
      local: v.local === undefined ? undefined : underlayAddr(v.local, 'local', 'tunnel').addr,
      dstport: v.dstport ?? DEFAULT_DSTPORT[type],
      'srcport-range': range(v['srcport-range']) ?? undefined,
    };
  },
  fromShow(s) {
    const values: Values = { type: s.objectKind, 'srcport-range': range(s.srcportRange) ?? undefined, 'udp-csum': s.udpCsum };
    for (const k of SAME) if (k !== 'udp-csum') values[k] = s[k] ?? undefined;
    return { name: String(s.name), values };
  },
  add(e) {
    const v = e.values;
    const body: Values = { name: e.name };
    for (const k of SAME) if (v[k] !== undefined && !(k === 'vni' && v.type === 'c2c')) body[k] = v[k];
    if (v['srcport-range'] !== undefined) body['srcport-range'] = v['srcport-range'];
    return [{ [`add-${String(v.type)}`]: body }];
  },
  needs: (e) => [e.values.lan as string],
  toFile: (e) => ({ ...e.values, vni: e.values.type === 'c2c' ? undefined : e.values.vni, remotes: (e.values.remotes as string[]).length ? e.values.remotes : undefined }),
});
