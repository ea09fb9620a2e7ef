/**
 * Table output for `coffer kv`: the `== Secret Path ==`, `== Metadata ==` and `== Data ==`
 * sections Vault's CLI prints for KV v2.
 *
 * Owns: layout only; the caller decides which sections exist.
 */
import type { CommandContext } from '../context.js';
import { firstLineWidth, formatKeyValues, sectionHeader } from '../format.js';

export interface Section {
  title: string;
  body: string;
  /** True when the body is a Key/Value table, whose header line the title is centred over. */
  table?: boolean;
}

export function printSections(ctx: CommandContext, sections: readonly Section[]): void {
  const blocks = sections.map(({ title, body, table }) => `${sectionHeader(title, table ? firstLineWidth(body) : 0)}\n${body}`);
  ctx.out(blocks.join('\n\n'));
}

/** Version metadata rows; an empty deletion_time shows as "n/a" as in Vault. */
export function metadataTable(meta: Record<string, unknown>): string {
  const keys = Object.keys(meta).filter((k) => k !== 'versions').sort();
  return formatKeyValues(keys.map((k) => [k, k === 'deletion_time' && meta[k] === '' ? 'n/a' : meta[k]]));
}

export function dataTable(data: Record<string, unknown>): string {
  return formatKeyValues(Object.keys(data).sort().map((k) => [k, data[k]]));
}
