/**
 * The run as a hand-written SVG: grouped bars of every figure as a ratio to the
 * baseline path (throughput and latency in two panels, each with its own
 * scale and a dashed line at 1), a legend, and a table of the absolute values.
 */
import { PATHS } from './paths.js';
import { fmt } from './report.js';
import { FIGURES, type FigureDef, type PathResult, type RunReport } from './results.js';

/** Bar colours, one per path in table order (colour-blind-safe Okabe-Ito). */
const COLORS = ['#0072B2', '#999999', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'];

const WIDTH = 1270;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
/** Width of one group of bars (one figure). */
const GROUP_W = 200;
const PANEL_TOP = 110;
const PANEL_H = 300;

/** @s with XML's special characters escaped. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A <text> element at (@x, @y) with extra attributes @attrs. */
function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** A tick step giving at most 6 ticks up to @max (1, 2, 2.5 or 5 times a power of ten). */
function tickStep(max: number): number {
  const raw = max / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/** Colour of the path with key @key: by its place in PATHS, the same in every run. */
function colorOf(key: string): string {
  return COLORS[Math.max(0, PATHS.findIndex((p) => p.key === key)) % COLORS.length]!;
}

/**
 * One panel at x=@x0: a group of bars per figure in @figs, one bar per path of
 * @paths (with its colour index), on a ratio axis from 0 with a dashed line at 1.
 */
function panel(x0: number, title: string, figs: FigureDef[], paths: { p: PathResult; color: string }[], baseline: string): string {
  const w = figs.length * GROUP_W;
  const ratios = paths.flatMap(({ p }) => figs.map((f) => p.figures[f.key].ratio ?? 0));
  const max = Math.max(1.2, ...ratios) * 1.12;
  const step = tickStep(max);
  const top = step * Math.ceil(max / step);
  /** The y coordinate of ratio @v. */
  const y = (v: number) => PANEL_TOP + PANEL_H - (v / top) * PANEL_H;
  const out: string[] = [text(x0, PANEL_TOP - 14, title, `${FONT} font-size="14" font-weight="bold"`)];
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`);
    out.push(text(x0 - 6, y(v) + 4, `${Number(v.toFixed(3))}×`, `${FONT} font-size="11" text-anchor="end" fill="#555"`));
  }
  const n = Math.max(1, paths.length);
  const barW = Math.min(34, (GROUP_W - 30) / n);
  figs.forEach((f, gi) => {
    const gx = x0 + gi * GROUP_W + (GROUP_W - n * barW) / 2;
    paths.forEach(({ p, color }, bi) => {
      const bx = gx + bi * barW;
      const r = p.figures[f.key].ratio;
      if (r === null) {
        const why = p.figures[f.key].value === null ? 'n/a' : 'no base';
        out.push(text(bx + barW / 2, y(0) - 4, why, `${FONT} font-size="9" text-anchor="middle" fill="#b00"`));
        return;
      }
      out.push(`<rect x="${(bx + 1).toFixed(1)}" y="${y(r).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - y(r)).toFixed(1)}" fill="${color}"><title>${esc(`${p.name} ${f.label}: ${fmt(p.figures[f.key].value, f.digits)} ${f.unit} (×${r.toFixed(2)})`)}</title></rect>`);
      out.push(text(bx + barW / 2, y(r) - 4, r < 10 ? r.toFixed(2) : r.toFixed(1), `${FONT} font-size="10" text-anchor="middle" fill="#222"`));
    });
    out.push(text(x0 + gi * GROUP_W + GROUP_W / 2, y(0) + 18, `${f.label}`, `${FONT} font-size="12" text-anchor="middle"`));
    out.push(text(x0 + gi * GROUP_W + GROUP_W / 2, y(0) + 32, `(${f.unit})`, `${FONT} font-size="10" text-anchor="middle" fill="#666"`));
  });
  out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" stroke="#333" stroke-dasharray="5,4"/>`);
  out.push(text(x0 + w + 4, y(1) + 4, `${baseline} = 1`, `${FONT} font-size="10" fill="#333"`));
  out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  return out.join('\n');
}

/** Legend and absolute-value table from y=@y0, one row per path; its height. */
function table(y0: number, rep: RunReport): { svg: string; height: number } {
  /** The x coordinate of the column of figure @i. */
  const valueX = (i: number) => 180 + i * 125;
  const titleX = valueX(FIGURES.length) + 10;
  const maxChars = Math.floor((WIDTH - titleX - 10) / 5.6);
  /** @t cut to @n characters, with an ellipsis when cut. */
  const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 3)}...` : t);
  const out: string[] = [text(30, y0, 'path', `${FONT} font-size="11" font-weight="bold"`)];
  FIGURES.forEach((f, i) => {
    out.push(text(valueX(i), y0 - 13, f.label, `${FONT} font-size="11" font-weight="bold"`));
    out.push(text(valueX(i), y0, f.unit, `${FONT} font-size="10" fill="#666"`));
  });
  out.push(text(titleX, y0, 'what it is', `${FONT} font-size="11" font-weight="bold"`));
  let yy = y0 + 20;
  for (const p of rep.paths) {
    out.push(`<rect x="12" y="${yy - 10}" width="12" height="12" fill="${p.status === 'ok' ? colorOf(p.key) : '#fff'}" stroke="#333"/>`);
    out.push(text(30, yy, p.name, `${FONT} font-size="11"`));
    if (p.status !== 'ok') {
      const why = clip(`${p.status}: ${p.reason ?? ''}`, Math.floor((WIDTH - valueX(0) - 10) / 5.6));
      out.push(text(valueX(0), yy, why, `${FONT} font-size="10" fill="#b00"`));
    } else {
      FIGURES.forEach((f, i) => {
        const fig = p.figures[f.key];
        const v = fig.value === null ? (fig.error ? 'error' : '-') : fmt(fig.value, f.digits);
        out.push(text(valueX(i), yy, v, `${FONT} font-size="11"`));
      });
      out.push(text(titleX, yy, clip(p.title, maxChars), `${FONT} font-size="10" fill="#555"`));
    }
    yy += 18;
  }
  return { svg: out.join('\n'), height: yy - y0 };
}

/** The whole chart of @rep as an SVG document. */
export function renderChart(rep: RunReport): string {
  const ok = rep.paths.filter((p) => p.status === 'ok').map((p) => ({ p, color: colorOf(p.key) }));
  const m = rep.machine;
  const s = rep.settings;
  const throughput = FIGURES.filter((f) => f.better === 'higher');
  const latency = FIGURES.filter((f) => f.better === 'lower');
  const leftX = 70;
  const rightX = leftX + throughput.length * GROUP_W + 110;
  const tableTop = PANEL_TOP + PANEL_H + 80;
  const t = table(tableTop, rep);
  const height = tableTop + t.height + 30;
  const hasBase = rep.paths.some((p) => p.name === rep.baseline && p.status === 'ok');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(30, 32, `containet packet paths: each figure as a ratio to the ${rep.baseline} (same run)`, `${FONT} font-size="18" font-weight="bold"`),
    text(30, 54, `${rep.date}  |  ${m.nproc} CPUs, ${m.cpuModel}  |  kernel ${m.kernel}  |  containet ${m.git ?? '?'}`, `${FONT} font-size="11" fill="#444"`),
    text(30, 70, `medians of ${s.reps} rep(s); iperf3 -t ${s.seconds} -O ${s.omit}; UDP: 60 B frames, trafgen on 1 CPU, received by B over ${s.seconds} s; ping: ${s.pings * s.reps} echoes every ${s.pingIntervalS * 1000} ms; run took ${rep.totalSeconds.toFixed(0)} s`, `${FONT} font-size="11" fill="#444"`),
    hasBase ? '' : text(30, 88, `no ${rep.baseline} in this run: no ratios, see the table`, `${FONT} font-size="12" fill="#b00"`),
    panel(leftX, 'Throughput: higher is better', throughput, ok, rep.baseline),
    panel(rightX, 'Latency: lower is better', latency, ok, rep.baseline),
    t.svg,
    '</svg>',
    '',
  ].join('\n');
}
