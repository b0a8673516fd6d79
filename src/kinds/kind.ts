/**
 * What a kind of object is to the control plane: the interface every module in
 * src/kinds/ fills, in the manner of iproute2's `struct link_util` (each
 * ip/iplink_<kind>.c parses its own options and prints its own details). A kind
 * brings its request verbs (how they are validated and carried out), what `set`
 * takes for it, how it is shown, counted and removed, and its CLI options. The
 * daemon, the protocol parser, the CLI and the model find kinds in the registry
 * (registry.ts) and never name one. See docs/adding-a-kind.md.
 */
import type { Command } from 'commander';

import type { Logger } from '../log.js';
import type { NativeEngine } from '../native.js';
import type { Body } from '../daemon/fields.js';
import type { LinkState } from '../daemon/linkstate.js';
import type { ModelObject, ObjectModel } from '../daemon/model.js';
import type { OvsSwitch } from '../ovs/switch.js';
import type { GraphPart } from '../graph/part.js';

export type { Body } from '../daemon/fields.js';
export type { ModelObject } from '../daemon/model.js';

/**
 * The validated requests of every kind's verbs, by verb. Each kind module adds
 * its own by augmenting this interface (`declare module '../kind.js'`), so the
 * protocol's Request type knows them all without naming any.
 */
export interface KindRequests {}

/**
 * The parts of a validated `set` request, one or more per kind (a lan's
 * `aging`, a nat's `addForward` ...), added by each kind module the same way.
 */
export interface SetParts {}

/** A validated `set`: the object's name, the link state of an object with
 *  engine ports (no kind's: src/daemon/linkstate.ts) and the parts its
 *  kind's fields filled. */
export type SetRequest = { verb: 'set'; name: string; state?: LinkState } & SetParts;

/** A reply object; {} means done. */
export type Reply = Record<string, unknown>;

/** What the daemon's settings say that kinds use. */
export interface DaemonDefaults {
  /** the lan ports join when a request names none */
  lan: string;
  /** MAC aging time of new lans, seconds */
  aging: number;
  /** MAC table size of new lans */
  macTableSize: number;
}

/** What the daemon gives a kind's handlers. */
export interface KindContext {
  readonly model: ObjectModel;
  readonly log: Logger;
  readonly defaults: DaemonDefaults;
  /** The daemon keeps its objects across restarts (--state): what a port holds
   *  that the next daemon must find again (a tap) should outlive this one. */
  readonly persistent: boolean;
  /** The switch socket the daemon listens on, and the token its requests
   *  need (none: none): what a process the daemon starts (a node's
   *  containode) talks to it with. */
  readonly socket: string;
  readonly authtoken: string | undefined;
  /** Objects changed outside a request (a node's program exited): have the
   *  state file (--state) written at the end of this loop turn. */
  changed(): void;
  /** The engine; a ProtocolError once the daemon is stopping. */
  engine(): NativeEngine;
  /** Run @f on the engine; an Error it throws comes back as a ProtocolError
   *  with the engine's reason. */
  call<T>(f: (e: NativeEngine) => T): T;
  /** Take object @o away (its kind's remove, then the model), logging @why. */
  remove(o: ModelObject, why: string): void;
  /** The daemon's Open vSwitch (--ovs-rundir or --ovs-db); a ProtocolError
   *  saying how to give it one when it has none. */
  ovs(): OvsSwitch;
}

/** Who sent a request, and the fds it carried. */
export interface Call {
  /** the client's process and user (the connection's peer credentials) */
  client: { pid: number; uid: number };
  /** the fds that came with the request, as many as the verb takes */
  fds: number[];
  /** those not taken yet: a handler deletes the ones it hands to the engine;
   *  the daemon closes the rest */
  unused: Set<number>;
  /** Answer later: the verb's run returns (its value is ignored) and the reply
   *  goes when the function returned is called (a capture answers when it
   *  ends). Absent where a request cannot wait (made by the daemon itself). */
  defer?(): (r: Reply) => void;
  /** Have @fn called once when the client's connection goes (it hung up or
   *  stopped sending). */
  onClose?(fn: () => void): void;
}

/** A request verb a kind brings to the protocol. */
export interface Verb<R extends { verb: string } = { verb: string }> {
  /** its key in a request: "add-nat" */
  name: R['verb'];
  /** file descriptors the request carries (SCM_RIGHTS) */
  fds: number;
  /** the most it may carry, when more are an option (a multi-queue tap's
   *  other queues); fds when not given */
  maxFds?: number;
  /** Validate the body (an object); throws ProtocolError naming the field. */
  parse(b: Body): R;
  /** Carry out a validated request; throws ProtocolError with the reason. */
  run(ctx: KindContext, req: R, call: Call): Reply;
}

/** What `set` does for objects of a kind. */
export interface KindSet<O extends ModelObject> {
  /** the body fields it takes, as on the wire */
  fields: readonly string[];
  /** the keys of a parsed set request that its parse fills */
  keys: readonly (keyof SetParts)[];
  /** what those settings are, for "only lans take aging" */
  what: string;
  /** Validate its fields (some are present in @b) into its part of the request. */
  parse(b: Body): Partial<SetParts>;
  /** Carry out @req on @o (no other kind's parts are in it). */
  apply(ctx: KindContext, o: O, req: SetRequest): void;
}

/** Where `show` and `stats` list objects: kinds that share a section share a
 *  table (every kind of port is in "ports"). */
export interface Section {
  /** the key of its list in a stats reply: "ports" */
  key: string;
  /** the "kind" its entries carry in a show reply: "port" */
  showKind: string;
  /** Its show entries as a table for people (the CLI). */
  showTable(entries: Record<string, unknown>[]): string;
  /** Its stats entries as a table for people. */
  statsTable(entries: Record<string, unknown>[]): string;
  /** What one of its show entries is in the lab's picture (`containet
   *  graph`, docs/graph.md); undefined: not drawn. Absent: the picture
   *  derives it from the entry's `lan`, `lans` or `interfaces`. */
  graph?(entry: Record<string, unknown>): GraphPart | undefined;
}

/** The CLI of a kind: `containet add KIND NAME ...` and its options of `set`. */
export interface KindCli {
  add?: {
    /** one line for --help */
    description: string;
    /** the verb the command sends */
    verb: string;
    /** what its first argument is, when not the new object's name (a phy's
     *  interface): its placeholder ("ifname") and its --help line */
    argument?: { name: string; help: string };
    /** Declare its options (and arguments after NAME) on @cmd. */
    configure(cmd: Command): void;
    /** The request body from NAME, the parsed options and the words of
     *  the arguments after NAME that configure declared (a node's command). */
    body(name: string, opts: Record<string, unknown>, words?: string[]): Body;
  };
  set?: {
    /** what it changes, for set's --help: "an a2b's shaping (...)" */
    help: string;
    /** words after NAME it takes, for set's --help, if any */
    words?: string;
    /** Declare its options on the set command. */
    configure(cmd: Command): void;
    /** Body fields from the parsed options (and the words after NAME). */
    body(opts: Record<string, unknown>, words: string[]): Body;
  };
  /** Commands of its own (`containet capture ...`), declared on @program. */
  commands?(program: Command, client: CliClient): void;
}

/** What a kind's own CLI commands get to talk to the daemon. */
export interface CliClient {
  /** Send @req (with the CLI's authtoken), with @fd attached when given; the
   *  reply, or the process ends with the daemon's one-line reason (with
   *  orThrow: the promise is rejected instead). */
  request(cmd: Command, req: Reply, opts?: { fd?: number; timeoutMs?: number; orThrow?: boolean }): Promise<Reply>;
  /** Print the one-line reason and exit non-zero. */
  die(msg: string): never;
}

/** A kind of object. */
export interface Kind<O extends ModelObject = ModelObject> {
  /** its name: what its objects' `kind` says, and (for ports) the engine's kind */
  name: string;
  /** what people call one in messages: "port", "lan", "a2b" */
  noun: string;
  /** where show and stats list its objects */
  section: Section;
  /** the request verbs it brings */
  verbs: readonly Verb<any>[];
  /** what set does for it (none: nothing can be set) */
  set?: KindSet<O>;
  /** The lans @o is on (deleting a lan deletes what is on it). */
  lans(o: O): string[];
  /** The engine ports @o owns (a port breaking in the engine removes @o). */
  ports(o: O): number[];
  /** The objects @o cannot outlive, each with what it is to @o ("output
   *  port"): when one of them goes, for whatever reason (del, a lan deleted
   *  with --force, its port broke), @o is removed first, with a log line
   *  saying which went. None when absent. */
  needs?(o: O): { name: string; as: string }[];
  /** Release what @o holds in the engine (its ports, its lan); the daemon
   *  then forgets it. */
  remove(ctx: KindContext, o: O): void;
  /** End what @o runs before it is removed (a node's processes), resolving
   *  once it has: `del` answers then, and removes @o (its remove is then
   *  called with nothing left running). None: `del` removes at once. */
  stop?(ctx: KindContext, o: O): Promise<void>;
  /** The daemon stops: end what must not outlive it (without --state, a
   *  node's processes), without waiting. Objects are not removed. */
  shutdown?(ctx: KindContext, o: O): void;
  /** Its entry in a show reply. */
  show(ctx: KindContext, o: O): Record<string, unknown>;
  /** Its entry in its section of a stats reply. */
  stats(ctx: KindContext, o: O): Record<string, unknown>;
  /** Top-level fields added to a stats reply that names @o alone. */
  statsAlone?(entry: Record<string, unknown>): Record<string, unknown>;
  /** What the state file keeps of @o (JSON-able), for restore to make it again;
   *  undefined: it cannot outlive the daemon and is not kept (a socket port).
   *  No save: the kind's objects are never kept. See docs/state.md. */
  save?(o: O): Record<string, unknown> | undefined;
  /** Make again, in a daemon just started, the object named @name that save
   *  recorded as @rec (the objects it needs were restored before it). Throws
   *  an Error with the reason when it cannot; the daemon logs it and goes on. */
  restore?(ctx: KindContext, name: string, rec: Record<string, unknown>): void;
  cli?: KindCli;
}
