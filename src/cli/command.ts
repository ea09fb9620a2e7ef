/**
 * The shape of a CLI command and how one is run: a leaf command declares its flags and argument
 * count and gets a ready CommandContext; a group (`kv`, `token`, `operator`...) dispatches on its
 * next word. New commands (`lease`, `run`, `agent`) are new files exporting one of these.
 *
 * Owns: usage text, argument-count checks, merging the global flags into each command's flags.
 * Must never: catch errors — main() turns them into one line and an exit code.
 */
import { createContext, GLOBAL_FLAGS, type CommandContext } from './context.js';
import { describeFlags, FlagError, parseFlags, type FlagSpecs, type FlagValues } from './flags.js';
import type { CliIo } from './io.js';

export interface Command<S extends FlagSpecs = FlagSpecs> {
  readonly kind: 'command';
  /** One line for the parent's list of subcommands. */
  readonly summary: string;
  /** Synopsis after "Usage: ", e.g. `coffer kv get [options] KEY`. */
  readonly usage: string;
  /** A paragraph or two shown by -h. */
  readonly help?: string;
  readonly flags: S;
  readonly minArgs?: number;
  readonly maxArgs?: number;
  /** Exit code for server or connection errors (Vault's `status` uses 1, everything else 2). */
  readonly remoteErrorExitCode?: number;
  readonly stopAtFirstPositional?: boolean;
  /**
   * The command prints no response field (a success line, a table of mounts, a list): -field is
   * refused before it runs, rather than ignored after it has changed something.
   */
  readonly noFieldOutput?: boolean;
  run(ctx: CommandContext, flags: FlagValues<S>, args: string[], given: ReadonlySet<string>): Promise<number>;
}

export interface CommandGroup {
  readonly kind: 'group';
  readonly summary: string;
  readonly usage: string;
  readonly help?: string;
  readonly subcommands: Readonly<Record<string, Entry>>;
}

// `any` lets one table hold commands with different flag tables; each run() is checked on its own.
export type Entry = Command<any> | CommandGroup;

/** Identity helper that infers the flag table's literal type for `run`. */
export function defineCommand<const S extends FlagSpecs>(command: Omit<Command<S>, 'kind'>): Command<S> {
  return { kind: 'command', ...command };
}

export function defineGroup(group: Omit<CommandGroup, 'kind'>): CommandGroup {
  return { kind: 'group', ...group };
}

/** A usage error raised while running a command; main() prints it with a pointer to -h. */
export class UsageError extends FlagError {
  readonly commandPath: string;
  constructor(message: string, commandPath: string) {
    super(message);
    this.name = 'UsageError';
    this.commandPath = commandPath;
  }
}

/** Hooks main() gives the runner so it can scrub errors and pick the exit code. */
export interface RunState {
  context?: CommandContext;
  remoteErrorExitCode?: number;
  commandPath: string;
}

export function commandUsage(entry: Entry, commandPath: string): string {
  const parts = [`Usage: ${entry.usage}`];
  if (entry.help) parts.push('', entry.help);
  if (entry.kind === 'group') {
    const names = Object.keys(entry.subcommands);
    const width = Math.max(0, ...names.map((n) => n.length));
    parts.push('', 'Subcommands:', ...names.map((n) => `    ${n.padEnd(width)}    ${entry.subcommands[n]?.summary ?? ''}`));
    parts.push('', `Run "${commandPath} <subcommand> -h" for a subcommand's options.`);
  } else {
    const own = describeFlags(entry.flags);
    if (own) parts.push('', 'Command options:', own);
    parts.push('', 'Global options:', describeFlags(GLOBAL_FLAGS));
  }
  return parts.join('\n');
}

/** Runs a group or command with the words after its name. */
export async function runEntry(entry: Entry, argv: string[], io: CliIo, state: RunState): Promise<number> {
  if (entry.kind === 'group') {
    const [word, ...rest] = argv;
    if (word === undefined) {
      io.stderr.write(`${commandUsage(entry, state.commandPath)}\n`);
      return 1;
    }
    if (word === '-h' || word === '-help' || word === '--help' || word === 'help') {
      io.stderr.write(`${commandUsage(entry, state.commandPath)}\n`);
      return 0;
    }
    const sub = Object.hasOwn(entry.subcommands, word) ? entry.subcommands[word] : undefined;
    if (sub === undefined) {
      throw new UsageError(`unknown subcommand "${word}"`, state.commandPath);
    }
    state.commandPath = `${state.commandPath} ${word}`;
    return runEntry(sub, rest, io, state);
  }

  const specs = { ...entry.flags, ...GLOBAL_FLAGS };
  const parsed = parseFlags(argv, specs, { stopAtFirstPositional: entry.stopAtFirstPositional ?? false });
  if (parsed.help) {
    io.stderr.write(`${commandUsage(entry, state.commandPath)}\n`);
    return 0;
  }
  const { positionals } = parsed;
  if (entry.minArgs !== undefined && positionals.length < entry.minArgs) {
    throw new UsageError(`not enough arguments (expected at least ${entry.minArgs}, got ${positionals.length})`, state.commandPath);
  }
  if (entry.maxArgs !== undefined && positionals.length > entry.maxArgs) {
    throw new UsageError(`too many arguments (expected at most ${entry.maxArgs}, got ${positionals.length})`, state.commandPath);
  }
  const flags = parsed.flags as Record<string, unknown>;
  if (entry.noFieldOutput === true && flags['field'] !== undefined) {
    throw new UsageError(`-field is not supported by "${state.commandPath}"`, state.commandPath);
  }
  state.remoteErrorExitCode = entry.remoteErrorExitCode;
  const ctx = createContext(io, {
    address: flags['address'] as string | undefined,
    token: flags['token'] as string | undefined,
    format: flags['format'] as string | undefined,
    field: flags['field'] as string | undefined,
    wrapTtl: flags['wrap-ttl'] as string | undefined,
    caCert: flags['ca-cert'] as string | undefined,
    tlsSkipVerify: flags['tls-skip-verify'] as boolean | undefined,
  });
  state.context = ctx;
  return entry.run(ctx, parsed.flags, positionals, parsed.given);
}
