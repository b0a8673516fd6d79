/**
 * The native boundary: the addon's interface written down as TypeScript, and the
 * one place that loads it. Nothing else in src/ imports the .node file.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the package (holds package.json, build/, dist/). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Drop counters of a port, by reason (see native/core/port.h). */
export type DropCounters = Record<string, number>;

/** A port as the engine describes it. */
export interface NativePortInfo {
  id: number;
  /** what the port is, as its kind says: "tap", "dgram", "vhost", "nat", "a2b" ... */
  kind: string;
  ifname: string;
  vnetHdr: boolean;
  packetInfo: boolean;
  hdrLen: number;
  /** offloads the port takes as they are: 'csum', 'tso', 'uso' */
  offloads: string[];
  broken: boolean;
  reason: string;
  /** administrative state (setPortAdmin): "down" drops both ways, counted admin_down_rx and admin_down_tx */
  admin: 'up' | 'down';
  /** the worker thread that polls its input */
  thread: number;
  /** kind-specific state ("connected", "listening", ...), '' when none */
  state: string;
  /** kind-specific counters (a nat's sockets, a vhost port's connections, ...) */
  counters: Record<string, number>;
}

/** A port's counters. */
export interface NativePortStats extends NativePortInfo {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  drops: DropCounters;
}

/** A lan's counters. */
export interface NativeLanStats {
  ports: number;
  macs: number;
  macCapacity: number;
  agingMs: number;
  learned: number;
  moved: number;
  evicted: number;
  expired: number;
  flooded: number;
  unknownUnicast: number;
  filtered: number;
}

/** Counters of a capture (native/core/capture.h). */
export interface NativeCaptureStats {
  /** records written (or being written) to the output */
  frames: number;
  /** their captured bytes */
  bytes: number;
  /** frames that passed the filter but found the capture's ring full */
  drops: number;
  /** frames the filter turned away */
  filtered: number;
  /** it ended on its own (count reached, reader gone): stop it */
  done: boolean;
  /** why it ended, when done */
  reason: string;
}

/** Counters of a mirror (native/core/mirror.h). */
export interface NativeMirrorStats {
  /** copies queued on the output port */
  frames: number;
  /** their bytes */
  bytes: number;
  /** frames not copied: the worker's packet pool was empty */
  drops: number;
}

/** A port a capture watches, and the interface it is in the file. */
export interface CapturePoint {
  /** engine port */
  id: number;
  /** interface name */
  name: string;
  /** a sink: what it receives is recorded as this direction */
  as?: 'in' | 'out' | undefined;
}

/** Settings of a capture. */
export interface NativeCaptureOptions {
  format?: 'pcapng' | 'pcap';
  /** bytes kept of each frame (default 262144) */
  snaplen?: number | undefined;
  /** frames after which it ends (default: no limit) */
  count?: number | undefined;
  dir?: 'in' | 'out' | 'both';
  /** a pcap-filter(7) expression, compiled by libpcap */
  filter?: string | undefined;
  /** ring memory, all workers (default 4 MiB) */
  ringBytes?: number | undefined;
  /** write a GSO frame as the wire segments it stands for */
  segment?: boolean | undefined;
}

/** What the engine reports, on the JS thread, in order. */
export type EngineEvent =
  | { type: 'port-down'; port: number; reason: string }
  | { type: 'ctl-open'; conn: number; pid: number; uid: number; gid: number }
  /** fds are the receiver's to close; -1 marks fds the kernel dropped (too many). */
  | { type: 'ctl-data'; conn: number; data: Buffer; fds: number[] }
  | { type: 'ctl-closed'; conn: number }
  /** The client shut down its sending side; close with ctlSend(conn, '', true)
   *  once its answers are queued. */
  | { type: 'ctl-eof'; conn: number }
  | { type: 'log'; message: string };

/** One dataplane engine: a thread with its lans, ports and control socket. */
export interface NativeEngine {
  addLan(opts: { macTableSize: number; agingMs: number }): number;
  setLanAging(lan: number, agingMs: number): void;
  delLan(lan: number): void;
  lanStats(lan: number): NativeLanStats;
  /**
   * An object of a kind of port (the engine's table: native/kinds/kinds.c) with
   * its settings (named as the kind's policy names them; nested objects one
   * level deep; null and undefined left out): one port per side, each on its
   * lan of @lans. thread: the worker that polls them (default: the least
   * loaded). Returns each side's description. An fd among the settings is the
   * engine's only if this returns.
   */
  addPort(kind: string, lans: number[], settings: Record<string, unknown>, thread?: number): NativePortInfo[];
  /** Change port @port's settings by its kind's set hook. */
  setPort(port: number, settings: Record<string, unknown>): void;
  /** Take port @port administratively down (@down: it drops what it
   *  receives and what its lan sends it, counted admin_down_rx and admin_down_tx) or up again;
   *  in force on every worker when this returns. */
  setPortAdmin(port: number, down: boolean): void;
  /** A port of kind "fd" on @fd (a tap or a unix datagram socket), the
   *  original's add-etherfd: addPort('fd', [lan], { fd }, thread)[0]. */
  addFdPort(fd: number, lan: number, thread?: number): NativePortInfo;
  /** Number of worker threads. */
  threads(): number;
  watchPid(port: number, pid: number): void;
  delPort(port: number): void;
  portStats(port: number): NativePortStats;
  listen(path: string): void;
  /** false when the connection is already gone. */
  ctlSend(conn: number, data: string | Buffer, closeAfter: boolean): boolean;
  ctlClose(conn: number): boolean;
  ref(): void;
  unref(): void;
  close(): void;
  /** Capture the frames crossing @ports (interface i of a pcapng file is
   *  ports[i]) into @fd; returns its id. A port with `as` is a sink: only
   *  what it receives is recorded, as frames of direction `as` (the copies an
   *  Open vSwitch mirror sends it). @fd is the capture's only if this
   *  returns. Throws with libpcap's message for a bad filter. */
  captureStart(fd: number, ports: CapturePoint[], opts: NativeCaptureOptions): number;
  /** Watch port @port too in capture @id, as interface @name (a port that
   *  joined a lan being captured; @as: a sink). Throws when the capture ended
   *  or is full. */
  captureAddPort(id: number, port: number, name: string, as?: 'in' | 'out'): void;
  /** A running capture's counters. */
  captureStats(id: number): NativeCaptureStats;
  /** Stop a capture (what its rings hold is written out briefly), close its fd;
   *  its final counters. */
  captureStop(id: number): NativeCaptureStats;
  /** Copy what @ports receive and/or send (@dir), and what @sinks receive
   *  (ports an Open vSwitch mirror feeds), to port @out, which leaves its
   *  lan's forwarding meanwhile; returns the mirror's id. */
  mirrorStart(ports: number[], out: number, dir: 'in' | 'out' | 'both', sinks?: number[]): number;
  /** A running mirror's counters. */
  mirrorStats(id: number): NativeMirrorStats;
  /** Stop a mirror (its output port goes back to its lan); its final counters. */
  mirrorStop(id: number): NativeMirrorStats;
}

/** Options of tapCreate. */
export interface TapCreateOptions {
  netns?: string;
  ifname: string;
  vnetHdr?: boolean;
  packetInfo?: boolean;
  mtu?: number;
  ipv4?: string;
  prefix?: number;
  up?: boolean;
  loUp?: boolean;
  /** open the existing (persistent) tap @ifname instead: never make one,
   *  configure nothing (vnetHdr and packetInfo say its framing) */
  attach?: boolean;
  /** with attach: clear the tap's persistence, so it goes with the fd returned */
  unpersist?: boolean;
  /** make a new tap, never open one: a device of that name (of any type) is
   *  refused ("tap name in use") */
  exclusive?: boolean;
  /** addresses to give it, "ADDR/PREFIX", IPv4 or IPv6 (IPv6 without DAD) */
  addrs?: string[];
  /** its MAC address, "aa:bb:cc:dd:ee:ff" (else the kernel's random one) */
  mac?: string;
}

/** The addon's exports. */
export interface NativeBinding {
  Engine: new (onEvent: (ev: EngineEvent) => void, opts?: { poolSize?: number | undefined; threads?: number | undefined; pollUs?: number | undefined; busyPoll?: boolean | undefined }) => NativeEngine;
  /** Create a tap (inside a network namespace), or with attach open the
   *  existing one; returns its fd. */
  tapCreate(opts: TapCreateOptions): number;
  /** The same with @queues fds (1 to 8): more than one makes (or with attach
   *  opens) a multi-queue tap, IFF_MULTI_QUEUE; queue 0's fd first. */
  tapCreate(opts: TapCreateOptions, queues: number): number[];
  /** The network namespace (device and inode numbers of its file) that the
   *  device of tun/tap fd @fd is in; null when the kernel cannot say (not a
   *  tap, or Linux before 5.2). */
  tapNetns(fd: number): { dev: number; ino: number } | null;
  /** The index of network device @name in the daemon's network namespace, 0
   *  when there is none (if_nametoindex). */
  ifIndex(name: string): number;
  /** One request on a switch socket with fds attached (a single fd, -1 for none,
   *  or a list); resolves to the reply. */
  request(path: string, json: string, fd: number | number[], timeoutMs: number): Promise<string>;
  closeFd(fd: number): boolean;
  socketpair(type: 'dgram' | 'seqpacket' | 'stream'): [number, number];
  /** Bytes written, or -errno. */
  fdWrite(fd: number, data: Buffer): number;
  /** One read, or null when nothing came within timeoutMs. */
  fdRead(fd: number, timeoutMs: number): Buffer | null;
}

/** Where an executable or addon built by node-gyp may be. */
function buildCandidates(file: string): string[] {
  return ['Release', 'Debug'].map((d) => path.join(packageRoot, 'build', d, file));
}

/** The native containode (what bin/containode execs): the first build of it
 *  found; throws naming every path tried when there is none. */
export function containodePath(): string {
  const tried = buildCandidates('containode');
  const found = tried.find((p) => existsSync(p));
  if (!found) throw new Error(`containode is not built (tried ${tried.join(', ')}); run npm run install`);
  return found;
}

let cached: NativeBinding | undefined;

/** The addon's Engine class with the shorthands of NativeEngine that are not
 *  the addon's own (addFdPort). */
function withShorthands(Engine: NativeBinding['Engine']): NativeBinding['Engine'] {
  const Base = Engine as unknown as new (...args: unknown[]) => Omit<NativeEngine, 'addFdPort'>;
  class EngineWithShorthands extends Base {
    addFdPort(fd: number, lan: number, thread?: number): NativePortInfo {
      return this.addPort('fd', [lan], { fd }, thread)[0]!;
    }
  }
  return EngineWithShorthands as unknown as NativeBinding['Engine'];
}

/** Load the addon, naming every path tried when it is not there. */
export function native(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const tried = buildCandidates('containet.node');
  for (const p of tried) {
    if (existsSync(p)) {
      const addon = require(p) as NativeBinding;
      cached = { ...addon, Engine: withShorthands(addon.Engine) };
      return cached;
    }
  }
  throw new Error(`containet's native addon is not built (tried ${tried.join(', ')}); run npm ci`);
}
