/**
 * What one show entry is in the picture of the lab (`containet graph`): each
 * section of show says it for its entries through its `graph` hook
 * (src/kinds/kind.ts), so the graph code never names a kind. See docs/graph.md.
 */

/** A lan: a bus that ports hang from. */
export interface LanPart {
  lan: {
    /** its Open vSwitch bridge, for an OVS lan */
    ovs?: string | undefined;
  };
}

/** A port on a lan. */
export interface PortPart {
  port: {
    /** the lan it is on */
    lan: string;
    /** the client's node id, if it gave one: ports of one node are drawn together */
    node?: string | undefined;
    /** where its frames go over the underlay, for a tunnel */
    remotes?: string[] | undefined;
    /** short words drawn on it ("ovs") */
    marks?: string[] | undefined;
  };
}

/** A link between two lans, with what each direction does. */
export interface LinkPart {
  link: {
    a: string;
    b: string;
    /** what it does to frames from a to b ("delay 20ms loss 1%"; "-": nothing) */
    ab: string;
    /** and from b to a */
    ba: string;
  };
}

/** An owner of ports (a node, a container): its ports are drawn under it. */
export interface GroupPart {
  group: {
    /** the ports it owns, by name (those no entry shows, as an exited
     *  node's, are not drawn), with words to draw on each (its addresses) */
    ports: { name: string; marks?: string[] | undefined }[];
    /** a line under its name ("running, pid 42") */
    label?: string | undefined;
  };
}

/** Words to draw on other objects' ports (a capture marks what it watches). */
export interface MarksPart {
  marks: { port: string; mark: string }[];
}

/** What a show entry is in the picture; undefined: it is not drawn. */
export type GraphPart = LanPart | PortPart | LinkPart | GroupPart | MarksPart;
