/**
 * Turns `key=value` arguments into a request body, as Vault's CLI does.
 *
 * Owns: `k=v` (literal), `k=@path` (the file's contents), `k=-` (all of stdin), `k=\@x` (a literal
 * leading "@"), a bare `-` or `@path` (a JSON object from stdin or a file, its keys merged in
 * with the other arguments, in order), and repeated keys (collected into a list). Also `k=v` lists given through repeatable flags such as `-metadata=k=v`.
 *
 * Must never: put an argument's value in an error message — these values are secrets.
 */
import { readFile } from 'node:fs/promises';
import { CliError } from './errors.js';
import { inexactNumberLiteral, inexactNumberMessage, numberScanNeeded } from '../core/json-numbers.js';

export interface PairSources {
  /** Reads all of standard input. Called at most once. */
  readStdin(): Promise<string>;
  /** Reads a file named after "@". */
  readFile?(path: string): Promise<string>;
}

/** A plain object with `source`'s keys as own data properties (defineProperty: "__proto__" stays a key). */
function ownKeysOnly<T>(source: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(source)) Object.defineProperty(out, key, { value: source[key], enumerable: true, writable: true, configurable: true });
  return out;
}

/** Parses CLI data arguments into an object. `args` may be empty (gives `{}`). */
export async function parseDataArgs(args: readonly string[], sources: PairSources): Promise<Record<string, unknown>> {
  let stdinUsed = false;
  const stdinOnce = async (): Promise<string> => {
    if (stdinUsed) throw new CliError('standard input can only be read once; "-" was given twice');
    stdinUsed = true;
    return sources.readStdin();
  };
  const loadFile = sources.readFile ?? ((path: string) => readFile(path, 'utf8'));

  // The path stays out of the message: when no such file exists, the "path" is most likely a
  // secret that happens to start with "@" (a generated password, a CI variable), and the error
  // line would print it into a terminal or a build log.
  const readFileFor = async (path: string, what: string): Promise<string> => {
    try {
      return await loadFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CliError(`${what} starts with "@", which names a file to read, but that file cannot be read (${code}); write \\@ for a value that starts with "@"`);
    }
  };

  // No prototype: a key named "constructor" or "toString" is not already "present", and one
  // named "__proto__" is a plain key (which the server then refuses) rather than a prototype.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [index, arg] of args.entries()) {
    // A bare `-` or `@file` is a JSON object whose keys are merged in, as Vault's CLI does.
    if (arg === '-' || arg.startsWith('@')) {
      const source = arg === '-' ? 'standard input' : `file ${arg.slice(1)}`;
      const text = arg === '-' ? await stdinOnce() : await readFileFor(arg.slice(1), `argument ${index + 1}`);
      // defineProperty, not assignment: a "__proto__" key stays a plain key (the server refuses it).
      for (const [k, v] of Object.entries(jsonObject(text, source))) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid key/value pair in argument ${index + 1}: expected key=value`);
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    let value: string;
    if (raw === '-') {
      value = await stdinOnce();
    } else if (raw.startsWith('@')) {
      value = await readFileFor(raw.slice(1), `the value of key "${key}"`);
    } else if (raw.startsWith('\\@')) {
      value = raw.slice(1);
    } else {
      value = raw;
    }
    const existing = Object.hasOwn(out, key) ? out[key] : undefined;
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return ownKeysOnly(out);
}

/** `text` as a JSON object; the message names only where it came from, never its content. */
function jsonObject(text: string, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${source} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`${source} must hold a JSON object`);
  }
  // 1e400 parses as Infinity and would be sent as null: refuse it, as the server does.
  const pending: unknown[] = [parsed];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'number' && !Number.isFinite(value)) throw new CliError(`${source} holds a number out of range`);
    if (value !== null && typeof value === 'object') pending.push(...Object.values(value));
  }
  // The server would refuse it too; say so before anything is sent.
  const inexact = numberScanNeeded(parsed, text) ? inexactNumberLiteral(text) : undefined;
  if (inexact !== undefined) throw new CliError(`${source}: ${inexactNumberMessage(inexact)}`);
  return parsed as Record<string, unknown>;
}

/** Parses repeatable `k=v` flag values (e.g. `-metadata=team=a`) into a string map. */
export function parseStringMap(items: readonly string[], flagName: string): Record<string, string> {
  // No prototype, as in parseDataArgs: `-metadata=__proto__=x` must be sent, not swallowed.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid -${flagName}: expected key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return ownKeysOnly(out);
}
