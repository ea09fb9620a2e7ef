/**
 * AppRole secret IDs in storage: creation, lookup by value or by accessor (always within one
 * role), destruction, and spending one use at login.
 *
 * Owns: the rule that a secret ID is stored only as an HMAC under the mount's salt, and that
 * spending a use is serialised per secret ID, so N concurrent logins with a secret ID that has
 * N-1 uses left yield exactly N-1 tokens.
 * Must never: return or log a secret ID; only its accessor is a shareable handle.
 */
import { rfc3339, type Clock } from '../../core/clock.js';
import { getJson, jsonBytes, type Storage } from '../../core/storage/storage.js';
import { addressAllowed } from '../../core/cidr.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import { constantTimeEqual, type Salt } from '../shared/salt.js';
import type { ApproleRole } from './role-store.js';
import { ACCESSOR_PATTERN, accessorFolder, accessorKey, secretIdFolder, secretIdKey } from './storage-keys.js';

export interface SecretIdEntry {
  /** HMAC of the secret ID; also the last segment of its storage key. */
  hmac: string;
  accessor: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  lastUpdated: number;
  /** 0 = never expires. */
  expiresAt: number;
  /** The TTL it was created with, seconds. */
  ttl: number;
  /** Uses left; 0 = unlimited. */
  numUses: number;
  cidrList: string[];
  tokenBoundCidrs: string[];
  metadata: Record<string, string>;
}

export interface NewSecretId {
  ttl: number;
  numUses: number;
  cidrList: string[];
  tokenBoundCidrs: string[];
  metadata: Record<string, string>;
}

/** Why a secret ID did not let a login through (for the operator's log only). */
export type SpendOutcome = { ok: true; entry: SecretIdEntry } | { ok: false; reason: string };

export interface SecretIdStore {
  /** Stores `secretId` for `role`; returns undefined when that value already exists for the role. */
  create(role: ApproleRole, secretId: string, accessor: string, input: NewSecretId): Promise<SecretIdEntry | undefined>;
  /** The live entry for a secret ID of this role; an expired one is removed and reported absent. */
  find(role: ApproleRole, secretId: string): Promise<SecretIdEntry | undefined>;
  /** The live entry an accessor of this role names; accessors of other roles are never found. */
  findByAccessor(role: ApproleRole, accessor: string): Promise<SecretIdEntry | undefined>;
  destroy(role: ApproleRole, entry: SecretIdEntry): Promise<void>;
  listAccessors(role: ApproleRole): Promise<string[]>;
  /** Removes every secret ID of a role (after the role itself is gone). */
  destroyAll(role: ApproleRole): Promise<void>;
  /** Removes expired secret IDs of a role; returns how many. */
  tidy(role: ApproleRole): Promise<number>;
  /**
   * Checks a secret ID for a login from `remoteAddress` and spends one use. A use-limited
   * secret ID whose last use this is is deleted before the login proceeds.
   */
  spend(role: ApproleRole, secretId: string, remoteAddress: string): Promise<SpendOutcome>;
}

const SECRET_ID_PURPOSE = 'secret_id';

export function secretIdView(entry: SecretIdEntry): Record<string, unknown> {
  return {
    secret_id_accessor: entry.accessor,
    secret_id_num_uses: entry.numUses,
    secret_id_ttl: entry.ttl,
    creation_time: rfc3339(entry.createdAt),
    last_updated_time: rfc3339(entry.lastUpdated),
    expiration_time: entry.expiresAt === 0 ? '0001-01-01T00:00:00Z' : rfc3339(entry.expiresAt),
    cidr_list: [...entry.cidrList],
    token_bound_cidrs: [...entry.tokenBoundCidrs],
    metadata: { ...entry.metadata },
  };
}

export function createSecretIdStore(storage: Storage, salt: Salt, clock: Clock, mutex: KeyedMutex): SecretIdStore {
  const hmacOf = (secretId: string): Promise<string> => salt.hmac(SECRET_ID_PURPOSE, secretId);
  const expired = (entry: SecretIdEntry): boolean => entry.expiresAt !== 0 && clock.now() >= entry.expiresAt;

  const remove = async (role: ApproleRole, entry: SecretIdEntry): Promise<void> => {
    await storage.batch([
      { type: 'delete', key: secretIdKey(role.uuid, entry.hmac) },
      { type: 'delete', key: accessorKey(role.uuid, entry.accessor) },
    ]);
  };

  const load = async (role: ApproleRole, hmac: string): Promise<SecretIdEntry | undefined> => {
    const entry = await getJson<SecretIdEntry>(storage, secretIdKey(role.uuid, hmac));
    // The key is the HMAC; comparing the stored HMAC as well guards against a misplaced record.
    if (!entry || !constantTimeEqual(entry.hmac, hmac)) return undefined;
    if (expired(entry)) {
      await remove(role, entry);
      return undefined;
    }
    return entry;
  };

  const store: SecretIdStore = {
    async create(role, secretId, accessor, input) {
      const hmac = await hmacOf(secretId);
      return mutex.run(`secret-id/${role.uuid}/${hmac}`, async () => {
        if (await load(role, hmac)) return undefined;
        const now = clock.now();
        const entry: SecretIdEntry = {
          hmac,
          accessor,
          createdAt: now,
          lastUpdated: now,
          expiresAt: input.ttl > 0 ? now + input.ttl * 1000 : 0,
          ttl: input.ttl,
          numUses: input.numUses,
          cidrList: [...input.cidrList],
          tokenBoundCidrs: [...input.tokenBoundCidrs],
          metadata: { ...input.metadata },
        };
        await storage.batch([
          { type: 'put', key: secretIdKey(role.uuid, hmac), value: jsonBytes(entry) },
          { type: 'put', key: accessorKey(role.uuid, accessor), value: jsonBytes({ hmac }) },
        ]);
        return entry;
      });
    },
    async find(role, secretId) {
      return load(role, await hmacOf(secretId));
    },
    async findByAccessor(role, accessor) {
      if (!ACCESSOR_PATTERN.test(accessor)) return undefined;
      const index = await getJson<{ hmac: string }>(storage, accessorKey(role.uuid, accessor));
      if (!index) return undefined;
      const entry = await load(role, index.hmac);
      return entry && entry.accessor === accessor ? entry : undefined;
    },
    destroy: (role, entry) =>
      mutex.run(`secret-id/${role.uuid}/${entry.hmac}`, async () => {
        const current = await getJson<SecretIdEntry>(storage, secretIdKey(role.uuid, entry.hmac));
        // The same secret ID may have been spent and registered again since `entry` was read:
        // only this registration's accessor goes then, never the newer registration.
        if (current && current.accessor !== entry.accessor) await storage.delete(accessorKey(role.uuid, entry.accessor));
        else await remove(role, entry);
      }),
    async listAccessors(role) {
      return storage.list(accessorFolder(role.uuid));
    },
    async destroyAll(role) {
      for (const folder of [secretIdFolder(role.uuid), accessorFolder(role.uuid)]) {
        for (const child of await storage.list(folder)) await storage.delete(folder + child);
      }
    },
    async tidy(role) {
      let removed = 0;
      for (const hmac of await storage.list(secretIdFolder(role.uuid))) {
        const entry = await getJson<SecretIdEntry>(storage, secretIdKey(role.uuid, hmac));
        if (entry && expired(entry)) {
          await mutex.run(`secret-id/${role.uuid}/${hmac}`, () => remove(role, entry));
          removed++;
        }
      }
      return removed;
    },
    async spend(role, secretId, remoteAddress) {
      const hmac = await hmacOf(secretId);
      return mutex.run(`secret-id/${role.uuid}/${hmac}`, async (): Promise<SpendOutcome> => {
        const entry = await load(role, hmac);
        if (!entry) return { ok: false, reason: 'unknown or expired secret_id' };
        // Bindings are checked before a use is spent: a refused login must not burn a use.
        if (!addressAllowed(remoteAddress, entry.cidrList)) return { ok: false, reason: 'client address outside the secret_id cidr_list' };
        if (!addressAllowed(remoteAddress, entry.tokenBoundCidrs)) return { ok: false, reason: 'client address outside the secret_id token_bound_cidrs' };
        if (entry.numUses === 1) {
          await remove(role, entry);
        } else if (entry.numUses > 1) {
          await storage.put(secretIdKey(role.uuid, hmac), jsonBytes({ ...entry, numUses: entry.numUses - 1, lastUpdated: clock.now() }));
        }
        return { ok: true, entry };
      });
    },
  };
  return store;
}
