/**
 * Turns per-round samples into summaries, a plain-text table for stdout, warnings, and the
 * Markdown document written to BENCHMARKS.md.
 *
 * Pure formatting: must never run load or touch processes. Non-2xx responses and connection
 * errors are always surfaced as warnings, never averaged away.
 */
import type { BenchConfig } from './config.js';
import type { Cell, CellSample, CellSummary } from './scenario.js';
import { formatNumber, formatSpread, pairedRatios, spread } from './stats.js';

export interface Machine {
  nproc: number;
  cpuModel: string;
  node: string;
  os: string;
  loadAverage: string;
}

/** Load-generator CPU above this share of a core means req/s may be capped by it. */
const LOADGEN_SATURATED = 0.9;

export function summarise(cells: readonly Cell[], samples: ReadonlyMap<string, CellSample[]>, baselineId: string): Map<string, CellSummary> {
  const perCpu = (s: CellSample): number | undefined => (s.serverCpuS === undefined || s.serverCpuS <= 0 ? undefined : s.requests / s.serverCpuS);
  const baselineSamples = samples.get(baselineId) ?? [];
  const baselineRates = baselineSamples.map((s) => s.reqPerS);
  const baselinePerCpu = baselineSamples.map(perCpu);
  const out = new Map<string, CellSummary>();
  for (const cell of cells) {
    const own = samples.get(cell.id) ?? [];
    out.set(cell.id, {
      cell,
      samples: own,
      reqPerS: spread(own.map((s) => s.reqPerS)),
      p50Ms: spread(own.map((s) => s.p50Ms)),
      p99Ms: spread(own.map((s) => s.p99Ms)),
      non2xx: own.reduce((sum, s) => sum + s.non2xx, 0),
      errors: own.reduce((sum, s) => sum + s.errors, 0),
      ratioToBaseline: cell.id === baselineId ? undefined : spread(pairedRatios(own.map((s) => s.reqPerS), baselineRates)),
      reqPerServerCpuS: spread(own.map(perCpu)),
      cpuEfficiencyToBaseline: cell.id === baselineId ? undefined : spread(pairedRatios(own.map(perCpu), baselinePerCpu)),
      serverCores: spread(own.map((s) => (s.serverCpuS === undefined ? undefined : s.serverCpuS / s.durationS))),
      loadgenCores: spread(own.map((s) => s.loadgenCpuS / s.durationS)),
    });
  }
  return out;
}

const int = (v: number): string => formatNumber(v);
const ms = (v: number): string => formatNumber(v, 2);
const pct = (v: number): string => `${formatNumber(v * 100)} %`;
const cores = (v: number): string => formatNumber(v, 2);

interface Row {
  label: string;
  reqPerS: string;
  ratio: string;
  p50: string;
  p99: string;
  non2xx: string;
  perCpu: string;
  cpuRatio: string;
  serverCores: string;
  loadgenCores: string;
  targets: string;
}

function rows(summaries: ReadonlyMap<string, CellSummary>): Row[] {
  return [...summaries.values()].map((s) => ({
    label: s.cell.label,
    reqPerS: formatSpread(s.reqPerS, int),
    ratio: s.ratioToBaseline === undefined ? '—' : formatSpread(s.ratioToBaseline, pct),
    p50: formatSpread(s.p50Ms, ms),
    p99: formatSpread(s.p99Ms, ms),
    non2xx: s.errors > 0 ? `${int(s.non2xx)} (+${int(s.errors)} conn. errors)` : int(s.non2xx),
    perCpu: formatSpread(s.reqPerServerCpuS, int),
    cpuRatio: s.cpuEfficiencyToBaseline === undefined ? '—' : formatSpread(s.cpuEfficiencyToBaseline, pct),
    serverCores: formatSpread(s.serverCores, cores),
    loadgenCores: formatSpread(s.loadgenCores, cores),
    targets: verdictText(s, summaries),
  }));
}

function verdictText(summary: CellSummary, all: ReadonlyMap<string, CellSummary>): string {
  if (summary.cell.targets.length === 0) return '—';
  return summary.cell.targets
    .map((target) => {
      const verdict = target.evaluate(summary, all);
      const mark = verdict.met === undefined ? '?' : verdict.met ? 'MET' : 'MISSED';
      return `${target.text}: ${mark} (${verdict.detail})`;
    })
    .join('; ');
}

const HEADERS: Record<keyof Row, string> = {
  label: 'Cell',
  reqPerS: 'req/s median (min–max)',
  ratio: 'ratio to baseline (paired)',
  p50: 'p50 ms',
  p99: 'p99 ms',
  non2xx: 'non-2xx',
  perCpu: 'req per server CPU-s',
  cpuRatio: 'req/CPU-s vs baseline (paired)',
  serverCores: 'server cores',
  loadgenCores: 'load-gen cores',
  targets: 'targets',
};

/** A fixed-width table for the terminal (targets go below it, they are long). */
export function textTable(summaries: ReadonlyMap<string, CellSummary>): string {
  const keys: (keyof Row)[] = ['label', 'reqPerS', 'ratio', 'p50', 'p99', 'non2xx', 'perCpu', 'cpuRatio', 'serverCores', 'loadgenCores'];
  const all = [HEADERS, ...rows(summaries)];
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row): string => keys.map((k, i) => r[k].padEnd(widths[i] as number)).join('  ');
  const out = [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows(summaries).map(line)];
  out.push('', 'Targets:');
  for (const r of rows(summaries)) if (r.targets !== '—') out.push(`  ${r.label}: ${r.targets}`);
  return out.join('\n');
}

export function warnings(summaries: ReadonlyMap<string, CellSummary>, warmupProblems: readonly string[]): string[] {
  const out = [...warmupProblems];
  for (const s of summaries.values()) {
    if (s.non2xx > 0 || s.errors > 0) {
      const statuses: Record<string, number> = {};
      for (const sample of s.samples) for (const [code, n] of Object.entries(sample.statusCounts)) statuses[code] = (statuses[code] ?? 0) + n;
      const examples = s.samples.flatMap((x) => x.errorSamples).slice(0, 3).map((e) => `${e.status} ${e.body}`);
      out.push(
        `${s.cell.label}: ${s.non2xx} non-2xx responses and ${s.errors} connection errors (${s.samples.reduce((n, x) => n + x.timeouts, 0)} timeouts); ` +
          `status counts ${JSON.stringify(statuses)}${examples.length > 0 ? `; first bodies: ${examples.join(' | ')}` : ''}`,
      );
    }
    if (s.loadgenCores !== undefined && s.loadgenCores.median > LOADGEN_SATURATED) {
      out.push(`${s.cell.label}: the load generator used ${cores(s.loadgenCores.median)} cores (median); its req/s may be capped by autocannon rather than by the server — compare req per server CPU-s.`);
    }
  }
  return out;
}

/** "p99 < 10 ms" targets etc. as one bullet per cell with a verdict. */
function targetLines(summaries: ReadonlyMap<string, CellSummary>): string[] {
  const out: string[] = [];
  for (const s of summaries.values()) {
    for (const target of s.cell.targets) {
      const verdict = target.evaluate(s, summaries);
      const mark = verdict.met === undefined ? 'not decided' : verdict.met ? '**met**' : '**missed**';
      out.push(`- ${s.cell.label} — ${target.text}: ${mark} (${verdict.detail})`);
    }
  }
  return out;
}

function markdownTable(header: string[], body: string[][]): string[] {
  const esc = (v: string): string => v.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)];
}

export function markdownReport(options: {
  date: Date;
  machine: Machine;
  config: BenchConfig;
  method: string[];
  summaries: ReadonlyMap<string, CellSummary>;
  warnings: string[];
  elapsedS: number;
}): string {
  const { machine, config, summaries } = options;
  const table = markdownTable(
    ['Cell', HEADERS.reqPerS, HEADERS.ratio, HEADERS.p50, HEADERS.p99, HEADERS.non2xx, HEADERS.perCpu, HEADERS.cpuRatio, HEADERS.serverCores, HEADERS.loadgenCores, 'Targets'],
    rows(summaries).map((r) => [r.label, r.reqPerS, r.ratio, r.p50, r.p99, r.non2xx, r.perCpu, r.cpuRatio, r.serverCores, r.loadgenCores, r.targets]),
  );
  const perRound = markdownTable(
    ['Round', 'Cell', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'server CPU-s', 'load-gen CPU-s'],
    [...summaries.values()]
      .flatMap((s) => s.samples.map((x) => ({ s, x })))
      .sort((a, b) => a.x.round - b.x.round)
      .map(({ s, x }) => [
        String(x.round),
        s.cell.label,
        int(x.reqPerS),
        ms(x.p50Ms),
        ms(x.p99Ms),
        int(x.non2xx),
        x.serverCpuS === undefined ? 'n/a' : formatNumber(x.serverCpuS, 2),
        formatNumber(x.loadgenCpuS, 2),
      ]),
  );
  const lines = [
    '# Coffer benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${options.date.toISOString()}; overwritten by every run.` +
      (config.quick ? ' **Quick smoke run (BENCH_QUICK=1): figures are not meaningful.**' : ''),
    '',
    '## Machine',
    '',
    `- nproc: ${machine.nproc}`,
    `- CPU: ${machine.cpuModel}`,
    `- Node.js: ${machine.node}`,
    `- OS: ${machine.os}`,
    `- Load average at start (1/5/15 min): ${machine.loadAverage} — the machine is shared, so compare ratios and req per server CPU-s, not raw req/s.`,
    '',
    '## Method',
    '',
    ...options.method.map((m) => `- ${m}`),
    '',
    '## Results',
    '',
    `Median over ${config.rounds} round(s) (min–max). Ratio to baseline = median of the per-round ratios cell/baseline. ` +
      'req/CPU-s vs baseline = median of the per-round ratios of requests per server CPU-second, the figure least moved by other load on this shared machine. ' +
      'Server cores = server CPU-seconds per wall second (1.00 = one core busy). Load-gen cores = the same for autocannon.',
    '',
    ...table,
    '',
    '## Targets',
    '',
    ...targetLines(summaries),
    '',
  ];
  if (options.warnings.length > 0) {
    lines.push('## Warnings', '', ...options.warnings.map((w) => `- ${w}`), '');
  }
  lines.push('## Per-round figures', '', ...perRound, '', `Total run time: ${formatNumber(options.elapsedS)} s.`, '');
  return lines.join('\n');
}
