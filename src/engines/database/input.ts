/**
 * Parsing of database-engine request fields with Vault's leniency: lists arrive as JSON arrays or
 * comma strings, durations as Go strings or seconds, numbers and booleans as strings (query
 * parameters are always strings).
 *
 * Must never: echo a field's value in an error; messages name the field only, because some
 * fields (connection_url, password, statements) may carry secrets.
 */
import { parseDurationSeconds } from '../../core/duration.js';
import { badRequest } from '../../core/errors.js';

/** True when the request carries `field` with a value (null counts as absent). */
export function has(data: Readonly<Record<string, unknown>>, field: string): boolean {
  return Object.hasOwn(data, field) && data[field] !== undefined && data[field] !== null;
}

export function parseString(raw: unknown, field: string): string {
  if (raw === undefined || raw === null) return '';
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw badRequest(`invalid ${field}: must be a string`);
}

/** Vault's TypeCommaStringSlice: ["a","b"] or "a, b"; blanks are dropped. */
export function parseCommaList(raw: unknown, field: string): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (items === undefined) throw badRequest(`invalid ${field}: must be a list of strings or a comma-separated string`);
  return items.map((item) => {
    if (typeof item !== 'string') throw badRequest(`invalid ${field}: must be a list of strings`);
    return item.trim();
  }).filter((item) => item !== '');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A statements field: a JSON array of strings, or one string (which may itself hold several
 * ';'-separated statements, a JSON array, or base64 of either, as Vault documents). Each element
 * stays one unit: the PostgreSQL plugin sends it as one query, so a ';' inside a string literal
 * or a $$-quoted function body is never split.
 */
export function parseStatements(raw: unknown, field: string): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  if (Array.isArray(raw)) {
    return raw.map((item) => {
      if (typeof item !== 'string') throw badRequest(`invalid ${field}: must be a list of strings`);
      return item.trim();
    }).filter((item) => item !== '');
  }
  if (typeof raw !== 'string') throw badRequest(`invalid ${field}: must be a string or a list of strings`);
  let text = raw.trim();
  // SQL always holds a space; base64 never does, so the two cannot be confused.
  if (text.length % 4 === 0 && BASE64.test(text)) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (!decoded.includes('\uFFFD')) text = decoded.trim();
  }
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed)) return parseStatements(parsed, field);
  }
  return text === '' ? [] : [text];
}

export function parseDuration(raw: unknown, field: string): number {
  return parseDurationSeconds(raw, field) ?? 0;
}

function toInteger(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw === 'string' && /^-?\d{1,15}$/.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

export function parseInteger(raw: unknown, field: string, min: number, max: number): number {
  const value = toInteger(raw);
  if (value === undefined || value < min || value > max) {
    throw badRequest(`invalid ${field}: must be an integer from ${min} to ${max}`);
  }
  return value;
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

/** Vault's glob match for allowed_roles: '*' matches any run of characters, anything else itself. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}
