/**
 * Parsing of database-engine request fields with Vault's leniency: lists arrive as JSON arrays or
 * comma strings, durations as Go strings or seconds, numbers and booleans as strings (query
 * parameters are always strings).
 *
 * Must never: echo a field's value in an error; messages name the field only, because some
 * fields (connection_url, password, statements) may carry secrets.
 */
import { badRequest } from '../../core/errors.js';

export { has, parseBool, parseDuration, parseInteger, parseString, parseStringList as parseCommaList } from '../../core/input.js';

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

/** Vault's glob match for allowed_roles: '*' matches any run of characters, anything else itself. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}
