/**
 * KV v2 `delete/:path`, `undelete/:path` and `destroy/:path`: soft delete, restore and
 * permanent removal of chosen versions. All three answer 204, also for unknown keys or
 * versions, as Vault does.
 *
 * Destroy removes the version data from storage in the same batch that marks it destroyed;
 * it can never be read again, not even by an operator with storage access.
 */
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { parseVersionList } from './input.js';
import { isDeleted, scheduledDeletion, versionRecord, type KeyMetadata } from './metadata.js';
import { validateSecretPath } from './secret-path.js';
import type { VersionedStore } from './versioned-store.js';

/** Applies the change to the named versions; false when none of them changed (nothing written). */
type Change = (path: string, meta: KeyMetadata, versions: readonly number[], now: number) => Promise<boolean>;

/** What delete, undelete and destroy read; others are ignored with Vault's warning. */
const VERSIONS_FIELDS: ReadonlySet<string> = new Set(['versions']);

function versionsPath(store: VersionedStore, verb: string, missingMessage: string, description: string, change: Change): PathSpec {
  const update = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const path = validateSecretPath(req.params['path']);
    const versions = parseVersionList(req.data['versions'], missingMessage);
    return store.locked(path, async () => {
      const meta = await store.readMetadata(path);
      // 204 either way, as in Vault; only a real change is announced to watchers.
      const changed = meta !== undefined && (await change(path, meta, versions, store.clock.now()));
      return changed ? null : { unchanged: true };
    });
  };
  return { pattern: `${verb}/(?<path>.*)`, description, fields: VERSIONS_FIELDS, operations: { update } };
}

export function versionPaths(store: VersionedStore): PathSpec[] {
  const softDelete: Change = async (path, meta, versions, now) => {
    let changed = false;
    for (const n of versions) {
      const record = versionRecord(meta, n);
      if (record === undefined || record.destroyed || isDeleted(record, now)) continue;
      record.deletionTime = now;
      changed = true;
    }
    if (changed) await store.writeMetadata(path, meta);
    return changed;
  };

  const undelete: Change = async (path, meta, versions, now) => {
    const config = await store.readConfig();
    let changed = false;
    for (const n of versions) {
      const record = versionRecord(meta, n);
      if (record === undefined || record.destroyed) continue;
      // As in Vault, an undeleted version is scheduled again from now when delete_version_after applies.
      const deletionTime = scheduledDeletion(now, config, meta);
      if (record.deletionTime !== deletionTime) changed = true;
      record.deletionTime = deletionTime;
    }
    if (changed) await store.writeMetadata(path, meta);
    return changed;
  };

  const destroy: Change = async (path, meta, versions) => {
    const destroyed: number[] = [];
    for (const n of versions) {
      const record = versionRecord(meta, n);
      if (record === undefined || record.destroyed) continue;
      record.destroyed = true;
      destroyed.push(n);
    }
    if (destroyed.length > 0) await store.commitDestroy(path, meta, destroyed);
    return destroyed.length > 0;
  };

  return [
    versionsPath(store, 'delete', 'No version number provided', 'Soft-delete versions of a secret; undelete restores them.', softDelete),
    versionsPath(store, 'undelete', 'No version number provided', 'Restore soft-deleted versions of a secret.', undelete),
    versionsPath(store, 'destroy', 'no version number provided', 'Permanently remove the data of versions of a secret.', destroy),
  ];
}
