/**
 * `coffer kv get | put | patch | list | rollback` and the `kv` group (which also gathers the version and
 * metadata subcommands from their own files). Works on KV v1 and v2 mounts alike: the mount
 * and version come from the server's preflight route (see kv-paths.ts).
 *
 * Must never: echo a secret value in an error message.
 */
import { defineCommand, defineGroup } from '../command.js';
import type { CommandContext } from '../context.js';
import { ApiError, CliError } from '../errors.js';
import { parseDataArgs } from '../kv-pairs.js';
import { asEnvelope, keysOf, printField, printJson, printKeys, printSecret, printSuccess, printWarnings, type Envelope } from '../output.js';
import { kvV2Path } from './kv-paths.js';
import { kvTarget, MOUNT_FLAG, noValue, requireV2 } from './kv-target.js';
import { dataTable, metadataTable, printSections, type Section } from './kv-output.js';
import { kvDeleteCommand, kvDestroyCommand, kvUndeleteCommand } from './kv-versions.js';
import { kvMetadataGroup } from './kv-metadata.js';
import type { ApiClient } from '../client.js';

/**
 * Vault's CLI treats a negative -cas (its default is -1) and a -version of 0 or less as "not
 * given", so scripts pass -cas=${CAS:--1}; the same values mean the same here.
 */
const givenCas = (cas: number | undefined): number | undefined => (cas !== undefined && cas >= 0 ? cas : undefined);
const givenVersion = (version: number | undefined): number | undefined => (version !== undefined && version > 0 ? version : undefined);

const getCommand = defineCommand({
  summary: 'Read a secret',
  usage: 'coffer kv get [options] PATH',
  help: 'Reads the secret at PATH. On KV v2, -version reads an older version.',
  flags: {
    mount: MOUNT_FLAG,
    version: { kind: 'int', usage: 'The version to read (KV v2; 0 or less, or none: the latest).' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    const version = givenVersion(flags.version);
    if (target.mount.version === 1) {
      if (version !== undefined) throw new CliError('-version is only supported on KV version 2 mounts');
      const env = await readOrNull(target.client, target.fullPath, {});
      if (env === null) return noValue(ctx, target.fullPath);
      printSecret(ctx, env);
      return 0;
    }
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'data');
    const query: Record<string, string> = version !== undefined ? { version: String(version) } : {};
    const env = await readOrNull(target.client, apiPath, query, true);
    if (env === null) return noValue(ctx, apiPath);
    const inner = env.data ?? {};
    const data = (inner['data'] ?? null) as Record<string, unknown> | null;
    const metadata = (inner['metadata'] ?? null) as Record<string, unknown> | null;

    if (ctx.field !== undefined) {
      if (data === null) throw new CliError(`no data found at ${apiPath} (the version is deleted or destroyed)`, 2);
      if (!Object.hasOwn(data, ctx.field)) throw new CliError(`field "${ctx.field}" not present in secret`);
      printField(ctx, data[ctx.field]);
      return 0;
    }
    if (ctx.format === 'json') {
      printJson(ctx, env);
      return 0;
    }
    printWarnings(ctx, env);
    const sections: Section[] = [{ title: 'Secret Path', body: apiPath }];
    if (metadata) sections.push({ title: 'Metadata', body: metadataTable(metadata), table: true });
    if (data) sections.push({ title: 'Data', body: dataTable(data), table: true });
    printSections(ctx, sections);
    if (data === null) ctx.err('This version is deleted or destroyed; it has no data.');
    return 0;
  },
});

const putCommand = defineCommand({
  summary: 'Write a secret (replacing the whole secret)',
  usage: 'coffer kv put [options] PATH KEY=VALUE...',
  help: [
    'Writes KEY=VALUE pairs as the new content of PATH (a new version on KV v2).',
    'VALUE may be @FILE to read a file, or - to read standard input; a lone - reads a JSON object.',
  ].join('\n'),
  flags: {
    mount: MOUNT_FLAG,
    cas: { kind: 'int', usage: 'Check-and-set: write only if the current version is this (0: only if absent; negative: no check). KV v2.' },
  },
  minArgs: 2,
  async run(ctx, flags, args) {
    const [path, ...pairs] = args as [string, ...string[]];
    const data = await parseDataArgs(pairs, { readStdin: () => ctx.readStdin() });
    if (Object.keys(data).length === 0) throw new CliError('no data given: pass KEY=VALUE pairs');
    const target = await kvTarget(ctx, path, flags.mount);
    if (target.mount.version === 1) {
      if (givenCas(flags.cas) !== undefined) throw new CliError('-cas is only supported on KV version 2 mounts');
      await target.client.request('PUT', target.fullPath, { body: data });
      printSuccess(ctx, `Data written to: ${target.fullPath}`);
      return 0;
    }
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'data');
    const body: Record<string, unknown> = { data };
    const cas = givenCas(flags.cas);
    if (cas !== undefined) body['options'] = { cas };
    const res = await target.client.request('PUT', apiPath, { body });
    printWrite(ctx, apiPath, asEnvelope(res.body));
    return 0;
  },
});

/**
 * Vault's `-method=rw`: read the latest version, merge the new keys in (top level), write it back
 * with check-and-set on the version read, so a concurrent write makes this fail, not vanish.
 * Needs only read and update on the data path (no patch capability).
 */
async function readThenWrite(client: ApiClient, apiPath: string, data: Record<string, unknown>, cas: number | undefined): Promise<unknown> {
  let current;
  try {
    // Only the write this read prepares answers with a wrapping token under -wrap-ttl.
    current = asEnvelope((await client.request('GET', apiPath, { wrap: false })).body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError(`no value found at ${apiPath}; use "coffer kv put" to create it`, 2);
    throw err;
  }
  const secret = current.data as { data?: Record<string, unknown> | null; metadata?: { version?: number } } | null;
  const existing = secret?.data;
  const version = secret?.metadata?.version;
  if (existing == null || typeof version !== 'number') throw new CliError(`no value found at ${apiPath}; use "coffer kv put" to create it`, 2);
  const merged: Record<string, unknown> = {};
  for (const source of [existing, data]) {
    for (const [k, v] of Object.entries(source)) Object.defineProperty(merged, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return (await client.request('POST', apiPath, { body: { data: merged, options: { cas: cas ?? version } } })).body;
}

const patchCommand = defineCommand({
  summary: 'Update some keys of a secret (KV v2)',
  usage: 'coffer kv patch [options] PATH KEY=VALUE...',
  help:
    'Merges KEY=VALUE pairs into the latest version of PATH, writing a new version. KV v2 only.\n' +
    'As Vault\'s CLI: -method=patch sends an HTTP PATCH (needs the patch capability); -method=rw reads, merges and ' +
    'writes back with check-and-set (needs read and update); without -method, a PATCH refused with 403 is retried as rw.',
  flags: {
    mount: MOUNT_FLAG,
    cas: { kind: 'int', usage: 'Check-and-set: patch only if the current version is this (negative: no check).' },
    method: { kind: 'string', usage: 'patch or rw (default: patch, then rw if PATCH is denied).' },
  },
  minArgs: 2,
  async run(ctx, flags, args) {
    const [path, ...pairs] = args as [string, ...string[]];
    const method = flags.method;
    if (method !== undefined && method !== 'patch' && method !== 'rw') throw new CliError('-method must be "patch" or "rw"');
    const data = await parseDataArgs(pairs, { readStdin: () => ctx.readStdin() });
    if (Object.keys(data).length === 0) throw new CliError('no data given: pass KEY=VALUE pairs');
    const target = await kvTarget(ctx, path, flags.mount);
    requireV2(target, 'patch');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'data');
    if (method === 'rw') {
      printWrite(ctx, apiPath, asEnvelope(await readThenWrite(target.client, apiPath, data, givenCas(flags.cas))));
      return 0;
    }
    const body: Record<string, unknown> = { data };
    const cas = givenCas(flags.cas);
    if (cas !== undefined) body['options'] = { cas };
    let res;
    try {
      res = await target.client.request('PATCH', apiPath, { body, contentType: 'application/merge-patch+json' });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.errors.length === 0) {
        throw new CliError(`no value found at ${apiPath}; use "coffer kv put" to create it`, 2);
      }
      if (method === undefined && err instanceof ApiError && err.status === 403) {
        printWrite(ctx, apiPath, asEnvelope(await readThenWrite(target.client, apiPath, data, givenCas(flags.cas))));
        return 0;
      }
      throw err;
    }
    printWrite(ctx, apiPath, asEnvelope(res.body));
    return 0;
  },
});

const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List keys under a path',
  usage: 'coffer kv list [options] PATH',
  help: 'Lists the keys under PATH; names ending in "/" are folders.',
  flags: { mount: MOUNT_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    const apiPath = target.mount.version === 2 ? kvV2Path(target.mount.mountPath, target.fullPath, 'metadata') : target.fullPath;
    let env: Envelope;
    try {
      env = asEnvelope((await target.client.request('LIST', `${apiPath}/`)).body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.errors.length === 0) return noValue(ctx, apiPath);
      throw err;
    }
    const keys = keysOf(env);
    if (keys.length === 0) return noValue(ctx, apiPath);
    printKeys(ctx, keys);
    return 0;
  },
});

/** One version's entry in KV v2 metadata. */
interface VersionState {
  deletion_time?: string;
  destroyed?: boolean;
}

const rollbackCommand = defineCommand({
  summary: 'Write an older version of a secret as its newest version (KV v2)',
  usage: 'coffer kv rollback [options] -version=N PATH',
  help:
    'Reads version N of PATH and writes its data as a new version, as Vault\'s CLI does: with current version 5,\n' +
    'a rollback to 2 writes version 6 holding version 2\'s data. The write uses check-and-set on the current\n' +
    'version, so a concurrent write makes it fail rather than be overwritten. Deleted or destroyed versions\n' +
    'cannot be rolled back to (undelete a deleted one first). Needs read on metadata and data, and update on data.',
  flags: {
    mount: MOUNT_FLAG,
    version: { kind: 'int', usage: 'The version to roll back to (required).' },
  },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const version = flags.version;
    if (version === undefined || version <= 0) throw new CliError('-version is required: a version number of 1 or more');
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'rollback');
    const metadataPath = kvV2Path(target.mount.mountPath, target.fullPath, 'metadata');
    // The two reads prepare the write: only the write is wrapped under -wrap-ttl.
    const metadata = await readOrNull(target.client, metadataPath, {}, false, false);
    if (metadata === null) return noValue(ctx, metadataPath);
    const current = metadata.data?.['current_version'];
    const versions = (metadata.data?.['versions'] ?? {}) as Record<string, VersionState>;
    if (typeof current !== 'number') throw new CliError(`the metadata at ${metadataPath} has no current_version`);
    const state = Object.hasOwn(versions, String(version)) ? versions[String(version)] : undefined;
    if (state === undefined) throw new CliError(`version ${version} of ${target.fullPath} does not exist (current version: ${current})`, 2);
    if (state.destroyed === true) throw new CliError(`cannot roll back to version ${version}: it is destroyed`);
    if (typeof state.deletion_time === 'string' && state.deletion_time !== '') {
      throw new CliError(`cannot roll back to version ${version}: it is deleted (kv undelete -versions=${version} restores it)`);
    }
    const dataPath = kvV2Path(target.mount.mountPath, target.fullPath, 'data');
    const old = await readOrNull(target.client, dataPath, { version: String(version) }, false, false);
    const data = (old?.data?.['data'] ?? null) as Record<string, unknown> | null;
    if (data === null) throw new CliError(`version ${version} of ${target.fullPath} has no data (deleted or destroyed meanwhile)`);
    const res = await target.client.request('POST', dataPath, { body: { data, options: { cas: current } } });
    printWrite(ctx, dataPath, asEnvelope(res.body));
    return 0;
  },
});

/** GET a path; a plain 404 gives null. With `keepDeleted`, a 404 that carries KV metadata is returned. */
async function readOrNull(client: ApiClient, path: string, query: Record<string, string>, keepDeleted = false, wrap = true): Promise<Envelope | null> {
  try {
    return asEnvelope((await client.request('GET', path, { query, wrap })).body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      const body = asEnvelope(err.body);
      // A deleted or destroyed KV v2 version: 404, but the body still has its metadata.
      if (keepDeleted && body.data && typeof body.data === 'object' && body.data['metadata']) return body;
      if (err.errors.length === 0) return null;
    }
    throw err;
  }
}

function printWrite(ctx: CommandContext, apiPath: string, env: Envelope): void {
  const meta = env.data ?? {};
  if (ctx.field !== undefined) {
    if (!Object.hasOwn(meta, ctx.field)) throw new CliError(`field "${ctx.field}" not present in the response`);
    return printField(ctx, meta[ctx.field]);
  }
  if (ctx.format === 'json') return printJson(ctx, env);
  printWarnings(ctx, env);
  printSections(ctx, [
    { title: 'Secret Path', body: apiPath },
    { title: 'Metadata', body: metadataTable(meta), table: true },
  ]);
}

export const kvGroup = defineGroup({
  summary: 'Read and write key/value secrets (v1 and v2)',
  usage: 'coffer kv <subcommand> [options] PATH [args]',
  help: 'Works on KV version 1 and 2 mounts; the version is detected from the server.',
  subcommands: {
    get: getCommand,
    put: putCommand,
    patch: patchCommand,
    list: listCommand,
    delete: kvDeleteCommand,
    undelete: kvUndeleteCommand,
    destroy: kvDestroyCommand,
    rollback: rollbackCommand,
    metadata: kvMetadataGroup,
  },
});
