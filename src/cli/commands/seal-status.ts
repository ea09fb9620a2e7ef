/**
 * Rendering of the seal-status shape shared by `coffer status` and `coffer operator unseal`.
 *
 * Owns: the row names Vault's CLI uses for seal status. Must never: print an unseal key.
 */
import type { CommandContext } from '../context.js';
import { formatKeyValues } from '../format.js';
import { printField, printJson } from '../output.js';
import { CliError } from '../errors.js';

export interface SealStatus {
  type?: string;
  initialized?: boolean;
  sealed?: boolean;
  t?: number;
  n?: number;
  progress?: number;
  nonce?: string;
  version?: string;
  build_date?: string;
  storage_type?: string;
  cluster_name?: string;
  cluster_id?: string;
  [key: string]: unknown;
}

export function asSealStatus(body: unknown): SealStatus {
  if (!body || typeof body !== 'object' || typeof (body as SealStatus).sealed !== 'boolean') {
    throw new CliError('the server sent a seal status the CLI does not understand', 2);
  }
  return body as SealStatus;
}

export function printSealStatus(ctx: CommandContext, status: SealStatus): void {
  if (ctx.field !== undefined) {
    if (!Object.hasOwn(status, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
    return printField(ctx, status[ctx.field]);
  }
  if (ctx.format === 'json') return printJson(ctx, status);
  const rows: Array<[string, unknown]> = [
    ['Seal Type', status.type ?? 'shamir'],
    ['Initialized', status.initialized ?? false],
    ['Sealed', status.sealed ?? true],
    ['Total Shares', status.n ?? 0],
    ['Threshold', status.t ?? 0],
  ];
  if (status.sealed) {
    rows.push(['Unseal Progress', `${status.progress ?? 0}/${status.t ?? 0}`]);
    rows.push(['Unseal Nonce', status.nonce || 'n/a']);
  }
  if (status.version) rows.push(['Version', status.version]);
  if (status.build_date) rows.push(['Build Date', status.build_date]);
  if (status.storage_type) rows.push(['Storage Type', status.storage_type]);
  if (!status.sealed && status.cluster_name) rows.push(['Cluster Name', status.cluster_name]);
  if (!status.sealed && status.cluster_id) rows.push(['Cluster ID', status.cluster_id]);
  rows.push(['HA Enabled', false]);
  ctx.out(formatKeyValues(rows));
}
