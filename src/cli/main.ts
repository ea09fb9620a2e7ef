/**
 * Entry point of the `coffer` command-line client: picks the command module, runs it, and turns
 * every expected failure into one `Error: ...` line on stderr and a Vault-style exit code
 * (1 local mistake, 2 server or connection error; `status` differs, see its file).
 *
 * Owns: the table of top-level commands. Each module is loaded with import() only when its
 * command runs, so `coffer <cmd>` pays only for what it uses (start-up time matters for `run`).
 * Must never: print a stack trace for an expected error, or a token in any error line.
 */
import { commandUsage, runEntry, UsageError, type Entry, type RunState } from './command.js';
import { ApiError, CliError, WrappedAnswer } from './errors.js';
import { printWrapped } from './output.js';
import { FlagError } from './flags.js';
import { PromptAborted, type CliIo, type CliStdin } from './io.js';
import { COFFER_VERSION, VAULT_API_VERSION } from '../version.js';

interface TopLevel {
  summary: string;
  load(): Promise<Entry>;
}

const COMMANDS: Readonly<Record<string, TopLevel>> = {
  status: { summary: 'Print seal status', load: async () => (await import('./commands/status.js')).statusCommand },
  operator: { summary: 'Init, unseal, seal and rotate the server', load: async () => (await import('./commands/operator.js')).operatorGroup },
  login: { summary: 'Store a token for later commands', load: async () => (await import('./commands/login.js')).loginCommand },
  kv: { summary: 'Read and write key/value secrets (v1 and v2)', load: async () => (await import('./commands/kv.js')).kvGroup },
  read: { summary: 'Read data at a path', load: async () => (await import('./commands/generic.js')).readCommand },
  write: { summary: 'Write data to a path', load: async () => (await import('./commands/generic.js')).writeCommand },
  list: { summary: 'List keys under a path', load: async () => (await import('./commands/generic.js')).listCommand },
  delete: { summary: 'Delete data at a path', load: async () => (await import('./commands/generic.js')).deleteCommand },
  token: { summary: 'Create, look up, renew and revoke tokens', load: async () => (await import('./commands/token.js')).tokenGroup },
  policy: { summary: 'Manage ACL policies', load: async () => (await import('./commands/policy.js')).policyGroup },
  secrets: { summary: 'Enable, list, tune and disable secrets engines', load: async () => (await import('./commands/secrets.js')).secretsGroup },
  audit: { summary: 'Manage and verify audit devices', load: async () => (await import('./commands/audit.js')).auditGroup },
  lease: { summary: 'Look up, renew, revoke and list leases', load: async () => (await import('./commands/lease.js')).leaseGroup },
  rotation: { summary: 'Inspect static-role credential rotations', load: async () => (await import('./commands/rotation.js')).rotationGroup },
  'aws-keys': { summary: 'Issue AWS access keys for the Secrets Manager API', load: async () => (await import('./commands/aws-keys.js')).awsKeysGroup },
  unwrap: { summary: 'Return the response a wrapping token holds (once)', load: async () => (await import('./commands/unwrap.js')).unwrapCommand },
  run: { summary: 'Run a command with secrets in its environment', load: async () => (await import('./commands/run.js')).runCommand },
  agent: { summary: 'Run the agent sidecar: auto-auth, token sink, secrets rendered to files', load: async () => (await import('./commands/agent.js')).agentCommand },
};

function topUsage(): string {
  const names = [...Object.keys(COMMANDS), 'server', 'version'];
  const width = Math.max(...names.map((n) => n.length));
  const line = (name: string, summary: string): string => `    ${name.padEnd(width)}    ${summary}`;
  return [
    'Usage: coffer <command> [options] [args]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => line(name, c.summary)),
    line('server', 'Start a Coffer server'),
    line('version', 'Print the Coffer version'),
    '',
    'Run "coffer <command> -h" for a command\'s options.',
  ].join('\n');
}

/**
 * Runs the CLI with `argv` (the words after `coffer`) and returns the exit code.
 * `io` replaces the process's streams and environment, so tests run commands in-process.
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo = withDefaults(io);
  const [name, ...rest] = argv;
  if (name === undefined) {
    fullIo.stderr.write(`${topUsage()}\n`);
    return 1;
  }
  if ((name === 'help' && rest.length === 0) || name === '-h' || name === '-help' || name === '--help') {
    fullIo.stderr.write(`${topUsage()}\n`);
    return 0;
  }
  if (name === 'version' || name === '-v' || name === '-version' || name === '--version') {
    // Coffer's own release; servers report the Vault release they answer as (src/version.ts).
    fullIo.stdout.write(`Coffer v${COFFER_VERSION} (Vault API ${VAULT_API_VERSION})\n`);
    return 0;
  }
  const state: RunState = { commandPath: `coffer ${name}` };
  try {
    if (name === 'help') return await printHelpOf(rest, fullIo, state);
    if (name === 'server') {
      // The server parses its own flags (src/server/flags.ts); it is loaded only for this command.
      const { runServerCli } = await import('./commands/server.js');
      return await runServerCli(rest, fullIo);
    }
    const top = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (top === undefined) {
      fullIo.stderr.write(`Unknown command: ${JSON.stringify(name)}\n\n${topUsage()}\n`);
      return 1;
    }
    return await runEntry(await top.load(), [...rest], fullIo, state);
  } catch (err) {
    return report(err, fullIo, state);
  }
}

/**
 * `coffer help <command> [<subcommand>...]`: the same text as `coffer <command> ... -h`. It
 * walks the command table instead of running the command with -h appended, so that no word of
 * the line can ever be taken as an argument (`coffer help run ls` must not run ls).
 */
async function printHelpOf(words: readonly string[], io: CliIo, state: RunState): Promise<number> {
  const [name, ...more] = words as [string, ...string[]];
  if (name === 'version' && more.length === 0) {
    io.stderr.write('Usage: coffer version\n\nPrints the Coffer release and the Vault API release it speaks (also -v, --version).\n');
    return 0;
  }
  if (name === 'server' || name === 'version') {
    if (more.length > 0) throw new UsageError(`unknown subcommand "${more[0]}"`, `coffer ${name}`);
    io.stderr.write(`${(await import('./commands/server.js')).serverUsage()}\n`);
    return 0;
  }
  const top = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (top === undefined) {
    io.stderr.write(`Unknown command: ${JSON.stringify(name)}\n\n${topUsage()}\n`);
    return 1;
  }
  let entry = await top.load();
  state.commandPath = `coffer ${name}`;
  for (const word of more) {
    const sub = entry.kind === 'group' && Object.hasOwn(entry.subcommands, word) ? entry.subcommands[word] : undefined;
    if (sub === undefined) throw new UsageError(`unknown subcommand "${word}"`, state.commandPath);
    entry = sub;
    state.commandPath = `${state.commandPath} ${word}`;
  }
  io.stderr.write(`${commandUsage(entry, state.commandPath)}\n`);
  return 0;
}

function withDefaults(io: Partial<CliIo>): CliIo {
  return {
    env: io.env ?? process.env,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    fetch: io.fetch,
    // process.stdin is created on first access; most commands never touch it.
    get stdin(): CliStdin {
      return io.stdin ?? (process.stdin as CliStdin);
    },
  };
}

function report(err: unknown, io: CliIo, state: RunState): number {
  const scrub = (text: string): string => (state.context ? state.context.scrub(text) : text);
  const line = (text: string): void => void io.stderr.write(`Error: ${scrub(text)}\n`);
  if (err instanceof FlagError) {
    line(err.message);
    const path = err instanceof UsageError ? err.commandPath : state.commandPath;
    io.stderr.write(`Run "${path} -h" for usage.\n`);
    return 1;
  }
  if (err instanceof WrappedAnswer && state.context) {
    try {
      printWrapped(state.context, err.body);
      return 0;
    } catch (printError) {
      // A -field that is none of the wrapping rows: one error line, as for any other answer.
      return report(printError, io, state);
    }
  }
  if (err instanceof ApiError) {
    line(err.message);
    return state.remoteErrorExitCode ?? 2;
  }
  if (err instanceof CliError) {
    line(err.message);
    return err.exitCode === 2 && state.remoteErrorExitCode !== undefined ? state.remoteErrorExitCode : err.exitCode;
  }
  if (err instanceof PromptAborted) {
    line('input aborted');
    return 1;
  }
  // A bug or an unexpected system error: still one line, no stack (set COFFER_DEBUG=1 for it).
  const message = err instanceof Error ? err.message : String(err);
  line(`unexpected failure: ${message}`);
  if (io.env['COFFER_DEBUG'] && err instanceof Error && err.stack) io.stderr.write(`${scrub(err.stack)}\n`);
  return 1;
}
