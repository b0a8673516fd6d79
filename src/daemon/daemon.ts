/**
 * The containet daemon: owns one dataplane engine, its lans and ports, and answers
 * the switch socket. The engine does all packet work on its own thread; this class
 * only turns requests into engine commands and engine events into model changes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Logger } from '../log.js';
import { native, packageRoot, type EngineEvent, type NativeEngine } from '../native.js';
import { ObjectModel, type A2bObject, type LanObject, type PortObject } from './model.js';
import { A2B_DEFAULTS, A2bError, applyChange, describe, nativeSettings, type A2bDir } from './a2b.js';
import { forwardSpec } from './nat.js';
import { MessageSplitter, ProtocolError, VERB_FDS, checkName, parseRequest, type Request } from './protocol.js';

/** How the daemon is set up. */
export interface DaemonOptions {
  /** path of the switch socket */
  socket: string;
  /** default MAC aging time of new lans, seconds */
  aging: number;
  /** default MAC table size of new lans */
  macTableSize: number;
  /** the lan created at start, where ports go unless a request names another */
  defaultLan: string;
  /** when set, every request must carry it as "authtoken" */
  authtoken?: string | undefined;
  /** packet buffers of each worker thread */
  poolSize?: number | undefined;
  /** worker threads of the engine (default 1) */
  threads?: number | undefined;
  /** adaptive polling: microseconds a worker keeps polling after traffic (0: off) */
  pollUs?: number | undefined;
  logger: Logger;
}

/** State of one control connection. */
interface Conn {
  splitter: MessageSplitter;
  pid: number;
  uid: number;
}

/** A reply object; {} means done. */
type Reply = Record<string, unknown>;

/** The package's version, for the "version" request. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export class Daemon {
  readonly model = new ObjectModel();
  private engine: NativeEngine | undefined;
  private readonly conns = new Map<number, Conn>();
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger;
  }

  /** Start the engine, make the default lan and listen on the socket. Throws
   *  with the reason when any of it fails (nothing is left behind). */
  start(): void {
    const n = native();
    this.engine = new n.Engine((ev) => this.onEvent(ev), { poolSize: this.opts.poolSize, threads: this.opts.threads, pollUs: this.opts.pollUs });
    try {
      // Claim the socket first: a refused path must be the only thing said.
      this.engine.listen(this.opts.socket);
      this.addLan(this.opts.defaultLan, this.opts.aging, this.opts.macTableSize);
    } catch (e) {
      this.engine.close();
      this.engine = undefined;
      throw e;
    }
    const threads = this.engine.threads();
    this.log.info(`containet listening on ${this.opts.socket} (default lan ${this.opts.defaultLan}, ${threads} thread${threads > 1 ? 's' : ''})`);
  }

  /** Close every port and connection and remove the socket file. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.conns.values()) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
    this.conns.clear();
    this.engine?.close();
    this.engine = undefined;
    this.log.info('containet stopped');
  }

  /** The engine, or an error once stopped. */
  private eng(): NativeEngine {
    if (!this.engine) throw new ProtocolError('daemon is stopping');
    return this.engine;
  }

  /** Dispatch one engine event. */
  private onEvent(ev: EngineEvent): void {
    switch (ev.type) {
      case 'ctl-open':
        this.conns.set(ev.conn, { splitter: new MessageSplitter(), pid: ev.pid, uid: ev.uid });
        this.log.debug(`client ${ev.conn} connected (pid ${ev.pid}, uid ${ev.uid})`);
        break;
      case 'ctl-data':
        this.onData(ev.conn, ev.data, ev.fds);
        break;
      case 'ctl-closed': {
        const c = this.conns.get(ev.conn);
        if (c) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
        this.conns.delete(ev.conn);
        this.log.debug(`client ${ev.conn} gone`);
        break;
      }
      case 'ctl-eof': {
        // Every request it sent has been answered (events come in order):
        // drop a trailing partial one and close once the answers are out.
        const c = this.conns.get(ev.conn);
        if (c) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
        this.engine?.ctlSend(ev.conn, '', true);
        break;
      }
      case 'port-down':
        this.onPortDown(ev.port, ev.reason);
        break;
      case 'log':
        this.log.warn(ev.message);
        break;
    }
  }

  /** A port broke in the engine: forget it. */
  private onPortDown(id: number, reason: string): void {
    const p = this.model.portById(id);
    try {
      this.engine?.delPort(id);
    } catch (e) {
      this.log.error(`removing broken port ${id}: ${(e as Error).message}`);
    }
    if (!p) return;
    this.model.remove(p.name);
    this.log.warn(`port ${p.name} removed from ${p.lan}: ${reason}`);
  }

  /** Bytes (and fds) from a client: answer every complete request in them. */
  private onData(connId: number, data: Buffer, fds: number[]): void {
    const conn = this.conns.get(connId);
    if (!conn) {
      for (const fd of fds) if (fd >= 0) native().closeFd(fd);
      return;
    }
    conn.splitter.push(data, fds);
    for (;;) {
      let frame;
      try {
        frame = conn.splitter.next();
      } catch (e) {
        // The stream is not JSON: answer once and hang up, since no later
        // message boundary can be found in it.
        for (const fd of conn.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
        this.reply(connId, { error: (e as Error).message }, true);
        this.log.warn(`client ${connId} (pid ${conn.pid}): ${(e as Error).message}; disconnected`);
        return;
      }
      if (!frame) return;
      this.reply(connId, this.handle(frame.text, frame.fds, conn), false);
    }
  }

  /** Send @r to a client. */
  private reply(connId: number, r: Reply, close: boolean): void {
    this.engine?.ctlSend(connId, JSON.stringify(r), close);
  }

  /** Answer one message; every fd it carried is either kept by a port or closed. */
  private handle(text: string, fds: number[], conn: Conn): Reply {
    const unused = new Set(fds);
    try {
      const req = parseRequest(text, this.opts.authtoken);
      const want = VERB_FDS[req.verb];
      if (fds.includes(-1) || fds.length > want)
        throw new ProtocolError(`${req.verb} takes ${want} file descriptor${want === 1 ? '' : 's'}, got more`);
      if (fds.length < want) throw new ProtocolError(`${req.verb} needs a file descriptor (SCM_RIGHTS), got none`);
      return this.execute(req, fds, unused, conn);
    } catch (e) {
      const msg = e instanceof ProtocolError ? e.message : `internal error: ${(e as Error).message}`;
      this.log.info(`request from pid ${conn.pid} refused: ${msg}`);
      return { error: msg };
    } finally {
      for (const fd of unused) if (fd >= 0) native().closeFd(fd);
    }
  }

  /** Carry out a validated request. @unused: fds still to be closed; remove
   *  the ones handed to the engine. */
  private execute(req: Request, fds: number[], unused: Set<number>, conn: Conn): Reply {
    switch (req.verb) {
      case 'add-etherfd':
        return this.addEtherFd(req, fds[0]!, unused, conn);
      case 'remove-etherfd': {
        const ports = this.model.ports().filter((p) => p.nodeid === req.nodeid && (!req.ifname || p.ifname === req.ifname));
        if (!ports.length)
          throw new ProtocolError(`no port of node "${req.nodeid}"${req.ifname ? ` with ifname ${req.ifname}` : ''}`);
        for (const p of ports) this.delPort(p, 'removed by its node');
        return {};
      }
      case 'add-lan':
        this.addLan(req.name, req.aging ?? this.opts.aging, req.macTableSize ?? this.opts.macTableSize);
        return {};
      case 'add-vhost':
        this.addVhost(req, conn);
        return {};
      case 'add-nat':
        this.addNat(req, conn);
        return {};
      case 'add-a2b':
        this.addA2b(req);
        return {};
      case 'set': {
        const o = this.model.get(req.name);
        if (o?.kind === 'a2b') {
          this.setA2b(o, req);
          return {};
        }
        if (req.a2b) {
          if (!o) throw new ProtocolError(`no object named "${req.name}"`);
          throw new ProtocolError(`"${req.name}" is not an a2b: rate, delay, loss and the like belong to a2bs`);
        }
        if (o?.kind === 'port' && o.type === 'nat') {
          this.setNat(o, req);
          return {};
        }
        if (req.addForward || req.delForward) throw new ProtocolError(`"${req.name}" is not a nat: forwards belong to nats`);
        const lan = this.lanNamed(req.name);
        if (req.aging !== undefined) {
          this.eng().setLanAging(lan.id, req.aging * 1000);
          lan.aging = req.aging;
        }
        this.log.info(`lan ${lan.name}: aging ${lan.aging}s`);
        return {};
      }
      case 'del':
        this.del(req.name, req.force);
        return {};
      case 'show':
        return { objects: this.show() };
      case 'stats':
        return this.stats(req.name);
      case 'version':
        return { version: packageVersion() };
    }
  }

  /** add-etherfd: make a port of @fd. */
  private addEtherFd(req: Extract<Request, { verb: 'add-etherfd' }>, fd: number, unused: Set<number>, conn: Conn): Reply {
    const lan = this.lanNamed(req.lan ?? this.opts.defaultLan);
    const name = req.name ?? `${req.nodeid}.${req.ifname}`;
    checkName(name, `port name "${name}" (from nodeid and ifname; pass "name" to choose one)`);
    if (this.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
    let info;
    try {
      if (req.thread !== undefined && req.thread >= this.eng().threads())
        throw new ProtocolError(`add-etherfd: "thread" ${req.thread} does not exist (the daemon runs ${this.eng().threads()})`);
      info = this.eng().addFdPort(fd, lan.id, req.thread);
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    unused.delete(fd);
    if (req.pid !== undefined) {
      try {
        this.eng().watchPid(info.id, req.pid);
      } catch (e) {
        this.eng().delPort(info.id);
        throw new ProtocolError((e as Error).message);
      }
    }
    const port: PortObject = {
      kind: 'port',
      name,
      id: info.id,
      lan: lan.name,
      type: info.kind,
      ifname: info.ifname || req.ifname,
      nodeid: req.nodeid,
      pid: req.pid,
      owner: { pid: conn.pid, uid: conn.uid },
      vnetHdr: info.vnetHdr,
      packetInfo: info.packetInfo,
      offloads: info.offloads,
      thread: info.thread,
      created: new Date(),
    };
    this.model.add(port);
    const how = [info.kind, info.vnetHdr ? 'vnet-hdr' : '', info.packetInfo ? 'packet-info' : '', info.offloads.length ? `offloads ${info.offloads.join(',')}` : ''].filter(Boolean).join(' ');
    this.log.info(`port ${name} (${how} ${port.ifname}) joined ${lan.name}, from pid ${conn.pid}`);
    return {};
  }

  /** Checks of a named port about to be added: its lan (returned), its name
   *  free, its thread there. */
  private newPortChecks(req: { verb: string; name: string; lan?: string; thread?: number }): LanObject {
    const lan = this.lanNamed(req.lan ?? this.opts.defaultLan);
    if (this.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
    if (req.thread !== undefined && req.thread >= this.eng().threads())
      throw new ProtocolError(`${req.verb}: "thread" ${req.thread} does not exist (the daemon runs ${this.eng().threads()})`);
    return lan;
  }

  /** add-vhost: a vhost-user port at a socket, server or client. */
  private addVhost(req: Extract<Request, { verb: 'add-vhost' }>, conn: Conn): void {
    const lan = this.newPortChecks(req);
    const other = this.model.ports().find((p) => p.socket === req.socket);
    if (other) throw new ProtocolError(`port ${other.name} already uses ${req.socket}`);
    let info;
    try {
      info = this.eng().addVhostPort(req.socket, lan.id, req.client, req.thread);
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    this.model.add({
      kind: 'port',
      name: req.name,
      id: info.id,
      lan: lan.name,
      type: 'vhost',
      ifname: info.ifname,
      nodeid: undefined,
      pid: undefined,
      owner: { pid: conn.pid, uid: conn.uid },
      vnetHdr: true,
      packetInfo: false,
      offloads: info.offloads,
      thread: info.thread,
      socket: req.socket,
      client: req.client,
      created: new Date(),
    });
    this.log.info(`port ${req.name} (vhost-user ${req.client ? 'client of' : 'server at'} ${req.socket}) joined ${lan.name}`);
  }

  /** add-nat: a NAT port on a lan, with its forwards. */
  private addNat(req: Extract<Request, { verb: 'add-nat' }>, conn: Conn): void {
    const lan = this.newPortChecks(req);
    const a = req.addresses;
    let info;
    try {
      info = this.eng().addNatPort(
        {
          ...a,
          mtu: req.mtu,
          ipv6: req.ipv6,
          noHostLoopback: !req.hostLoopback,
          maxSockets: req.maxConnections,
          dnsUpstream: req.dnsUpstream?.addr,
          dnsUpstreamPort: req.dnsUpstream?.port,
        },
        lan.id,
        req.thread,
      );
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    const forwards: string[] = [];
    try {
      for (const f of req.forwards) {
        this.eng().natForward(info.id, true, f);
        forwards.push(forwardSpec(f));
      }
    } catch (e) {
      this.eng().delPort(info.id);
      throw new ProtocolError((e as Error).message);
    }
    this.model.add({
      kind: 'port',
      name: req.name,
      id: info.id,
      lan: lan.name,
      type: 'nat',
      ifname: '',
      nodeid: undefined,
      pid: undefined,
      owner: { pid: conn.pid, uid: conn.uid },
      vnetHdr: false,
      packetInfo: false,
      offloads: info.offloads,
      thread: info.thread,
      nat: {
        net: `${a.net}/${a.prefix}`,
        gateway: a.gateway,
        dns: a.dns,
        dhcpStart: a.dhcpStart,
        mtu: req.mtu,
        hostLoopback: req.hostLoopback,
        ipv6: req.ipv6,
        dnsUpstream: req.dnsUpstream ? `${req.dnsUpstream.addr}:${req.dnsUpstream.port}` : 'host resolvers',
        forwards,
      },
      created: new Date(),
    });
    this.log.info(`nat ${req.name} on ${lan.name}: network ${a.net}/${a.prefix}, gateway ${a.gateway}, dns ${a.dns}, ${forwards.length} forwards`);
  }

  /** add-a2b: a link emulator between two lans, passing everything as it comes until set. */
  private addA2b(req: Extract<Request, { verb: 'add-a2b' }>): void {
    checkName(req.name, 'a2b name');
    if (this.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
    const a = this.lanNamed(req.a);
    const b = this.lanNamed(req.b);
    if (a === b) throw new ProtocolError('an a2b joins two different lans');
    let ids;
    try {
      ids = this.eng().addA2b(a.id, b.id, req.thread);
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    this.model.add({
      kind: 'a2b',
      name: req.name,
      a: a.name,
      b: b.name,
      portA: ids.a,
      portB: ids.b,
      settings: { a2b: { ...A2B_DEFAULTS }, b2a: { ...A2B_DEFAULTS } },
      created: new Date(),
    });
    this.log.info(`a2b ${req.name} joins ${a.name} and ${b.name}`);
  }

  /** set on an a2b: change the settings of one direction or both. */
  private setA2b(o: A2bObject, req: Extract<Request, { verb: 'set' }>): void {
    if (req.aging !== undefined || req.addForward || req.delForward)
      throw new ProtocolError(`"${o.name}" is an a2b: aging belongs to lans, forwards to nats`);
    if (!req.a2b) throw new ProtocolError(`set ${o.name}: nothing to set (e.g. --delay 20ms; see containet set --help)`);
    const next: Partial<Record<A2bDir, ReturnType<typeof applyChange>>> = {};
    try {
      for (const d of req.a2b.dirs) next[d] = applyChange(o.settings[d], req.a2b.change);
    } catch (e) {
      if (e instanceof A2bError) throw new ProtocolError(`set ${o.name}: ${e.message}`);
      throw e;
    }
    for (const d of req.a2b.dirs) {
      try {
        this.eng().a2bSet(o.portA, d === 'a2b' ? 1 : 2, nativeSettings(next[d]!));
      } catch (e) {
        throw new ProtocolError((e as Error).message);
      }
      o.settings[d] = next[d]!;
    }
    this.log.info(`a2b ${o.name}: a2b ${describe(o.settings.a2b)}; b2a ${describe(o.settings.b2a)}`);
  }

  /** set on a nat: add or remove a port forward at run time. */
  private setNat(p: PortObject, req: Extract<Request, { verb: 'set' }>): void {
    if (req.aging !== undefined) throw new ProtocolError(`"${p.name}" is a nat: aging belongs to lans`);
    const nat = p.nat!;
    try {
      if (req.delForward) {
        this.eng().natForward(p.id, false, req.delForward);
        nat.forwards = nat.forwards.filter((s) => s !== forwardSpec(req.delForward!));
      }
      if (req.addForward) {
        this.eng().natForward(p.id, true, req.addForward);
        nat.forwards.push(forwardSpec(req.addForward));
      }
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    this.log.info(`nat ${p.name}: forwards ${nat.forwards.join(' ') || 'none'}`);
  }

  /** Make lan @name. */
  private addLan(name: string, aging: number, macTableSize: number): LanObject {
    checkName(name, 'lan name');
    if (this.model.has(name)) throw new ProtocolError(`an object named "${name}" already exists`);
    let id;
    try {
      id = this.eng().addLan({ macTableSize, agingMs: aging * 1000 });
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    const lan: LanObject = { kind: 'lan', name, id, aging, macTableSize, created: new Date() };
    this.model.add(lan);
    this.log.info(`lan ${name} added (aging ${aging}s, ${macTableSize} MAC entries)`);
    return lan;
  }

  /** The lan named @name, or a ProtocolError. */
  private lanNamed(name: string): LanObject {
    const o = this.model.get(name);
    if (!o) throw new ProtocolError(`no lan named "${name}" (add it with: containet add lan ${name})`);
    if (o.kind !== 'lan') throw new ProtocolError(`"${name}" is a ${o.kind}, not a lan`);
    return o;
  }

  /** Remove port @p. */
  private delPort(p: PortObject, why: string): void {
    this.eng().delPort(p.id);
    this.model.remove(p.name);
    this.log.info(`port ${p.name} left ${p.lan}: ${why}`);
  }

  /** Remove a2b @l (both its sides; frames still queued are dropped). */
  private delA2b(l: A2bObject, why: string): void {
    this.eng().delPort(l.portA);
    this.eng().delPort(l.portB);
    this.model.remove(l.name);
    this.log.info(`a2b ${l.name} between ${l.a} and ${l.b} removed: ${why}`);
  }

  /** Counters of a2b @l by direction (its sides' counters: side A counts a2b, side B b2a). */
  private a2bCounters(l: A2bObject): Record<A2bDir, Record<string, number>> {
    const names: Record<string, string> = {
      passed: 'passed', passed_bytes: 'passedBytes', drop_loss: 'dropLoss', drop_limit: 'dropLimit', drop_nobuf: 'dropNoBuffer',
      queued: 'queued', queued_bytes: 'queuedBytes', duplicated: 'duplicated', reordered: 'reordered', corrupted: 'corrupted',
    };
    const read = (id: number) => {
      const c = this.eng().portStats(id).counters;
      return Object.fromEntries(Object.entries(names).map(([k, v]) => [v, c[k] ?? 0]));
    };
    return { a2b: read(l.portA), b2a: read(l.portB) };
  }

  /** del: remove object @name (a lan with ports only with @force). */
  private del(name: string, force: boolean): void {
    const o = this.model.get(name);
    if (!o) throw new ProtocolError(`no object named "${name}"`);
    if (o.kind === 'port') {
      this.delPort(o, 'deleted');
      return;
    }
    if (o.kind === 'a2b') {
      this.delA2b(o, 'deleted');
      return;
    }
    const ports = this.model.portsOf(name);
    const a2bs = this.model.a2bs().filter((l) => l.a === name || l.b === name);
    const users = [...ports.map((p) => p.name), ...a2bs.map((l) => `a2b ${l.name}`)];
    if (users.length && !force)
      throw new ProtocolError(
        `lan ${name} still has ${users.length} port${users.length > 1 ? 's' : ''} (${users.join(', ')}); delete them first or use --force`,
      );
    for (const p of ports) this.delPort(p, `lan ${name} deleted`);
    for (const l of a2bs) this.delA2b(l, `lan ${name} deleted`);
    this.eng().delLan(o.id);
    this.model.remove(name);
    this.log.info(`lan ${name} deleted`);
  }

  /** Every object, for show. */
  private show(): Record<string, unknown>[] {
    const lans = this.model.lans().map((l) => {
      const st = this.eng().lanStats(l.id);
      return { name: l.name, kind: 'lan', ports: st.ports, macs: st.macs, aging: l.aging, macTableSize: st.macCapacity };
    });
    const ports = this.model.ports().map((p) => {
      // Offloads and state can change (a vhost-user frontend negotiates them).
      const live = this.eng().portStats(p.id);
      return {
        name: p.name,
        kind: 'port',
        type: p.type,
        lan: p.lan,
        ifname: p.ifname,
        nodeid: p.nodeid ?? null,
        pid: p.pid ?? null,
        owner: p.owner,
        vnetHdr: p.vnetHdr,
        packetInfo: p.packetInfo,
        offloads: live.offloads,
        thread: p.thread,
        ...(p.socket !== undefined ? { socket: p.socket, client: p.client ?? false } : {}),
        ...(p.nat !== undefined ? { nat: p.nat } : {}),
        state: live.state,
        created: p.created.toISOString(),
      };
    });
    const a2bs = this.model.a2bs().map((l) => ({
      name: l.name,
      kind: 'a2b',
      a2b: { a: l.a, b: l.b, a2b: l.settings.a2b, b2a: l.settings.b2a },
      created: l.created.toISOString(),
    }));
    return [...lans, ...ports, ...a2bs];
  }

  /** Counters of every object, or of the one named @name. */
  private stats(name?: string): Reply {
    if (name !== undefined && !this.model.has(name)) throw new ProtocolError(`no object named "${name}"`);
    const lans = this.model
      .lans()
      .filter((l) => name === undefined || l.name === name)
      .map((l) => ({ name: l.name, ...this.eng().lanStats(l.id) }));
    const ports = this.model
      .ports()
      .filter((p) => name === undefined || p.name === name)
      .map((p) => {
        const st = this.eng().portStats(p.id);
        return {
          name: p.name,
          lan: p.lan,
          type: p.type,
          rxPackets: st.rxPackets,
          rxBytes: st.rxBytes,
          txPackets: st.txPackets,
          txBytes: st.txBytes,
          drops: st.drops,
          ...(Object.keys(st.counters).length ? { counters: st.counters } : {}),
        };
      });
    const a2bs = this.model
      .a2bs()
      .filter((l) => name === undefined || l.name === name)
      .map((l) => ({ name: l.name, a: l.a, b: l.b, ...this.a2bCounters(l) }));
    const one = name !== undefined && a2bs.length === 1 ? { a2b: { a2b: a2bs[0]!.a2b, b2a: a2bs[0]!.b2a } } : {};
    return { lans, ports, a2bs, ...one };
  }
}
