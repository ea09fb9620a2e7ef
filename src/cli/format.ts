/**
 * Human-readable output in the shape Vault's CLI prints: aligned columns, `Key/Value` tables,
 * `== Section ==` headers and Go-style rendering of lists and maps (`[a b]`, `map[k:v]`).
 *
 * Owns: pure string formatting only — no I/O, no decisions about what to show.
 */

/** Renders one value the way Vault's table output does. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${k}:${formatValue((value as Record<string, unknown>)[k])}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(value);
}

/** Aligns rows into columns separated by four spaces; the last column is not padded. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('    ')
        .trimEnd(),
    )
    .join('\n');
}

/** A table with the given column titles underlined by dashes, as Vault prints lists of mounts. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return formatColumns([header, header.map((h) => '-'.repeat(h.length)), ...rows]);
}

/** A `Key / Value` table; values are rendered with formatValue. */
export function formatKeyValues(rows: ReadonlyArray<readonly [string, unknown]>): string {
  return formatTable(['Key', 'Value'], rows.map(([k, v]) => [k, formatValue(v)]));
}

/**
 * `== Title ==` padded with equals signs to `width` characters (at least two on each side), the
 * way Vault centres section titles over the `Key    Value` line of the table below them.
 */
export function sectionHeader(title: string, width: number): string {
  let signs = width - (title.length + 2);
  if (signs <= 0) signs = 4;
  if (signs % 2 !== 0) signs += 1;
  const side = '='.repeat(signs / 2);
  return `${side} ${title} ${side}`;
}

/** The width of the first line of a block of text (a table's `Key    Value` line). */
export function firstLineWidth(text: string): number {
  return (text.split('\n')[0] ?? '').length;
}
