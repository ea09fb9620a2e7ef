/**
 * User lockout after repeated failed logins: the mount's settings, each user's counter, and the
 * pure rules that move the counter (Vault's user lockout: 5 failures, 15 minutes, counter reset
 * after 15 minutes without failures or on a successful login).
 *
 * Owns: `config` (the settings) and `lockout/<user>` (the counters) in the mount's storage.
 * Must never: key a counter by anything but the normalised user name that login looks up, or
 * case and whitespace variants would get fresh counters (CVE-2025-6004).
 */
import type { Clock } from '../../core/clock.js';
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';

export interface LockoutConfig {
  /** Failed logins that lock the user. */
  threshold: number;
  /** Seconds a locked user stays locked. */
  durationSeconds: number;
  /** Seconds without a failure after which the counter starts again. */
  counterResetSeconds: number;
  disabled: boolean;
}

export const DEFAULT_LOCKOUT: LockoutConfig = { threshold: 5, durationSeconds: 900, counterResetSeconds: 900, disabled: false };

export interface LockoutState {
  failures: number;
  /** Milliseconds since the epoch. */
  lastFailureAt: number;
  /** Milliseconds since the epoch; 0 = not locked. */
  lockedUntil: number;
}

export function isLocked(state: LockoutState | undefined, now: number): boolean {
  return state !== undefined && state.lockedUntil > now;
}

/** The counter after one more failure at `now`. */
export function afterFailure(state: LockoutState | undefined, now: number, config: LockoutConfig): LockoutState {
  const recent = state !== undefined && state.lockedUntil <= now && now - state.lastFailureAt < config.counterResetSeconds * 1000;
  const failures = (recent ? state.failures : 0) + 1;
  if (failures >= config.threshold) return { failures: 0, lastFailureAt: now, lockedUntil: now + config.durationSeconds * 1000 };
  return { failures, lastFailureAt: now, lockedUntil: 0 };
}

const CONFIG_KEY = 'config';
const stateKey = (user: string): string => `lockout/${user}`;

export interface LockoutStore {
  config(): Promise<LockoutConfig>;
  setConfig(config: LockoutConfig): Promise<void>;
  /** The user's counter, or undefined when lockout is disabled or the user has no failures. */
  state(user: string, config: LockoutConfig): Promise<LockoutState | undefined>;
  recordFailure(user: string, state: LockoutState | undefined, config: LockoutConfig): Promise<void>;
  clear(user: string): Promise<void>;
}

export function createLockoutStore(storage: Storage, clock: Clock): LockoutStore {
  return {
    async config() {
      return { ...DEFAULT_LOCKOUT, ...(await getJson<Partial<LockoutConfig>>(storage, CONFIG_KEY)) };
    },
    setConfig: (config) => putJson(storage, CONFIG_KEY, config),
    async state(user, config) {
      if (config.disabled) return undefined;
      return getJson<LockoutState>(storage, stateKey(user));
    },
    async recordFailure(user, state, config) {
      if (config.disabled) return;
      await putJson(storage, stateKey(user), afterFailure(state, clock.now(), config));
    },
    clear: (user) => storage.delete(stateKey(user)),
  };
}
