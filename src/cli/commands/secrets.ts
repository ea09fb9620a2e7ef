/**
 * `coffer secrets enable | list | disable | tune`: the mount table at `sys/mounts`.
 */
import { defineCommand, defineGroup } from '../command.js';
import { CliError } from '../errors.js';
import { durationString } from '../durations.js';
import { formatTable, formatValue } from '../format.js';
import { parseStringMap } from '../kv-pairs.js';
import { asEnvelope, printJson, printSuccess } from '../output.js';
import { trimSlashes } from './kv-paths.js';

/** A mount path for the URL (no outer slashes) and for display (trailing slash), as Vault shows it. */
export function mountPaths(path: string): { api: string; shown: string } {
  const api = trimSlashes(path);
  if (api === '') throw new CliError('a mount path is required');
  return { api, shown: `${api}/` };
}

/** The entries of a sys/mounts or sys/audit listing: `data` when present, else the legacy top level. */
export function mountEntries(body: unknown): Array<[string, Record<string, unknown>]> {
  const env = asEnvelope(body);
  const source = env.data && typeof env.data === 'object' ? env.data : env;
  return Object.entries(source)
    .filter((entry): entry is [string, Record<string, unknown>] => entry[0].endsWith('/') && entry[1] !== null && typeof entry[1] === 'object')
    .sort(([a], [b]) => a.localeCompare(b));
}

const enableCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Mount a secrets engine',
  usage: 'coffer secrets enable [options] TYPE',
  help: 'Mounts a secrets engine of TYPE at -path (default: the type name). "kv-v2" is "kv" with -version=2.',
  flags: {
    path: { kind: 'string', usage: 'Where to mount it (default: TYPE).' },
    description: { kind: 'string', usage: 'A human-friendly description.' },
    version: { kind: 'int', usage: 'The engine version, e.g. 2 for KV v2.' },
    'default-lease-ttl': { kind: 'string', usage: 'Default lease TTL for this mount, e.g. 1h.' },
    'max-lease-ttl': { kind: 'string', usage: 'Maximum lease TTL for this mount.' },
    options: { kind: 'list', usage: 'A key=value option passed to the engine.' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const requested = (args[0] as string).trim();
    const { api, shown } = mountPaths(flags.path ?? requested);
    const options = parseStringMap(flags.options, 'options');
    if (flags.version !== undefined) options['version'] = String(flags.version);
    let type = requested;
    if (type === 'kv-v2') {
      type = 'kv';
      options['version'] = '2';
    }
    const config: Record<string, unknown> = {};
    const defaultTtl = durationString(flags['default-lease-ttl'], 'default-lease-ttl');
    if (defaultTtl !== undefined) config['default_lease_ttl'] = defaultTtl;
    const maxTtl = durationString(flags['max-lease-ttl'], 'max-lease-ttl');
    if (maxTtl !== undefined) config['max_lease_ttl'] = maxTtl;
    const body: Record<string, unknown> = { type, description: flags.description ?? '', config, options };
    await ctx.client().request('POST', `sys/mounts/${api}`, { body });
    printSuccess(ctx, `Enabled the ${type} secrets engine at: ${shown}`);
    return 0;
  },
});

function ttlText(value: unknown): string {
  return value === undefined || value === 0 || value === '0' || value === '' ? 'system' : formatValue(value);
}

const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List mounted secrets engines',
  usage: 'coffer secrets list [options]',
  flags: {
    detailed: { kind: 'boolean', usage: 'Also show TTLs and options.' },
  },
  maxArgs: 0,
  async run(ctx, flags) {
    const res = await ctx.client().request('GET', 'sys/mounts');
    const entries = mountEntries(res.body);
    if (ctx.format === 'json') {
      printJson(ctx, Object.fromEntries(entries));
      return 0;
    }
    if (flags.detailed) {
      ctx.out(formatTable(
        ['Path', 'Type', 'Accessor', 'Default TTL', 'Max TTL', 'Options', 'Description'],
        entries.map(([path, m]) => {
          const config = (m['config'] ?? {}) as Record<string, unknown>;
          return [path, formatValue(m['type'] ?? ''), formatValue(m['accessor'] ?? ''), ttlText(config['default_lease_ttl']),
            ttlText(config['max_lease_ttl']), formatValue(m['options'] ?? null), formatValue(m['description'] ?? '')];
        }),
      ));
    } else {
      ctx.out(formatTable(
        ['Path', 'Type', 'Accessor', 'Description'],
        entries.map(([path, m]) => [path, formatValue(m['type'] ?? ''), formatValue(m['accessor'] ?? ''), formatValue(m['description'] ?? '')]),
      ));
    }
    return 0;
  },
});

const disableCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Unmount a secrets engine and delete its data',
  usage: 'coffer secrets disable [options] PATH',
  help: 'Revokes the mount\'s leases, then removes the mount and all of its data.',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const { api, shown } = mountPaths(args[0] as string);
    await ctx.client().request('DELETE', `sys/mounts/${api}`);
    printSuccess(ctx, `Disabled the secrets engine (if it existed) at: ${shown}`);
    return 0;
  },
});

const tuneCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Change a mount\'s settings',
  usage: 'coffer secrets tune [options] PATH',
  flags: {
    'default-lease-ttl': { kind: 'string', usage: 'Default lease TTL for this mount.' },
    'max-lease-ttl': { kind: 'string', usage: 'Maximum lease TTL for this mount.' },
    description: { kind: 'string', usage: 'A new description.' },
    options: { kind: 'list', usage: 'A key=value option passed to the engine.' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const { api, shown } = mountPaths(args[0] as string);
    const body: Record<string, unknown> = {};
    const defaultTtl = durationString(flags['default-lease-ttl'], 'default-lease-ttl');
    if (defaultTtl !== undefined) body['default_lease_ttl'] = defaultTtl;
    const maxTtl = durationString(flags['max-lease-ttl'], 'max-lease-ttl');
    if (maxTtl !== undefined) body['max_lease_ttl'] = maxTtl;
    if (flags.description !== undefined) body['description'] = flags.description;
    if (flags.options.length > 0) body['options'] = parseStringMap(flags.options, 'options');
    if (Object.keys(body).length === 0) throw new CliError('nothing to tune: give at least one option');
    await ctx.client().request('POST', `sys/mounts/${api}/tune`, { body });
    printSuccess(ctx, `Tuned the secrets engine at: ${shown}`);
    return 0;
  },
});

export const secretsGroup = defineGroup({
  summary: 'Enable, list, tune and disable secrets engines',
  usage: 'coffer secrets <subcommand> [options] [args]',
  subcommands: { enable: enableCommand, list: listCommand, disable: disableCommand, tune: tuneCommand },
});
