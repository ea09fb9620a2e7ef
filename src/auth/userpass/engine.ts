/**
 * The userpass auth method: people log in with a username and a password; repeated failures
 * lock the user for a while (settings at `config`, see path-config.ts).
 *
 * Owns: wiring the user store, lockout store and password hasher to their paths.
 * Must never: read or write outside `ctx.storage`, or keep a password in any form but a hash.
 */
import type { Engine, EngineContext, EngineFactory } from '../../core/router/engine.js';
import { createKeyedMutex } from '../../core/keyed-mutex.js';
import { createLoginRefusals } from '../shared/login-refusal.js';
import { createLockoutStore } from './lockout.js';
import { createScryptHasher, type PasswordHasher } from './password-hash.js';
import { configPath } from './path-config.js';
import { loginPath, USERPASS_LOGIN_ERROR, userRenewalCheck } from './path-login.js';
import { userPaths } from './path-users.js';
import { createUserStore } from './user-store.js';

export interface UserpassOptions {
  /** Tests pass a cheaper scrypt; production uses the default cost. */
  hasher?: PasswordHasher;
}

export function userpassEngineFactory(options: UserpassOptions = {}): EngineFactory {
  // One hasher per factory: its dummy hash is computed once, not per mount.
  const hasher = options.hasher ?? createScryptHasher();
  return (ctx: EngineContext): Engine => {
    const users = createUserStore(ctx.storage);
    const lockouts = createLockoutStore(ctx.storage, ctx.clock);
    const mutex = createKeyedMutex();
    const refusals = createLoginRefusals(ctx.logger, USERPASS_LOGIN_ERROR);
    return {
      type: 'userpass',
      paths: [
        loginPath(users, lockouts, hasher, mutex, ctx.clock, refusals),
        configPath(lockouts),
        ...userPaths(users, lockouts, hasher, mutex),
      ],
      checkRenewal: userRenewalCheck(users),
    };
  };
}

export const createUserpassEngine: EngineFactory = userpassEngineFactory();
