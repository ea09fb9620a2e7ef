/**
 * `coffer aws-keys create -policy P -ttl 1h`: issues an AWS access-key pair bound to Coffer
 * policies, for SDK code that talks to Coffer's Secrets Manager API. The pair is a lease:
 * `coffer lease revoke LEASE_ID` revokes it, and it stops working at its expiry.
 *
 * Must never: print the secret access key anywhere but the command's own output (it is
 * registered for redaction, so no error line can carry it).
 */
import { defineCommand, defineGroup } from '../command.js';
import { CliError } from '../errors.js';
import { durationString } from '../durations.js';
import { asEnvelope, printSecret } from '../output.js';

const createCommand = defineCommand({
  summary: 'Issue an access-key pair bound to Coffer policies',
  usage: 'coffer aws-keys create [options]',
  help: [
    'Prints access_key_id and secret_access_key for an AWS SDK pointed at this server',
    '(endpoint = the server address). The key can do exactly what its policies allow on',
    'aws/data/<name> and aws/metadata/<name>; it is a lease (see lease_id) and stops working',
    'when its TTL ends. -mount selects another aws-keys mount.',
  ].join('\n'),
  flags: {
    policy: { kind: 'list', usage: 'A policy to bind to the key (repeatable, or comma-separated).' },
    ttl: { kind: 'string', usage: 'How long the key works, e.g. 1h (default: the mount\'s default lease TTL).' },
    mount: { kind: 'string', usage: 'The aws-keys mount (default aws-keys).' },
  },
  maxArgs: 0,
  async run(ctx, flags) {
    const policies = flags.policy.flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
    if (policies.length === 0) throw new CliError('at least one -policy is required');
    const body: Record<string, unknown> = { policies };
    const ttl = durationString(flags.ttl, 'ttl');
    if (ttl !== undefined) body['ttl'] = ttl;
    const mount = (flags.mount ?? 'aws-keys').replace(/^\/+|\/+$/g, '');
    const env = asEnvelope((await ctx.client().request('POST', `${mount}/creds`, { body })).body);
    const secret = env.data?.['secret_access_key'];
    if (typeof secret === 'string') ctx.redact(secret);
    printSecret(ctx, env, true);
    return 0;
  },
});

export const awsKeysGroup = defineGroup({
  summary: 'Issue AWS access keys for the Secrets Manager API',
  usage: 'coffer aws-keys <subcommand> [options]',
  subcommands: { create: createCommand },
});
