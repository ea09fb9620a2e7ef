/**
 * The KV v2 model: a key's metadata (its version table) and the mount config, with the pure
 * rules Vault applies to them: adding a version and pruning past max_versions, when a version
 * counts as deleted, and how both are shown on the wire.
 *
 * Times are kept as epoch milliseconds and printed as RFC 3339 with nanoseconds.
 * Must never: hold or return secret data; version data lives in separate storage entries.
 */
import { rfc3339 } from '../../core/clock.js';
import { formatDuration } from '../../core/duration.js';

/** Vault keeps 10 versions when neither the key nor the mount sets max_versions. */
export const DEFAULT_MAX_VERSIONS = 10;

/** Mount-level delete_version_after value meaning "disabled for every key". */
export const DELETE_VERSION_AFTER_DISABLED = -1;

export interface VersionRecord {
  createdTime: number;
  /** When the version is (or will be) deleted; null when it is not scheduled for deletion. */
  deletionTime: number | null;
  destroyed: boolean;
}

export interface KeyMetadata {
  /** Layout version of this record, so a later change can migrate old entries. */
  format: 1;
  createdTime: number | null;
  updatedTime: number | null;
  currentVersion: number;
  oldestVersion: number;
  /** 0 means "use the mount's setting". */
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 means "use the mount's setting". */
  deleteVersionAfter: number;
  customMetadata: Record<string, string> | null;
  versions: Record<string, VersionRecord>;
}

export interface KvConfig {
  format: 1;
  /** 0 means the default of 10. */
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 unset, -1 disabled for every key. */
  deleteVersionAfter: number;
}

export const DEFAULT_CONFIG: KvConfig = { format: 1, maxVersions: 0, casRequired: false, deleteVersionAfter: 0 };

export function newMetadata(now: number | null): KeyMetadata {
  return {
    format: 1,
    createdTime: now,
    updatedTime: now,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: 0,
    customMetadata: null,
    versions: {},
  };
}

export function versionRecord(meta: KeyMetadata, version: number): VersionRecord | undefined {
  return Object.hasOwn(meta.versions, String(version)) ? meta.versions[String(version)] : undefined;
}

/**
 * A version is deleted once its deletion time has come. Vault compares "before now"; here a
 * deletion time equal to now already counts, so a delete is visible at once even under a
 * clock that has not moved since.
 */
export function isDeleted(record: VersionRecord, now: number): boolean {
  return record.deletionTime !== null && record.deletionTime <= now;
}

/** Deleted or destroyed: reads give 404 with the version metadata. */
export function isGone(record: VersionRecord, now: number): boolean {
  return record.destroyed || isDeleted(record, now);
}

/**
 * The deletion time for a version created (or undeleted) at `from`: the smaller non-zero
 * delete_version_after of mount and key, or null when neither is set or the mount disables it.
 */
export function scheduledDeletion(from: number, config: KvConfig, meta: KeyMetadata): number | null {
  if (config.deleteVersionAfter === DELETE_VERSION_AFTER_DISABLED) return null;
  const candidates = [config.deleteVersionAfter, meta.deleteVersionAfter].filter((seconds) => seconds > 0);
  if (candidates.length === 0) return null;
  return from + Math.min(...candidates) * 1000;
}

/**
 * Appends a version to `meta` (in place) and slides the max_versions window exactly as Vault
 * does: the larger of the key's and the mount's non-zero max_versions applies, else 10.
 * Returns the new version number and the versions that fell out of the window, whose data
 * the caller must delete in the same batch.
 */
export function addVersion(
  meta: KeyMetadata,
  createdTime: number,
  deletionTime: number | null,
  configMaxVersions: number,
): { version: number; pruned: number[] } {
  const version = meta.currentVersion + 1;
  meta.currentVersion = version;
  meta.versions[String(version)] = { createdTime, deletionTime, destroyed: false };
  meta.updatedTime = createdTime;
  if (meta.createdTime === null) meta.createdTime = createdTime;

  const limit = Math.max(meta.maxVersions, configMaxVersions) || DEFAULT_MAX_VERSIONS;
  const pruned: number[] = [];
  if (version - meta.oldestVersion >= limit) {
    const lastToDrop = version - limit;
    for (const key of Object.keys(meta.versions)) {
      const n = Number(key);
      if (n <= lastToDrop) {
        delete meta.versions[key];
        pruned.push(n);
      }
    }
    meta.oldestVersion = lastToDrop + 1;
  }
  return { version, pruned: pruned.sort((a, b) => a - b) };
}

const timeText = (ms: number | null): string => (ms === null ? '' : rfc3339(ms));

function durationText(seconds: number): string {
  return seconds < 0 ? `-${formatDuration(-seconds)}` : formatDuration(seconds);
}

/** One version as `data/` responses show it (the write response, and read's `metadata`). */
export function versionView(meta: KeyMetadata, version: number, record: VersionRecord): Record<string, unknown> {
  return {
    created_time: timeText(record.createdTime),
    custom_metadata: meta.customMetadata,
    deletion_time: timeText(record.deletionTime),
    destroyed: record.destroyed,
    version,
  };
}

/** The `metadata/` read response. */
export function metadataView(meta: KeyMetadata): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, record] of Object.entries(meta.versions)) {
    versions[n] = {
      created_time: timeText(record.createdTime),
      deletion_time: timeText(record.deletionTime),
      destroyed: record.destroyed,
    };
  }
  return {
    cas_required: meta.casRequired,
    created_time: timeText(meta.createdTime),
    current_version: meta.currentVersion,
    custom_metadata: meta.customMetadata,
    delete_version_after: durationText(meta.deleteVersionAfter),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: timeText(meta.updatedTime),
    versions,
  };
}

/** The `config` read response. */
export function configView(config: KvConfig): Record<string, unknown> {
  return {
    cas_required: config.casRequired,
    delete_version_after: durationText(config.deleteVersionAfter),
    max_versions: config.maxVersions,
  };
}
