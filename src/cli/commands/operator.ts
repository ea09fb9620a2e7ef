/**
 * `coffer operator init | unseal | seal | rotate`: server lifecycle and barrier key rotation.
 *
 * Must never: take an unseal key only from process arguments (it can also be typed at a hidden
 * prompt or piped in), or print a key or token in an error line (all are registered for redaction).
 */
import { defineCommand, defineGroup, UsageError } from '../command.js';
import type { CommandContext } from '../context.js';
import { formatColumns, formatValue } from '../format.js';
import { asEnvelope, printField, printJson, printSuccess } from '../output.js';
import { CliError } from '../errors.js';
import { asSealStatus, printSealStatus } from './seal-status.js';

interface InitResponse {
  keys?: string[];
  keys_base64?: string[];
  root_token?: string;
}

const initCommand = defineCommand({
  summary: 'Initialize a new server',
  usage: 'coffer operator init [options]',
  help: [
    'Initializes the server: generates the root key, splits it into unseal key shares and creates',
    'the initial root token. This happens once per server; the keys are shown only now.',
    'With -status, only reports whether the server is initialized (exit 0 yes, 2 no).',
  ].join('\n'),
  flags: {
    'key-shares': { kind: 'int', usage: 'Number of unseal key shares to create (default 5).' },
    'key-threshold': { kind: 'int', usage: 'Number of shares needed to unseal (default 3).' },
    status: { kind: 'boolean', usage: 'Only print whether the server is initialized.' },
  },
  // The shares and the root token are shown once: printing one field would lose the rest for
  // good (a misspelt one, everything), so -field is refused before the server is asked.
  noFieldOutput: true,
  maxArgs: 0,
  async run(ctx, flags) {
    const client = ctx.clientWithToken(null);
    if (flags.status) {
      const res = await client.request('GET', 'sys/init');
      const initialized = (res.body as { initialized?: unknown } | undefined)?.initialized === true;
      if (ctx.format === 'json') printJson(ctx, { initialized });
      else ctx.out(initialized ? 'Coffer is initialized' : 'Coffer is not initialized');
      return initialized ? 0 : 2;
    }
    const shares = flags['key-shares'] ?? 5;
    const threshold = flags['key-threshold'] ?? 3;
    if (shares < 1 || shares > 255) throw new CliError('-key-shares must be between 1 and 255');
    if (threshold < 1 || threshold > shares) throw new CliError('-key-threshold must be between 1 and -key-shares');

    const res = await client.request('PUT', 'sys/init', { body: { secret_shares: shares, secret_threshold: threshold } });
    const init = (res.body ?? {}) as InitResponse;
    const b64 = init.keys_base64 ?? [];
    const hex = init.keys ?? [];
    for (const key of [...b64, ...hex, init.root_token ?? '']) ctx.redact(key);

    if (ctx.format === 'json') {
      const out = {
        unseal_keys_b64: b64,
        unseal_keys_hex: hex,
        unseal_shares: shares,
        unseal_threshold: threshold,
        recovery_keys_b64: [],
        recovery_keys_hex: [],
        recovery_keys_shares: 0,
        recovery_keys_threshold: 0,
        root_token: init.root_token ?? '',
      };
      printJson(ctx, out);
      return 0;
    }
    const shown = b64.length > 0 ? b64 : hex;
    const lines = shown.map((key, i) => `Unseal Key ${i + 1}: ${key}`);
    ctx.out([
      ...lines,
      '',
      `Initial Root Token: ${init.root_token ?? ''}`,
      '',
      `Coffer initialized with ${shares} key shares and a key threshold of ${threshold}. Please securely`,
      'distribute the key shares printed above. When Coffer is re-sealed, restarted, or stopped,',
      `you must supply at least ${threshold} of these keys to unseal it before it can start`,
      'servicing requests.',
      '',
      `Coffer does not store the generated root key. Without at least ${threshold} keys to`,
      'reconstruct the root key, Coffer will remain permanently sealed!',
      '',
      'These keys and the root token are shown only this once. Store each key share with a',
      'different trusted person, and revoke the root token once other access is set up.',
    ].join('\n'));
    return 0;
  },
});

const unsealCommand = defineCommand({
  summary: 'Provide one unseal key share',
  usage: 'coffer operator unseal [options] [KEY]',
  help: [
    'Provides one unseal key share. Run it once per share until the threshold is reached.',
    'If KEY is omitted (or is "-"), it is read from standard input — at a hidden prompt on a',
    'terminal — so that keys need not appear in the process list or shell history.',
    'With -reset, discards the shares provided so far.',
  ].join('\n'),
  flags: {
    reset: { kind: 'boolean', usage: 'Discard the key shares provided so far.' },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    let body: Record<string, unknown>;
    if (flags.reset) {
      if (args.length > 0) throw new UsageError('-reset takes no KEY', 'coffer operator unseal');
      body = { reset: true };
    } else {
      const arg = args[0];
      const key = arg !== undefined && arg !== '-' ? arg : await ctx.readSecret('Unseal Key (will be hidden): ');
      ctx.redact(key);
      if (key.trim() === '') throw new CliError('no unseal key given');
      body = { key: key.trim() };
    }
    const res = await ctx.clientWithToken(null).request('PUT', 'sys/unseal', { body });
    printSealStatus(ctx, asSealStatus(res.body));
    return 0;
  },
});

const sealCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Seal the server',
  usage: 'coffer operator seal [options]',
  help: [
    'Seals the server: requests already in progress finish first (for at most the server\'s',
    'seal_drain_timeout) while new ones get 503; then it forgets its keys and answers 503 until',
    'unsealed again. Returns once sealed. Needs sudo on sys/seal.',
  ].join('\n'),
  flags: {},
  maxArgs: 0,
  async run(ctx) {
    await ctx.client().request('PUT', 'sys/seal');
    printSuccess(ctx, 'Coffer is sealed.');
    return 0;
  },
});

const rotateCommand = defineCommand({
  summary: 'Rotate the barrier encryption key',
  usage: 'coffer operator rotate [options]',
  help: 'Adds a new barrier key term used for all new writes; older terms stay for decryption.',
  flags: {},
  maxArgs: 0,
  async run(ctx) {
    const client = ctx.client();
    await client.request('PUT', 'sys/rotate');
    const res = await client.request('GET', 'sys/key-status');
    const env = asEnvelope(res.body);
    // key-status is one of the routes whose data is also copied to the top level.
    const status = (env.data ?? env) as Record<string, unknown>;
    printKeyStatus(ctx, status);
    return 0;
  },
});

function printKeyStatus(ctx: CommandContext, status: Record<string, unknown>): void {
  if (ctx.field !== undefined) {
    if (!Object.hasOwn(status, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
    return printField(ctx, status[ctx.field]);
  }
  if (ctx.format === 'json') return printJson(ctx, { term: status['term'], install_time: status['install_time'], encryptions: status['encryptions'] });
  const rows: string[][] = [['Key Term', formatValue(status['term'])], ['Install Time', formatValue(status['install_time'])]];
  if (status['encryptions'] !== undefined) rows.push(['Encryption Count', formatValue(status['encryptions'])]);
  ctx.out(`Success! Rotated key\n\n${formatColumns(rows)}`);
}

export const operatorGroup = defineGroup({
  summary: 'Init, unseal, seal and rotate the server',
  usage: 'coffer operator <subcommand> [options] [args]',
  subcommands: { init: initCommand, unseal: unsealCommand, seal: sealCommand, rotate: rotateCommand },
});
