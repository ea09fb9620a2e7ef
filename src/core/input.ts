/**
 * Parsing of request fields with Vault's leniency, shared by every engine and auth method: lists
 * arrive as JSON arrays or comma strings, durations as Go strings or seconds, numbers and
 * booleans as strings (query parameters are always strings).
 *
 * Must never: echo a field's value in an error. Messages name the field only, because fields
 * can be credentials (password, secret_id, jwt).
 */
import { parseDurationSeconds } from './duration.js';
import { badRequest } from './errors.js';

/** True when the request carries `field` with a value (null counts as absent). */
export function has(data: Readonly<Record<string, unknown>>, field: string): boolean {
  return Object.hasOwn(data, field) && data[field] !== undefined && data[field] !== null;
}

/**
 * Vault's warning for request fields a path does not know (a misspelt `creation_statment`,
 * say): they are ignored, and the caller is told so now rather than left to find out at use.
 * Names the fields only, never their values.
 */
export function unrecognizedParametersWarning(
  data: Readonly<Record<string, unknown>>,
  known: ReadonlySet<string>,
  /** The path's own parameters (a role's `name`), which a body may repeat. */
  pathParams: Readonly<Record<string, string>> = {},
): string | undefined {
  const unknown = Object.keys(data).filter((field) => !known.has(field) && !Object.hasOwn(pathParams, field)).sort();
  return unknown.length === 0 ? undefined : `Endpoint ignored these unrecognized parameters: [${unknown.join(' ')}]`;
}

export function parseString(raw: unknown, field: string): string {
  if (raw === undefined || raw === null) return '';
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw badRequest(`invalid ${field}: must be a string`);
}

/** Vault's TypeCommaStringSlice: ["a","b"] or "a, b"; blanks are dropped, order kept, duplicates removed. */
export function parseStringList(raw: unknown, field: string): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (items === undefined) throw badRequest(`invalid ${field}: must be a list of strings or a comma-separated string`);
  const out = items.map((item) => {
    if (typeof item !== 'string') throw badRequest(`invalid ${field}: must be a list of strings`);
    return item.trim();
  }).filter((item) => item !== '');
  return [...new Set(out)];
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export function parseBool(raw: unknown, field: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number' && (raw === 0 || raw === 1)) return raw === 1;
  if (typeof raw === 'string') {
    if (TRUE_WORDS.has(raw.trim())) return true;
    if (FALSE_WORDS.has(raw.trim())) return false;
  }
  throw badRequest(`invalid ${field}: must be a boolean`);
}

export function parseInteger(raw: unknown, field: string, min: number, max: number): number {
  let value: number | undefined;
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) value = raw;
  else if (typeof raw === 'string' && /^-?\d{1,15}$/.test(raw.trim())) value = Number(raw.trim());
  if (value === undefined || value < min || value > max) {
    throw badRequest(`invalid ${field}: must be an integer between ${min} and ${max}`);
  }
  return value;
}

/** Whole seconds; '' or absent give 0. */
export function parseDuration(raw: unknown, field: string): number {
  return parseDurationSeconds(raw, field) ?? 0;
}

/**
 * A duration that may be -1 ("disabled"), as Vault's JWT leeways and lockout settings allow.
 * Any negative value collapses to -1.
 */
export function parseSignedDuration(raw: unknown, field: string): number {
  const negative = (typeof raw === 'number' && raw < 0) || (typeof raw === 'string' && raw.trim().startsWith('-'));
  if (!negative) return parseDuration(raw, field);
  const magnitude = typeof raw === 'number' ? -raw : (raw as string).trim().slice(1);
  parseDuration(magnitude, field);
  return -1;
}

/** A map of string to string (metadata), given as an object or as a JSON string of one. */
export function parseStringMap(raw: unknown, field: string): Record<string, string> {
  if (raw === undefined || raw === null || raw === '') return {};
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw badRequest(`invalid ${field}: must be a JSON object of strings`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`invalid ${field}: must be a JSON object of strings`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw badRequest(`invalid ${field}: values must be strings`);
    out[key] = item;
  }
  return out;
}
