/**
 * `coffer status`: the server's seal status. Exit codes as Vault's: 0 unsealed, 2 sealed,
 * 1 on any error (so scripts can tell "sealed" from "unreachable").
 */
import { defineCommand } from '../command.js';
import { asSealStatus, printSealStatus } from './seal-status.js';

export const statusCommand = defineCommand({
  summary: 'Print seal status',
  usage: 'coffer status [options]',
  help: 'Prints the seal status of the server. Exits 0 when unsealed, 2 when sealed, 1 on error.\nNeeds no token.',
  flags: {},
  maxArgs: 0,
  remoteErrorExitCode: 1,
  async run(ctx) {
    const res = await ctx.clientWithToken(null).request('GET', 'sys/seal-status');
    const status = asSealStatus(res.body);
    printSealStatus(ctx, status);
    return status.sealed ? 2 : 0;
  },
});
