/**
 * `coffer policy write | read | list | delete`: ACL policies at `sys/policies/acl/<name>`.
 */
import { readFile } from 'node:fs/promises';
import { defineCommand, defineGroup } from '../command.js';
import { ApiError, CliError } from '../errors.js';
import { asEnvelope, keysOf, printField, printJson, printSuccess } from '../output.js';

function policyPath(name: string): string {
  if (name === '' || name.includes('/')) throw new CliError('invalid policy name: it must be non-empty and contain no "/"');
  return `sys/policies/acl/${name}`;
}

const writeCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Upload a policy',
  usage: 'coffer policy write [options] NAME FILE|-',
  help: 'Creates or replaces the policy NAME with the HCL or JSON in FILE ("-": standard input).',
  flags: {},
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, _flags, args) {
    const [name, file] = args as [string, string];
    const path = policyPath(name);
    let policy: string;
    if (file === '-') {
      policy = await ctx.readStdin();
    } else {
      try {
        policy = await readFile(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read policy file ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      }
    }
    if (policy.trim() === '') throw new CliError('the policy is empty');
    await ctx.client().request('PUT', path, { body: { policy } });
    printSuccess(ctx, `Uploaded policy: ${name}`);
    return 0;
  },
});

const readCommand = defineCommand({
  summary: 'Print a policy',
  usage: 'coffer policy read [options] NAME',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const name = args[0] as string;
    let env;
    try {
      env = asEnvelope((await ctx.client().request('GET', policyPath(name))).body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        ctx.err(`No policy named: ${name}`);
        return 2;
      }
      throw err;
    }
    const data = env.data ?? {};
    if (ctx.field !== undefined) {
      if (!Object.hasOwn(data, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
      printField(ctx, data[ctx.field]);
    } else if (ctx.format === 'json') {
      printJson(ctx, env);
    } else {
      const text = String(data['policy'] ?? data['rules'] ?? '');
      ctx.out(text.replace(/\n+$/, ''));
    }
    return 0;
  },
});

const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List policy names',
  usage: 'coffer policy list [options]',
  flags: {},
  maxArgs: 0,
  async run(ctx) {
    const keys = keysOf(asEnvelope((await ctx.client().request('LIST', 'sys/policies/acl')).body));
    if (ctx.format === 'json') printJson(ctx, keys);
    else if (keys.length > 0) ctx.out(keys.join('\n'));
    return 0;
  },
});

const deleteCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Delete a policy',
  usage: 'coffer policy delete [options] NAME',
  help: 'Deletes the policy NAME. Tokens that name it keep the name but lose its permissions.',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const name = args[0] as string;
    await ctx.client().request('DELETE', policyPath(name));
    printSuccess(ctx, `Deleted policy: ${name}`);
    return 0;
  },
});

export const policyGroup = defineGroup({
  summary: 'Manage ACL policies',
  usage: 'coffer policy <subcommand> [options] [args]',
  subcommands: { write: writeCommand, read: readCommand, list: listCommand, delete: deleteCommand },
});
