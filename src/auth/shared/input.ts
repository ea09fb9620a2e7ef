/**
 * Parsing of auth-method request fields with Vault's leniency: lists arrive as JSON arrays or
 * comma strings, durations as Go strings or seconds, numbers and booleans as strings (query
 * parameters are always strings).
 *
 * Must never: echo a field's value in an error. Messages name the field only, because login
 * fields (password, secret_id, jwt) are credentials.
 */
import { badRequest } from '../../core/errors.js';

export { has, parseBool, parseDuration, parseInteger, parseSignedDuration, parseString, parseStringList, parseStringMap } from '../../core/input.js';

/** A list whose items may contain commas (PEM keys): only a JSON array or a single string. */
export function parseRawStringList(raw: unknown, field: string): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const items = Array.isArray(raw) ? raw : [raw];
  return items.map((item) => {
    if (typeof item !== 'string') throw badRequest(`invalid ${field}: must be a list of strings`);
    return item.trim();
  }).filter((item) => item !== '');
}

/** Names of roles and users: one path segment, so it can never reach another storage key. */
export const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}';

const NAME = new RegExp(`^${NAME_PATTERN}$`);

/** Whether `name` could be a role or user name; anything else names nothing that can exist. */
export function isName(name: string): boolean {
  return NAME.test(name);
}

export function assertName(name: string, what: string): void {
  if (!isName(name)) throw badRequest(`invalid ${what}: use letters, digits, "_", ".", "@" and "-", starting with a letter or digit`);
}
