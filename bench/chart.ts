/**
 * The run as a hand-written SVG: grouped bars of every figure as a ratio to the
 * baseline path (throughput and latency in two panels, each with its own
 * scale and a dashed line at 1), a legend, and a table of the absolute values;
 * then, when the run has them, the vhost-user figures (a third panel of
 * absolute values, one group and scale per figure) with their own table.
 */
import { PATHS } from './paths.js';
import { fmt, GEN_MARK, genLimitedPair, vhostRatioCell } from './report.js';
import { FIGURES, VHOST_FIGURES, type FigureDef, type PathResult, type RunReport, type VhostPathResult } from './results.js';
import type { SectionResult } from './section.js';
import { GENERATOR_LIMITED_SHARE, verdictText } from './verdict.js';
import { VHOST_PATHS } from './vhostpaths.js';

/** Bar colours, one per path in table order (colour-blind-safe Okabe-Ito). */
const COLORS = ['#0072B2', '#999999', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'];

const WIDTH = 1270;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
/** Width of one group of bars (one figure). */
const GROUP_W = 150;
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

/** Height of the bars of an absolute-value panel. */
const BARS_H = 200;
/** Width of one bar of an absolute-value panel. */
const BAR_W = 56;

/** One bar of an absolute-value panel. */
interface Bar {
  name: string;
  color: string;
  value: number;
  /** The spread of the repetitions, drawn as a whisker when it has width. */
  min?: number;
  max?: number;
  /** Drawn hatched and labelled @mark: a figure that compares no switches (the generator's rate). */
  mark?: string;
  /** Hover text. */
  title: string;
}

/** A group of bars on a scale of its own: one figure of a panel. */
interface BarGroup {
  label: string;
  unit: string;
  digits: number;
  bars: Bar[];
}

/** A hatched fill of colour @color (an SVG pattern defined once per colour in PATTERNS). */
function hatch(color: string): string {
  return `url(#hatch${color.slice(1)})`;
}

/** The hatch patterns of every colour used, for the chart's <defs>. */
const PATTERNS = [...new Set([...COLORS, '#0072B2', '#E69F00', '#009E73', '#56B4E9', '#CC79A7', '#D55E00', '#F0E442'])]
  .map((c) => `<pattern id="hatch${c.slice(1)}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><rect width="3" height="6" fill="${c}"/></pattern>`)
  .join('');

/**
 * An absolute-value panel with its top at @top: @title, @notes (lines under
 * it: targets, marks), a legend of @legend (name and colour), then per group
 * a set of bars on its own scale (left axis), the value over each bar, a
 * whisker from the least to the greatest repetition, hatched bars marked;
 * groups wrap into rows. Returns the SVG and its height.
 */
export function barsPanel(top: number, title: string, notes: string[], legend: { name: string; color: string }[], groups: BarGroup[]): { svg: string; height: number } {
  const out: string[] = [text(30, top, title, `${FONT} font-size="14" font-weight="bold"`)];
  let y0 = top + 4;
  for (const n of notes) out.push(text(30, (y0 += 15), n, `${FONT} font-size="11" fill="#444"`));
  let lx = 30;
  y0 += 20;
  for (const l of legend) {
    const w = 24 + l.name.length * 6.2;
    if (lx + w > WIDTH - 20) {
      lx = 30;
      y0 += 16;
    }
    out.push(`<rect x="${lx}" y="${y0 - 10}" width="12" height="12" fill="${l.color}" stroke="#333"/>`);
    out.push(text(lx + 16, y0, l.name, `${FONT} font-size="11"`));
    lx += w + 10;
  }
  const shown = groups.filter((g) => g.bars.length > 0);
  let x = 70;
  let barsTop = y0 + 30;
  for (const g of shown) {
    const w = g.bars.length * BAR_W + 20;
    if (x + w > WIDTH - 20 && x > 70) {
      x = 70;
      barsTop += BARS_H + 70;
    }
    const base = barsTop + BARS_H;
    const max = Math.max(...g.bars.map((b) => Math.max(b.value, b.max ?? b.value))) * 1.15 || 1;
    const step = tickStep(max);
    const ceil = step * Math.ceil(max / step);
    /** The y coordinate of value @v. */
    const y = (v: number) => base - (Math.max(0, v) / ceil) * BARS_H;
    for (let v = 0; v <= ceil + 1e-9; v += step) {
      out.push(`<line x1="${x}" x2="${x + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`);
      out.push(text(x - 6, y(v) + 4, `${Number(v.toFixed(3))}`, `${FONT} font-size="11" text-anchor="end" fill="#555"`));
    }
    g.bars.forEach((b, i) => {
      const bx = x + 10 + i * BAR_W;
      const fill = b.mark === undefined ? b.color : hatch(b.color);
      out.push(`<rect x="${bx + 6}" y="${y(b.value).toFixed(1)}" width="${BAR_W - 12}" height="${(base - y(b.value)).toFixed(1)}" fill="${fill}" stroke="${b.color}"><title>${esc(b.title)}</title></rect>`);
      if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
        const cx = bx + BAR_W / 2;
        out.push(`<path d="M${cx} ${y(b.min).toFixed(1)}V${y(b.max).toFixed(1)}M${cx - 5} ${y(b.min).toFixed(1)}h10M${cx - 5} ${y(b.max).toFixed(1)}h10" stroke="#222" stroke-width="1.2" fill="none"/>`);
      }
      const label = `${fmt(b.value, g.digits)}${b.mark ?? ''}`;
      out.push(text(bx + BAR_W / 2, Math.min(y(b.value), y(b.max ?? b.value)) - 4, label, `${FONT} font-size="10" text-anchor="middle" fill="#222"`));
    });
    out.push(`<line x1="${x}" x2="${x + w}" y1="${base}" y2="${base}" stroke="#333"/>`);
    out.push(text(x + w / 2, base + 16, g.label, `${FONT} font-size="11" text-anchor="middle"`));
    if (g.unit !== '') out.push(text(x + w / 2, base + 30, `(${g.unit})`, `${FONT} font-size="10" text-anchor="middle" fill="#666"`));
    x += w + 90;
  }
  const bottom = shown.length === 0 ? y0 + 10 : barsTop + BARS_H + 40;
  if (shown.length === 0) out.push(text(30, (y0 += 20), 'nothing measured', `${FONT} font-size="11" fill="#b00"`));
  return { svg: out.join('\n'), height: bottom - top };
}

/** The vhost-user panel with its top at @top (absolute values, one group per figure); its height. */
function vhostPanel(top: number, rep: RunReport): { svg: string; height: number } {
  const targets = rep.vhostTargets.map((t) => `target: ${t.path} ≥ ${t.min.toFixed(1)}× ${t.baseline}: ${verdictText(t, t.ratio === null ? null : `${t.ratio.toFixed(2)}×`, '×')}`);
  const ok = rep.vhost.filter((p) => p.status === 'ok' && p.value !== null);
  const groups = VHOST_FIGURES.map((f) => ({
    label: f.label,
    unit: f.unit,
    digits: f.digits,
    bars: ok
      .filter((p) => p.figure === f.key)
      .map((p) => {
        const ratios = Object.entries(p.ratios)
          .filter(([b, r]) => r !== null && b !== p.name)
          .map(([b, r]) => `×${r!.toFixed(2)} ${b}`)
          .join(', ');
        return {
          name: p.name,
          color: vhostColorOf(p.key),
          value: p.value!,
          ...(p.spread ? { min: p.spread.min, max: p.spread.max } : {}),
          ...(p.generatorLimited === true ? { mark: GEN_MARK } : {}),
          title: `${p.name}: ${fmt(p.value, f.digits)} ${f.unit}${ratios ? ` (${ratios})` : ''}`,
        };
      }),
  }));
  const cpu = ok.filter((p) => p.figure === 'mpps' && p.cpuUsPerFrame !== null);
  groups.push({
    label: 'switch CPU per frame',
    unit: 'µs, lower is better',
    digits: 3,
    bars: cpu.map((p) => ({
      name: p.name,
      color: vhostColorOf(p.key),
      value: p.cpuUsPerFrame!,
      ...(p.cpuSamples.length > 1 ? { min: Math.min(...p.cpuSamples), max: Math.max(...p.cpuSamples) } : {}),
      title: `${p.name}: ${fmt(p.cpuUsPerFrame, 3)} µs of the switch's CPU per frame`,
    })),
  });
  const notes = [
    ...targets,
    `targets are met only when the worst repetition against the baseline's best meets them, and not against a generator-limited baseline; switch CPU per frame compares the switches`,
    `whiskers: least to greatest of ${rep.settings.vhostReps} repetition(s); hatched, ${GEN_MARK}: B received >= ${GENERATOR_LIMITED_SHARE * 100}% of what A offered (the sender's rate, not the switch's)`,
  ];
  return barsPanel(top, 'vhost-user: absolute values, each figure on its own scale', notes, ok.map((p) => ({ name: p.name, color: vhostColorOf(p.key) })), groups);
}

/**
 * The panel of one later section (NAT, a2b, ...) with its top at @top:
 * absolute values of each figure, one bar per path with its spread, the
 * section's targets over it; its height.
 */
function sectionPanel(top: number, sec: SectionResult): { svg: string; height: number } {
  const ok = sec.paths.filter((p) => p.status === 'ok');
  const reps = Math.max(1, ...ok.flatMap((p) => Object.values(p.samples).map((xs) => xs.length)));
  /** Colour of path @name: by its place in the section. */
  const color = (name: string) => COLORS[Math.max(0, sec.paths.findIndex((p) => p.name === name)) % COLORS.length]!;
  const groups = sec.figures.map((f) => ({
    label: f.label,
    unit: f.unit,
    digits: f.digits,
    bars: ok
      .filter((p) => p.values[f.key] !== null && p.values[f.key] !== undefined)
      .map((p) => {
        const sp = p.spread?.[f.key] ?? null;
        const r = p.ratios[f.key];
        return {
          name: p.name,
          color: color(p.name),
          value: p.values[f.key]!,
          ...(sp ? { min: sp.min, max: sp.max } : {}),
          title: `${p.name} ${f.label}: ${fmt(p.values[f.key]!, f.digits)} ${f.unit}${r === null || r === undefined || p.name === sec.baseline ? '' : ` (×${r.toFixed(2)} ${sec.baseline})`}`,
        };
      }),
  }));
  const notes = [
    ...sec.targets.map((t) => `target: ${t.text}: ${verdictText({ met: t.met, low: t.low ?? null, high: t.high ?? null }, t.value)}`),
    ...sec.paths.filter((p) => p.status !== 'ok').map((p) => `${p.name}: ${p.status}: ${(p.reason ?? '').slice(0, 150)}`),
    `absolute values, each figure on its own scale; whiskers: least to greatest of ${reps} repetition(s)${sec.baseline === null ? '' : `; ratios to ${sec.baseline} in the bars' hover text and the text table`}`,
  ];
  return barsPanel(top, `${sec.title} section`, notes, ok.map((p) => ({ name: p.name, color: color(p.name) })), groups);
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
      p.value === null ? (p.error ? 'error' : '-') : `${fmt(p.value, f.digits)}${p.generatorLimited === true ? GEN_MARK : ''} ${f.unit}`,
      ...baselines.map((b) => vhostRatioCell(rep.vhost, p, b)),
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
  const base = paths.find(({ p }) => p.name === baseline)?.p;
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
      // A ratio of figures the generator set compares no switches: hatched, labelled with the mark, not the ratio.
      const gen = genLimitedPair(p, base, f.key);
      const own = p.figures[f.key].generatorLimited === true;
      const why = gen ? ` (${own ? 'generator-limited' : `${baseline} generator-limited`}: not a comparison of switches)` : '';
      out.push(`<rect x="${(bx + 1).toFixed(1)}" y="${y(r).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - y(r)).toFixed(1)}" fill="${gen ? hatch(color) : color}" stroke="${color}"><title>${esc(`${p.name} ${f.label}: ${fmt(p.figures[f.key].value, f.digits)} ${f.unit} (×${r.toFixed(2)})${why}`)}</title></rect>`);
      out.push(text(bx + barW / 2, y(r) - 4, gen ? (own ? GEN_MARK : `÷${GEN_MARK}`) : r < 10 ? r.toFixed(2) : r.toFixed(1), `${FONT} font-size="10" text-anchor="middle" fill="#222"`));
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
  const valueX = (i: number) => 180 + i * 110;
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
        const v = fig.value === null ? (fig.error ? 'error' : '-') : `${fmt(fig.value, f.digits)}${fig.generatorLimited === true ? GEN_MARK : ''}`;
        out.push(text(valueX(i), yy, v, `${FONT} font-size="11"`));
      });
      out.push(text(titleX, yy, clip(p.title, maxChars), `${FONT} font-size="10" fill="#555"`));
    }
    yy += 18;
  }
  return { svg: out.join('\n'), height: yy - y0 };
}

/**
 * The netns section's 64-byte UDP panel with its top at @top: per path what
 * trafgen offered, what B received (hatched when generator-limited) and the
 * switch's CPU ns per frame (userspace switches only); its height.
 */
function udpPanel(top: number, rep: RunReport): { svg: string; height: number } {
  const ok = rep.paths.filter((p) => p.status === 'ok');
  /** The bar of @p's value @v (with its repetitions @xs) in group @g. */
  const bar = (p: PathResult, v: number, xs: number[], g: string, unit: string, mark?: string): Bar => ({
    name: p.name,
    color: colorOf(p.key),
    value: v,
    ...(xs.length > 1 ? { min: Math.min(...xs), max: Math.max(...xs) } : {}),
    ...(mark === undefined ? {} : { mark }),
    title: `${p.name} ${g}: ${fmt(v, 0)} ${unit}${mark === undefined ? '' : ' (generator-limited: trafgen\'s rate, not the path\'s)'}`,
  });
  const groups: BarGroup[] = [
    { label: 'offered by trafgen', unit: 'kpps', digits: 0, bars: ok.filter((p) => p.udpOfferedKpps !== null).map((p) => bar(p, p.udpOfferedKpps!, p.udpOfferedSamples ?? [], 'offered', 'kpps')) },
    {
      label: 'received by B',
      unit: 'kpps',
      digits: 0,
      bars: ok.filter((p) => p.figures.udp64.value !== null).map((p) => bar(p, p.figures.udp64.value!, p.figures.udp64.samples, 'received', 'kpps', p.figures.udp64.generatorLimited === true ? GEN_MARK : undefined)),
    },
    { label: 'switch CPU per frame', unit: 'ns, lower is better', digits: 0, bars: ok.filter((p) => p.udpCpuNsPerFrame !== null).map((p) => bar(p, p.udpCpuNsPerFrame!, p.udpCpuSamples ?? [], 'switch CPU', 'ns/frame')) },
  ];
  const kernel = ok.filter((p) => p.udpCpuNsPerFrame === null).map((p) => p.name);
  const notes = [
    `hatched, ${GEN_MARK}: B received >= ${GENERATOR_LIMITED_SHARE * 100}% of what trafgen offered: the figure is the generator's rate and compares no switches`,
    `switch CPU: ns the switch process's threads ran per frame B received, the 64-byte figure that compares switches${kernel.length > 0 ? `; not measured on ${kernel.join(', ')} (kernel forwarding in softirq context)` : ''}`,
  ];
  return barsPanel(top, '64-byte UDP: what the generator offered, what each path received, what the switch spent', notes, ok.map((p) => ({ name: p.name, color: colorOf(p.key) })), groups);
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
  // Panels stacked under the netns section (or right under the header without one): UDP, vhost-user, each later section.
  let y = hasPaths ? tableTop + t.height + 40 : 100;
  const blocks: string[] = [];
  /** Add a block of @b.height at the current y, then a gap of @gap. */
  const add = (b: { svg: string; height: number }, gap = 30) => {
    blocks.push(b.svg);
    y += b.height + gap;
  };
  if (hasPaths) add(udpPanel(y, rep));
  if (hasVhost) {
    add(vhostPanel(y, rep), 20);
    add(vhostTable(y, rep), 10);
    add({ svg: text(30, y, `vhost-user: medians of ${s.vhostReps} rep(s); Mpps = 64 B frames received by testpmd B (rxonly) over ${s.vhostSeconds} s after ${s.vhostWarmupS} s of warm-up; TCP from a VM: ${s.vmMiB} MiB per rep from a TCG guest (TCG is the limit)`, `${FONT} font-size="10" fill="#444"`), height: 10 });
  }
  for (const sec of rep.sections) add(sectionPanel(y, sec));
  const height = y;
  const hasBase = rep.paths.some((p) => p.name === rep.baseline && p.status === 'ok');
  const heading = hasPaths ? `containet packet paths: each figure as a ratio to the ${rep.baseline} (same run)` : `containet bench: ${[...(hasVhost ? ['vhost-user'] : []), ...rep.sections.map((x) => x.title)].join(', ')}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<defs>${PATTERNS}</defs>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(30, 32, heading, `${FONT} font-size="18" font-weight="bold"`),
    text(30, 54, `${rep.date}  |  ${m.nproc} CPUs, ${m.cpuModel}  |  kernel ${m.kernel}  |  containet ${m.git ?? '?'}`, `${FONT} font-size="11" fill="#444"`),
    hasPaths
      ? text(30, 70, `medians of ${s.reps} rep(s); iperf3 -t ${s.seconds} -O ${s.omit}; UDP: 60 B frames, trafgen on 1 CPU, received by B over ${s.udpSeconds} s (${GEN_MARK}, hatched: generator-limited); ping: ${s.pings * s.reps} echoes every ${s.pingIntervalS * 1000} ms and ${s.pingsFast * s.reps} every ${s.pingFastIntervalS * 1000} ms; run took ${rep.totalSeconds.toFixed(0)} s`, `${FONT} font-size="11" fill="#444"`)
      : text(30, 70, `run took ${rep.totalSeconds.toFixed(0)} s`, `${FONT} font-size="11" fill="#444"`),
    !hasPaths || hasBase ? '' : text(30, 88, `no ${rep.baseline} in this run: no ratios, see the table`, `${FONT} font-size="12" fill="#b00"`),
    hasPaths ? panel(leftX, 'Throughput: higher is better', throughput, ok, rep.baseline) : '',
    hasPaths ? panel(rightX, 'Latency: lower is better', latency, ok, rep.baseline) : '',
    t.svg,
    ...blocks,
    '</svg>',
    '',
  ].join('\n');
}
