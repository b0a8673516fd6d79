/**
 * The object model: every object the daemon manages, each with a unique name.
 * Native ids stay inside this module's records; users only ever see names.
 */
import type { A2bDir, A2bSettings } from './a2b.js';

/** A learning switch. */
export interface LanObject {
  kind: 'lan';
  name: string;
  /** native lan id */
  id: number;
  /** MAC aging time in seconds */
  aging: number;
  /** MAC table entries it can hold (as asked; the engine rounds up) */
  macTableSize: number;
  created: Date;
}

/** A port on a lan, made from an fd a client handed over. */
export interface PortObject {
  kind: 'port';
  name: string;
  /** native port id */
  id: number;
  /** name of its lan */
  lan: string;
  /** what the fd turned out to be, or a vhost-user socket */
  type: 'tap' | 'dgram' | 'vhost' | 'nat';
  /** vhost-user: the socket path and whether containet is the client */
  socket?: string;
  client?: boolean;
  /** NAT: its addresses and the port forwards in place (specs) */
  nat?: {
    net: string;
    gateway: string;
    dns: string;
    dhcpStart: string;
    mtu: number;
    hostLoopback: boolean;
    ipv6: boolean;
    dnsUpstream: string;
    forwards: string[];
  };
  /** device name inside the client's namespace ("" for sockets) */
  ifname: string;
  /** the client's node id (containode identity), if it gave one */
  nodeid: string | undefined;
  /** process whose exit removes the port, if the client named one */
  pid: number | undefined;
  /** who handed the fd over */
  owner: { pid: number; uid: number };
  vnetHdr: boolean;
  packetInfo: boolean;
  /** offloads the port takes as they are ('csum', 'tso', 'uso') */
  offloads: string[];
  /** the engine's worker thread that polls its input */
  thread: number;
  created: Date;
}

/** A link emulator between two lans: two engine ports, one on each. */
export interface A2bObject {
  kind: 'a2b';
  name: string;
  /** the lans it joins */
  a: string;
  b: string;
  /** native port ids of side A (on lan a) and side B */
  portA: number;
  portB: number;
  /** what each direction does */
  settings: Record<A2bDir, A2bSettings>;
  created: Date;
}

export type ManagedObject = LanObject | PortObject | A2bObject;

/** All objects by name. */
export class ObjectModel {
  private readonly byName = new Map<string, ManagedObject>();

  /** Is @name taken? */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Object named @name, if any. */
  get(name: string): ManagedObject | undefined {
    return this.byName.get(name);
  }

  /** Add @o; its name must be free (checked by the caller). */
  add(o: ManagedObject): void {
    if (this.byName.has(o.name)) throw new Error(`an object named "${o.name}" already exists`);
    this.byName.set(o.name, o);
  }

  /** Forget the object named @name. */
  remove(name: string): void {
    this.byName.delete(name);
  }

  /** Every lan, in creation order. */
  lans(): LanObject[] {
    return [...this.byName.values()].filter((o): o is LanObject => o.kind === 'lan');
  }

  /** Every port, in creation order. */
  ports(): PortObject[] {
    return [...this.byName.values()].filter((o): o is PortObject => o.kind === 'port');
  }

  /** The port with native id @id. */
  portById(id: number): PortObject | undefined {
    return this.ports().find((p) => p.id === id);
  }

  /** Every a2b, in creation order. */
  a2bs(): A2bObject[] {
    return [...this.byName.values()].filter((o): o is A2bObject => o.kind === 'a2b');
  }

  /** Ports on lan @lan. */
  portsOf(lan: string): PortObject[] {
    return this.ports().filter((p) => p.lan === lan);
  }
}
