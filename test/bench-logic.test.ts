/**
 * The bench's own logic, without root or a run: which 64-byte figures the
 * load generator set (and how the table and the chart mark them), targets
 * judged over the spread of the repetitions, and a chart panel for every
 * section, from fake results shaped as a run's. See bench/README.md.
 */
import test from 'ava';

import { renderChart } from '../bench/chart.js';
import { addRatios, formatTable, formatVhostTable, GEN_MARK, netnsTargets } from '../bench/report.js';
import { emptyFigures, type PathResult, type RunReport, type VhostPathResult } from '../bench/results.js';
import { formatSection, ratioTarget, type SectionDef, type SectionPathResult, type SectionResult } from '../bench/section.js';
import { SECTIONS } from '../bench/sections.js';
import { parseOptions } from '../bench/options.js';
import { median, ratio, spread } from '../bench/stats.js';
import { vhostTargets, addVhostRatios } from '../bench/vhostrun.js';
import { generatorLimited, ratioVerdict, verdictText } from '../bench/verdict.js';
import { checkXml } from './helpers/xml.js';

/** A netns path result with 64-byte UDP @rx received of @offered offered (kpps) and @cpu ns/frame. */
function netnsPath(key: string, name: string, tcp1: number[], rx: number, offered: number, cpu: number | null): PathResult {
  const figures = emptyFigures();
  figures.tcp1.samples = tcp1;
  figures.tcp1.value = median(tcp1);
  figures.udp64.samples = [rx];
  figures.udp64.value = rx;
  figures.udp64.generatorLimited = generatorLimited(rx, offered);
  return { key, name, title: `${name} (fake)`, status: 'ok', figures, udpSentKpps: offered, udpOfferedKpps: offered, udpOfferedSamples: [offered], udpCpuNsPerFrame: cpu, udpCpuSamples: cpu === null ? [] : [cpu], pingLost: 0, seconds: 1, cleanupErrors: [] };
}

/** Fake results of section @def: path i's figures are (i+1) times 1, 2 and 3 over three repetitions. */
function fakeSection(def: SectionDef): SectionResult {
  const paths: SectionPathResult[] = def.paths.map((p, i) => {
    const samples = Object.fromEntries(def.figures.map((f) => [f.key, [1, 2, 3].map((x) => x * (i + 1))]));
    return {
      key: p.key,
      name: p.name,
      title: p.title,
      status: 'ok',
      values: Object.fromEntries(def.figures.map((f) => [f.key, median(samples[f.key]!)])),
      samples,
      spread: Object.fromEntries(def.figures.map((f) => [f.key, spread(samples[f.key]!)])),
      ratios: {},
      notes: [],
      seconds: 1,
      cleanupErrors: [],
    };
  });
  const base = paths.find((p) => p.name === def.baseline);
  for (const p of paths) for (const f of def.figures) p.ratios[f.key] = ratio(p.values[f.key] ?? null, base?.values[f.key] ?? null);
  return { key: def.key, title: def.title, figures: def.figures, baseline: def.baseline, paths, targets: def.targets?.(paths) ?? [], legend: [], noisy: def.noisy ?? false };
}

/** A whole fake run: netns paths, vhost-user paths and every section. */
function fakeRun(paths: PathResult[], vhost: VhostPathResult[] = []): RunReport {
  addRatios(paths, 'bridge');
  addVhostRatios(vhost);
  return {
    date: '2026-11-27T00:00:00.000Z',
    machine: { nproc: 2, cpuModel: 'fake CPU', memGiB: 4, kernel: '6.1', kernelVersion: '#1', hostname: 'fake', node: 'v20', git: 'fake', tools: {} },
    settings: parseOptions(['node', 'run.js']),
    baseline: 'bridge',
    paths,
    vhost,
    vhostTargets: vhostTargets(vhost),
    sections: SECTIONS.map(fakeSection),
    totalSeconds: 1,
    leftovers: [],
  };
}

test('a rate is generator-limited when the path received at least 95% of what was offered', (t) => {
  t.true(generatorLimited(241, 242));
  t.true(generatorLimited(95, 100));
  t.false(generatorLimited(94, 100));
  t.false(generatorLimited(456, 1325));
  t.is(generatorLimited(null, 100), null);
  t.is(generatorLimited(100, null), null);
  t.is(generatorLimited(100, 0), null);
});

test('a ratio target is met only when the worst repetition against the best baseline meets it', (t) => {
  // Always above: 4..5 against 2..3 is at least 1.33x.
  t.like(ratioVerdict([4, 5, 4.5], [2, 3], 1.0, 1.8), { met: true });
  // Always below.
  t.like(ratioVerdict([1, 1.2], [2, 3], 1.0, 0.44), { met: false });
  // The NAT's case: medians say 1.3x but slirp4netns moved 1.8-10.8.
  const v = ratioVerdict([4.2, 4.9, 4.5], [1.8, 3.4, 10.8], 1.0, 1.32);
  t.is(v.met, null);
  t.is(v.low!.toFixed(2), '0.39');
  t.is(v.high!.toFixed(2), '2.72');
  t.is(verdictText(v, '1.32x'), '1.32x: not shown (spread 0.39-2.72x)');
  t.is(verdictText(ratioVerdict([], [1], 1, null), null), 'not measured');
  t.is(verdictText(ratioVerdict([2], [1], 1, 2), '2.00x'), '2.00x (met)');
});

test('the netns table marks a generator-limited figure and shows no ratio for it or against it', (t) => {
  const rep = fakeRun([
    netnsPath('a', 'containet', [10, 11, 12], 456, 1325, 1783),
    netnsPath('b', 'bridge', [13, 14, 15], 676, 673, null),
    netnsPath('c', 'veth', [17, 18, 19], 902, 906, null),
  ]);
  t.false(rep.paths[0]!.figures.udp64.generatorLimited!);
  t.true(rep.paths[1]!.figures.udp64.generatorLimited!);
  const table = formatTable(rep);
  const row = (name: string) => table.split('\n').find((l) => l.startsWith(`${name} `))!;
  t.regex(row('bridge'), new RegExp(`676\\${GEN_MARK}\\s`));
  t.regex(row('veth'), new RegExp(`902\\${GEN_MARK}\\s`));
  // containet dropped (not generator-limited), but its baseline was: no ratio either.
  t.regex(row('containet'), /\s456\s+-/);
  t.notRegex(row('containet'), /456 \(×/);
  // TCP ratios stay.
  t.regex(row('containet'), /11\.00 \(×0\.79\)/);
  t.regex(row('containet'), /1325\s+1783$/);
  t.regex(row('bridge'), /673\s+-$/);
  t.regex(table, /generator-limited/);
});

test('the netns targets are judged on the spread: met only when the worst repetition meets them', (t) => {
  const rep = fakeRun([netnsPath('a', 'containet', [15, 16, 17], 456, 1325, 1783), netnsPath('b', 'bridge', [14, 15, 16], 676, 673, null), netnsPath('f', 'containet-2t', [18, 19, 20], 456, 1325, 1783)]);
  const lines = netnsTargets(rep);
  // containet 16 against 15: 1.07x, but its worst (15) against the bridge's best (16) is 0.94: not shown.
  t.true(lines.some((l) => l === 'containet TCP 1 stream >= 1.0x bridge: 1.07x: not shown (spread 0.94-1.21x)'), lines.join('\n'));
  // containet-2t's worst (18) against the bridge's best (16): 1.12: met.
  t.true(lines.some((l) => l === 'containet-2t TCP 1 stream >= 1.0x bridge: 1.27x (met)'), lines.join('\n'));
  t.regex(formatTable(rep), /^targets: .*containet TCP 1 stream >= 1\.0x bridge/m);
});

test('the chart has a panel for every section, hatches generator-limited bars and is well-formed', (t) => {
  const rep = fakeRun([netnsPath('a', 'containet', [10], 456, 1325, 1783), netnsPath('b', 'bridge', [14], 676, 673, null)]);
  const svg = renderChart(rep);
  t.is(checkXml(svg), 'svg');
  for (const sec of SECTIONS) t.true(svg.includes(`>${sec.title} section<`), `no panel for ${sec.title}`);
  t.true(svg.includes('64-byte UDP: what the generator offered'));
  // The bridge's received bar (and both udp64 ratio bars) are hatched; containet's received bar is not.
  t.regex(svg, /fill="url\(#hatch[0-9A-F]+\)"[^>]*><title>bridge received: 676 kpps \(generator-limited/);
  t.regex(svg, /fill="#[0-9A-F]+"[^>]*><title>containet received: 456 kpps<\/title>/);
  t.regex(svg, /containet switch CPU: 1783 ns\/frame/);
  t.notRegex(svg, /bridge switch CPU/);
  // Whiskers for the spread of the sections' repetitions.
  t.regex(svg, /<path d="M[\d.]+ [\d.]+V/);
});

test('a noisy section shows each median with its spread and judges its target over it', (t) => {
  const nat = SECTIONS.find((s) => s.key === 'nat')!;
  t.true(nat.noisy);
  t.is(nat.reps(parseOptions(['node', 'run.js'])), 5);
  t.is(nat.reps(parseOptions(['node', 'run.js', '--quick'])), 1);
  const sec = fakeSection(nat);
  const table = formatSection(sec);
  // containet-nat is path 1: samples 1, 2, 3; slirp4netns 2, 4, 6.
  t.regex(table, /containet-nat\s+2\.00 \[1\.00-3\.00\] \(×0\.50\)/);
  t.regex(table, /slirp4netns\s+4\.00 \[2\.00-6\.00\]/);
  t.regex(table, /targets: containet-nat TCP container->host >= 1\.0x slirp4netns: 0\.50x: not shown \(spread 0\.17-1\.50x\)/);
  // Without the spread straddling the target, a verdict.
  sec.paths[0]!.samples.tcp = [30, 31];
  sec.paths[0]!.ratios.tcp = 7.6;
  t.like(ratioTarget(sec.paths, 'containet-nat', 'slirp4netns', 'tcp', 1.0, 'x'), { met: true });
});

test('vhost-user targets are judged over the repetitions and the table shows their spread', (t) => {
  /** A vhost-user packet-rate result. */
  const v = (key: string, name: string, samples: number[], offered: number): VhostPathResult => ({
    key, name, title: name, status: 'ok', figure: 'mpps', value: median(samples), samples, spread: spread(samples),
    generatorLimited: generatorLimited(median(samples), offered), ratios: {}, offeredMpps: offered, offeredSamples: [offered],
    cpuUsPerFrame: null, cpuSamples: [], placement: 'fake', notes: [], seconds: 1, cleanupErrors: [],
  });
  const rep = fakeRun([], [v('v1', 'containet-vhost', [0.3, 0.32, 0.34], 0.33), v('v2', 'ovs-dpdk', [0.02, 0.17, 0.18], 3), v('v3', 'dpdk-vhost', [20, 26], 30)]);
  const byBase = Object.fromEntries(rep.vhostTargets.map((x) => [x.baseline, x]));
  t.is(byBase['ovs-dpdk']!.met, true); // 0.30 / 0.18 = 1.67
  // containet-vhost was generator-limited: it might have done more, so "not met" is not shown.
  t.is(byBase['dpdk-vhost']!.met, null);
  t.is(byBase['dpdk-vhost']!.why, 'containet-vhost was generator-limited');
  const table = formatVhostTable(rep);
  t.regex(table, new RegExp(`containet-vhost .*0\\.32\\${GEN_MARK} \\[0\\.30-0\\.34\\]`));
  t.regex(table, /ovs-dpdk .*0\.17 \[0\.02-0\.18\]/);
  t.notRegex(table, new RegExp(`ovs-dpdk .*\\${GEN_MARK}`));
  // containet-vhost's rate was its sender's: its ratios compare no switches; a baseline's own ratio stays 1.00.
  t.regex(table, new RegExp(`containet-vhost .*\\]\\s+\\${GEN_MARK}\\s+\\${GEN_MARK}\\s`));
  t.regex(table, /ovs-dpdk .*\]\s+1\.00\s+0\.01\s/);
  rep.vhost[1]!.samples = [0.02, 0.6];
  t.is(vhostTargets(rep.vhost).find((x) => x.baseline === 'ovs-dpdk')!.met, null);
  // A met against a baseline whose sender set its rate is not shown either.
  rep.vhost[1]!.samples = [0.1, 0.12];
  rep.vhost[1]!.generatorLimited = true;
  const t1 = vhostTargets(rep.vhost).find((x) => x.baseline === 'ovs-dpdk')!;
  t.is(t1.met, null);
  t.is(verdictText(t1, '2.67×'), '2.67×: not shown (ovs-dpdk was generator-limited)');
  // And a dropping path against a dropping baseline keeps its verdict.
  rep.vhost[0]!.generatorLimited = false;
  rep.vhost[2]!.generatorLimited = false;
  t.is(vhostTargets(rep.vhost).find((x) => x.baseline === 'dpdk-vhost')!.met, false);
});

test('ping is reported at both intervals: table columns and note, chart groups and header, each with its ratio', (t) => {
  const paths = [netnsPath('a', 'containet', [10], 456, 1325, 1783), netnsPath('b', 'bridge', [13], 676, 673, null)];
  const set = (p: PathResult, slow: number, fast: number) => {
    p.figures.p50 = { value: slow, ratio: null, samples: [slow] };
    p.figures.p50fast = { value: fast, ratio: null, samples: [fast] };
  };
  set(paths[0]!, 0.08, 0.006);
  set(paths[1]!, 0.006, 0.002);
  const rep = fakeRun(paths);
  t.is(rep.paths[0]!.figures.p50.ratio!.toFixed(1), '13.3');
  t.is(rep.paths[0]!.figures.p50fast.ratio!.toFixed(1), '3.0');
  const table = formatTable(rep);
  t.regex(table.split('\n')[0]!, /p50 ms\s+p99 ms\s+p50fast ms\s+p99fast ms/);
  t.regex(table.split('\n').find((l) => l.startsWith('containet '))!, /0\.080 \(×13\.33\).*0\.006 \(×3\.00\)/);
  t.regex(table, /600 echoes 5 ms apart; p50fast\/p99fast: over all 3000 echoes 0\.5 ms apart/);
  const svg = renderChart(rep);
  t.is(checkXml(svg), 'svg');
  t.regex(svg, /ping p50 \/5 ms/);
  t.regex(svg, /ping p50 \/0\.5 ms/);
  t.regex(svg, /600 echoes every 5 ms and 3000 every 0\.5 ms/);
});
