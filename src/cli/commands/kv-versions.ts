/**
 * `coffer kv delete | undelete | destroy`: soft-delete, restore and permanently destroy
 * versions of a secret. delete also works on KV v1 (where it removes the key).
 */
import { defineCommand } from '../command.js';
import { CliError } from '../errors.js';
import { printSuccess } from '../output.js';
import { kvV2Path, parseVersions } from './kv-paths.js';
import { kvTarget, MOUNT_FLAG, requireV2 } from './kv-target.js';

const VERSIONS_FLAG = { kind: 'string', usage: 'Comma-separated versions, e.g. 1,2 (KV v2).' } as const;

export const kvDeleteCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Delete a secret (soft delete on KV v2)',
  usage: 'coffer kv delete [options] PATH',
  help: 'On KV v2, marks the latest version (or -versions) as deleted; undelete can restore it.\nOn KV v1, removes the key.',
  flags: { mount: MOUNT_FLAG, versions: VERSIONS_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const versions = parseVersions(flags.versions);
    // `-versions="$V"` with an empty $V must not fall back to deleting the latest version.
    if (flags.versions !== undefined && versions.length === 0) {
      throw new CliError('-versions is empty: give the versions to delete, or leave the flag out to delete the latest version');
    }
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    if (target.mount.version === 1) {
      if (versions.length > 0) throw new CliError('-versions is only supported on KV version 2 mounts');
      await target.client.request('DELETE', target.fullPath);
      printSuccess(ctx, `Data deleted (if it existed) at: ${target.fullPath}`);
      return 0;
    }
    if (versions.length === 0) {
      const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'data');
      await target.client.request('DELETE', apiPath);
      printSuccess(ctx, `Data deleted (if it existed) at: ${apiPath}`);
      return 0;
    }
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'delete');
    await target.client.request('PUT', apiPath, { body: { versions } });
    printSuccess(ctx, `Data deleted (if it existed) at: ${apiPath}`);
    return 0;
  },
});

export const kvUndeleteCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Restore deleted versions (KV v2)',
  usage: 'coffer kv undelete [options] -versions=N[,N...] PATH',
  help: 'Restores soft-deleted versions of a secret. Destroyed versions cannot be restored.',
  flags: { mount: MOUNT_FLAG, versions: VERSIONS_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const versions = parseVersions(flags.versions);
    if (versions.length === 0) throw new CliError('-versions is required: the versions to undelete');
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'undelete');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'undelete');
    await target.client.request('PUT', apiPath, { body: { versions } });
    printSuccess(ctx, `Data written to: ${apiPath}`);
    return 0;
  },
});

export const kvDestroyCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Permanently destroy versions (KV v2)',
  usage: 'coffer kv destroy [options] -versions=N[,N...] PATH',
  help: 'Permanently removes the data of the given versions. This cannot be undone.',
  flags: { mount: MOUNT_FLAG, versions: VERSIONS_FLAG },
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const versions = parseVersions(flags.versions);
    if (versions.length === 0) throw new CliError('-versions is required: the versions to destroy');
    const target = await kvTarget(ctx, args[0] as string, flags.mount);
    requireV2(target, 'destroy');
    const apiPath = kvV2Path(target.mount.mountPath, target.fullPath, 'destroy');
    await target.client.request('PUT', apiPath, { body: { versions } });
    printSuccess(ctx, `Data written to: ${apiPath}`);
    return 0;
  },
});
