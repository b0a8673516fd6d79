/**
 * The "vhost" kind: a vhost-user port, where a VM (QEMU) or a DPDK application
 * (virtio_user) joins a lan through shared-memory rings; containet listens at
 * the socket, or with "client" connects to it and reconnects. See docs/vhost.md.
 */
import { lstatSync, symlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';

import { Option, type Command } from 'commander';

import { ProtocolError, bool, checkName, onlyFields, str, thread, type Body } from '../daemon/fields.js';
import { threadIndex } from '../cli/args.js';
import { portName } from '../ovs/names.js';
import type { KindContext } from './kind.js';
import type { LanObject } from './lan.js';
import { addOvsPort } from './ovsport.js';
import { newPortChecks, portFields, portHooks, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner, savedThread } from './saved.js';
import { registerSection } from '../topology/section.js';

/** A vhost-user port. */
export interface VhostObject extends PortObject {
  kind: 'vhost';
  /** the socket path */
  socket: string;
  /** containet connects (else listens) */
  client: boolean;
}

/** add-vhost, validated. */
export interface AddVhostRequest {
  verb: 'add-vhost';
  name: string;
  socket: string;
  client: boolean;
  lan?: string;
  thread?: number;
}

declare module './kind.js' {
  interface KindRequests {
    'add-vhost': AddVhostRequest;
  }
}

/** Longest socket path (sun_path holds 108 bytes with the NUL). */
const MAX_PATH = 107;

/**
 * Port @req on OVS lan @lan: Open vSwitch's vhost-user port on the lan's
 * bridge (OVS-DPDK is the backend). Listening (dpdkvhostuser), OVS makes its
 * socket in its own directory, named as the port, and the requested path is
 * made a symbolic link to it; as a client (dpdkvhostuserclient) OVS connects
 * to the path and reconnects.
 */
function addOvsVhost(ctx: KindContext, req: AddVhostRequest, lan: LanObject, owner: { pid: number; uid: number }): VhostObject {
  if (req.thread !== undefined) throw new ProtocolError(`add-vhost: "thread" does not apply on OVS lan ${lan.name} (Open vSwitch's PMD threads poll its ports)`);
  if (!req.client) {
    let st;
    try {
      st = lstatSync(req.socket);
    } catch {
      st = undefined;
    }
    if (st && !st.isSymbolicLink()) throw new ProtocolError(`add-vhost: ${req.socket} exists (on an OVS lan, containet makes it a link to Open vSwitch's socket)`);
  }
  const settings = req.client ? ['type=dpdkvhostuserclient', `options:vhost-server-path=${req.socket}`] : ['type=dpdkvhostuser'];
  const fields = addOvsPort(ctx, lan, req.name, 'add-vhost', settings, owner);
  if (!req.client) {
    const target = ctx.ovs().vhostUserSocket(portName(req.name));
    try {
      try {
        unlinkSync(req.socket);
      } catch {
        /* none there */
      }
      symlinkSync(target, req.socket);
      ctx.ovs().trackFile(req.socket);
    } catch (e) {
      ctx.ovs().transact([['--if-exists', 'del-port', fields.ovs.bridge, fields.ovs.port]]);
      throw new ProtocolError(`add-vhost: cannot link ${req.socket} to ${target}: ${(e as Error).message}`);
    }
  }
  return { ...fields, kind: 'vhost', name: req.name, socket: req.socket, client: req.client };
}

const hooks = portHooks<VhostObject>((p) => ({ socket: p.socket, client: p.client }));

register<VhostObject>({
  name: 'vhost',
  noun: 'port',
  ...hooks,
  remove(ctx, p) {
    hooks.remove(ctx, p);
    // The link made to OVS's socket.
    if (p.ovs && !p.client) {
      ctx.ovs().untrackFile(p.socket);
      try {
        if (lstatSync(p.socket).isSymbolicLink()) unlinkSync(p.socket);
      } catch {
        /* gone already */
      }
    }
  },
  // Made again as it was: a server listens at its socket again (the frontend
  // reconnects), a client connects again.
  save: (p) => ({ lan: p.lan, socket: p.socket, client: p.client, thread: p.thread, owner: p.owner }),
  restore(ctx, name, rec) {
    const body: Body = { name, socket: field(rec, 'socket', 'string', true)!, client: field(rec, 'client', 'boolean', false) === true, lan: field(rec, 'lan', 'string', true)! };
    const t = savedThread(ctx, rec);
    if (t !== undefined) body.thread = t;
    runVerb(ctx, 'add-vhost', body, savedOwner(rec));
  },
  verbs: [
    {
      name: 'add-vhost',
      fds: 0,
      parse(b: Body): AddVhostRequest {
        const verb = 'add-vhost';
        onlyFields(b, verb, ['name', 'socket', 'client', 'lan', 'thread']);
        const socket = str(b, 'socket', verb, true)!;
        if (!socket.startsWith('/') || Buffer.byteLength(socket) > MAX_PATH)
          throw new ProtocolError(`add-vhost: "socket" must be an absolute path of at most ${MAX_PATH} bytes`);
        const r: AddVhostRequest = { verb, name: checkName(b.name, 'add-vhost: "name"'), socket, client: bool(b, 'client', verb) === true };
        const lan = str(b, 'lan', verb, false);
        if (lan !== undefined) r.lan = lan;
        const t = thread(b, verb);
        if (t !== undefined) r.thread = t;
        return r;
      },
      run(ctx, req: AddVhostRequest, call) {
        const lan = newPortChecks(ctx, req);
        const other = ctx.model.ofKind<VhostObject>('vhost').find((p) => p.socket === req.socket);
        if (other) throw new ProtocolError(`port ${other.name} already uses ${req.socket}`);
        if (lan.ovs) {
          const port = addOvsVhost(ctx, req, lan, call.client);
          ctx.model.add(port);
          ctx.log.info(`port ${req.name} (Open vSwitch ${port.type} ${port.ifname}, ${req.client ? 'client of' : 'socket'} ${req.socket}) joined OVS lan ${lan.name}`);
          return {};
        }
        const info = ctx.call((e) => e.addPort('vhost', [lan.id], { path: req.socket, client: req.client }, req.thread))[0]!;
        const port: VhostObject = { ...portFields(info, lan, call.client), kind: 'vhost', name: req.name, socket: req.socket, client: req.client };
        ctx.model.add(port);
        ctx.log.info(`port ${req.name} (vhost-user ${req.client ? 'client of' : 'server at'} ${req.socket}) joined ${lan.name}`);
        return {};
      },
    },
  ],
  cli: {
    add: {
      description: "add a vhost-user port: a VM (QEMU) or a DPDK application (virtio_user) on a lan (on an OVS lan, Open vSwitch's port)",
      verb: 'add-vhost',
      configure(cmd: Command) {
        cmd
          .requiredOption('--socket <path>', 'vhost-user socket (absolute path)')
          .option('--client', 'connect to a frontend listening at the socket (and reconnect); default: listen')
          .option('--lan <lan>', "lan to join (default: the daemon's default lan)")
          .addOption(new Option('--thread <n>', 'worker thread that polls it').argParser(threadIndex));
      },
      body(name, opts) {
        const b: Body = { name, socket: path.resolve(String(opts.socket)), client: opts.client === true };
        if (opts.lan !== undefined) b.lan = opts.lan;
        if (opts.thread !== undefined) b.thread = opts.thread;
        return b;
      },
    },
  },
});

registerSection({
  key: 'vhost',
  noun: 'vhost port',
  kinds: ['vhost'],
  stage: 1,
  doc: 'vhost-user ports (docs/vhost.md), where a VM (QEMU) or a DPDK application joins a lan',
  fields: {
    lan: { type: 'string', required: true, doc: 'the lan it joins' },
    socket: { type: 'string', required: true, pattern: /^\/.{0,106}$/, doc: 'the vhost-user socket: an absolute path of at most 107 bytes' },
    client: { type: 'boolean', default: false, doc: 'containet connects to the socket (and reconnects); else it listens there' },
  },
  canonical: (v) => v,
  fromShow: (s) => ({ name: String(s.name), values: { lan: s.lan, socket: s.socket, client: s.client } }),
  add: (e) => [{ 'add-vhost': { name: e.name, lan: e.values.lan, socket: e.values.socket, client: e.values.client } }],
  needs: (e) => [e.values.lan as string],
  toFile: (e) => e.values,
});
