/**
 * Formatting for one-shot scenario results: a plain-text table for stdout and a Markdown
 * section for BENCHMARKS.md, plus replacing that section in an existing document (so a run with
 * BENCH_SKIP_LOAD=1 refreshes the lease figures without erasing the load figures of the last
 * full run).
 *
 * Pure formatting: must never run anything or touch processes.
 */
import type { Figure, OneShotResult } from './one-shot.js';

function verdict(figure: Figure): string {
  if (figure.target === undefined) return '—';
  const mark = figure.target.met === undefined ? '?' : figure.target.met ? 'MET' : 'MISSED';
  return `${figure.target.text}: ${mark}`;
}

export function oneShotTextTable(result: OneShotResult): string {
  const rows = result.figures.map((f) => [f.label, f.value, verdict(f), f.note ?? '']);
  const header = ['Measure', 'Value', 'Target', 'How'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]): string => r.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [`${result.title} — ${result.summary}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const esc = (v: string): string => v.replace(/\|/g, '\\|');

export function oneShotMarkdown(result: OneShotResult): string {
  const lines = [
    `## ${result.title}`,
    '',
    result.summary,
    '',
    '| Measure | Value | Target | How |',
    '|---|---|---|---|',
    ...result.figures.map((f) => {
      const target = f.target === undefined ? '—' : `${f.target.text}: ${f.target.met === undefined ? 'not decided' : f.target.met ? '**met**' : '**missed**'}`;
      return `| ${esc(f.label)} | ${esc(f.value)} | ${esc(target)} | ${esc(f.note ?? '')} |`;
    }),
    '',
    `### ${result.title}: method`,
    '',
    ...result.method.map((m) => `- ${m}`),
    '',
  ];
  if (result.problems.length > 0) lines.push(`### ${result.title}: problems`, '', ...result.problems.map((p) => `- ${p}`), '');
  return lines.join('\n');
}

/**
 * `doc` with its `## <title>` section (up to the next `## ` heading or the end) replaced by
 * `section`, or with `section` appended when there is none.
 */
export function upsertSection(doc: string, title: string, section: string): string {
  const heading = `## ${title}\n`;
  const block = section.endsWith('\n') ? section : `${section}\n`;
  const start = doc.startsWith(heading) ? 0 : doc.indexOf(`\n${heading}`) + 1;
  if (start <= 0 && !doc.startsWith(heading)) return `${doc.endsWith('\n') ? doc : `${doc}\n`}\n${block}`;
  const next = doc.indexOf('\n## ', start + heading.length - 1);
  const end = next < 0 ? doc.length : next + 1;
  return doc.slice(0, start) + block + (next < 0 ? '' : `\n${doc.slice(end)}`);
}
