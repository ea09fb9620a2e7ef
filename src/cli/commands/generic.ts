/**
 * `coffer read | write | list | delete PATH`: raw access to any API path, as Vault's generic
 * commands. `read` and `delete` send KEY=VALUE pairs as query parameters, `write` as the JSON
 * body (or a JSON object from stdin with a lone "-").
 */
import { defineCommand } from '../command.js';
import { ApiError, CliError } from '../errors.js';
import { parseDataArgs } from '../kv-pairs.js';
import { asEnvelope, keysOf, printKeys, printSecret, printSuccess, type Envelope } from '../output.js';
import { trimSlashes } from './kv-paths.js';
import { noValue } from './kv-target.js';

const DATA_HELP = 'VALUE may be @FILE to read a file, or - to read standard input.';

function toQuery(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Array.isArray(v) ? v.join(',') : String(v);
  return out;
}

function cleanPath(path: string): string {
  const clean = trimSlashes(path);
  if (clean === '') throw new CliError('a path is required');
  return clean;
}

export const readCommand = defineCommand({
  summary: 'Read data at a path',
  usage: 'coffer read [options] PATH [KEY=VALUE...]',
  help: `Reads PATH and prints the response. KEY=VALUE pairs are sent as query parameters. ${DATA_HELP}`,
  flags: {},
  minArgs: 1,
  async run(ctx, _flags, args) {
    const [raw, ...pairs] = args as [string, ...string[]];
    const path = cleanPath(raw);
    const query = toQuery(await parseDataArgs(pairs, { readStdin: () => ctx.readStdin() }));
    let env: Envelope;
    try {
      const res = await ctx.client().request('GET', path, { query });
      if (res.body === undefined) return noValue(ctx, path);
      env = asEnvelope(res.body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.errors.length === 0) return noValue(ctx, path);
      throw err;
    }
    printSecret(ctx, env);
    return 0;
  },
});

export const writeCommand = defineCommand({
  summary: 'Write data to a path',
  usage: 'coffer write [options] PATH [KEY=VALUE... | -]',
  help: `Writes KEY=VALUE pairs (or, with a lone -, a JSON object from stdin) to PATH. ${DATA_HELP}`,
  flags: {
    force: { kind: 'boolean', usage: 'Allow a write with no data.' },
  },
  minArgs: 1,
  async run(ctx, flags, args) {
    const [raw, ...pairs] = args as [string, ...string[]];
    const path = cleanPath(raw);
    const data = await parseDataArgs(pairs, { readStdin: () => ctx.readStdin() });
    if (Object.keys(data).length === 0 && !flags.force) throw new CliError('no data given: pass KEY=VALUE pairs, or -force to write nothing');
    const res = await ctx.client().request('PUT', path, { body: data });
    if (res.body === undefined) {
      printSuccess(ctx, `Data written to: ${path}`);
    } else {
      // What a write answers (a secret id, a token) is not to be had again.
      printSecret(ctx, asEnvelope(res.body), true);
    }
    return 0;
  },
});

export const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List keys under a path',
  usage: 'coffer list [options] PATH',
  help: 'Lists the keys under PATH (LIST, or GET ?list=true). Names ending in "/" are folders.',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const path = cleanPath(args[0] as string);
    let keys: string[];
    try {
      keys = keysOf(asEnvelope((await ctx.client().request('LIST', `${path}/`)).body));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.errors.length === 0) return noValue(ctx, path);
      throw err;
    }
    if (keys.length === 0) return noValue(ctx, path);
    printKeys(ctx, keys);
    return 0;
  },
});

export const deleteCommand = defineCommand({
  summary: 'Delete data at a path',
  usage: 'coffer delete [options] PATH [KEY=VALUE...]',
  help: 'Sends DELETE to PATH. KEY=VALUE pairs are sent as query parameters.',
  flags: {},
  minArgs: 1,
  async run(ctx, _flags, args) {
    const [raw, ...pairs] = args as [string, ...string[]];
    const path = cleanPath(raw);
    const query = toQuery(await parseDataArgs(pairs, { readStdin: () => ctx.readStdin() }));
    const res = await ctx.client().request('DELETE', path, { query });
    if (res.body !== undefined && ctx.format === 'json') printSecret(ctx, asEnvelope(res.body));
    else printSuccess(ctx, `Data deleted (if it existed) at: ${path}`);
    return 0;
  },
});
