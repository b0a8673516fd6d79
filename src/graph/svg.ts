/**
 * The lab's picture as SVG, from its layout: no dependencies, every text
 * escaped. Each port's box carries `data-port` (the live page downloads a
 * capture of the port it is clicked on) and a third line said by the caller
 * (its counters, or its rates on the live page). See docs/graph.md.
 */
import type { Layout } from './layout.js';

/** @s as XML character data or an attribute value: the five specials
 *  escaped, characters XML does not allow dropped. */
export function esc(s: string): string {
  return s
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** @s cut to @n characters, with an ellipsis when cut. */
function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** A text element at (@x, @y) with class @cls, its content escaped and cut to @n. */
function text(x: number, y: number, cls: string, s: string, n = 64, attrs = ''): string {
  return `<text x="${x}" y="${y}" class="${cls}"${attrs}>${esc(cut(s, n))}</text>`;
}

/** The stylesheet of the picture (inline: the file stands alone). */
const STYLE = `
text{font-family:ui-monospace,monospace;font-size:11px;fill:#222}
.lan{fill:#f3f6fb;stroke:#9db0cf}.lan.ovs{fill:#f4fbf3;stroke:#8fc08a}
.bus{stroke:#2f5fa7;stroke-width:5;stroke-linecap:round}.lan.ovs+.bus{stroke:#3c8a35}
.lanname{font-size:14px;font-weight:bold}.ovsmark{fill:#3c8a35;font-weight:bold}
.drop{stroke:#2f5fa7;stroke-width:1.5}
.port{fill:#fff;stroke:#555;cursor:pointer}.port.tunnel{stroke:#a35d00;stroke-dasharray:5 3}
.portbox:hover .port{fill:#fff6d8}
.pname{font-weight:bold}.pmarks{fill:#a35d00}.prate{fill:#0a5}
.group{fill:#fbf7ff;stroke:#8a6bb5;stroke-dasharray:3 2}.gname{font-weight:bold;fill:#5a3d85}
.link{stroke:#c0392b;stroke-width:2.5;fill:none}.linklabel{fill:#fff;stroke:#c0392b}
.lname{font-weight:bold;fill:#c0392b}
`;

/**
 * The picture of @l; @portLine gives each port's third line (its counters,
 * its rates), by port name.
 */
export function renderSvg(l: Layout, portLine: (port: string) => string = () => ''): string {
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" class="containet-lab">`);
  o.push(`<style>${STYLE}</style>`);
  for (const lan of l.lans) {
    const ovs = lan.ovs !== undefined;
    o.push(`<g class="langroup" data-lan="${esc(lan.name)}">`);
    o.push(`<title>${esc(ovs ? `lan ${lan.name} (OVS bridge ${lan.ovs})` : `lan ${lan.name}`)}</title>`);
    o.push(`<rect class="lan${ovs ? ' ovs' : ''}" x="${lan.x}" y="${lan.y}" width="${lan.w}" height="${lan.h}" rx="8"/>`);
    o.push(`<line class="bus" x1="${lan.x + 8}" y1="${lan.busY}" x2="${lan.x + lan.w - 8}" y2="${lan.busY}"/>`);
    o.push(text(lan.x + 10, lan.busY - 9, 'lanname', lan.name, 80));
    if (ovs) o.push(text(lan.x + 18 + 9 * Math.min(lan.name.length, 80), lan.busY - 9, 'ovsmark', `OVS ${lan.ovs}`));
    o.push('</g>');
  }
  for (const g of l.groups) {
    o.push(`<g class="nodegroup" data-node="${esc(g.name)}"><title>${esc(`node ${g.name}${g.label ? ` (${g.label})` : ''}`)}</title>`);
    if (g.busY !== undefined) o.push(`<line class="drop" x1="${g.x + 24}" y1="${g.busY}" x2="${g.x + 24}" y2="${g.y}"/>`);
    o.push(`<rect class="group" x="${g.x}" y="${g.y}" width="${g.w}" height="${g.h}" rx="6"/>`);
    o.push(text(g.x + 8, g.y + 13, 'gname', g.name, Math.floor(g.w / 7)));
    if (g.label) o.push(text(g.x + 8, g.y + 25, 'glabel', g.label, Math.floor(g.w / 7)));
    o.push('</g>');
  }
  for (const p of l.ports) {
    const port = p.port;
    const tunnel = port.remotes.length > 0;
    const marks = [...port.marks, ...(tunnel ? [`→ ${port.remotes.join(',')}`] : [])].join(' ');
    const title = `port ${port.name} on ${port.lan}${port.group ? ` of ${port.group}` : ''}${marks ? ` [${marks}]` : ''}: click for a capture`;
    o.push(`<g class="portbox" data-port="${esc(port.name)}"><title>${esc(title)}</title>`);
    if (p.busY !== undefined) o.push(`<line class="drop" x1="${p.x + p.w / 2}" y1="${p.busY}" x2="${p.x + p.w / 2}" y2="${p.y}"/>`);
    o.push(`<rect class="port${tunnel ? ' tunnel' : ''}" x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" rx="4"/>`);
    o.push(text(p.x + 6, p.y + 15, 'pname', port.name, 25));
    if (marks) o.push(text(p.x + 6, p.y + 31, 'pmarks', marks, 27));
    o.push(text(p.x + 6, p.y + 47, 'prate', portLine(port.name), 27, ` data-port="${esc(port.name)}"`));
    o.push('</g>');
  }
  for (const k of l.links) {
    const { link, x, ya, yb, label } = k;
    o.push(`<g class="linkgroup" data-link="${esc(link.name)}"><title>${esc(`${link.name}: ${link.a} → ${link.b}: ${link.ab}; ${link.b} → ${link.a}: ${link.ba}`)}</title>`);
    o.push(`<path class="link" d="M${k.panelX} ${ya} H${x} V${yb} H${k.panelX}"/>`);
    o.push(`<rect class="linklabel" x="${label.x}" y="${label.y}" width="${label.w}" height="${label.h}" rx="4"/>`);
    o.push(text(label.x + 6, label.y + 14, 'lname', link.name, 36));
    o.push(text(label.x + 6, label.y + 29, 'ldir', `${link.a}→${link.b}: ${link.ab}`, 36));
    o.push(text(label.x + 6, label.y + 44, 'ldir', `${link.b}→${link.a}: ${link.ba}`, 36));
    o.push('</g>');
  }
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
