/**
 * Usernames for dynamic credentials: unique, readable, and short enough for the database.
 *
 * Default shape `v-<display>-<role>-<random>-<unix>` (Vault's), fitted to the plugin's limit by
 * shortening display and role and dropping the timestamp, never by cutting the random part.
 * An optional `username_template` (a subset of Vault's Go templates) replaces the shape.
 * Must never: return a character outside [a-z0-9-]. Plugins substitute the name inside "..."
 * quotes in statement templates, and they assert this before they do.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { badRequest } from '../../core/errors.js';

/** The only characters a generated username may hold. */
export const USERNAME_CHARSET = /^[a-z0-9-]+$/;

const RANDOM_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const RANDOM_LENGTH = 20;
const MIN_RANDOM_LENGTH = 8;
const SEGMENT_LENGTH = 8;

export interface UsernameInput {
  displayName: string;
  roleName: string;
  /** Milliseconds since the epoch. */
  now: number;
  maxLength: number;
}

function randomLower(length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += RANDOM_ALPHABET[randomInt(RANDOM_ALPHABET.length)];
  return out;
}

/** Lowercases and turns every character outside [a-z0-9] into one '-', trimmed at both ends. */
export function sanitizeSegment(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** The default username; see the file header for the shape. */
export function defaultUsername(input: UsernameInput): string {
  if (input.maxLength < 2 + MIN_RANDOM_LENGTH) throw new Error('database username limit too small');
  // Short limits (MySQL legacy: 16) keep a shorter random part so the role still shows.
  const randomLength = Math.max(MIN_RANDOM_LENGTH, Math.min(RANDOM_LENGTH, input.maxLength - 2 - 6));
  let budget = input.maxLength - 2 - randomLength;
  const take = (text: string): string => {
    const clean = sanitizeSegment(text);
    if (clean === '' || budget < 2) return '';
    const piece = clean.slice(0, Math.min(SEGMENT_LENGTH, budget - 1)).replace(/-+$/, '');
    if (piece !== '') budget -= piece.length + 1;
    return piece;
  };
  // The role says more about a credential than the token's display name, so it goes first.
  const role = take(input.roleName);
  const display = take(input.displayName);
  const unix = String(Math.floor(input.now / 1000));
  const parts = ['v', display, role, randomLower(randomLength)].filter((p) => p !== '');
  if (budget >= unix.length + 1) parts.push(unix);
  return parts.join('-');
}

// ---- username_template -------------------------------------------------------------------

type Source = '.DisplayName' | '.RoleName' | 'random' | 'unix_time' | 'unix_time_millis' | 'uuid';
type Filter = { kind: 'truncate'; n: number } | { kind: 'lowercase' } | { kind: 'uppercase' } | { kind: 'replace'; from: string; to: string };
type Piece = { kind: 'text'; text: string } | { kind: 'expr'; source: Source; n: number; filters: Filter[] };

/** A parsed `username_template`, ready to render many times. */
export interface UsernameTemplate {
  render(input: UsernameInput): string;
}

const TEMPLATE_HELP = 'invalid username_template: supported are {{.DisplayName}}, {{.RoleName}}, {{random N}}, '
  + '{{unix_time}}, {{unix_time_millis}}, {{uuid}}, with filters | truncate N, | lowercase, | uppercase, | replace "a" "b"';

function tokens(expr: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\||[^\s|"]+)/gy;
  let consumed = 0;
  for (let m = re.exec(expr); m; m = re.exec(expr)) {
    out.push(m[1] as string);
    consumed = re.lastIndex;
  }
  if (expr.slice(consumed).trim() !== '') throw badRequest(TEMPLATE_HELP);
  return out;
}

const quoted = (token: string | undefined): string => {
  if (token === undefined || !token.startsWith('"')) throw badRequest(TEMPLATE_HELP);
  return JSON.parse(token) as string;
};

const count = (token: string | undefined): number => {
  if (token === undefined || !/^\d{1,3}$/.test(token) || Number(token) === 0) throw badRequest(TEMPLATE_HELP);
  return Number(token);
};

function parseExpr(expr: string): Piece {
  const stages: string[][] = [[]];
  for (const token of tokens(expr)) {
    if (token === '|') stages.push([]);
    else stages[stages.length - 1]?.push(token);
  }
  const [head = [], ...rest] = stages;
  const [name, arg, ...extra] = head;
  let source: Source;
  let n = 0;
  if (name === '.DisplayName' || name === '.RoleName' || name === 'unix_time' || name === 'unix_time_millis' || name === 'uuid') {
    if (arg !== undefined) throw badRequest(TEMPLATE_HELP);
    source = name;
  } else if (name === 'random') {
    source = 'random';
    n = count(arg);
  } else {
    throw badRequest(TEMPLATE_HELP);
  }
  if (extra.length > 0) throw badRequest(TEMPLATE_HELP);
  const filters = rest.map((stage): Filter => {
    const [fname, a, b, ...more] = stage;
    if (fname === 'truncate' && b === undefined) return { kind: 'truncate', n: count(a) };
    if ((fname === 'lowercase' || fname === 'uppercase') && a === undefined) return { kind: fname };
    if (fname === 'replace' && more.length === 0) return { kind: 'replace', from: quoted(a), to: quoted(b) };
    throw badRequest(TEMPLATE_HELP);
  });
  return { kind: 'expr', source, n, filters };
}

/** Parses a `username_template` at config time; an unsupported construct is a 400 then. */
export function parseUsernameTemplate(template: string): UsernameTemplate {
  const pieces: Piece[] = [];
  const re = /\{\{(.*?)\}\}/gs;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) pieces.push({ kind: 'text', text: template.slice(last, m.index) });
    pieces.push(parseExpr(m[1] as string));
    last = re.lastIndex;
  }
  if (last < template.length) pieces.push({ kind: 'text', text: template.slice(last) });
  if (pieces.some((p) => p.kind === 'text' && (p.text.includes('{{') || p.text.includes('}}')))) throw badRequest(TEMPLATE_HELP);

  const value = (piece: Extract<Piece, { kind: 'expr' }>, input: UsernameInput): string => {
    switch (piece.source) {
      case '.DisplayName': return input.displayName;
      case '.RoleName': return input.roleName;
      case 'random': return randomLower(piece.n);
      case 'unix_time': return String(Math.floor(input.now / 1000));
      case 'unix_time_millis': return String(input.now);
      case 'uuid': return randomUUID();
    }
  };
  return {
    render(input) {
      let out = '';
      for (const piece of pieces) {
        if (piece.kind === 'text') {
          out += piece.text;
          continue;
        }
        let text = value(piece, input);
        for (const filter of piece.filters) {
          if (filter.kind === 'truncate') text = text.slice(0, filter.n);
          else if (filter.kind === 'lowercase') text = text.toLowerCase();
          else if (filter.kind === 'uppercase') text = text.toUpperCase();
          else text = text.split(filter.from).join(filter.to);
        }
        out += text;
      }
      // The charset rule outranks the template: '_' and capitals become '-' and lowercase.
      const clean = out.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, input.maxLength);
      if (clean.replace(/-/g, '') === '') throw badRequest('username_template produced an empty username');
      return clean;
    },
  };
}
