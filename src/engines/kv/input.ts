/**
 * Parsing of KV request fields, with Vault's leniency: numbers may arrive as JSON numbers or as
 * strings (query parameters are always strings), booleans as Go's strconv.ParseBool accepts.
 *
 * Must never: echo a field's value in an error; messages name the field only.
 */
export { has, parseBool } from '../../core/input.js';
import { badRequest, CofferError } from '../../core/errors.js';
import { parseDurationSeconds } from '../../core/duration.js';
import { isJsonObject } from './json.js';

const UINT32_MAX = 0xffffffff;

function toInteger(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw === 'string' && /^-?\d{1,15}$/.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

/** A non-negative integer no larger than a uint32, as Vault stores max_versions. */
export function parseCount(raw: unknown, field: string): number {
  const value = toInteger(raw);
  if (value === undefined || value < 0 || value > UINT32_MAX) {
    throw badRequest(`invalid ${field}: must be a non-negative integer`);
  }
  return value;
}

/** `?version=` on reads: absent, empty or 0 mean the latest version. */
export function parseVersionParam(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  const value = toInteger(raw);
  if (value === undefined || value < 0) throw badRequest('invalid version: must be a non-negative integer');
  return value;
}

/**
 * The `versions` field of delete, undelete and destroy: a JSON array of integers, a single
 * integer, or a comma-separated string ("1,2"), as Vault's TypeCommaIntSlice accepts.
 */
export function parseVersionList(raw: unknown, missingMessage: string): number[] {
  let items: unknown[];
  if (raw === undefined || raw === null || raw === '') items = [];
  else if (Array.isArray(raw)) items = raw;
  else if (typeof raw === 'string') items = raw.split(',').map((part) => part.trim());
  else items = [raw];
  if (items.length === 0) throw badRequest(missingMessage);
  return items.map((item) => {
    const value = toInteger(item);
    if (value === undefined || value < 0) throw badRequest('invalid versions: must be non-negative integers');
    return value;
  });
}

/** A key's delete_version_after: a non-negative duration in whole seconds (0 clears it). */
export function parseKeyDeleteVersionAfter(raw: unknown): number {
  return parseDurationSeconds(raw, 'delete_version_after') ?? 0;
}

/**
 * The mount's delete_version_after: like a key's, except that a negative duration is allowed
 * and disables delete_version_after for every key (stored as -1).
 */
export function parseMountDeleteVersionAfter(raw: unknown): number {
  const negative = (typeof raw === 'number' && raw < 0) || (typeof raw === 'string' && raw.trim().startsWith('-'));
  if (!negative) return parseKeyDeleteVersionAfter(raw);
  const magnitude = typeof raw === 'number' ? -raw : (raw as string).trim().slice(1);
  return parseKeyDeleteVersionAfter(magnitude) === 0 ? 0 : -1;
}

/**
 * The check-and-set value from a write's `options`, or undefined when none was given. As in
 * Vault, an explicit null counts as 0 ("only if the key does not exist").
 */
export function parseCasOption(options: unknown): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isJsonObject(options)) throw badRequest('invalid options: must be an object');
  if (!Object.hasOwn(options, 'cas')) return undefined;
  const raw = options['cas'];
  if (raw === null) return 0;
  const value = toInteger(raw);
  if (value === undefined || value < 0) throw badRequest('error parsing check-and-set parameter');
  return value;
}

/**
 * Applies Vault's check-and-set rule: a given cas must equal the current version (0 when the
 * key has none); without one, the write is refused if the mount or the key requires cas.
 */
export function checkCas(cas: number | undefined, currentVersion: number, required: boolean): void {
  if (cas === undefined) {
    if (required) throw new CofferError('cas_required', 'check-and-set parameter required for this call');
    return;
  }
  if (cas !== currentVersion) {
    throw new CofferError('cas_mismatch', 'check-and-set parameter did not match the current version');
  }
}
