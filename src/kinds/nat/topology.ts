/**
 * The nat kind in a topology file (docs/topology.md): the `nats:` section. A
 * nat's forwards change in place (set add-forward, del-forward); any other
 * change makes it again (its open connections are lost).
 */
import { registerSection, type Request, type Values } from '../../topology/section.js';
import { stringList } from '../../topology/spec.js';
import { NAT_DEFAULT_MTU, NAT_DEFAULT_NET, forwardSpec, natAddresses, parseForward, parseUpstream } from './settings.js';

/** Canonical forwards: each spec as forwardSpec writes it, sorted. */
function forwards(v: unknown): string[] {
  return ((v as string[] | undefined) ?? []).map((f) => forwardSpec(parseForward(f))).sort();
}

registerSection({
  key: 'nats',
  noun: 'nat',
  kinds: ['nat'],
  stage: 1,
  doc: "ways out to the host's network through its sockets (docs/nat.md): DHCP, DNS, TCP, UDP, ICMP echo",
  fields: {
    lan: { type: 'string', required: true, doc: 'the lan it serves' },
    net: { type: 'string', default: NAT_DEFAULT_NET, doc: 'guest network, IPv4 CIDR: gateway .2, DNS .3, DHCP leases from .15', check: (v) => natAddresses(String(v)) },
    forwards: stringList('host-to-guest forwards tcp|udp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT (changed in place)', (v) => parseForward(String(v))),
    dns: { type: 'string', doc: "the resolver DNS queries are relayed to, ADDR[:PORT] (default: the host's resolvers)", check: (v) => parseUpstream(String(v)) },
    mtu: { type: 'integer', min: 576, max: 65520, default: NAT_DEFAULT_MTU, doc: 'MTU of the lan side' },
    ipv6: { type: 'boolean', default: false, doc: 'also IPv6 (fd00::/64)' },
    'host-loopback': { type: 'boolean', default: true, doc: "the gateway address reaches the host's 127.0.0.1" },
  },
  canonical(v) {
    const a = natAddresses(String(v.net));
    const up = v.dns === undefined ? null : parseUpstream(String(v.dns));
    return { ...v, net: `${a.net}/${a.prefix}`, forwards: forwards(v.forwards), dns: up ? `${up.addr}:${up.port}` : null };
  },
  fromShow(s) {
    const n = s.nat as { net: string; mtu: number; hostLoopback: boolean; ipv6: boolean; dnsUpstream: string; forwards: string[] };
    return {
      name: String(s.name),
      values: { lan: s.lan, net: n.net, forwards: [...n.forwards].sort(), dns: n.dnsUpstream === 'host resolvers' ? null : n.dnsUpstream, mtu: n.mtu, ipv6: n.ipv6, 'host-loopback': n.hostLoopback },
    };
  },
  add(e) {
    const v = e.values;
    const body: Values = { name: e.name, lan: v.lan, net: v.net, forward: v.forwards, 'host-loopback': v['host-loopback'], mtu: v.mtu, ipv6: v.ipv6 };
    if (v.dns !== null && v.dns !== undefined) body['dns-upstream'] = v.dns;
    return [{ 'add-nat': body }];
  },
  change(cur, want, changed) {
    if (changed.some((p) => p !== 'forwards')) return undefined;
    const had = cur.values.forwards as string[];
    const wants = want.values.forwards as string[];
    const out: Request[] = had.filter((f) => !wants.includes(f)).map((f) => ({ set: { name: want.name, 'del-forward': f } }));
    return [...out, ...wants.filter((f) => !had.includes(f)).map((f) => ({ set: { name: want.name, 'add-forward': f } }))];
  },
  needs: (e) => [e.values.lan as string],
  toFile: (e) => ({ ...e.values, forwards: (e.values.forwards as string[]).length ? e.values.forwards : undefined, dns: e.values.dns ?? undefined }),
});
