/**
 * The run as a hand-written SVG: grouped bars of every figure as a ratio to the
 * baseline path (throughput and latency in two panels, each with its own
 * scale and a dashed line at 1), a legend, and a table of the absolute values;
 * then, when the run has them, the vhost-user figures (a third panel of
 * absolute values, one group and scale per figure) with their own table.
 */
import { PATHS } from './paths.js';
import { fmt } from './report.js';
import { FIGURES, VHOST_FIGURES, type FigureDef, type PathResult, type RunReport, type VhostPathResult } from './results.js';
import { VHOST_PATHS } from './vhostpaths.js';

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

/** Bar colours of the vhost-user paths, by place in VHOST_PATHS. */
const VHOST_COLORS = ['#0072B2', '#E69F00', '#009E73', '#56B4E9', '#CC79A7', '#D55E00'];

/** Colour of vhost-user path @key, the same in every run. */
function vhostColorOf(key: string): string {
  return VHOST_COLORS[Math.max(0, VHOST_PATHS.findIndex((p) => p.key === key)) % VHOST_COLORS.length]!;
}

/** Height of the vhost-user panel's bars. */
const VHOST_PANEL_H = 220;

/**
 * The vhost-user panel with its top at @top: per figure, a group of bars of
 * absolute values on a scale of its own (left axis), the value over each bar
 * and the path's name under it; its height.
 */
function vhostPanel(top: number, rep: RunReport): { svg: string; height: number } {
  const out: string[] = [text(30, top, 'vhost-user: absolute values, higher is better (each figure on its own scale)', `${FONT} font-size="14" font-weight="bold"`)];
  const targets = rep.vhostTargets
    .map((t) => `${t.path} ≥ ${t.min.toFixed(1)}× ${t.baseline}: ${t.ratio === null ? 'n/a' : `${t.ratio.toFixed(2)}× (${t.met ? 'met' : 'not met'})`}`)
    .join('  |  ');
  if (targets) out.push(text(30, top + 18, `targets: ${targets}`, `${FONT} font-size="11" fill="#444"`));
  const barsTop = top + 50;
  const base = barsTop + VHOST_PANEL_H;
  let x = 70;
  for (const f of VHOST_FIGURES) {
    const ps = rep.vhost.filter((p) => p.figure === f.key && p.status === 'ok' && p.value !== null);
    if (ps.length === 0) continue;
    const barW = 90;
    const w = ps.length * barW + 20;
    const max = Math.max(...ps.map((p) => p.value!)) * 1.15 || 1;
    const step = tickStep(max);
    const ceil = step * Math.ceil(max / step);
    /** The y coordinate of value @v. */
    const y = (v: number) => base - (v / ceil) * VHOST_PANEL_H;
    for (let v = 0; v <= ceil + 1e-9; v += step) {
      out.push(`<line x1="${x}" x2="${x + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`);
      out.push(text(x - 6, y(v) + 4, `${Number(v.toFixed(3))}`, `${FONT} font-size="11" text-anchor="end" fill="#555"`));
    }
    ps.forEach((p, i) => {
      const bx = x + 10 + i * barW;
      const v = p.value!;
      const ratios = Object.entries(p.ratios)
        .filter(([b, r]) => r !== null && b !== p.name)
        .map(([b, r]) => `×${r!.toFixed(2)} ${b}`)
        .join(', ');
      out.push(`<rect x="${bx + 10}" y="${y(v).toFixed(1)}" width="${barW - 20}" height="${(base - y(v)).toFixed(1)}" fill="${vhostColorOf(p.key)}"><title>${esc(`${p.name}: ${fmt(v, f.digits)} ${f.unit}${ratios ? ` (${ratios})` : ''}`)}</title></rect>`);
      out.push(text(bx + barW / 2, y(v) - 4, fmt(v, f.digits), `${FONT} font-size="11" text-anchor="middle" fill="#222"`));
      const words = p.name.replace(/^containet-/, 'containet- ').split(' ');
      words.forEach((wd, j) => out.push(text(bx + barW / 2, base + 14 + j * 12, wd, `${FONT} font-size="10" text-anchor="middle"`)));
    });
    out.push(`<line x1="${x}" x2="${x + w}" y1="${base}" y2="${base}" stroke="#333"/>`);
    out.push(text(x + w / 2, base + 44, `${f.label} (${f.unit})`, `${FONT} font-size="12" text-anchor="middle"`));
    x += w + 110;
  }
  return { svg: out.join('\n'), height: base + 60 - top };
}

/** The vhost-user table from y=@y0: name, value, ratios, offered rate, title; its height. */
function vhostTable(y0: number, rep: RunReport): { svg: string; height: number } {
  const baselines = [...new Set(VHOST_FIGURES.flatMap((f) => f.baselines))];
  const cols = ['value', ...baselines.map((b) => `× ${b}`), 'offered Mpps'];
  /** The x coordinate of column @i. */
  const colX = (i: number) => 200 + i * 110;
  const titleX = colX(cols.length) + 10;
  const maxChars = Math.floor((WIDTH - titleX - 10) / 5.6);
  const out: string[] = [text(30, y0, 'vhost-user path', `${FONT} font-size="11" font-weight="bold"`)];
  cols.forEach((c, i) => out.push(text(colX(i), y0, c, `${FONT} font-size="11" font-weight="bold"`)));
  out.push(text(titleX, y0, 'CPU placement (what each path is: see the JSON or bench/README.md)', `${FONT} font-size="11" font-weight="bold"`));
  let yy = y0 + 20;
  /** One row of @p. */
  const row = (p: VhostPathResult) => {
    const f = VHOST_FIGURES.find((x) => x.key === p.figure)!;
    out.push(`<rect x="12" y="${yy - 10}" width="12" height="12" fill="${p.status === 'ok' ? vhostColorOf(p.key) : '#fff'}" stroke="#333"/>`);
    out.push(text(30, yy, p.name, `${FONT} font-size="11"`));
    if (p.status !== 'ok') {
      const why = `${p.status}: ${p.reason ?? ''}`;
      out.push(text(colX(0), yy, why.length > 150 ? `${why.slice(0, 147)}...` : why, `${FONT} font-size="10" fill="#b00"`));
      yy += 18;
      return;
    }
    const cells = [
      p.value === null ? (p.error ? 'error' : '-') : `${fmt(p.value, f.digits)} ${f.unit}`,
      ...baselines.map((b) => (f.baselines.includes(b) ? fmt(p.ratios[b] ?? null, 2) : '')),
      p.figure === 'mpps' ? fmt(p.offeredMpps, 2) : '',
    ];
    cells.forEach((c, i) => out.push(text(colX(i), yy, c, `${FONT} font-size="11"`)));
    const t = p.placement;
    out.push(text(titleX, yy, t.length > maxChars ? `${t.slice(0, maxChars - 3)}...` : t, `${FONT} font-size="10" fill="#555"`));
    yy += 18;
  };
  rep.vhost.forEach(row);
  return { svg: out.join('\n'), height: yy - y0 };
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
  const hasPaths = rep.paths.length > 0;
  const hasVhost = rep.vhost.length > 0;
  const t = hasPaths ? table(tableTop, rep) : { svg: '', height: 0 };
  // The vhost-user section goes under the netns section, or right under the header without one.
  const vTop = hasPaths ? tableTop + t.height + 40 : 100;
  const vp = hasVhost ? vhostPanel(vTop, rep) : { svg: '', height: 0 };
  const vt = hasVhost ? vhostTable(vTop + vp.height + 20, rep) : { svg: '', height: 0 };
  const height = hasVhost ? vTop + vp.height + 20 + vt.height + 30 : tableTop + t.height + 30;
  const hasBase = rep.paths.some((p) => p.name === rep.baseline && p.status === 'ok');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(30, 32, hasPaths ? `containet packet paths: each figure as a ratio to the ${rep.baseline} (same run)` : 'containet packet paths: vhost-user', `${FONT} font-size="18" font-weight="bold"`),
    text(30, 54, `${rep.date}  |  ${m.nproc} CPUs, ${m.cpuModel}  |  kernel ${m.kernel}  |  containet ${m.git ?? '?'}`, `${FONT} font-size="11" fill="#444"`),
    hasPaths
      ? text(30, 70, `medians of ${s.reps} rep(s); iperf3 -t ${s.seconds} -O ${s.omit}; UDP: 60 B frames, trafgen on 1 CPU, received by B over ${s.seconds} s; ping: ${s.pings * s.reps} echoes every ${s.pingIntervalS * 1000} ms; run took ${rep.totalSeconds.toFixed(0)} s`, `${FONT} font-size="11" fill="#444"`)
      : text(30, 70, `run took ${rep.totalSeconds.toFixed(0)} s`, `${FONT} font-size="11" fill="#444"`),
    !hasPaths || hasBase ? '' : text(30, 88, `no ${rep.baseline} in this run: no ratios, see the table`, `${FONT} font-size="12" fill="#b00"`),
    hasPaths ? panel(leftX, 'Throughput: higher is better', throughput, ok, rep.baseline) : '',
    hasPaths ? panel(rightX, 'Latency: lower is better', latency, ok, rep.baseline) : '',
    t.svg,
    vp.svg,
    vt.svg,
    hasVhost
      ? text(30, height - 10, `vhost-user: medians of ${s.vhostReps} rep(s); Mpps = 64 B frames received by testpmd B (rxonly) over ${s.vhostSeconds} s after ${s.vhostWarmupS} s of warm-up; TCP from a VM: ${s.vmMiB} MiB per rep from a TCG guest (TCG is the limit)`, `${FONT} font-size="10" fill="#444"`)
      : '',
    '</svg>',
    '',
  ].join('\n');
}
