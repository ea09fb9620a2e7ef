/**
 * Turns `key=value` arguments into a request body, as Vault's CLI does.
 *
 * Owns: `k=v` (literal), `k=@path` (the file's contents), `k=-` (all of stdin), `k=\@x` (a literal
 * leading "@"), a lone `-` (a JSON object read from stdin), and repeated keys (collected into a
 * list). Also `k=v` lists given through repeatable flags such as `-metadata=k=v`.
 *
 * Must never: put an argument's value in an error message — these values are secrets.
 */
import { readFile } from 'node:fs/promises';
import { CliError } from './errors.js';

export interface PairSources {
  /** Reads all of standard input. Called at most once. */
  readStdin(): Promise<string>;
  /** Reads a file named after "@". */
  readFile?(path: string): Promise<string>;
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

  if (args.length === 1 && args[0] === '-') {
    const text = await stdinOnce();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError('standard input is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CliError('standard input must hold a JSON object');
    }
    return parsed as Record<string, unknown>;
  }

  const out: Record<string, unknown> = {};
  for (const [index, arg] of args.entries()) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid key/value pair in argument ${index + 1}: expected key=value`);
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    let value: string;
    if (raw === '-') {
      value = await stdinOnce();
    } else if (raw.startsWith('@')) {
      const path = raw.slice(1);
      try {
        value = await loadFile(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        throw new CliError(`cannot read file for key "${key}": ${path} (${code})`);
      }
    } else if (raw.startsWith('\\@')) {
      value = raw.slice(1);
    } else {
      value = raw;
    }
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/** Parses repeatable `k=v` flag values (e.g. `-metadata=team=a`) into a string map. */
export function parseStringMap(items: readonly string[], flagName: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid -${flagName}: expected key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
