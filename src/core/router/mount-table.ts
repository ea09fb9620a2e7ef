/**
 * The persisted mount tables: secrets engines (`sys/mounts`) and auth methods (`sys/auth`).
 *
 * Owns the entries (path, type, uuid, accessor, config) and their storage record. Each mount's
 * data lives under a view keyed by its UUID ('logical/<uuid>/' or 'auth/<uuid>/'), so a mount
 * can never name another mount's keys, and a remount would move no data.
 */
import { randomBytes } from 'node:crypto';
import { badRequest } from '../errors.js';
import { uuid } from '../ids.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';

export type MountTableKind = 'secrets' | 'auth';

export interface MountConfig {
  /** Seconds; 0 = system default. */
  default_lease_ttl: number;
  max_lease_ttl: number;
  force_no_cache: boolean;
  audit_non_hmac_request_keys?: string[];
  audit_non_hmac_response_keys?: string[];
  listing_visibility?: string;
}

export interface MountEntry {
  /** Routing path with trailing slash: 'secret/' or, for auth, 'auth/approle/'. */
  path: string;
  type: string;
  description: string;
  uuid: string;
  accessor: string;
  config: MountConfig;
  options: Record<string, string>;
  local: boolean;
  seal_wrap: boolean;
  table: MountTableKind;
  /**
   * A disable of this mount started and could not finish (a lease would not revoke): it stays
   * out of the router, across restarts, until a disable succeeds. Absent on other mounts.
   */
  tainted?: boolean;
}

const TABLE_KEYS: Record<MountTableKind, string> = { secrets: 'core-mounts', auth: 'core-auth' };

/** Where a mount's engine keeps its data, relative to the barrier. */
export function mountStoragePrefix(entry: Pick<MountEntry, 'table' | 'uuid'>): string {
  return entry.table === 'auth' ? `auth/${entry.uuid}/` : `logical/${entry.uuid}/`;
}

export function newMountEntry(input: {
  path: string;
  type: string;
  table: MountTableKind;
  description?: string;
  config?: Partial<MountConfig>;
  options?: Record<string, string>;
  local?: boolean;
}): MountEntry {
  return {
    path: input.path,
    type: input.type,
    description: input.description ?? '',
    uuid: uuid(),
    accessor: `${input.type.replace(/[^a-z0-9]/gi, '_')}_${randomBytes(4).toString('hex')}`,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false, ...input.config },
    options: input.options ?? {},
    local: input.local ?? false,
    seal_wrap: false,
    table: input.table,
  };
}

export interface MountTableStore {
  load(kind: MountTableKind): Promise<MountEntry[] | undefined>;
  save(kind: MountTableKind, entries: readonly MountEntry[]): Promise<void>;
}

/** `storage` is the system view of the barrier. */
export function createMountTableStore(storage: Storage): MountTableStore {
  return {
    load: (kind) => getJson<MountEntry[]>(storage, TABLE_KEYS[kind]),
    save: (kind, entries) => putJson(storage, TABLE_KEYS[kind], entries),
  };
}

/** Refuses a new mount path that overlaps an existing one (either is a prefix of the other). */
export function assertMountPathFree(path: string, existing: readonly MountEntry[]): void {
  for (const entry of existing) {
    if (path.startsWith(entry.path) || entry.path.startsWith(path)) {
      throw badRequest(`path is already in use at ${entry.path}`);
    }
  }
}
