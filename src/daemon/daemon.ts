/**
 * The containet daemon: owns one dataplane engine, its lans and ports, and answers
 * the switch socket. The engine does all packet work on its own thread; this class
 * only turns requests into engine commands and engine events into model changes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Logger } from '../log.js';
import { OvsSwitch } from '../ovs/switch.js';
import { native, packageRoot, type EngineEvent, type NativeEngine } from '../native.js';
import { kindOf, kinds, sections, setKeyOwner, verbNamed } from '../kinds/index.js';
import type { Call, KindContext, Reply } from '../kinds/kind.js';
import { ProtocolError, article } from './fields.js';
import { applyLinkState, checkLinkState, showLinkState } from './linkstate.js';
import { ObjectModel, type ModelObject } from './model.js';
import { MessageSplitter, VERB_FDS, VERB_MAX_FDS, parseRequest, type Request, type SetRequest } from './protocol.js';
import { StateError, StateFile, type StateEntry } from './state.js';

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
  /** workers never sleep: each keeps a CPU busy polling, idle or not (docs/dataplane.md) */
  busyPoll?: boolean | undefined;
  /** the state file: objects are kept there on every change and made again at
   *  start (docs/state.md); none: nothing outlives the daemon */
  state?: string | undefined;
  /** run a private Open vSwitch with DPDK, its files in this directory (docs/ovs.md) */
  ovsRundir?: string | undefined;
  /** use the running Open vSwitch whose database is here, unix:PATH */
  ovsDb?: string | undefined;
  /** the DPDK ovs-vswitchd a private OVS runs (default: openvswitch-switch-dpdk's) */
  ovsVswitchd?: string | undefined;
  logger: Logger;
}

/** State of one control connection. */
interface Conn {
  splitter: MessageSplitter;
  pid: number;
  uid: number;
  /** called once when it goes (Call.onClose) */
  closers: (() => void)[];
}

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
  /** Open vSwitch, when the daemon was given one (--ovs-rundir, --ovs-db). */
  private ovs: OvsSwitch | undefined;
  private readonly conns = new Map<number, Conn>();
  private readonly log: Logger;
  private stopped = false;
  /** What the kinds' handlers get: the model, the engine, the log, the defaults. */
  private readonly ctx: KindContext;
  /** Where objects are kept across restarts (--state), if anywhere. */
  private readonly state: StateFile | undefined;
  /**
   * With a state file: what is to be sent to clients once the changes before
   * it are in the file (in order; '' with close is a hang-up). One write
   * covers every request of a loop turn (group commit), so a burst of a
   * thousand requests is not a thousand rewrites of the file.
   */
  private outbox: { conn: number; text: string; close: boolean }[] = [];
  private flushQueued = false;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger;
    this.ctx = {
      model: this.model,
      log: this.log,
      defaults: { lan: opts.defaultLan, aging: opts.aging, macTableSize: opts.macTableSize },
      persistent: opts.state !== undefined,
      socket: opts.socket,
      authtoken: opts.authtoken,
      changed: () => this.queueFlush(),
      engine: () => this.eng(),
      call: (f) => {
        const e = this.eng();
        try {
          return f(e);
        } catch (err) {
          throw err instanceof ProtocolError ? err : new ProtocolError((err as Error).message);
        }
      },
      remove: (o, why) => this.remove(o, why),
      ovs: () => {
        if (!this.ovs)
          throw new ProtocolError('this containet has no Open vSwitch: start the daemon with --ovs-rundir DIR (a private OVS-DPDK of its own) or --ovs-db unix:PATH (a running OVS)');
        return this.ovs;
      },
    };
    this.state = opts.state === undefined ? undefined : new StateFile(opts.state);
  }

  /** Read the state file (if any), start the engine, make the default lan,
   *  listen on the socket and make the saved objects again. Throws with the
   *  reason when any of it fails (nothing is left behind; a state file that
   *  cannot be used is refused before anything starts, and left as it is). */
  start(): void {
    const saved = this.loadState();
    const n = native();
    this.engine = new n.Engine((ev) => this.onEvent(ev), { poolSize: this.opts.poolSize, threads: this.opts.threads, pollUs: this.opts.pollUs, busyPoll: this.opts.busyPoll });
    try {
      // Claim the socket first: a refused path must be the only thing said.
      this.engine.listen(this.opts.socket);
      if (this.opts.ovsRundir !== undefined || this.opts.ovsDb !== undefined)
        this.ovs = OvsSwitch.open({ rundir: this.opts.ovsRundir, db: this.opts.ovsDb, vswitchd: this.opts.ovsVswitchd, owner: this.opts.socket, log: this.log });
      // The default lan, made as a client's add-lan would make it (unless the
      // state has it, with its own settings, to be made in its place).
      if (!saved.some((e) => e.name === this.opts.defaultLan)) this.addDefaultLan();
    } catch (e) {
      this.ovs?.close();
      this.ovs = undefined;
      this.engine.close();
      this.engine = undefined;
      throw e;
    }
    const threads = this.engine.threads();
    this.log.info(`containet listening on ${this.opts.socket} (default lan ${this.opts.defaultLan}, ${threads} thread${threads > 1 ? 's' : ''})`);
    if (this.state) {
      this.restore(saved);
      this.saveState();
    }
  }

  /** Make the default lan as a client's add-lan would. */
  private addDefaultLan(): void {
    const addLan = verbNamed('add-lan')!;
    addLan.run(this.ctx, addLan.parse({ name: this.opts.defaultLan }), { client: { pid: process.pid, uid: process.getuid?.() ?? 0 }, fds: [], unused: new Set() });
  }

  /** The objects of the state file (none without --state or without a file);
   *  a StateError when the file cannot be used or names a kind this daemon
   *  does not have. */
  private loadState(): StateEntry[] {
    if (!this.state) return [];
    const saved = this.state.load();
    saved.forEach((e, i) => {
      if (!kinds().some((k) => k.name === e.kind && k.restore))
        throw new StateError(`state file ${this.state!.file}: objects[${i}] ("${e.name}") is of kind "${e.kind}", which this containet cannot restore; refusing to start (the file is left as it is)`);
    });
    return saved;
  }

  /** Make the saved objects again, in the order they were made; one that
   *  cannot be is logged with the reason and dropped. */
  private restore(saved: StateEntry[]): void {
    let made = 0;
    for (const e of saved) {
      const k = kinds().find((x) => x.name === e.kind)!;
      try {
        if (this.model.has(e.name)) throw new Error(`an object named "${e.name}" already exists`);
        k.restore!(this.ctx, e.name, e.record);
        const o = this.model.get(e.name);
        const created = new Date(e.created);
        if (o && !Number.isNaN(created.getTime())) o.created = created;
        if (o && e.lab !== undefined) o.lab = e.lab;
        made += 1;
        if (o && e.admin === 'down') this.restoreDown(o);
      } catch (err) {
        this.log.warn(`${k.noun} ${e.name} not restored: ${(err as Error).message}`);
        // The daemon always has its default lan: with the daemon's settings, then.
        if (e.name === this.opts.defaultLan && !this.model.has(e.name)) this.addDefaultLan();
      }
    }
    this.log.info(`restored ${made} of ${saved.length} object${saved.length === 1 ? '' : 's'} from ${this.state!.file}`);
  }

  /** Take restored object @o down again, as it was saved; a failure is
   *  logged (it stays up). */
  private restoreDown(o: ModelObject): void {
    try {
      const k = kindOf(o);
      checkLinkState(o, k);
      applyLinkState(this.ctx, o, k, 'down');
    } catch (err) {
      this.log.warn(`${kindOf(o).noun} ${o.name} restored up, not down as saved: ${(err as Error).message}`);
    }
  }

  /** Write the objects to the state file (with --state) if they changed; a
   *  failure is logged (the previous file stays whole). */
  private saveState(): void {
    if (!this.state || this.stopped) return;
    const objects: StateEntry[] = [];
    for (const o of this.model.all()) {
      const record = kindOf(o).save?.(o);
      if (record)
        objects.push({
          kind: o.kind,
          name: o.name,
          created: o.created.toISOString(),
          record,
          ...(o.adminDown ? { admin: 'down' as const } : {}),
          ...(o.lab !== undefined ? { lab: o.lab } : {}),
        });
    }
    try {
      this.state.write(objects);
    } catch (e) {
      this.log.error(`writing state file ${this.state.file}: ${(e as Error).message}`);
    }
  }

  /** Close every port and connection and remove the socket file. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    if (this.flushQueued) this.flush();
    this.stopped = true;
    for (const c of this.conns.values()) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
    this.conns.clear();
    for (const o of this.model.all()) {
      try {
        kindOf(o).shutdown?.(this.ctx, o);
      } catch (e) {
        this.log.error(`stopping ${kindOf(o).noun} ${o.name}: ${(e as Error).message}`);
      }
    }
    // What containet made in OVS goes first (OVS's ends of the joins let go
    // of containet's vhost-user ports), then a private OVS stops.
    this.ovs?.close();
    this.ovs = undefined;
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
        this.conns.set(ev.conn, { splitter: new MessageSplitter(), pid: ev.pid, uid: ev.uid, closers: [] });
        this.log.debug(`client ${ev.conn} connected (pid ${ev.pid}, uid ${ev.uid})`);
        break;
      case 'ctl-data':
        this.onData(ev.conn, ev.data, ev.fds);
        break;
      case 'ctl-closed': {
        const c = this.conns.get(ev.conn);
        if (c) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
        if (c) this.runClosers(c);
        this.conns.delete(ev.conn);
        this.log.debug(`client ${ev.conn} gone`);
        break;
      }
      case 'ctl-eof': {
        // Every request it sent has been answered (events come in order):
        // drop a trailing partial one and close once the answers are out.
        const c = this.conns.get(ev.conn);
        if (c) for (const fd of c.splitter.drainFds()) if (fd >= 0) native().closeFd(fd);
        if (c) this.runClosers(c);
        this.send(ev.conn, '', true);
        break;
      }
      case 'port-down':
        this.onPortDown(ev.port, ev.reason);
        this.queueFlush();
        break;
      case 'log':
        this.log.warn(ev.message);
        break;
    }
  }

  /** Call what waits for @c to go, once. */
  private runClosers(c: Conn): void {
    const fns = c.closers;
    c.closers = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (e) {
        this.log.error(`after a client left: ${(e as Error).message}`);
      }
    }
  }

  /** A port broke in the engine: the object it belongs to goes (all its ports). */
  private onPortDown(id: number, reason: string): void {
    const o = this.model.all().find((x) => kindOf(x).ports(x).includes(id));
    if (!o) {
      this.delPortQuietly(id);
      return;
    }
    this.remove(o, reason, 'warn');
  }

  /** Delete engine port @id, logging (not throwing) a failure. */
  private delPortQuietly(id: number): void {
    try {
      this.engine?.delPort(id);
    } catch (e) {
      this.log.error(`removing broken port ${id}: ${(e as Error).message}`);
    }
  }

  /** Take object @o away: its kind releases what it holds in the engine, the
   *  model forgets it, and the log says so with @why. */
  private remove(o: ModelObject, why: string, level: 'info' | 'warn' = 'info'): void {
    const k = kindOf(o);
    // What cannot outlive @o goes first (a mirror of its port), while @o is
    // still there for it to let go of.
    for (const x of this.model.all()) {
      const need = x === o ? undefined : kindOf(x).needs?.(x).find((n) => n.name === o.name);
      if (!need || this.model.get(x.name) !== x) continue;
      try {
        this.remove(x, `its ${need.as} ${o.name} went (${why})`, level);
      } catch (e) {
        // Forgotten all the same (remove's finally): @o goes on going.
        this.log.error(`removing ${kindOf(x).noun} ${x.name}: ${(e as Error).message}`);
      }
    }
    const lans = k.lans(o);
    try {
      k.remove(this.ctx, o);
    } finally {
      this.model.remove(o.name);
    }
    this.log.log(level, `${k.noun} ${o.name} removed${lans.length ? ` from ${lans.join(' and ')}` : ''}: ${why}`);
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
      const r = this.handle(connId, frame.text, frame.fds, conn);
      if (r) this.reply(connId, r, false);
    }
  }

  /** Send @r to a client (once what it changed is in the state file). */
  private reply(connId: number, r: Reply, close: boolean): void {
    this.send(connId, JSON.stringify(r), close);
  }

  /** Send @text to a client, closing after it when @close; with a state file,
   *  at the end of this loop turn, after the file has what came before. */
  private send(connId: number, text: string, close: boolean): void {
    if (!this.state) {
      this.engine?.ctlSend(connId, text, close);
      return;
    }
    this.outbox.push({ conn: connId, text, close });
    this.queueFlush();
  }

  /** Have flush() run at the end of this loop turn (once, however many ask). */
  private queueFlush(): void {
    if (!this.state || this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  /** Write the state file if the objects changed, then send what waited for
   *  it: a client told "done" finds its change after a crash. */
  private flush(): void {
    this.flushQueued = false;
    this.saveState();
    const out = this.outbox;
    this.outbox = [];
    for (const m of out) this.engine?.ctlSend(m.conn, m.text, m.close);
  }

  /** Answer one message; every fd it carried is either kept by a port or
   *  closed. null: its verb answers later (Call.defer). */
  private handle(connId: number, text: string, fds: number[], conn: Conn): Reply | null {
    const unused = new Set(fds);
    let deferred = false;
    const defer = () => {
      deferred = true;
      return (r: Reply) => {
        if (this.conns.get(connId) === conn) this.reply(connId, r, false);
      };
    };
    const onClose = (fn: () => void) => conn.closers.push(fn);
    try {
      const req = parseRequest(text, this.opts.authtoken);
      const want = VERB_FDS[req.verb]!;
      const most = VERB_MAX_FDS[req.verb] ?? want;
      if (fds.includes(-1) || fds.length > most)
        throw new ProtocolError(`${req.verb} takes ${most === want ? want : `${want} to ${most}`} file descriptor${most === 1 ? '' : 's'}, got ${fds.includes(-1) ? 'more' : fds.length}`);
      if (fds.length < want) throw new ProtocolError(`${req.verb} needs a file descriptor (SCM_RIGHTS), got none`);
      const r = this.run(req, { client: { pid: conn.pid, uid: conn.uid }, fds, unused, defer, onClose });
      return deferred ? null : r;
    } catch (e) {
      const msg = e instanceof ProtocolError ? e.message : `internal error: ${(e as Error).message}`;
      this.log.info(`request from pid ${conn.pid} refused: ${msg}`);
      return { error: msg };
    } finally {
      for (const fd of unused) if (fd >= 0) native().closeFd(fd);
    }
  }

  /** Carry out a validated request; what it makes while it runs is marked as
   *  the lab's it names, if any (docs/topology.md). */
  private run(req: Request, call: Call): Reply {
    const lab = req.lab;
    if (lab === undefined) return this.runVerb(req, call);
    const stop = this.model.onAdd((o) => (o.lab = lab));
    try {
      return this.runVerb(req, call);
    } finally {
      stop();
    }
  }

  /** Carry out a validated request: the daemon's own verbs here, every other
   *  by the kind that brought it. */
  private runVerb(req: Request, call: Call): Reply {
    switch (req.verb) {
      case 'set':
        this.set(req);
        return {};
      case 'del':
        this.del(req.name, req.force, call);
        return {};
      case 'show':
        return { objects: this.show() };
      case 'stats':
        return this.stats(req.name);
      case 'version':
        // threads: the dataplane's workers, the queues a multi-queue tap should
        // bring (containode and the CNI plugin ask).
        return { version: packageVersion(), verbs: Object.keys(VERB_FDS), threads: this.ctx.engine().threads() };
      default:
        return verbNamed(req.verb)!.run(this.ctx, req, call);
    }
  }

  /** set: the kind of the object named changes it; a field of another kind's
   *  is refused, naming whose it is. Its link state (any object with engine
   *  ports: linkstate.ts) changes after its kind's settings, once both were
   *  found acceptable. */
  private set(req: SetRequest): void {
    const o = this.model.get(req.name);
    if (!o) throw new ProtocolError(`no object named "${req.name}"`);
    const k = kindOf(o);
    if (req.state !== undefined) checkLinkState(o, k);
    const parts = Object.keys(req).filter((key) => key !== 'verb' && key !== 'name' && key !== 'state' && key !== 'lab' && (req as unknown as Record<string, unknown>)[key] !== undefined);
    const foreign = parts.find((key) => !(k.set?.keys as readonly string[] | undefined)?.includes(key));
    if (foreign !== undefined) {
      const owner = setKeyOwner(foreign)!;
      throw new ProtocolError(`"${o.name}" is ${article(k.noun)}: only ${owner.noun}s take ${owner.set!.what}`);
    }
    if (req.state === undefined || parts.length) {
      if (!k.set) throw new ProtocolError(`"${o.name}" is ${article(k.noun)}: it has no settings to change`);
      k.set.apply(this.ctx, o, req);
    }
    if (req.state !== undefined) applyLinkState(this.ctx, o, k, req.state);
  }

  /** del: remove object @name. Objects on it (the ports of a lan) go with it
   *  only with @force. An object whose kind has something to stop first (a
   *  node) is removed, and @call answered, once that has ended. */
  private del(name: string, force: boolean, call: Call): void {
    const o = this.model.get(name);
    if (!o) throw new ProtocolError(`no object named "${name}"`);
    const k = kindOf(o);
    const users = this.model.all().filter((x) => x !== o && kindOf(x).lans(x).includes(name));
    if (users.length && !force) {
      const labels = users.map((u) => `${kindOf(u).noun} ${u.name}`);
      throw new ProtocolError(
        `${k.noun} ${name} still has ${users.length} port${users.length > 1 ? 's' : ''} (${labels.join(', ')}); delete them first or use --force`,
      );
    }
    for (const u of users) this.remove(u, `${k.noun} ${name} deleted`);
    const answer = k.stop && call.defer ? call.defer() : undefined;
    if (!answer) {
      this.remove(o, 'deleted');
      return;
    }
    const refuse = (e: Error) => answer({ error: e instanceof ProtocolError ? e.message : `internal error: ${e.message}` });
    k.stop!(this.ctx, o)
      .then(() => {
        if (this.model.get(name) === o) this.remove(o, 'deleted');
        this.queueFlush();
        answer({});
      })
      .catch(refuse);
  }

  /** Every object, for show: section by section, each in creation order;
   *  each entry also says the object's kind (objectKind: "tap", "c2c" ...)
   *  and, when a lab made it, the lab. */
  private show(): Record<string, unknown>[] {
    const all = this.model.all();
    return sections().flatMap((sec) =>
      all
        .filter((o) => kindOf(o).section === sec)
        .map((o) => ({ ...kindOf(o).show(this.ctx, o), ...showLinkState(o, kindOf(o)), objectKind: o.kind, ...(o.lab !== undefined ? { lab: o.lab } : {}) })),
    );
  }

  /** Counters of every object, or of the one named @name: a list per section. */
  private stats(name?: string): Reply {
    const one = name === undefined ? undefined : this.model.get(name);
    if (name !== undefined && !one) throw new ProtocolError(`no object named "${name}"`);
    const objects = one ? [one] : this.model.all();
    const reply: Reply = {};
    for (const sec of sections())
      reply[sec.key] = objects.filter((o) => kindOf(o).section === sec).map((o) => kindOf(o).stats(this.ctx, o));
    if (one) {
      const k = kindOf(one);
      const entry = (reply[k.section.key] as Record<string, unknown>[])[0]!;
      if (k.statsAlone) Object.assign(reply, k.statsAlone(entry));
    }
    return reply;
  }
}
