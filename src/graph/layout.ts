/**
 * Where each part of a lab goes in the picture: every lan a panel with its bus
 * along the top and its ports as boxes in rows under it (a node's ports
 * together in a box of the node's), stacked top to bottom in the lab's order;
 * every link a vertical line left of the panels from one lan's bus to the
 * other's, with its label halfway, in the first column where it meets no
 * other link. Deterministic: the same lab
 * gives the same layout. See docs/graph.md.
 */
import type { Lab, LabLink, LabPort } from './model.js';

/** A rectangle. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A lan's panel; its bus is the line at busY. */
export interface LaidLan extends Box {
  name: string;
  ovs?: string | undefined;
  busY: number;
}

/** A port's box. */
export interface LaidPort extends Box {
  port: LabPort;
  /** the lan's bus, for the line up to it (ports of the first row only) */
  busY?: number | undefined;
}

/** A node's box around its ports on one lan. */
export interface LaidGroup extends Box {
  name: string;
  label?: string | undefined;
  /** the lan's bus, for the line up to it (first row only) */
  busY?: number | undefined;
}

/** A link's column. */
export interface LaidLink {
  link: LabLink;
  x: number;
  /** the buses of its lans a and b */
  ya: number;
  yb: number;
  /** its label's box */
  label: Box;
  /** where the panels begin: the link's ends join them there */
  panelX: number;
}

/** The whole picture. */
export interface Layout {
  width: number;
  height: number;
  lans: LaidLan[];
  ports: LaidPort[];
  groups: LaidGroup[];
  links: LaidLink[];
}

/** Sizes, in SVG user units (px). */
export const SIZE = {
  margin: 20,
  linkCol: 260,
  linkLabelH: 50,
  portW: 180,
  portH: 56,
  gap: 12,
  perRow: 6,
  groupPad: 8,
  groupHead: 30,
  lanHead: 44,
  lanFoot: 16,
  lanGap: 30,
  minPanelW: 320,
} as const;

/** A row's worth of ports: one node's on a lan, or one standalone port. */
interface Unit {
  group?: string | undefined;
  ports: LabPort[];
}

/** Width and height of @u's box. */
function unitSize(u: Unit): { w: number; h: number } {
  const cols = Math.min(u.ports.length, SIZE.perRow);
  const rows = Math.ceil(u.ports.length / SIZE.perRow);
  const w = cols * (SIZE.portW + SIZE.gap) - SIZE.gap;
  const h = rows * (SIZE.portH + SIZE.gap) - SIZE.gap;
  return u.group === undefined ? { w, h } : { w: w + 2 * SIZE.groupPad, h: h + SIZE.groupHead + SIZE.groupPad };
}

/** Lay lab @lab out. */
export function layout(lab: Lab): Layout {
  const out: Layout = { width: 0, height: 0, lans: [], ports: [], groups: [], links: [] };
  // The panels are laid out from x 0, then moved right of the links' columns.
  const panelX = 0;
  const rowMax = SIZE.perRow * (SIZE.portW + SIZE.gap) + 2 * SIZE.groupPad;
  const labels = new Map(lab.groups.map((g) => [g.name, g.label]));
  let y = SIZE.margin;
  let widest: number = SIZE.minPanelW;
  for (const lan of lab.lans) {
    const units: Unit[] = [];
    for (const p of lab.ports.filter((q) => q.lan === lan.name)) {
      const last = units[units.length - 1];
      if (p.group !== undefined && last && last.group === p.group) last.ports.push(p);
      else units.push({ group: p.group, ports: [p] });
    }
    const busY = y + SIZE.lanHead - 14;
    let x = panelX + SIZE.gap;
    let rowY = y + SIZE.lanHead;
    let rowH = 0;
    let firstRow = true;
    let right = 0;
    for (const u of units) {
      const size = unitSize(u);
      if (x > panelX + SIZE.gap && x + size.w > panelX + SIZE.gap + rowMax) {
        x = panelX + SIZE.gap;
        rowY += rowH + SIZE.gap;
        rowH = 0;
        firstRow = false;
      }
      let px = x;
      let py = rowY;
      if (u.group !== undefined) {
        out.groups.push({ name: u.group, label: labels.get(u.group), x, y: rowY, ...size, busY: firstRow ? busY : undefined });
        px += SIZE.groupPad;
        py += SIZE.groupHead;
      }
      u.ports.forEach((port, i) => {
        const col = i % SIZE.perRow;
        const row = Math.floor(i / SIZE.perRow);
        out.ports.push({
          port,
          x: px + col * (SIZE.portW + SIZE.gap),
          y: py + row * (SIZE.portH + SIZE.gap),
          w: SIZE.portW,
          h: SIZE.portH,
          busY: firstRow && u.group === undefined ? busY : undefined,
        });
      });
      x += size.w + SIZE.gap;
      right = Math.max(right, x);
      rowH = Math.max(rowH, size.h);
    }
    const w = Math.max(SIZE.minPanelW, right - panelX);
    const h = rowY + rowH - y + SIZE.lanFoot;
    out.lans.push({ name: lan.name, ovs: lan.ovs, x: panelX, y, w, h: Math.max(h, SIZE.lanHead + SIZE.lanFoot), busY });
    widest = Math.max(widest, w);
    y += Math.max(h, SIZE.lanHead + SIZE.lanFoot) + SIZE.lanGap;
  }
  for (const l of out.lans) l.w = widest;
  const busOf = new Map(out.lans.map((l) => [l.name, l.busY]));
  // Each link takes the first column where it crosses no other link's span.
  const columns: [number, number][][] = [];
  const placed = lab.links.map((link) => {
    const ya = busOf.get(link.a) ?? SIZE.margin;
    const yb = busOf.get(link.b) ?? SIZE.margin;
    const span: [number, number] = [Math.min(ya, yb), Math.max(ya, yb)];
    let col = columns.findIndex((c) => c.every(([lo, hi]) => span[1] + SIZE.gap < lo || span[0] > hi + SIZE.gap));
    if (col < 0) col = columns.push([]) - 1;
    columns[col]!.push(span);
    return { link, ya, yb, col };
  });
  const dx = SIZE.margin + columns.length * SIZE.linkCol;
  for (const b of [...out.lans, ...out.ports, ...out.groups]) b.x += dx;
  for (const { link, ya, yb, col } of placed) {
    const x = SIZE.margin + col * SIZE.linkCol + SIZE.linkCol / 2;
    const mid = (ya + yb) / 2;
    out.links.push({ link, x, ya, yb, panelX: dx, label: { x: x - SIZE.linkCol / 2 + 6, y: mid - SIZE.linkLabelH / 2, w: SIZE.linkCol - 12, h: SIZE.linkLabelH } });
  }
  out.width = dx + widest + SIZE.margin;
  out.height = Math.max(y - SIZE.lanGap + SIZE.margin, SIZE.margin * 2 + SIZE.linkLabelH);
  return out;
}
