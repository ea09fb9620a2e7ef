/**
 * userpass users in storage (`user/<name>`), and the one normalisation of user names that
 * every path — writes, login, lockout counters — goes through.
 *
 * Must never: store a password except as its scrypt hash; return the hash from any read.
 */
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import type { TokenSettings } from '../shared/token-fields.js';
import type { PasswordHash } from './password-hash.js';

export interface UserpassUser {
  name: string;
  password: PasswordHash;
  token: TokenSettings;
}

const USER_FOLDER = 'user/';
const userKey = (name: string): string => `${USER_FOLDER}${name}`;

/**
 * Vault matches user names case-insensitively. Surrounding whitespace is dropped as well, so
 * " Alice" and "alice" are one user for login and for the lockout counter alike.
 */
export function normalizeUserName(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase();
}

export interface UserStore {
  get(name: string): Promise<UserpassUser | undefined>;
  put(user: UserpassUser): Promise<void>;
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
}

export function createUserStore(storage: Storage): UserStore {
  return {
    get: (name) => getJson<UserpassUser>(storage, userKey(name)),
    put: (user) => putJson(storage, userKey(user.name), user),
    delete: (name) => storage.delete(userKey(name)),
    list: () => storage.list(USER_FOLDER),
  };
}
