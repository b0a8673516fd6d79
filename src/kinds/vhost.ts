/**
 * The "vhost" kind: a vhost-user port, where a VM (QEMU) or a DPDK application
 * (virtio_user) joins a lan through shared-memory rings; containet listens at
 * the socket, or with "client" connects to it and reconnects. See docs/vhost.md.
 */
import path from 'node:path';

import { Option, type Command } from 'commander';

import { ProtocolError, bool, checkName, onlyFields, str, thread, type Body } from '../daemon/fields.js';
import { threadIndex } from '../cli/args.js';
import { newPortChecks, portFields, portHooks, type PortObject } from './port.js';
import { register } from './registry.js';
import { field, runVerb, savedOwner, savedThread } from './saved.js';

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

register<VhostObject>({
  name: 'vhost',
  noun: 'port',
  ...portHooks((p) => ({ socket: p.socket, client: p.client })),
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
      description: 'add a vhost-user port: a VM (QEMU) or a DPDK application (virtio_user) on a lan',
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
