/**
 * Vault-style command-line flag parsing for the coffer CLI.
 *
 * Owns: turning argv into typed flag values and positional arguments, given each command's
 * flag table. Accepts `-flag=value`, `-flag value`, `--flag=value`, `--flag value` and boolean
 * `-flag` / `-flag=false`; `--` ends flag parsing. Flags may come before, between or after
 * positional arguments unless the command asks to stop at the first positional (as `run` will,
 * so that the child command's own flags pass through untouched).
 *
 * Why not node:util parseArgs: it only knows `--long` and one-letter `-s` options, so Vault's
 * single-dash long flags (`-address=...`, `-key-shares 5`) cannot be expressed with it.
 *
 * Must never: echo a flag's value in an error message (a value may be a token or a secret).
 */

export type FlagKind = 'string' | 'boolean' | 'int' | 'list';

export interface FlagSpec {
  readonly kind: FlagKind;
  /** Shown in usage text. */
  readonly usage?: string;
  /** Only meaningful for booleans (Vault's `-renewable` defaults to true). */
  readonly default?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<K extends FlagKind> = K extends 'boolean'
  ? boolean
  : K extends 'list'
    ? string[]
    : K extends 'int'
      ? number | undefined
      : string | undefined;

/** Typed flag values: booleans default to false (or their default), lists to [], others to undefined. */
export type FlagValues<S extends FlagSpecs> = { -readonly [N in keyof S]: ValueOf<S[N]['kind']> };

export interface ParsedArgs<S extends FlagSpecs> {
  flags: FlagValues<S>;
  /** Names of the flags that appeared on the command line, to tell "unset" from "set to default". */
  given: ReadonlySet<string>;
  positionals: string[];
  /** True when -h, -help or --help appeared. */
  help: boolean;
}

export interface ParseOptions {
  /** Stop treating arguments as flags after the first positional argument. */
  stopAtFirstPositional?: boolean;
}

/** A usage mistake on the command line: the CLI prints it with the command's usage and exits 1. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

const TRUE_WORDS = new Set(['true', '1', 't', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'f', 'no']);

/** Parses `argv` against `specs`. Throws FlagError for unknown flags, missing or malformed values. */
export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S, options: ParseOptions = {}): ParsedArgs<S> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.kind === 'boolean') values[name] = spec.default ?? false;
    else if (spec.kind === 'list') values[name] = [];
    else values[name] = undefined;
  }
  const given = new Set<string>();
  const positionals: string[] = [];
  let help = false;
  let flagsDone = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    // A lone "-" is a positional meaning "standard input".
    if (flagsDone || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      if (options.stopAtFirstPositional) flagsDone = true;
      continue;
    }
    if (arg === '--') {
      flagsDone = true;
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const spec = specs[name];
    if (name === '' || spec === undefined) throw new FlagError(`flag provided but not defined: -${name}`);
    given.add(name);

    if (spec.kind === 'boolean') {
      if (inline === undefined) {
        values[name] = true;
      } else if (TRUE_WORDS.has(inline.toLowerCase())) {
        values[name] = true;
      } else if (FALSE_WORDS.has(inline.toLowerCase())) {
        values[name] = false;
      } else {
        throw new FlagError(`invalid boolean value for -${name}: use -${name}=true or -${name}=false`);
      }
      continue;
    }

    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      raw = argv[++i] as string;
    }
    if (spec.kind === 'int') {
      if (!/^-?\d+$/.test(raw.trim())) throw new FlagError(`invalid value for -${name}: must be an integer`);
      values[name] = Number.parseInt(raw.trim(), 10);
    } else if (spec.kind === 'list') {
      (values[name] as string[]).push(raw);
    } else {
      values[name] = raw;
    }
  }
  return { flags: values as FlagValues<S>, given, positionals, help };
}

/** Renders a flag table as indented usage lines, e.g. `  -key-shares=<int>   Number of key shares.` */
export function describeFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const placeholder = spec.kind === 'boolean' ? '' : spec.kind === 'int' ? '=<int>' : '=<string>';
    const repeat = spec.kind === 'list' ? ' (repeatable)' : '';
    return [`-${name}${placeholder}`, `${spec.usage ?? ''}${repeat}`] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}    ${right}`.trimEnd()).join('\n');
}
