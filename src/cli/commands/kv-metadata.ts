/**
 * `coffer kv metadata get | put | patch | delete`: a KV v2 secret's metadata — its versions, limits
 * (max versions, check-and-set, automatic deletion) and custom metadata.
 */
import { defineCommand, defineGroup } from '../command.js';
import { ApiError, CliError } from '../errors.js';
import { parseStringMap } from '../kv-pairs.js';
import { asEnvelope, printField, printJson, printSuccess, printWarnings } from '../output.js';
import { kvV2Path } from './kv-paths.js';
import { dataTable, metadataTable, printSections, type Section } from './kv-output.js';
import { kvTarget, MOUNT_FLAG, noValue, requireV2 } from './kv-target.js';

const getCommand = defineCommand({
  summary: 'Read a secret\'s metadata and version history',
  usage: 'coffer kv metadata get [options] PATH',
  flags: { mount: MOUNT_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'metadata get');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'metadata');
    let env;
    try {
      env = asEnvelope((await target.client.request('GET', apiPath)).body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.errors.length === 0) return noValue(ctx, apiPath);
      throw err;
    }
    const meta = env.data ?? {};
    if (ctx.field !== undefined) {
      if (!Object.hasOwn(meta, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
      printField(ctx, meta[ctx.field]);
      return 0;
    }
    if (ctx.format === 'json') {
      printJson(ctx, env);
      return 0;
    }
    printWarnings(ctx, env);
    const sections: Section[] = [
      { title: 'Metadata Path', body: apiPath },
      { title: 'Metadata', body: metadataTable(meta), table: true },
    ];
    const versions = (meta['versions'] ?? {}) as Record<string, Record<string, unknown>>;
    for (const v of Object.keys(versions).sort((a, b) => Number(a) - Number(b))) {
      const info = versions[v] ?? {};
      sections.push({ title: `Version ${v}`, body: dataTable({ ...info, deletion_time: info['deletion_time'] === '' ? 'n/a' : info['deletion_time'] }), table: true });
    }
    printSections(ctx, sections);
    return 0;
  },
});

const SETTINGS_FLAGS = {
  mount: MOUNT_FLAG,
  'max-versions': { kind: 'int', usage: 'Versions to keep (0: the mount default; negative: unchanged).' },
  'cas-required': { kind: 'boolean', usage: 'Require -cas on every write to this secret.' },
  'delete-version-after': { kind: 'string', usage: 'Delete each version this long after it is written, e.g. 72h (0s: never; negative: unchanged).' },
  'custom-metadata': { kind: 'list', usage: 'A key=value pair of custom metadata.' },
} as const;

/** The metadata body both `put` and `patch` send: only the settings given on the command line. */
function settingsBody(
  flags: { 'max-versions'?: number; 'cas-required'?: boolean; 'delete-version-after'?: string; 'custom-metadata': string[] },
  given: ReadonlySet<string>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  // As Vault's CLI, whose defaults are -1: a negative value means "leave as it is".
  if (flags['max-versions'] !== undefined && flags['max-versions'] >= 0) body['max_versions'] = flags['max-versions'];
  if (given.has('cas-required')) body['cas_required'] = flags['cas-required'];
  const deleteAfter = flags['delete-version-after'];
  if (deleteAfter !== undefined && !deleteAfter.trim().startsWith('-')) body['delete_version_after'] = deleteAfter;
  if (flags['custom-metadata'].length > 0) body['custom_metadata'] = parseStringMap(flags['custom-metadata'], 'custom-metadata');
  return body;
}

const putCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Set a secret\'s metadata',
  usage: 'coffer kv metadata put [options] PATH',
  help: 'Sets the settings given; others keep their values, but -custom-metadata replaces the whole map. Creates the metadata if absent.',
  flags: SETTINGS_FLAGS,
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args, given) {
    const body = settingsBody(flags, given);
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'metadata put');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'metadata');
    await target.client.request('PUT', apiPath, { body });
    printSuccess(ctx, `Data written to: ${apiPath}`);
    return 0;
  },
});

const patchCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Change some of a secret\'s metadata',
  usage: 'coffer kv metadata patch [options] PATH',
  help:
    'Merges the settings given into the existing metadata (a JSON merge patch), as Vault\'s `kv metadata patch`: ' +
    '-custom-metadata keys are added or replaced one by one and the others kept; -remove-custom-metadata KEY ' +
    'removes one. The secret\'s metadata must exist.',
  flags: { ...SETTINGS_FLAGS, 'remove-custom-metadata': { kind: 'list', usage: 'A custom metadata key to remove.' } },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args, given) {
    const body = settingsBody(flags, given);
    const removed = flags['remove-custom-metadata'];
    if (removed.length > 0) {
      // In a merge patch, null deletes a key.
      const custom: Record<string, string | null> = { ...(body['custom_metadata'] as Record<string, string> | undefined) };
      for (const key of removed) custom[key] = null;
      body['custom_metadata'] = custom;
    }
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'metadata patch');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'metadata');
    await target.client.request('PATCH', apiPath, { body, contentType: 'application/merge-patch+json' });
    printSuccess(ctx, `Data written to: ${apiPath}`);
    return 0;
  },
});

const deleteCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Delete a secret\'s metadata and all its versions',
  usage: 'coffer kv metadata delete [options] PATH',
  help: 'Permanently removes every version of the secret and its metadata.',
  flags: { mount: MOUNT_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'metadata delete');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'metadata');
    await target.client.request('DELETE', apiPath);
    printSuccess(ctx, `Data deleted (if it existed) at: ${apiPath}`);
    return 0;
  },
});

export const kvMetadataGroup = defineGroup({
  summary: 'Read and set secret metadata (KV v2)',
  usage: 'coffer kv metadata <subcommand> [options] PATH',
  subcommands: { get: getCommand, put: putCommand, patch: patchCommand, delete: deleteCommand },
});
