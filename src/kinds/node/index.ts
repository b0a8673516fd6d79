/**
 * The "node" kind: a container the daemon starts and keeps (issue 16's nodes),
 * outliving the client that asked for it. Each node is one containode
 * (native/containode/) the daemon spawns, with several interfaces, each a port
 * of the `fd` kind named `<node>.<ifname>` on a lan, with addresses, MTU, MAC,
 * and routes. `add-node` answers once the program runs with all of that in
 * place (process.ts); a node whose program exits stays listed as exited until
 * deleted (its ports go with its container); `del` stops it (SIGTERM, SIGKILL
 * after 5 s) and answers once it is gone; `containet exec NODE -- CMD` runs a
 * command inside it (exec.ts). With --state the nodes are kept in the state
 * file and a restarted daemon follows them again by pid. See docs/node.md.
 */
import { Option, type Command } from 'commander';

import { positiveInt } from '../../cli/args.js';
import { ProtocolError, type Body } from '../../daemon/fields.js';
import { table } from '../../format.js';
import { processStart } from '../fd.js';
import type { Call, KindContext, ModelObject, Section } from '../kind.js';
import { lanNamed } from '../lan.js';
import { register } from '../registry.js';
import { field, savedOwner } from '../saved.js';
import { execCommand } from './exec.js';
import { alive, follow, launch, processRunning, signal, stop, type Running } from './process.js';
import { parseAddNode, type AddNodeRequest, type NodeInterface, type NodeRoute } from './request.js';
import './topology.js';

/** A node: what it was asked to be, and how its processes are. */
export interface NodeObject extends ModelObject {
  kind: 'node';
  command: string[];
  root: string | undefined;
  env: Record<string, string>;
  interfaces: NodeInterface[];
  routes: NodeRoute[];
  log: string | undefined;
  /** who asked for it */
  owner: { pid: number; uid: number };
  /** starting (until add-node answers), running, stopping (del), exited */
  state: 'starting' | 'running' | 'stopping' | 'exited';
  /** containode's exit status once exited (null: not known, it ended while
   *  another daemon followed it) */
  status: number | null;
  /** its processes, once started */
  run: Running | undefined;
  /** settles once its start did, either way */
  started: Promise<void>;
}

/** How long a stopped node's ports may take to go on their own. */
const PORTS_GONE_MS = 3000;

/** The state as show says it: "exited (status N)" once exited. */
function stateText(n: NodeObject): string {
  return n.state === 'exited' ? `exited (status ${n.status ?? 'unknown'})` : n.state;
}

/** Its ports' names, one per interface. */
function portNames(n: NodeObject): string[] {
  return n.interfaces.map((i) => `${n.name}.${i.ifname}`);
}

/** The nodes' section of show and stats. */
const NODES: Section = {
  key: 'nodes',
  showKind: 'node',
  showTable: (nodes) =>
    table(
      ['NODE', 'STATE', 'PID', 'INTERFACES', 'ROUTES', 'COMMAND'],
      nodes.map((n) => [
        String(n.name),
        String(n.state),
        n.pid === null ? '-' : Number(n.pid),
        (n.interfaces as (NodeInterface & { port: string })[]).map((i) => `${i.ifname}@${i.lan}${i.addrs.length ? ` ${i.addrs.join(' ')}` : ''}`).join(', ') || '-',
        (n.routes as NodeRoute[]).map((r) => `${r.dst} via ${r.via}`).join(', ') || '-',
        (n.command as string[]).join(' '),
      ]),
    ),
  statsTable: (nodes) =>
    table(
      ['NODE', 'STATE', 'PID', 'PORTS'],
      nodes.map((n) => [String(n.name), String(n.state), n.pid === null ? '-' : Number(n.pid), (n.ports as string[]).join(' ') || '-']),
    ),
};

/** Follow @n's processes @r until they end: then it is exited, logged, and
 *  the state file forgets it. */
function watch(ctx: KindContext, n: NodeObject, r: Running): void {
  n.run = r;
  void r.gone.then((status) => {
    const was = n.state;
    n.state = 'exited';
    n.status = status;
    if (ctx.model.get(n.name) !== n) return; // removed meanwhile
    const how = status === null ? 'status unknown' : `status ${status}`;
    if (was === 'stopping') ctx.log.info(`node ${n.name} stopped (${how})`);
    else ctx.log.warn(`node ${n.name} exited (${how}); its ports went with it`);
    ctx.changed();
  });
}

/** Wait (at most PORTS_GONE_MS) until the ports of stopped node @n are gone:
 *  the engine removes a port whose init exited (the daemon hears of it on its
 *  loop), containode those it can; what is left then is removed here. */
async function portsGone(ctx: KindContext, n: NodeObject): Promise<void> {
  const left = () => portNames(n).flatMap((p) => {
    const o = ctx.model.get(p) as (ModelObject & { nodeid?: string }) | undefined;
    return o && o.nodeid === n.name ? [o] : [];
  });
  const deadline = Date.now() + PORTS_GONE_MS;
  while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  for (const p of left()) ctx.remove(p, `its node ${n.name} was stopped`);
}

/** add-node: check what the daemon's objects must say, start containode and
 *  answer once it is ready (or failed, with nothing left behind). */
function addNode(ctx: KindContext, asked: AddNodeRequest, call: Call): void {
  const req = { ...asked, interfaces: asked.interfaces.map((i) => ({ ...i, lan: i.lan ?? ctx.defaults.lan })) };
  if (ctx.model.has(req.name)) throw new ProtocolError(`an object named "${req.name}" already exists`);
  for (const i of req.interfaces) {
    lanNamed(ctx, i.lan);
    const port = `${req.name}.${i.ifname}`;
    if (ctx.model.has(port)) throw new ProtocolError(`an object named "${port}" already exists (the port of interface ${i.ifname})`);
  }
  if (!call.defer) throw new ProtocolError('add-node needs a client to answer');
  const answer = call.defer();
  const n: NodeObject = {
    kind: 'node',
    name: req.name,
    created: new Date(),
    command: req.command,
    root: req.root,
    env: req.env,
    interfaces: req.interfaces,
    routes: req.routes,
    log: req.log,
    owner: call.client,
    state: 'starting',
    status: null,
    run: undefined,
    started: Promise.resolve(),
  };
  ctx.model.add(n); // its name is taken while it starts
  // (through then: whatever launch throws, even at once, is answered below)
  n.started = Promise.resolve().then(() => launch(ctx, req)).then(
    (r) => {
      watch(ctx, n, r);
      if (n.state === 'stopping' || ctx.model.get(n.name) !== n) {
        // deleted while it started: that del stops it (once this has run)
        answer({ error: `node ${n.name} was deleted while it started` });
        return;
      }
      n.state = 'running';
      ctx.log.info(`node ${n.name} started (containode pid ${r.pid}, init ${r.initPid}): ${portNames(n).join(', ') || 'no interfaces'}`);
      ctx.changed();
      answer({});
    },
    (e: Error) => {
      if (ctx.model.get(n.name) === n) ctx.model.remove(n.name);
      n.state = 'exited';
      ctx.log.info(`node ${n.name} did not start: ${e.message}`);
      answer({ error: `node ${n.name} did not start: ${e.message}` });
    },
  );
}

/** Make node @name of the state file again: its containode must still be the
 *  process it was (pid and start time); it is followed, not restarted. */
function restoreNode(ctx: KindContext, name: string, rec: Record<string, unknown>): void {
  const pid = field(rec, 'pid', 'number', true)!;
  const initPid = field(rec, 'initPid', 'number', true)!;
  const pidStart = field(rec, 'pidStart', 'string', true)!;
  if (!processRunning(pid, pidStart)) {
    const start = processStart(pid);
    throw new Error(`its containode (pid ${pid}) is gone${start === undefined || start === pidStart ? '' : " (the pid is another process's now)"}`);
  }
  const list = (key: string) => {
    const v = rec[key];
    if (!Array.isArray(v)) throw new Error(`its record's "${key}" is not a list`);
    return v as unknown[];
  };
  const n: NodeObject = {
    kind: 'node',
    name,
    created: new Date(),
    command: list('command') as string[],
    root: field(rec, 'root', 'string', false),
    env: (field(rec, 'env', 'object', false) ?? {}) as Record<string, string>,
    interfaces: list('interfaces') as NodeInterface[],
    routes: list('routes') as NodeRoute[],
    log: field(rec, 'log', 'string', false),
    owner: savedOwner(rec),
    state: 'running',
    status: null,
    run: undefined,
    started: Promise.resolve(),
  };
  ctx.model.add(n);
  watch(ctx, n, follow(pid, initPid, pidStart, field(rec, 'initStart', 'string', false)));
  ctx.log.info(`node ${name}: following its containode (pid ${pid}) again`);
}

register<NodeObject>({
  name: 'node',
  noun: 'node',
  section: NODES,
  // Its ports are objects of the fd kind, on their lans: deleting a lan
  // (--force) takes that interface's port, not the node.
  lans: () => [],
  ports: () => [],
  remove(_ctx, n) {
    // Reached with the node still running only when it goes without a del
    // (del stops it first): stop it without waiting.
    if (n.run && n.state !== 'exited') void stop(n.run);
  },
  async stop(ctx, n) {
    if (n.state === 'exited') return;
    n.state = 'stopping';
    await n.started; // one deleted while it starts is stopped once it has
    if (!n.run || !alive(n.run)) return;
    ctx.log.info(`node ${n.name}: stopping (SIGTERM to containode ${n.run.pid})`);
    await stop(n.run);
    await portsGone(ctx, n);
  },
  shutdown(ctx, n) {
    // Without --state nothing outlives the daemon: its node ends (no wait;
    // containode passes the SIGTERM on to the program).
    if (!ctx.persistent && n.run && n.state !== 'exited') signal(n.run, 'SIGTERM');
  },
  show(_ctx, n) {
    return {
      name: n.name,
      kind: 'node',
      pid: n.run?.pid ?? null,
      initPid: n.run && n.state !== 'exited' ? n.run.initPid : null,
      state: stateText(n),
      command: n.command,
      root: n.root ?? null,
      env: n.env,
      interfaces: n.interfaces.map((i) => ({ ...i, port: `${n.name}.${i.ifname}` })),
      routes: n.routes,
      log: n.log ?? null,
      created: n.created.toISOString(),
      owner: n.owner,
    };
  },
  stats(ctx, n) {
    return { name: n.name, state: stateText(n), pid: n.run?.pid ?? null, ports: portNames(n).filter((p) => ctx.model.has(p)) };
  },
  save(n) {
    if (n.state !== 'running' || !n.run || !alive(n.run)) return undefined;
    return {
      command: n.command,
      root: n.root,
      env: n.env,
      interfaces: n.interfaces,
      routes: n.routes,
      log: n.log,
      pid: n.run.pid,
      initPid: n.run.initPid,
      pidStart: n.run.pidStart,
      initStart: n.run.initStart,
      owner: n.owner,
    };
  },
  restore: restoreNode,
  verbs: [
    {
      name: 'add-node',
      fds: 0,
      parse: parseAddNode,
      run(ctx, req: AddNodeRequest, call) {
        addNode(ctx, req, call);
        return {};
      },
    },
  ],
  cli: {
    add: {
      description: 'start a node: a container on one lan (the daemon keeps it; more interfaces and routes through add-node, docs/node.md)',
      verb: 'add-node',
      configure(cmd: Command) {
        cmd
          .argument('<command...>', 'the program and its arguments (after --)')
          .option('--lan <lan>', "lan of its eth0 (default: the daemon's default lan)")
          .option('--ip <cidr>', 'an address of eth0, IPv4 or IPv6, ADDR/PREFIX (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
          .addOption(new Option('--mtu <bytes>', 'MTU of eth0 (68 to 65521; default 64000)').argParser(positiveInt))
          .option('--mac <mac>', 'MAC address of eth0 (default: a random one)')
          .option('--gw <addr>', 'default route through this gateway (repeatable: one per family)', (v: string, prev: string[] = []) => [...prev, v])
          .option('--root <dir>', "root filesystem (default: the host's files)")
          .option('-e, --env <KEY=VALUE>', 'environment of the program (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
          .option('--log <file>', "file the node's output is appended to");
      },
      body(name, opts, words = []) {
        const eth0: Body = { ifname: 'eth0' };
        if (opts.lan !== undefined) eth0.lan = opts.lan;
        if (opts.ip !== undefined) eth0.addrs = opts.ip;
        if (opts.mtu !== undefined) eth0.mtu = opts.mtu;
        if (opts.mac !== undefined) eth0.mac = opts.mac;
        const b: Body = { name, command: words, interfaces: [eth0] };
        if (opts.gw !== undefined) b.routes = (opts.gw as string[]).map((via) => ({ dst: 'default', via }));
        if (opts.root !== undefined) b.root = opts.root;
        if (opts.env !== undefined)
          b.env = Object.fromEntries(
            (opts.env as string[]).map((kv) => {
              const i = kv.indexOf('=');
              return i > 0 ? [kv.slice(0, i), kv.slice(i + 1)] : [kv, ''];
            }),
          );
        if (opts.log !== undefined) b.log = opts.log;
        return b;
      },
    },
    commands: execCommand,
  },
});
