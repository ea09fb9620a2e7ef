/**
 * The storage layout of a KV mount, relative to the mount's own storage view. Every key the
 * engine reads or writes is built here and nowhere else.
 *
 *   config                      KV v2 mount settings (max_versions, cas_required, ...)
 *   metadata/<path>             KV v2 key metadata: the version table of one secret
 *   versions/<sha256(path)>/<n> KV v2 data of version n of one secret
 *   entries/<path>              KV v1 values
 *
 * Metadata keys keep the secret path so LIST can walk folders. Version keys use a hash of the
 * path so that a secret 'a' and a secret 'a/1' can never share a version key prefix.
 * Must never: accept an unvalidated secret path (see secret-path.ts).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export const CONFIG_KEY = 'config';

export const metadataKey = (path: string): string => `metadata/${path}`;

/** The list prefix for the children of folder `path` ('' is the mount root). */
export const metadataFolder = (path: string): string => (path === '' ? 'metadata/' : `metadata/${path}/`);

// Every read hashes its path; hot secrets are read far more often than written, so remember the
// last few thousand (paths are not secret; the hash only keeps prefixes apart).
const hashes = new LRUCache<string, string>({ max: 4096 });
const pathHash = (path: string): string => {
  let hash = hashes.get(path);
  if (hash === undefined) {
    hash = createHash('sha256').update(path, 'utf8').digest('hex');
    hashes.set(path, hash);
  }
  return hash;
};

export const versionsFolder = (path: string): string => `versions/${pathHash(path)}/`;

export const versionKey = (path: string, version: number): string => `${versionsFolder(path)}${version}`;

export const entryKey = (path: string): string => `entries/${path}`;

export const entryFolder = (path: string): string => (path === '' ? 'entries/' : `entries/${path}/`);
