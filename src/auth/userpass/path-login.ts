/**
 * userpass `login/:name` (unauthenticated): password → a token with the user's policies.
 *
 * Owns: the no-enumeration contract. An unknown user, a wrong password and a locked user all
 * get the same 400 "invalid username or password", and each costs exactly one scrypt
 * verification (against a dummy hash when there is nothing real to check), so neither the
 * message nor the timing tells them apart. Attempts on one user run one at a time, so parallel
 * guesses cannot overshoot the lockout threshold. Also the check made when a login token is
 * renewed (the user must still exist with the token's policies).
 * Must never: check the password of a locked user against the real hash; log the password.
 */
import type { Clock } from '../../core/clock.js';
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, LoginRenewal, LoginRenewalLimits, PathSpec } from '../../core/router/engine.js';
import { addressAllowed } from '../../core/cidr.js';
import { NAME_PATTERN } from '../shared/input.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import type { LoginRefusals } from '../shared/login-refusal.js';
import { equivalentPolicies, renewalLimitsOf } from '../shared/login-renewal.js';
import { loginResult } from '../shared/token-fields.js';
import { isLocked, type LockoutStore } from './lockout.js';
import type { PasswordHasher } from './password-hash.js';
import { normalizeUserName, type UserStore } from './user-store.js';

export const USERPASS_LOGIN_ERROR = 'invalid username or password';

const VALID_NAME = new RegExp(`^${NAME_PATTERN}$`);

/** The lockout counter unknown names use; '/' cannot be in a user name, so no user shares it. */
const UNKNOWN_USER_COUNTER = 'unknown/user';

/** What a login reads; others are ignored with Vault's warning. */
const LOGIN_FIELDS: ReadonlySet<string> = new Set(['password']);

export function loginPath(users: UserStore, lockouts: LockoutStore, hasher: PasswordHasher, mutex: KeyedMutex, clock: Clock, refusals: LoginRefusals): PathSpec {
  const login = async (req: EngineRequest): Promise<EngineResponse> => {
    const name = normalizeUserName(req.params['name'] as string);
    const raw = req.data['password'];
    const password = typeof raw === 'string' ? raw : '';
    // The lock is taken for unknown names too, so the queueing behaviour is the same.
    return mutex.run(`user/${name}`, async () => {
      const user = VALID_NAME.test(name) ? await users.get(name) : undefined;
      const config = await lockouts.config();
      // An unknown name does the same storage work as a known one (a counter read, and a
      // counter write when refused), on a key no user can have: the time of a refusal must not
      // tell which names exist (CVE-2025-6011). The decoy key is overwritten, never multiplied.
      const counterOf = user ? name : UNKNOWN_USER_COUNTER;
      const state = await lockouts.state(counterOf, config);
      const locked = user !== undefined && isLocked(state, clock.now());
      const matches = await hasher.verify(password, locked ? undefined : user?.password);
      const fields = { user: name };
      if (!user) {
        await lockouts.recordFailure(UNKNOWN_USER_COUNTER, undefined, config);
        // An unknown name is not logged: people type passwords into the username field.
        throw refusals.refuse('unknown user');
      }
      if (locked) {
        // The same write as every other refusal, or a locked name would answer faster than an
        // unknown one and tell that it exists.
        await lockouts.recordFailure(UNKNOWN_USER_COUNTER, undefined, config);
        throw refusals.refuse('user locked out', fields);
      }
      if (!matches || password === '') {
        await lockouts.recordFailure(name, state, config);
        throw refusals.refuse('wrong password', fields);
      }
      if (state) await lockouts.clear(name);
      if (!addressAllowed(req.remoteAddress, user.token.boundCidrs)) throw refusals.refuse('client address outside token_bound_cidrs', fields);
      return { login: loginResult(user.token, name, { username: name }) };
    });
  };

  return {
    pattern: 'login/(?<name>[^/]+)',
    unauthenticated: true,
    fields: LOGIN_FIELDS,
    description: 'Log in with a username and password.',
    operations: { update: login },
  };
}

/**
 * Renewing a login token, as Vault's userpass does: refused once the user is gone, or when the
 * user's policies are no longer the token's (a new login gets the new ones).
 */
export function userRenewalCheck(users: UserStore): (login: LoginRenewal) => Promise<LoginRenewalLimits> {
  return async (login) => {
    const name = login.metadata['username'] ?? '';
    const user = VALID_NAME.test(name) ? await users.get(name) : undefined;
    if (!user) throw badRequest('the user no longer exists, not renewing');
    if (!equivalentPolicies(user.token.policies, login.policies)) throw badRequest('policies have changed, not renewing');
    return renewalLimitsOf(user.token);
  };
}
