/**
 * Stored static roles and their credentials: the storage shapes and keys of
 *   static-roles/<name>      what the operator configured (db, users, timing, policy)
 *   static-accounts/<name>   the live state: current and previous credential, last rotation,
 *                            and the rotation in flight (one key, so each phase change of a
 *                            rotation and the credential swap it causes are one atomic write)
 *   static-history/<name>    the last HISTORY_LIMIT finished rotations, newest first
 *
 * Values go through the mount's barrier view, so passwords are encrypted at rest.
 * Must never: hand a stored account to a response (path-static-creds.ts and rotation-view.ts
 * build the views), or build one of these keys anywhere else.
 */
import { getJson, jsonBytes, putJson, type Storage, type WriteOp } from '../../core/storage/storage.js';
import type { RotationRecord } from './rotation-record.js';
import type { RotationTiming } from './static-schedule.js';

export type OnTimeout = 'revoke' | 'hold';

export interface RotationPolicy {
  /** Seconds step 4 waits for every live consumer to report the new version. */
  verifyTimeout: number;
  /** What happens when consumers have not all confirmed by then. */
  onTimeout: OnTimeout;
}

export interface StaticRole {
  dbName: string;
  username: string;
  /** Dual-credential mode when set: the second database user the role alternates with. */
  alternateUsername: string;
  timing: RotationTiming;
  rotationStatements: string[];
  policy: RotationPolicy;
}

export interface StaticCredential {
  username: string;
  password: string;
  version: number;
}

export interface StaticAccount {
  /** Null only until the import rotation of a new role has activated its first credential. */
  current: StaticCredential | null;
  /** Dual mode: the credential being replaced, until step 5 revokes it. */
  previous: StaticCredential | null;
  /** Milliseconds; when the current credential became current. */
  lastRotation: number;
  /** The rotation in flight; null between rotations. */
  rotation: RotationRecord | null;
}

export const HISTORY_LIMIT = 20;

const ROLE_FOLDER = 'static-roles/';
const ACCOUNT_FOLDER = 'static-accounts/';
const HISTORY_FOLDER = 'static-history/';

export const staticRoleKey = (name: string): string => `${ROLE_FOLDER}${name}`;
export const staticAccountKey = (name: string): string => `${ACCOUNT_FOLDER}${name}`;
export const staticHistoryKey = (name: string): string => `${HISTORY_FOLDER}${name}`;

export interface StaticStore {
  getRole(name: string): Promise<StaticRole | undefined>;
  putRole(name: string, role: StaticRole): Promise<void>;
  listRoles(): Promise<string[]>;
  getAccount(name: string): Promise<StaticAccount | undefined>;
  putAccount(name: string, account: StaticAccount): Promise<void>;
  getHistory(name: string): Promise<RotationRecord[]>;
  /** Role and account together: a new role is never visible without its account. */
  createRole(name: string, role: StaticRole, account: StaticAccount): Promise<void>;
  /** Account and history together: a finished rotation leaves the account and enters history at once. */
  finishRotation(name: string, account: StaticAccount, finished: RotationRecord): Promise<void>;
  deleteRole(name: string): Promise<void>;
}

export function createStaticStore(storage: Storage): StaticStore {
  const put = (key: string, value: unknown): WriteOp => ({ type: 'put', key, value: jsonBytes(value) });
  const getHistory = async (name: string): Promise<RotationRecord[]> => (await getJson<RotationRecord[]>(storage, staticHistoryKey(name))) ?? [];
  return {
    getRole: (name) => getJson<StaticRole>(storage, staticRoleKey(name)),
    putRole: (name, role) => putJson(storage, staticRoleKey(name), role),
    listRoles: () => storage.list(ROLE_FOLDER),
    getAccount: (name) => getJson<StaticAccount>(storage, staticAccountKey(name)),
    putAccount: (name, account) => putJson(storage, staticAccountKey(name), account),
    getHistory,
    createRole: (name, role, account) => storage.batch([put(staticRoleKey(name), role), put(staticAccountKey(name), account)]),
    async finishRotation(name, account, finished) {
      const history = [finished, ...(await getHistory(name))].slice(0, HISTORY_LIMIT);
      await storage.batch([put(staticAccountKey(name), account), put(staticHistoryKey(name), history)]);
    },
    deleteRole: (name) => storage.batch([
      { type: 'delete', key: staticRoleKey(name) },
      { type: 'delete', key: staticAccountKey(name) },
      { type: 'delete', key: staticHistoryKey(name) },
    ]),
  };
}
