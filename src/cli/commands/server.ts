/**
 * `coffer server`: its help and its start. Not a defineCommand: the server takes none of the
 * client's global flags (-address, -token, -format), and its flags are parsed by the server's
 * own table (src/server/flags.ts), which this file renders the way every command's options are.
 *
 * Owns: telling a flag mistake (usage, exit 1 with a pointer to -h) from a failed start.
 * Must never: load the server (src/main.ts) to print help or report a flag mistake.
 */
import { ConfigError } from '../../config.js';
import { parseServerFlags, SERVER_FLAGS, SERVER_HELP } from '../../server/flags.js';
import { UsageError } from '../command.js';
import { CliError } from '../errors.js';
import { describeFlags } from '../flags.js';
import type { CliIo } from '../io.js';

export function serverUsage(): string {
  return ['Usage: coffer server [options]', '', SERVER_HELP, '', 'Command options:', describeFlags(SERVER_FLAGS)].join('\n');
}

/** Runs `coffer server` with the words after it; resolves when the server has stopped. */
export async function runServerCli(argv: readonly string[], io: CliIo): Promise<number> {
  let flags;
  try {
    flags = parseServerFlags(argv);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message, 'coffer server');
    throw err;
  }
  if (flags.help) {
    io.stderr.write(`${serverUsage()}\n`);
    return 0;
  }
  // The server is loaded only now: help and flag mistakes above need none of it.
  const { runServerCommand } = await import('../../main.js');
  try {
    await runServerCommand(flags);
  } catch (err) {
    // A bad config file, a port in use: the server's messages are written for users.
    throw new CliError(`cannot start the server: ${err instanceof Error ? err.message : String(err)}`);
  }
  return 0;
}
