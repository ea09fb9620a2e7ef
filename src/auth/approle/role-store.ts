/**
 * AppRole roles in storage: the role record, its role_id index, and their atomic updates.
 *
 * Owns: keeping `role/<name>` and `role-id/<hmac>` in step (one batch per change) and the
 * uniqueness of role IDs across the mount.
 * Must never: find a role by a role_id without comparing the stored role_id in constant time.
 */
import { badRequest } from '../../core/errors.js';
import { getJson, jsonBytes, type Storage, type WriteOp } from '../../core/storage/storage.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import { constantTimeEqual, type Salt } from '../shared/salt.js';
import type { TokenSettings } from '../shared/token-fields.js';
import { ROLE_FOLDER, roleIdKey, roleKey } from './storage-keys.js';

export interface ApproleRole {
  name: string;
  /** Internal, never shown: keys this role's secret IDs (see storage-keys.ts). */
  uuid: string;
  roleId: string;
  bindSecretId: boolean;
  secretIdBoundCidrs: string[];
  /** 0 = unlimited. */
  secretIdNumUses: number;
  /** Seconds; 0 = never expires. */
  secretIdTtl: number;
  token: TokenSettings;
}

export interface RoleStore {
  get(name: string): Promise<ApproleRole | undefined>;
  list(): Promise<string[]>;
  /** The role whose role_id is exactly `roleId`, or undefined. */
  byRoleId(roleId: string): Promise<ApproleRole | undefined>;
  /** Stores a new or changed role; moves the role_id index when the role_id changed. */
  save(role: ApproleRole, previous: ApproleRole | undefined): Promise<void>;
  delete(role: ApproleRole): Promise<void>;
  /** Runs role mutations one at a time (role_id uniqueness is checked inside). */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

const ROLE_ID_PURPOSE = 'role_id';

export function createRoleStore(storage: Storage, salt: Salt, mutex: KeyedMutex): RoleStore {
  const store: RoleStore = {
    // Role names are case-insensitive, as in Vault (its roles since `lower_case_role_name`):
    // stored lowercased. A role stored under its exact spelling by an earlier build is still
    // found by that spelling.
    get: async (name) => (await getJson<ApproleRole>(storage, roleKey(name.toLowerCase()))) ?? (name === name.toLowerCase() ? undefined : getJson<ApproleRole>(storage, roleKey(name))),
    list: () => storage.list(ROLE_FOLDER),
    async byRoleId(roleId) {
      const index = await getJson<{ name: string }>(storage, roleIdKey(await salt.hmac(ROLE_ID_PURPOSE, roleId)));
      if (!index) return undefined;
      const role = await store.get(index.name);
      if (!role || !constantTimeEqual(role.roleId, roleId)) return undefined;
      return role;
    },
    async save(role, previous) {
      const ops: WriteOp[] = [{ type: 'put', key: roleKey(role.name), value: jsonBytes(role) }];
      if (!previous || previous.roleId !== role.roleId) {
        const key = roleIdKey(await salt.hmac(ROLE_ID_PURPOSE, role.roleId));
        const holder = await getJson<{ name: string }>(storage, key);
        if (holder && holder.name !== role.name) throw badRequest('role_id already in use');
        ops.push({ type: 'put', key, value: jsonBytes({ name: role.name }) });
        if (previous) ops.push({ type: 'delete', key: roleIdKey(await salt.hmac(ROLE_ID_PURPOSE, previous.roleId)) });
      }
      await storage.batch(ops);
    },
    async delete(role) {
      await storage.batch([
        { type: 'delete', key: roleKey(role.name) },
        { type: 'delete', key: roleIdKey(await salt.hmac(ROLE_ID_PURPOSE, role.roleId)) },
      ]);
    },
    locked: (fn) => mutex.run('roles', fn),
  };
  return store;
}
