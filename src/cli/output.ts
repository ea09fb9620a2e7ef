/**
 * Printing API responses in the chosen format: the whole body as JSON, one field raw (-field),
 * or a Vault-style table of the lease, auth and data fields.
 *
 * Owns: which rows a response turns into and how -field finds a value.
 * Must never: decide whether a value is secret — commands decide what to pass in.
 */
import type { CommandContext } from './context.js';
import { CliError } from './errors.js';
import { formatKeyValues, formatValue } from './format.js';

/** The Vault response envelope, as far as the CLI reads it. */
export interface Envelope {
  request_id?: string;
  lease_id?: string;
  renewable?: boolean;
  lease_duration?: number;
  data?: Record<string, unknown> | null;
  warnings?: string[] | null;
  auth?: AuthBlock | null;
  [key: string]: unknown;
}

export interface AuthBlock {
  client_token?: string;
  accessor?: string;
  policies?: string[] | null;
  token_policies?: string[] | null;
  identity_policies?: string[] | null;
  metadata?: Record<string, string> | null;
  lease_duration?: number;
  renewable?: boolean;
  [key: string]: unknown;
}

export function asEnvelope(body: unknown): Envelope {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Envelope) : {};
}

/** Seconds as Vault's CLI prints them: "768h", "1h30m", "45s"; 0 is "0s". */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  let out = '';
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  if (s > 0 || out === '') out += `${s}s`;
  return out;
}

/** Rows for a token's auth block, named as Vault's CLI names them. */
export function authRows(auth: AuthBlock): Array<[string, unknown]> {
  const rows: Array<[string, unknown]> = [
    ['token', auth.client_token ?? ''],
    ['token_accessor', auth.accessor ?? ''],
    ['token_duration', auth.lease_duration ? humanDuration(auth.lease_duration) : '∞'],
    ['token_renewable', auth.renewable ?? false],
    ['token_policies', auth.token_policies ?? auth.policies ?? []],
    ['identity_policies', auth.identity_policies ?? []],
    ['policies', auth.policies ?? []],
  ];
  for (const key of Object.keys(auth.metadata ?? {}).sort()) rows.push([`token_meta_${key}`, auth.metadata?.[key]]);
  return rows;
}

/** The rows Vault prints for a generic secret: lease or refresh interval, auth, then data keys. */
export function secretRows(envelope: Envelope): Array<[string, unknown]> {
  const rows: Array<[string, unknown]> = [];
  const duration = envelope.lease_duration ?? 0;
  if (duration > 0) {
    if (envelope.lease_id) {
      rows.push(['lease_id', envelope.lease_id], ['lease_duration', humanDuration(duration)], ['lease_renewable', envelope.renewable ?? false]);
    } else {
      rows.push(['refresh_interval', humanDuration(duration)]);
    }
  }
  if (envelope.auth) rows.push(...authRows(envelope.auth));
  const data = envelope.data ?? {};
  for (const key of Object.keys(data).sort()) rows.push([key, data[key]]);
  return rows;
}

/** Finds -field in a generic secret: data keys first, then the lease and token rows. */
export function secretField(envelope: Envelope, name: string): unknown {
  const data = envelope.data ?? {};
  if (Object.hasOwn(data, name)) return data[name];
  for (const [key, value] of secretRows(envelope)) if (key === name) return value;
  throw new CliError(`field "${name}" not present in the response`);
}

/**
 * Prints a value for -field, as Vault's PrintRawField: in a table, strings as they are and
 * anything else rendered; with -format=json, the value as JSON (a string quoted).
 */
export function printField(ctx: CommandContext, value: unknown): void {
  const text = ctx.format === 'json' ? JSON.stringify(value ?? null, null, 2) : typeof value === 'string' ? value : formatValue(value);
  // Like Vault: no trailing newline when piped, so `$(coffer ... -field=x)` and `> file` get the exact value.
  ctx.io.stdout.write(ctx.io.stdout.isTTY ? `${text}\n` : text);
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.out(JSON.stringify(value ?? null, null, 2));
}

export function printWarnings(ctx: CommandContext, envelope: Envelope): void {
  const warnings = envelope.warnings ?? [];
  if (ctx.format !== 'table' || warnings.length === 0) return;
  ctx.err(`WARNING! The server returned these warnings:\n${warnings.map((w) => `  * ${w}`).join('\n')}\n`);
}

/**
 * For -field of an answer that cannot be had again (a token or credential just made, a
 * wrapping token, an unwrapped secret): a field it does not have prints the whole answer as
 * JSON before the error, so a misspelt name loses nothing.
 */
function missingFieldOfOnlyAnswer(ctx: CommandContext, field: string, whole: unknown): CliError {
  printJson(ctx, whole);
  return new CliError(`field "${field}" not present in the response; the whole response is printed instead, as it cannot be had again`);
}

/**
 * Prints a generic secret response honouring -format and -field. `onlyChance`: the answer
 * cannot be had again (see missingFieldOfOnlyAnswer); by default, one that carries a lease or
 * a token.
 */
export function printSecret(ctx: CommandContext, envelope: Envelope, onlyChance = isOnlyChance(envelope)): void {
  if (ctx.field !== undefined) {
    let value: unknown;
    try {
      value = secretField(envelope, ctx.field);
    } catch (err) {
      if (onlyChance && err instanceof CliError) throw missingFieldOfOnlyAnswer(ctx, ctx.field, envelope);
      throw err;
    }
    return printField(ctx, value);
  }
  if (ctx.format === 'json') return printJson(ctx, envelope);
  printWarnings(ctx, envelope);
  const rows = secretRows(envelope);
  if (rows.length > 0) ctx.out(formatKeyValues(rows));
}

/**
 * A wrapped answer (-wrap-ttl), as Vault's CLI prints one: the wrapping token's rows in a
 * table, the whole answer as JSON, or one row with -field (e.g. -field=wrapping_token).
 */
export function printWrapped(ctx: CommandContext, body: Readonly<Record<string, unknown>>): void {
  const info = (body['wrap_info'] ?? {}) as Record<string, unknown>;
  const rows: Array<[string, unknown]> = [
    ['wrapping_token:', info['token']],
    ['wrapping_accessor:', info['accessor']],
    ['wrapping_token_ttl:', typeof info['ttl'] === 'number' ? humanDuration(info['ttl']) : info['ttl']],
    ['wrapping_token_creation_time:', info['creation_time']],
    ['wrapping_token_creation_path:', info['creation_path']],
  ];
  if (typeof info['wrapped_accessor'] === 'string' && info['wrapped_accessor'] !== '') rows.push(['wrapped_accessor:', info['wrapped_accessor']]);
  if (ctx.field !== undefined) {
    const row = rows.find(([key]) => key === `${ctx.field}:`);
    if (row === undefined) throw missingFieldOfOnlyAnswer(ctx, ctx.field, body);
    return printField(ctx, row[1]);
  }
  if (ctx.format === 'json') return printJson(ctx, body);
  ctx.out(formatKeyValues(rows));
}

/** An answer that carries a lease (dynamic credentials) or a token: a read of it makes another. */
function isOnlyChance(envelope: Envelope): boolean {
  return (typeof envelope.lease_id === 'string' && envelope.lease_id !== '') || envelope.auth !== undefined && envelope.auth !== null;
}

/** Prints a plain map (not an envelope), e.g. KV v2 metadata, honouring -format and -field. */
export function printMap(ctx: CommandContext, data: Record<string, unknown>, jsonValue: unknown = data): void {
  if (ctx.field !== undefined) {
    if (!Object.hasOwn(data, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
    return printField(ctx, data[ctx.field]);
  }
  if (ctx.format === 'json') return printJson(ctx, jsonValue);
  const keys = Object.keys(data).sort();
  ctx.out(formatKeyValues(keys.map((k) => [k, data[k]])));
}

/** Prints list keys: a `Keys` column in a table, or a JSON array (as Vault's `list -format=json`). */
export function printKeys(ctx: CommandContext, keys: readonly string[]): void {
  if (ctx.format === 'json') return printJson(ctx, keys);
  ctx.out(['Keys', '----', ...keys].join('\n'));
}

/** The `keys` of a LIST response. */
export function keysOf(envelope: Envelope): string[] {
  const keys = envelope.data?.['keys'];
  return Array.isArray(keys) ? keys.map(String) : [];
}

/** Prints a "Success! ..." line in table mode; JSON mode stays silent so output stays parseable. */
export function printSuccess(ctx: CommandContext, message: string): void {
  if (ctx.format === 'table') ctx.out(`Success! ${message}`);
}
