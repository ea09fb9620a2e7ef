/**
 * `coffer login [TOKEN]`: checks a token against the server (auth/token/lookup-self) and stores
 * it in ~/.coffer-token (mode 0600) for later commands.
 *
 * Must never: store a token the server rejected, or print the token (the user has it already;
 * keeping it off the screen keeps it out of terminal scrollback and screen shares).
 */
import { defineCommand } from '../command.js';
import { ApiError, CliError } from '../errors.js';
import { formatKeyValues } from '../format.js';
import { asEnvelope, humanDuration, printField, printJson } from '../output.js';
import { tokenFilePath, writeTokenFile } from '../token-file.js';

export const loginCommand = defineCommand({
  summary: 'Store a token for later commands',
  usage: 'coffer login [options] [TOKEN]',
  help: [
    'Verifies TOKEN with the server and stores it in ~/.coffer-token (mode 0600), where later',
    'commands find it when neither -token nor COFFER_TOKEN / VAULT_TOKEN is set.',
    'If TOKEN is omitted or "-", it is read from standard input (a hidden prompt on a terminal),',
    'which keeps it out of the process list and shell history.',
  ].join('\n'),
  flags: {
    'no-store': { kind: 'boolean', usage: 'Verify the token but do not store it.' },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    const arg = args[0];
    const token = (arg !== undefined && arg !== '-' ? arg : await ctx.readSecret('Token (will be hidden): ')).trim();
    ctx.redact(token);
    if (token === '') throw new CliError('no token given');

    let data: Record<string, unknown>;
    try {
      const res = await ctx.clientWithToken(token).request('GET', 'auth/token/lookup-self', { wrap: false });
      data = asEnvelope(res.body).data ?? {};
    } catch (err) {
      if (err instanceof ApiError) {
        const why = err.errors.length > 0 ? err.errors.join('; ') : 'permission denied';
        throw new CliError(`the server did not accept the token: ${why} (HTTP ${err.status})`, 2);
      }
      throw err;
    }
    const path = tokenFilePath(ctx.io.env);
    if (!flags['no-store']) {
      try {
        writeTokenFile(path, token);
      } catch (err) {
        throw new CliError(`cannot store the token in ${path}: ${(err as NodeJS.ErrnoException).code ?? 'write failed'}`);
      }
    }

    const ttl = typeof data['ttl'] === 'number' ? data['ttl'] : 0;
    const summary: Record<string, unknown> = {
      token_accessor: data['accessor'] ?? '',
      token_duration: ttl > 0 ? humanDuration(ttl) : '∞',
      token_renewable: data['renewable'] ?? false,
      token_policies: data['policies'] ?? [],
      identity_policies: data['identity_policies'] ?? [],
      policies: data['policies'] ?? [],
    };
    if (ctx.field !== undefined) {
      if (!Object.hasOwn(summary, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
      printField(ctx, summary[ctx.field]);
    } else if (ctx.format === 'json') {
      // Vault's shape (`vault login -format=json`): the token's auth block, with numbers a
      // script can use (lease_duration 0 for a token that never expires). Without the token:
      // the caller gave it, and login never prints one.
      printJson(ctx, {
        request_id: '',
        lease_id: '',
        lease_duration: 0,
        renewable: false,
        data: null,
        warnings: null,
        auth: {
          accessor: data['accessor'] ?? '',
          policies: data['policies'] ?? [],
          token_policies: data['policies'] ?? [],
          identity_policies: data['identity_policies'] ?? [],
          metadata: data['meta'] ?? null,
          orphan: data['orphan'] ?? false,
          entity_id: data['entity_id'] ?? '',
          lease_duration: ttl,
          renewable: data['renewable'] ?? false,
        },
      });
    } else {
      const where = flags['no-store']
        ? 'The token is valid; it was not stored (-no-store).'
        : `The token is stored in ${path}; later commands use it\nunless -token, COFFER_TOKEN or VAULT_TOKEN is set.`;
      ctx.out(`Success! You are now authenticated. ${where}\n\n${formatKeyValues(Object.entries(summary))}`);
    }
    return 0;
  },
});
