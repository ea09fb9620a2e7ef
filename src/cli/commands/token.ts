/**
 * `coffer token create | lookup | renew | revoke`.
 *
 * Tokens given as arguments travel in request bodies, never in URLs; a TOKEN of "-" is read from
 * standard input so it need not appear in the process list.
 * Must never: print a token in an error line (every token handled is registered for redaction).
 */
import { defineCommand, defineGroup, UsageError } from '../command.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { durationSeconds, durationString } from '../durations.js';
import { parseStringMap } from '../kv-pairs.js';
import { asEnvelope, printSecret, printSuccess } from '../output.js';

/** The token argument, or one read from stdin for "-"; undefined when absent. */
async function tokenArg(ctx: CommandContext, arg: string | undefined, what: string): Promise<string | undefined> {
  if (arg === undefined) return undefined;
  const value = arg === '-' ? (await ctx.readSecret(`${what} (will be hidden): `)).trim() : arg;
  ctx.redact(value);
  if (value === '') throw new CliError(`no ${what.toLowerCase()} given`);
  return value;
}

const createCommand = defineCommand({
  summary: 'Create a token',
  usage: 'coffer token create [options]',
  help: 'Creates a child of the calling token (or an orphan with -orphan) and prints it.',
  flags: {
    policy: { kind: 'list', usage: 'A policy to attach (also comma-separated).' },
    ttl: { kind: 'string', usage: 'Initial time to live, e.g. 1h.' },
    'explicit-max-ttl': { kind: 'string', usage: 'A hard limit the token can never be renewed past.' },
    period: { kind: 'string', usage: 'Make a periodic token renewed by this period.' },
    'num-uses': { kind: 'int', usage: 'Number of uses before the token is revoked (0: unlimited).' },
    orphan: { kind: 'boolean', usage: 'Create a token with no parent (needs sudo on auth/token/create-orphan).' },
    'display-name': { kind: 'string', usage: 'A name shown in audit logs and lookups.' },
    metadata: { kind: 'list', usage: 'A key=value pair of metadata.' },
    'no-default-policy': { kind: 'boolean', usage: 'Do not attach the "default" policy.' },
    renewable: { kind: 'boolean', default: true, usage: 'Allow renewal (default true; -renewable=false to forbid).' },
    type: { kind: 'string', usage: 'Token type: service or batch.' },
    role: { kind: 'string', usage: 'Create the token through this token role (auth/token/create/ROLE).' },
  },
  maxArgs: 0,
  async run(ctx, flags, _args, given) {
    const body: Record<string, unknown> = {};
    const policies = flags.policy.flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
    if (policies.length > 0) body['policies'] = policies;
    const ttl = durationString(flags.ttl, 'ttl');
    if (ttl !== undefined) body['ttl'] = ttl;
    const maxTtl = durationString(flags['explicit-max-ttl'], 'explicit-max-ttl');
    if (maxTtl !== undefined) body['explicit_max_ttl'] = maxTtl;
    const period = durationString(flags.period, 'period');
    if (period !== undefined) body['period'] = period;
    if (flags['num-uses'] !== undefined) {
      if (flags['num-uses'] < 0) throw new CliError('-num-uses must not be negative');
      body['num_uses'] = flags['num-uses'];
    }
    if (flags['display-name'] !== undefined) body['display_name'] = flags['display-name'];
    if (flags.metadata.length > 0) body['meta'] = parseStringMap(flags.metadata, 'metadata');
    if (flags['no-default-policy']) body['no_default_policy'] = true;
    if (given.has('renewable')) body['renewable'] = flags.renewable;
    if (flags.type !== undefined) body['type'] = flags.type;
    if (flags.role !== undefined && flags.orphan) throw new UsageError('-role and -orphan cannot be combined: the role says whether its tokens are orphans', 'coffer token create');
    const path = flags.role !== undefined ? `auth/token/create/${encodeURIComponent(flags.role)}` : flags.orphan ? 'auth/token/create-orphan' : 'auth/token/create';
    const env = asEnvelope((await ctx.client().request('POST', path, { body })).body);
    if (env.auth?.client_token) ctx.redact(env.auth.client_token);
    printSecret(ctx, env);
    return 0;
  },
});

const lookupCommand = defineCommand({
  summary: 'Show a token\'s properties',
  usage: 'coffer token lookup [options] [TOKEN | -]',
  help: 'Without TOKEN, looks up the calling token. With -accessor, TOKEN is an accessor.',
  flags: {
    accessor: { kind: 'boolean', usage: 'Treat the argument as a token accessor.' },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    const value = await tokenArg(ctx, args[0], flags.accessor ? 'Accessor' : 'Token');
    const client = ctx.client();
    let res;
    if (value === undefined) {
      if (flags.accessor) throw new UsageError('-accessor needs an ACCESSOR argument', 'coffer token lookup');
      res = await client.request('GET', 'auth/token/lookup-self');
    } else if (flags.accessor) {
      res = await client.request('POST', 'auth/token/lookup-accessor', { body: { accessor: value } });
    } else {
      res = await client.request('POST', 'auth/token/lookup', { body: { token: value } });
    }
    printSecret(ctx, asEnvelope(res.body));
    return 0;
  },
});

const renewCommand = defineCommand({
  summary: 'Extend a token\'s time to live',
  usage: 'coffer token renew [options] [TOKEN | -]',
  help: 'Without TOKEN, renews the calling token. -increment asks for a new TTL (the server may cap it).',
  flags: {
    increment: { kind: 'string', usage: 'The TTL to ask for, e.g. 1h (default: the token\'s own).' },
    accessor: { kind: 'boolean', usage: 'Treat the argument as a token accessor.' },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    const increment = durationSeconds(flags.increment, 'increment');
    const value = await tokenArg(ctx, args[0], flags.accessor ? 'Accessor' : 'Token');
    const body: Record<string, unknown> = increment === undefined ? {} : { increment };
    const client = ctx.client();
    let res;
    if (value === undefined) {
      if (flags.accessor) throw new UsageError('-accessor needs an ACCESSOR argument', 'coffer token renew');
      res = await client.request('PUT', 'auth/token/renew-self', { body });
    } else if (flags.accessor) {
      res = await client.request('PUT', 'auth/token/renew-accessor', { body: { ...body, accessor: value } });
    } else {
      res = await client.request('PUT', 'auth/token/renew', { body: { ...body, token: value } });
    }
    printSecret(ctx, asEnvelope(res.body));
    return 0;
  },
});

const revokeCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Revoke a token and its children',
  usage: 'coffer token revoke [options] [TOKEN | -]',
  help: [
    'Revokes TOKEN, its child tokens and their leases. -self revokes the calling token;',
    '-accessor treats the argument as an accessor; -mode=orphan keeps the children (needs sudo).',
  ].join('\n'),
  flags: {
    self: { kind: 'boolean', usage: 'Revoke the calling token.' },
    accessor: { kind: 'boolean', usage: 'Treat the argument as a token accessor.' },
    mode: { kind: 'string', usage: '"orphan" to keep child tokens alive (default: revoke the tree).' },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    if (flags.mode !== undefined && flags.mode !== 'orphan' && flags.mode !== '') throw new CliError('invalid -mode: the only mode is "orphan"');
    const client = ctx.client();
    if (flags.self) {
      if (args.length > 0 || flags.accessor) throw new UsageError('-self takes no TOKEN and no -accessor', 'coffer token revoke');
      await client.request('PUT', 'auth/token/revoke-self');
      printSuccess(ctx, 'Revoked token (if it existed)');
      return 0;
    }
    const value = await tokenArg(ctx, args[0], flags.accessor ? 'Accessor' : 'Token');
    if (value === undefined) throw new UsageError('a TOKEN (or -self) is required', 'coffer token revoke');
    if (flags.accessor) {
      if (flags.mode === 'orphan') throw new CliError('-mode=orphan cannot be used with -accessor');
      await client.request('PUT', 'auth/token/revoke-accessor', { body: { accessor: value } });
    } else if (flags.mode === 'orphan') {
      await client.request('PUT', 'auth/token/revoke-orphan', { body: { token: value } });
    } else {
      await client.request('PUT', 'auth/token/revoke', { body: { token: value } });
    }
    printSuccess(ctx, 'Revoked token (if it existed)');
    return 0;
  },
});

export const tokenGroup = defineGroup({
  summary: 'Create, look up, renew and revoke tokens',
  usage: 'coffer token <subcommand> [options] [args]',
  subcommands: { create: createCommand, lookup: lookupCommand, renew: renewCommand, revoke: revokeCommand },
});
