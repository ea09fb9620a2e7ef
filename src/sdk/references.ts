/**
 * Secret references and environment templates, as `coffer run` (and any program that wants
 * secrets as environment variables) uses them.
 *
 * A reference is `PATH#FIELD`: the API path to read and the field of the secret to take
 * (`secret/data/app#api_key`, `database/creds/app#password`). The template format, one variable
 * per line:
 *
 *     # comments and blank lines are ignored
 *     DB_USER={{ database/creds/app#username }}
 *     DATABASE_URL=postgres://{{ database/creds/app#username }}:{{ database/creds/app#password }}@db:5432/app
 *     LOG_LEVEL=info
 *
 * A value may mix text and any number of `{{ PATH#FIELD }}` placeholders; a leading `export `
 * is allowed; one pair of surrounding single or double quotes is removed. A `}}` outside a
 * placeholder is plain text (JSON values such as `{"a":{"b":1}}` pass through). There is no
 * escaping and no other syntax, so there is nothing to evaluate.
 *
 * Must never: quote a line's content in an error (a template may hold literal values); errors
 * name the line number only.
 */
import { CofferConfigError, CofferResponseError } from './errors.js';
import { fieldValue } from './secret-value.js';

export interface SecretReference {
  path: string;
  /** Undefined when the reference names no field (allowed only for single-field secrets). */
  field: string | undefined;
}

export type TemplatePart = { text: string } | { ref: SecretReference };

export interface EnvEntry {
  name: string;
  parts: TemplatePart[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** Parses `PATH#FIELD` (the last `#` separates them). */
export function parseReference(text: string): SecretReference {
  const trimmed = text.trim();
  const hash = trimmed.lastIndexOf('#');
  const rawPath = hash === -1 ? trimmed : trimmed.slice(0, hash);
  const rawField = hash === -1 ? undefined : trimmed.slice(hash + 1).trim();
  const path = rawPath.trim().replace(/^\/+/, '').replace(/^v1\//, '').replace(/\/+$/, '');
  if (path === '' || /\s/.test(path) || path.split('/').includes('..')) throw new CofferConfigError('invalid secret reference: expected PATH#FIELD, e.g. secret/data/app#password');
  if (rawField === '') throw new CofferConfigError('invalid secret reference: the field after "#" is empty');
  return { path, field: rawField };
}

/** `NAME=PATH#FIELD`, as given to `coffer run -env`. */
export function parseEnvAssignment(text: string): EnvEntry {
  const eq = text.indexOf('=');
  const name = eq === -1 ? '' : text.slice(0, eq).trim();
  if (!isEnvName(name)) throw new CofferConfigError('invalid -env: expected NAME=PATH#FIELD with NAME made of letters, digits and _');
  return { name, parts: [{ ref: parseReference(text.slice(eq + 1)) }] };
}

function parseValue(value: string, lineNo: number): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let rest = value;
  while (rest !== '') {
    const open = rest.indexOf('{{');
    if (open === -1) {
      parts.push({ text: rest });
      break;
    }
    if (open > 0) parts.push({ text: rest.slice(0, open) });
    const close = rest.indexOf('}}', open + 2);
    if (close === -1) throw new CofferConfigError(`template line ${lineNo}: "{{" without a closing "}}"`);
    try {
      parts.push({ ref: parseReference(rest.slice(open + 2, close)) });
    } catch (err) {
      throw new CofferConfigError(`template line ${lineNo}: ${(err as Error).message}`);
    }
    rest = rest.slice(close + 2);
  }
  return parts;
}

/** Parses an environment template (see the file header for the format). */
export function parseEnvTemplate(source: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const name = eq === -1 ? '' : line.slice(0, eq).trim();
    if (!isEnvName(name)) throw new CofferConfigError(`template line ${lineNo}: expected NAME=VALUE with NAME made of letters, digits and _`);
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    entries.push({ name, parts: parseValue(value, lineNo) });
  }
  return entries;
}

/** Every distinct path the entries read, in first-use order. */
export function referencedPaths(entries: readonly EnvEntry[]): string[] {
  const paths = new Set<string>();
  for (const entry of entries) for (const part of entry.parts) if ('ref' in part) paths.add(part.ref.path);
  return [...paths];
}

/** Renders the entries; `lookup` returns one reference's value. */
export function renderEnv(entries: readonly EnvEntry[], lookup: (ref: SecretReference) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) out[entry.name] = entry.parts.map((p) => ('text' in p ? p.text : lookup(p.ref))).join('');
  return out;
}

/** One reference's value from its secret's fields; without a field the secret must have exactly one. */
export function referenceValue(secret: Record<string, unknown>, ref: SecretReference): string {
  if (ref.field !== undefined) return fieldValue(secret, ref.field, ref.path);
  const keys = Object.keys(secret);
  if (keys.length !== 1) throw new CofferResponseError(`the secret at ${ref.path} has ${keys.length} fields: name one with ${ref.path}#FIELD`);
  return fieldValue(secret, keys[0] as string, ref.path);
}
