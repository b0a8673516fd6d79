/**
 * The "dpdk" kind: a device DPDK drives, as a port of an OVS lan: a PCI
 * address or a DPDK vdev (`net_tap0,iface=x`, `net_af_packet0,iface=x`), an
 * Open vSwitch `type=dpdk` port with `options:dpdk-devargs` on the lan's
 * bridge. Containet's own dataplane drives no DPDK device; only OVS lans take
 * these. See docs/ovs.md.
 */
import { type Command } from 'commander';

import { ProtocolError, checkName, onlyFields, str, type Body } from '../daemon/fields.js';
import { addOvsPort } from './ovsport.js';
import { newPortChecks, portHooks, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner } from './saved.js';

/** A DPDK device on an OVS lan. */
export interface DpdkObject extends PortObject {
  kind: 'dpdk';
  /** its DPDK device arguments */
  devargs: string;
}

/** add-dpdk, validated. */
export interface AddDpdkRequest {
  verb: 'add-dpdk';
  name: string;
  devargs: string;
  lan?: string;
}

declare module './kind.js' {
  interface KindRequests {
    'add-dpdk': AddDpdkRequest;
  }
}

/** Longest devargs taken (DPDK's own limit on a devargs string is larger; this
 *  bounds the OVS database value). */
const MAX_DEVARGS = 1024;

register<DpdkObject>({
  name: 'dpdk',
  noun: 'port',
  ...portHooks((p) => ({ devargs: p.devargs })),
  save: (p) => ({ lan: p.lan, devargs: p.devargs, owner: p.owner }),
  restore(ctx, name, rec) {
    runVerb(ctx, 'add-dpdk', { name, lan: field(rec, 'lan', 'string', true)!, devargs: field(rec, 'devargs', 'string', true)! }, savedOwner(rec));
  },
  verbs: [
    {
      name: 'add-dpdk',
      fds: 0,
      parse(b: Body): AddDpdkRequest {
        const verb = 'add-dpdk';
        onlyFields(b, verb, ['name', 'devargs', 'lan']);
        const devargs = str(b, 'devargs', verb, true)!;
        if (devargs.length > MAX_DEVARGS || /[\s"\\]/.test(devargs))
          throw new ProtocolError(`add-dpdk: "devargs" must be at most ${MAX_DEVARGS} characters without spaces, quotes or backslashes`);
        const r: AddDpdkRequest = { verb, name: checkName(b.name, 'add-dpdk: "name"'), devargs };
        const lan = str(b, 'lan', verb, false);
        if (lan !== undefined) r.lan = lan;
        return r;
      },
      run(ctx, req: AddDpdkRequest, call) {
        const lan = newPortChecks(ctx, req);
        const fields = addOvsPort(ctx, lan, req.name, 'add-dpdk', ['type=dpdk', `options:dpdk-devargs=${req.devargs}`], call.client);
        const port: DpdkObject = { ...fields, kind: 'dpdk', name: req.name, devargs: req.devargs };
        ctx.model.add(port);
        ctx.log.info(`port ${req.name} (DPDK ${req.devargs}, Open vSwitch ${port.ifname}) joined OVS lan ${lan.name}`);
        return {};
      },
    },
  ],
  cli: {
    add: {
      description: 'add a DPDK device (a PCI address or a vdev such as net_tap0,iface=x) to an OVS lan, as an Open vSwitch dpdk port',
      verb: 'add-dpdk',
      configure(cmd: Command) {
        cmd
          .requiredOption('--devargs <args>', 'DPDK device arguments: 0000:01:00.0, net_tap0,iface=x, net_af_packet0,iface=x ...')
          .option('--lan <lan>', "OVS lan to join (default: the daemon's default lan)");
      },
      body(name, opts) {
        const b: Body = { name, devargs: String(opts.devargs) };
        if (opts.lan !== undefined) b.lan = opts.lan;
        return b;
      },
    },
  },
});
