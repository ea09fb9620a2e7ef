/**
 * Statement templates for the MySQL/MariaDB plugin: splitting one template into the statements it
 * holds, and filling the `{{name}}`, `{{password}}`, `{{expiration}}` placeholders.
 *
 * Owns: the lexical rules for where a MySQL statement ends. It must never split inside a quoted
 * string, a quoted identifier or a comment, and never produce an empty statement (MySQL refuses
 * "Query was empty"). It never sees a password while splitting: templates are split first and
 * filled afterwards, so a value can never change where a statement ends.
 */
import { badRequest } from '../../core/errors.js';
import { fillPlaceholders } from './statement-placeholders.js';

type LexState = 'code' | 'single' | 'double' | 'backtick' | 'line-comment' | 'block-comment';

/**
 * Splits a template on the `;` that end statements. Quotes '…', "…" (with backslash escapes, the
 * MySQL default) and `…`, and comments `-- `, `#` and `/* … *\/` are respected. Pieces with
 * nothing but whitespace and comments are dropped. An unterminated quote or comment is refused,
 * since the database would read it differently than we do.
 */
export function splitStatements(template: string): string[] {
  const out: string[] = [];
  let state: LexState = 'code';
  let start = 0;
  let hasCode = false;
  const push = (end: number): void => {
    const piece = template.slice(start, end).trim();
    if (hasCode && piece !== '') out.push(piece);
    start = end + 1;
    hasCode = false;
  };
  for (let i = 0; i < template.length; i += 1) {
    const ch = template[i];
    const next = template[i + 1];
    switch (state) {
      case 'code':
        if (ch === ';') push(i);
        else if (ch === "'") [state, hasCode] = ['single', true];
        else if (ch === '"') [state, hasCode] = ['double', true];
        else if (ch === '`') [state, hasCode] = ['backtick', true];
        else if (ch === '#') state = 'line-comment';
        // MySQL needs whitespace (or the end) after `--` for it to start a comment.
        else if (ch === '-' && next === '-' && (i + 2 >= template.length || /\s/.test(template[i + 2] ?? ''))) state = 'line-comment';
        else if (ch === '/' && next === '*') {
          state = 'block-comment';
          i += 1;
        } else if (!/\s/.test(ch ?? '')) hasCode = true;
        break;
      case 'single':
      case 'double':
        if (ch === '\\') i += 1;
        else if (ch === (state === 'single' ? "'" : '"')) state = 'code';
        break;
      case 'backtick':
        if (ch === '`') state = 'code';
        break;
      case 'line-comment':
        if (ch === '\n') state = 'code';
        break;
      case 'block-comment':
        if (ch === '*' && next === '/') {
          state = 'code';
          i += 1;
        }
        break;
    }
  }
  if (state === 'single' || state === 'double' || state === 'backtick') {
    throw badRequest('a statement has an unterminated quoted string or identifier');
  }
  if (state === 'block-comment') throw badRequest('a statement has an unterminated /* comment');
  push(template.length);
  return out;
}

/** The values a template may name; `name` and `username` are the same value. */
export interface TemplateValues {
  username: string;
  password?: string;
  expiration?: Date;
}

/**
 * Fills the placeholders (statement-placeholders.ts) in one pass, so a value can never introduce
 * another placeholder. A placeholder whose value was not given is left as written (as Vault
 * does), and the database reports the statement.
 */
export function renderStatement(template: string, values: TemplateValues): string {
  return fillPlaceholders(template, {
    name: values.username,
    username: values.username,
    ...(values.password === undefined ? {} : { password: values.password }),
    ...(values.expiration === undefined ? {} : { expiration: formatExpiration(values.expiration) }),
  });
}

/** Splits every template and fills each piece: the statements to run, in order. */
export function prepareStatements(templates: readonly string[], values: TemplateValues): string[] {
  return templates.flatMap((t) => splitStatements(t)).map((s) => renderStatement(s, values));
}

/** Vault's format for `{{expiration}}` (Go's "2006-01-02 15:04:05-0700"), in UTC. */
export function formatExpiration(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}+0000`;
}
