/**
 * userpass `users/:name` (create, read, update, delete), `users/` (list),
 * `users/:name/password`, `users/:name/policies` and `users/:name/unlock`.
 *
 * Owns: hashing a new password before it is stored.
 * Must never: return a password or its hash; accept a user without a password.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { assertName, has, parseString } from '../shared/input.js';
import { parseTokenSettings, TOKEN_FIELDS, tokenSettingsView } from '../shared/token-fields.js';
import type { LockoutStore } from './lockout.js';
import type { PasswordHash, PasswordHasher } from './password-hash.js';
import { normalizeUserName, type UserStore } from './user-store.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';

const MAX_PASSWORD_LENGTH = 1024;

/** What each write reads; others are ignored with Vault's warning. */
const USER_FIELDS: ReadonlySet<string> = new Set(['password', ...TOKEN_FIELDS]);
const PASSWORD_FIELDS: ReadonlySet<string> = new Set(['password']);
const POLICIES_FIELDS: ReadonlySet<string> = new Set(['token_policies', 'policies']);

async function hashField(hasher: PasswordHasher, data: Readonly<Record<string, unknown>>): Promise<PasswordHash> {
  const password = parseString(data['password'], 'password');
  if (password === '') throw badRequest('missing password');
  if (password.length > MAX_PASSWORD_LENGTH) throw badRequest(`invalid password: at most ${MAX_PASSWORD_LENGTH} characters`);
  return hasher.hash(password);
}

export function userPaths(users: UserStore, lockouts: LockoutStore, hasher: PasswordHasher, mutex: KeyedMutex): PathSpec[] {
  const nameOf = (req: EngineRequest): string => {
    const name = normalizeUserName(req.params['name'] as string);
    assertName(name, 'username');
    return name;
  };
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const user = await users.get(nameOf(req));
    if (!user) throw notFound();
    return { data: tokenSettingsView(user.token) };
  };

  const write = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    // Hash outside the lock: scrypt is the slow part and needs no shared state.
    const password = has(req.data, 'password') ? await hashField(hasher, req.data) : undefined;
    await mutex.run(`user/${name}`, async () => {
      const current = await users.get(name);
      if (!current && !password) throw badRequest('missing password');
      const token = parseTokenSettings(req.data, current?.token);
      await users.put({ name, password: password ?? (current as NonNullable<typeof current>).password, token });
    });
    return null;
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    await mutex.run(`user/${name}`, async () => {
      await users.delete(name);
      await lockouts.clear(name);
    });
    return null;
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await users.list();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  const setPassword = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    const password = await hashField(hasher, req.data);
    await mutex.run(`user/${name}`, async () => {
      const user = await users.get(name);
      if (!user) throw badRequest('username does not exist');
      await users.put({ ...user, password });
    });
    return null;
  };

  const setPolicies = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    if (!has(req.data, 'token_policies') && !has(req.data, 'policies')) throw badRequest('missing token_policies');
    await mutex.run(`user/${name}`, async () => {
      const user = await users.get(name);
      if (!user) throw badRequest('username does not exist');
      const data = has(req.data, 'token_policies') ? { token_policies: req.data['token_policies'] } : { policies: req.data['policies'] };
      await users.put({ ...user, token: parseTokenSettings(data, user.token) });
    });
    return null;
  };

  const unlock = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    await mutex.run(`user/${name}`, () => lockouts.clear(name));
    return null;
  };

  const user = '(?<name>[^/]+)';
  /** The path as the handler acts on it: the user's name canonicalised (request-handler checks both). */
  const canonical = (suffix: string) => (params: Readonly<Record<string, string>>): string => `users/${normalizeUserName(params['name'] ?? '')}${suffix}`;
  return [
    {
      pattern: `users/${user}`,
      canonicalPath: canonical(''),
      description: 'Manage a userpass user.',
      fields: USER_FIELDS,
      existenceCheck: async (req) => (await users.get(normalizeUserName(req.params['name'] as string))) !== undefined,
      operations: { read, create: write, update: write, delete: remove },
    },
    { pattern: 'users/?', description: 'List userpass users.', operations: { list } },
    { pattern: `users/${user}/password`, canonicalPath: canonical('/password'), description: "Change a user's password.", fields: PASSWORD_FIELDS, operations: { update: setPassword } },
    { pattern: `users/${user}/policies`, canonicalPath: canonical('/policies'), description: "Change a user's token policies.", fields: POLICIES_FIELDS, operations: { update: setPolicies } },
    { pattern: `users/${user}/unlock`, canonicalPath: canonical('/unlock'), description: 'Clear a locked-out user\'s failed-login counter.', operations: { update: unlock } },
  ];
}
