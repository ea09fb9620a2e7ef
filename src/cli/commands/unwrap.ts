/**
 * `coffer unwrap [TOKEN]`: returns the response a wrapping token holds and ends that token, as
 * `vault unwrap`. Without TOKEN, the client token (-token, COFFER_TOKEN, ...) is the wrapping
 * token itself; with it, the client token only needs the default policy.
 */
import { defineCommand } from '../command.js';
import { CliError } from '../errors.js';
import { asEnvelope, printSecret } from '../output.js';

export const unwrapCommand = defineCommand({
  summary: 'Return the response a wrapping token holds (once)',
  usage: 'coffer unwrap [options] [TOKEN]',
  help:
    'Unwraps TOKEN (or, without it, the client token) and prints the response it held. TOKEN "-" ' +
    'reads it from standard input, which keeps it out of the process list. A wrapping token ' +
    'unwraps once: if this fails for a token nobody else should have had, someone else may have ' +
    'read the secret.',
  flags: {},
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const [given] = args;
    const token = given === '-' ? (await ctx.readStdin()).trim() : given;
    if (token === '') throw new CliError(given === '-' ? 'no wrapping token on standard input' : 'the wrapping token is empty');
    let res;
    if (token !== undefined) {
      ctx.redact(token);
      const client = ctx.client();
      // On a target holding no token of its own (the usual place to unwrap a secret id), the
      // wrapping token is the client token, as Vault's CLI sends it: the body form needs a
      // client token allowed to call sys/wrapping/unwrap.
      res = client.hasToken
        ? await client.request('POST', 'sys/wrapping/unwrap', { body: { token } })
        : await client.request('POST', 'sys/wrapping/unwrap', { body: {}, token });
    } else {
      res = await ctx.client().request('POST', 'sys/wrapping/unwrap', { body: {} });
    }
    // The wrapping token is spent: this answer is the only one.
    printSecret(ctx, asEnvelope(res.body), true);
    return 0;
  },
});
