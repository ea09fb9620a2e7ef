/**
 * `coffer lease lookup | renew | revoke | list`: leases of dynamic secrets, by lease id.
 * Lease ids are not secrets (they grant nothing without a token), so they may be arguments.
 */
import { defineCommand, defineGroup, UsageError } from '../command.js';
import { ApiError } from '../errors.js';
import { durationSeconds } from '../durations.js';
import { asEnvelope, keysOf, printKeys, printSecret, printSuccess } from '../output.js';
import { trimSlashes } from './kv-paths.js';

const lookupCommand = defineCommand({
  summary: 'Show a lease: issue and expire time, TTL, renewability, revocation state',
  usage: 'coffer lease lookup [options] LEASE_ID',
  help: 'Prints what Coffer knows of a lease; an irrevocable lease also shows its last error.',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const res = await ctx.client().request('PUT', 'sys/leases/lookup', { body: { lease_id: args[0] } });
    printSecret(ctx, asEnvelope(res.body));
    return 0;
  },
});

const renewCommand = defineCommand({
  summary: 'Extend a lease (up to its max TTL)',
  usage: 'coffer lease renew [options] LEASE_ID',
  help: '-increment asks for a new TTL from now; the server caps it at the lease\'s max TTL.',
  flags: {
    increment: { kind: 'string', usage: 'The TTL to ask for, e.g. 1h (default: the lease\'s original TTL).' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const increment = durationSeconds(flags.increment, 'increment');
    const body: Record<string, unknown> = { lease_id: args[0], ...(increment === undefined ? {} : { increment }) };
    const res = await ctx.client().request('PUT', 'sys/leases/renew', { body });
    printSecret(ctx, asEnvelope(res.body));
    return 0;
  },
});

const revokeCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Revoke a lease, or every lease under a prefix',
  usage: 'coffer lease revoke [options] LEASE_ID | PREFIX',
  help: [
    'Revokes the secret in its target system, then forgets the lease. -prefix revokes every lease',
    'under the argument (sudo); -force also forgets leases whose revocation fails (sudo; the',
    'credentials may then outlive Coffer\'s record of them). -sync=false returns at once and lets',
    'the background worker revoke it.',
  ].join('\n'),
  flags: {
    prefix: { kind: 'boolean', usage: 'Treat the argument as a prefix of lease ids.' },
    force: { kind: 'boolean', usage: 'With -prefix: drop leases even if revocation fails.' },
    sync: { kind: 'boolean', default: true, usage: 'Wait for the revocation (default true).' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const target = args[0] as string;
    const client = ctx.client();
    if (flags.force && !flags.prefix) throw new UsageError('-force needs -prefix', 'coffer lease revoke');
    if (flags.prefix) {
      // The trailing slash stays: the server reads the prefix as given (`auth/` and `auth` both
      // reach every login there).
      const prefix = target.replace(/^\/+/, '');
      const path = `sys/leases/${flags.force ? 'revoke-force' : 'revoke-prefix'}/${prefix}`;
      if (!flags.sync) {
        await client.request('PUT', path, { body: { sync: false } });
        printSuccess(ctx, `Revocation queued for all leases under: ${prefix}`);
        return 0;
      }
      await client.request('PUT', path);
      printSuccess(ctx, `Revoked all leases under: ${prefix}`);
      return 0;
    }
    await client.request('PUT', 'sys/leases/revoke', { body: { lease_id: target, sync: flags.sync } });
    printSuccess(ctx, flags.sync ? `Revoked lease: ${target}` : `Revocation queued for: ${target}`);
    return 0;
  },
});

const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List lease ids under a prefix (sudo)',
  usage: 'coffer lease list [options] PREFIX',
  help: 'Lists the children of a lease-id prefix, e.g. database/creds/readonly/.',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const prefix = trimSlashes(args[0] as string);
    try {
      const res = await ctx.client().request('LIST', `sys/leases/lookup/${prefix}/`);
      printKeys(ctx, keysOf(asEnvelope(res.body)));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // As `coffer kv list` and Vault's CLI: nothing to list is said on stderr, exit 2.
        ctx.err(`No value found at sys/leases/lookup/${prefix}/`);
        return 2;
      }
      throw err;
    }
    return 0;
  },
});

export const leaseGroup = defineGroup({
  summary: 'Look up, renew, revoke and list leases',
  usage: 'coffer lease <subcommand> [options] [args]',
  subcommands: { lookup: lookupCommand, renew: renewCommand, revoke: revokeCommand, list: listCommand },
});
