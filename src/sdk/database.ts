/**
 * The database secrets engine for applications: dynamic credentials as renewing, rotating
 * handles (`creds/:role`), and the current credential of a static role (`static-creds/:name`).
 *
 * Must never: put a username's password into an error message.
 */
import { CofferConfigError, CofferResponseError } from './errors.js';
import type { LeasedSecret, LeasedSecretOptions } from './leased-secret.js';
import { isObject, type Envelope } from './wire.js';

export interface DatabaseCredential {
  username: string;
  password: string;
}

export interface StaticCredential extends DatabaseCredential {
  /** One more at each rotation; what a consumer checks in with. */
  version: number | undefined;
  /** Seconds until the next rotation. */
  ttl: number | undefined;
  lastVaultRotation: string | undefined;
  /** Mid-rotation (dual mode): the credential being replaced, still valid for a while. */
  previous: (DatabaseCredential & { version: number | undefined }) | undefined;
}

export interface DatabaseOptions {
  /** The database engine's mount (default `database`). */
  mount?: string;
}

export interface DatabaseClient {
  /**
   * A dynamic credential for `role`, renewed in the background; a fresh one is read before the
   * max TTL ends and given to `onRotate`. Closing the handle (or the Coffer) revokes it.
   */
  credentials(role: string, options?: DatabaseOptions & LeasedSecretOptions<DatabaseCredential>): Promise<LeasedSecret<DatabaseCredential>>;
  /** The current credential of a static role. */
  staticCredentials(name: string, options?: DatabaseOptions): Promise<StaticCredential>;
}

export interface DatabaseDeps {
  read(path: string): Promise<Envelope<unknown>>;
  leased<T>(path: string, toSecret: (envelope: Envelope<unknown>) => T, options: LeasedSecretOptions<T>): Promise<LeasedSecret<T>>;
}

function mountOf(options: DatabaseOptions): string {
  const mount = (options.mount ?? 'database').replace(/^\/+/, '').replace(/\/+$/, '');
  if (mount === '') throw new CofferConfigError('mount must not be empty');
  return mount;
}

function nameOf(name: string, what: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) throw new CofferConfigError(`invalid ${what} name`);
  return name;
}

function credentialOf(value: unknown, path: string): DatabaseCredential {
  if (!isObject(value) || typeof value['username'] !== 'string' || typeof value['password'] !== 'string') {
    throw new CofferResponseError(`${path}: the answer has no username and password`);
  }
  return { username: value['username'], password: value['password'] };
}

const optionalNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function createDatabaseClient(deps: DatabaseDeps): DatabaseClient {
  return {
    credentials(role, options = {}) {
      const path = `${mountOf(options)}/creds/${nameOf(role, 'role')}`;
      const { mount: _mount, ...handleOptions } = options;
      return deps.leased(path, (envelope) => credentialOf(envelope.data, path), handleOptions);
    },
    async staticCredentials(name, options = {}) {
      const path = `${mountOf(options)}/static-creds/${nameOf(name, 'static role')}`;
      const data = (await deps.read(path)).data;
      const current = credentialOf(data, path);
      const d = data as Record<string, unknown>;
      const prev = isObject(d['previous']) ? d['previous'] : undefined;
      return {
        ...current,
        version: optionalNumber(d['version']),
        ttl: optionalNumber(d['ttl']),
        lastVaultRotation: typeof d['last_vault_rotation'] === 'string' ? d['last_vault_rotation'] : undefined,
        previous: prev ? { ...credentialOf(prev, path), version: optionalNumber(prev['version']) } : undefined,
      };
    },
  };
}
