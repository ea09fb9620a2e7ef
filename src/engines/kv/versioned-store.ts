/**
 * Storage access for KV v2: reading and writing key metadata, version data and the mount
 * config, each multi-entry change applied as one atomic batch, and the per-secret lock.
 *
 * Invariants:
 * - A new version and the metadata that names it are written in ONE batch, together with the
 *   deletion of versions pruned past max_versions; a crash never leaves metadata pointing at
 *   missing data or data that no metadata names.
 * - Every read-modify-write of a secret runs under `locked(path)`.
 * Must never: log or put into an error message any version data.
 */
import { CofferError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { getJson, jsonBytes, putJson, type Storage, type WriteOp } from '../../core/storage/storage.js';
import { createKeyedMutex } from '../../core/keyed-mutex.js';
import { isJsonObject, type JsonObject } from './json.js';
import { DEFAULT_CONFIG, isGone, versionRecord, type KeyMetadata, type KvConfig, type VersionRecord } from './metadata.js';
import { CONFIG_KEY, metadataFolder, metadataKey, versionKey, versionsFolder } from './storage-keys.js';

/** What a read of one version found. */
export type VersionLookup =
  | { readonly kind: 'missing' }
  | { readonly kind: 'gone'; readonly meta: KeyMetadata; readonly version: number; readonly record: VersionRecord }
  | {
      readonly kind: 'live';
      readonly meta: KeyMetadata;
      readonly version: number;
      readonly record: VersionRecord;
      readonly data: JsonObject;
    };

export interface VersionedStore {
  readonly clock: Clock;
  /** Runs `fn` with the secret at `path` locked against other writers in this process. */
  locked<T>(path: string, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` with the mount config locked against other config writers. */
  lockedConfig<T>(fn: () => Promise<T>): Promise<T>;
  readConfig(): Promise<KvConfig>;
  writeConfig(config: KvConfig): Promise<void>;
  readMetadata(path: string): Promise<KeyMetadata | undefined>;
  writeMetadata(path: string, meta: KeyMetadata): Promise<void>;
  /** Version `version` (0: the latest) of `path`, with its data when it is neither deleted nor destroyed. */
  readVersion(path: string, version: number): Promise<VersionLookup>;
  /** Writes version data, metadata and the deletion of `pruned` versions atomically. */
  commitVersion(path: string, meta: KeyMetadata, version: number, data: JsonObject, pruned: readonly number[]): Promise<void>;
  /** Writes metadata (already marked destroyed) and deletes those versions' data atomically. */
  commitDestroy(path: string, meta: KeyMetadata, destroyed: readonly number[]): Promise<void>;
  /** Removes the metadata and every version of `path` atomically. */
  deleteAll(path: string, meta: KeyMetadata): Promise<void>;
  /** Children of folder `path` ('' for the root), folders ending in '/'. */
  listKeys(path: string): Promise<string[]>;
}

// A config write must not race another config write; no secret path can contain NUL, so this
// lock key can never collide with one.
const CONFIG_LOCK = '\u0000config';

// A lock-free read can see metadata from before a concurrent destroy or prune and then find the
// version data gone; it re-reads the metadata, which by then says why.
const READ_ATTEMPTS = 3;

export function createVersionedStore(storage: Storage, clock: Clock): VersionedStore {
  const mutex = createKeyedMutex();

  const readMetadata = (path: string): Promise<KeyMetadata | undefined> => getJson<KeyMetadata>(storage, metadataKey(path));

  const readData = async (path: string, version: number): Promise<JsonObject | undefined> => {
    const data = await getJson<unknown>(storage, versionKey(path, version));
    if (data === undefined) return undefined;
    if (!isJsonObject(data)) throw new CofferError('internal', 'stored secret version is malformed');
    return data;
  };

  const lookupOnce = async (path: string, requested: number): Promise<VersionLookup | 'retry'> => {
    const meta = await readMetadata(path);
    if (meta === undefined) return { kind: 'missing' };
    const version = requested > 0 ? requested : meta.currentVersion;
    const record = versionRecord(meta, version);
    if (record === undefined) return { kind: 'missing' };
    if (isGone(record, clock.now())) return { kind: 'gone', meta, version, record };
    const data = await readData(path, version);
    if (data === undefined) return 'retry';
    return { kind: 'live', meta, version, record, data };
  };

  return {
    clock,
    locked: (path, fn) => mutex.run(path, fn),
    lockedConfig: (fn) => mutex.run(CONFIG_LOCK, fn),

    async readConfig() {
      const stored = await getJson<KvConfig>(storage, CONFIG_KEY);
      return { ...DEFAULT_CONFIG, ...stored };
    },
    writeConfig: (config) => putJson(storage, CONFIG_KEY, config),

    readMetadata,
    writeMetadata: (path, meta) => putJson(storage, metadataKey(path), meta),

    async readVersion(path, version) {
      for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        const found = await lookupOnce(path, version);
        if (found !== 'retry') return found;
      }
      // Metadata keeps naming a live version whose data is absent: storage is inconsistent.
      throw new CofferError('internal', 'could not find version data');
    },

    commitVersion(path, meta, version, data, pruned) {
      const ops: WriteOp[] = [
        { type: 'put', key: versionKey(path, version), value: jsonBytes(data) },
        { type: 'put', key: metadataKey(path), value: jsonBytes(meta) },
        ...pruned.map((n): WriteOp => ({ type: 'delete', key: versionKey(path, n) })),
      ];
      return storage.batch(ops);
    },

    commitDestroy(path, meta, destroyed) {
      return storage.batch([
        { type: 'put', key: metadataKey(path), value: jsonBytes(meta) },
        ...destroyed.map((n): WriteOp => ({ type: 'delete', key: versionKey(path, n) })),
      ]);
    },

    async deleteAll(path, meta) {
      // The metadata names every version still stored; the listing also catches any entry an
      // older, non-atomic layout might have left behind.
      const stored = await storage.list(versionsFolder(path));
      const versions = new Set<number>([...Object.keys(meta.versions), ...stored].map(Number).filter(Number.isSafeInteger));
      await storage.batch([
        ...[...versions].map((n): WriteOp => ({ type: 'delete', key: versionKey(path, n) })),
        { type: 'delete', key: metadataKey(path) },
      ]);
    },

    listKeys: (path) => storage.list(metadataFolder(path)),
  };
}
