/**
 * Role storage and the `role/:name` + `role/` paths shared by auth methods whose roles are plain
 * records (JWT/OIDC, Kubernetes): create/update with merge semantics, read, delete, list.
 *
 * Owns: `role/<name>` keys in the mount's storage, and serialising writes to one role so two
 * concurrent partial updates cannot lose each other's fields.
 * Must never: accept a role name that is not one safe path segment.
 */
import { notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import { assertName, isName, NAME_PATTERN } from './input.js';
import { createKeyedMutex } from '../../core/keyed-mutex.js';

export interface RoleStore<T extends { name: string }> {
  get(name: string): Promise<T | undefined>;
  put(role: T): Promise<void>;
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
}

const ROLE_FOLDER = 'role/';
const roleKey = (name: string): string => `${ROLE_FOLDER}${name}`;

export function createRoleStore<T extends { name: string }>(storage: Storage): RoleStore<T> {
  return {
    // A name no role can have ("..", "a/b") is not a storage key to try: no such role.
    get: (name) => (isName(name) ? getJson<T>(storage, roleKey(name)) : Promise.resolve(undefined)),
    put: (role) => putJson(storage, roleKey(role.name), role),
    delete: (name) => storage.delete(roleKey(name)),
    list: () => storage.list(ROLE_FOLDER),
  };
}

export interface RoleCodec<T> {
  /** Applies the request's fields over `existing` (undefined on create); throws bad_request. */
  merge(name: string, data: Readonly<Record<string, unknown>>, existing: T | undefined): T;
  view(role: T): Record<string, unknown>;
  /** Every field `merge` reads; a write with others is answered with Vault's warning. */
  readonly fields: ReadonlySet<string>;
}

export function rolePaths<T extends { name: string }>(store: RoleStore<T>, codec: RoleCodec<T>, description: string): PathSpec[] {
  const mutex = createKeyedMutex();

  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await store.get(req.params['name'] as string);
    if (!role) throw notFound();
    return { data: codec.view(role) };
  };

  const write = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    assertName(name, 'role name');
    await mutex.run(name, async () => {
      await store.put(codec.merge(name, req.data, await store.get(name)));
    });
    return null;
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    await mutex.run(name, () => store.delete(name));
    return null;
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await store.list();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: `role/(?<name>${NAME_PATTERN})`,
      description,
      existenceCheck: async (req) => (await store.get(req.params['name'] as string)) !== undefined,
      fields: codec.fields,
      operations: { read, create: write, update: write, delete: remove },
    },
    { pattern: 'role/?', description: 'List roles.', operations: { list } },
  ];
}
