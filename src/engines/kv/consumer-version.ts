/**
 * Which versions of a KV v2 secret a consumer may say it uses (sys/consumers): one that exists
 * now, deleted or not (a soft delete can be undone, and the value may still be in use). A
 * version above the current one has never been written, a destroyed one has no value left, and
 * one pruned past max_versions is no longer known; reporting any of them would let a consumer
 * confirm a rotation it has not followed.
 * Must never: read version data; the metadata says everything needed.
 */
import { isValidSecretPath } from './secret-path.js';
import { versionRecord } from './metadata.js';
import type { VersionedStore } from './versioned-store.js';

const DATA_PATH = /^data\/(?<key>.+)$/;

export function kvConsumerVersionCheck(store: Pick<VersionedStore, 'readMetadata'>): (path: string, version: number) => Promise<string | undefined> {
  return async (path, version) => {
    const key = DATA_PATH.exec(path)?.groups?.key;
    if (key === undefined || !isValidSecretPath(key)) return undefined;
    const meta = await store.readMetadata(key);
    const current = meta?.currentVersion ?? 0;
    if (meta === undefined || version > current) {
      return `version ${version} does not exist: the current version is ${current}`;
    }
    const record = versionRecord(meta, version);
    if (record === undefined) return `version ${version} is no longer kept: the oldest version kept is ${meta.oldestVersion}`;
    if (record.destroyed) return `version ${version} was destroyed`;
    return undefined;
  };
}
