/**
 * Which versions of a KV v2 secret a consumer may say it uses (sys/consumers): any up to the
 * current one. A version above it has never been written, and reporting it would let a consumer
 * confirm a rotation it has not followed. An older version is taken whatever became of it
 * (deleted, destroyed, pruned past max_versions): the consumer still runs on the value it read,
 * so it is a straggler, and refusing it would make a live consumer look gone (its check-ins
 * failing, the SDK registering again and failing too) and let a rotation stop waiting for it.
 * Must never: read version data; the metadata says everything needed.
 */
import { isValidSecretPath } from './secret-path.js';
import type { VersionedStore } from './versioned-store.js';

const DATA_PATH = /^data\/(?<key>.+)$/;

export function kvConsumerVersionCheck(store: Pick<VersionedStore, 'readMetadata'>): (path: string, version: number) => Promise<string | undefined> {
  return async (path, version) => {
    const key = DATA_PATH.exec(path)?.groups?.key;
    if (key === undefined || !isValidSecretPath(key)) return undefined;
    const current = (await store.readMetadata(key))?.currentVersion ?? 0;
    if (version > current) return `version ${version} does not exist: the current version is ${current}`;
    return undefined;
  };
}
