/**
 * The `creds` secret type: how the lease manager renews and revokes a dynamic credential.
 *
 * Owns: reading the lease's `internal` snapshot (written by creds/:role) and turning it into
 * plugin calls. Renewal moves the database-side validity to the lease's new end; revocation
 * removes the user and succeeds if it is already gone, so the lease layer may retry it freely.
 * Must never: depend on the role still existing (it may have been deleted since issuance).
 */
import { CofferError } from '../../core/errors.js';
import type { LeaseView, SecretType } from '../../core/router/engine.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';

export const CREDS_SECRET_TYPE = 'creds';

/** What a creds lease keeps, in Vault's snake_case (it is stored with the lease). */
export interface CredsInternal {
  username: string;
  db_name: string;
  role: string;
  revocation_statements: string[];
  renew_statements: string[];
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...value] as string[] : [];

export function readCredsInternal(internal: Readonly<Record<string, unknown>>): CredsInternal {
  const username = internal['username'];
  const dbName = internal['db_name'];
  if (typeof username !== 'string' || username === '' || typeof dbName !== 'string' || dbName === '') {
    throw new CofferError('internal', 'database lease is missing its username or db_name');
  }
  return {
    username,
    db_name: dbName,
    role: typeof internal['role'] === 'string' ? internal['role'] : '',
    revocation_statements: stringList(internal['revocation_statements']),
    renew_statements: stringList(internal['renew_statements']),
  };
}

export function credsSecretType(connections: Connections): SecretType {
  return {
    async renew(lease: LeaseView): Promise<void> {
      const creds = readCredsInternal(lease.internal);
      await connections.use(creds.db_name, async (plugin, config) => {
        try {
          await plugin.renewUser({ username: creds.username, expiration: new Date(lease.expireTime), renewStatements: creds.renew_statements });
        } catch (err) {
          throw databaseFailure(err, [config.password], 'failed to renew user: ');
        }
      });
    },

    async revoke(lease: LeaseView): Promise<void> {
      const creds = readCredsInternal(lease.internal);
      await connections.use(creds.db_name, async (plugin, config) => {
        try {
          await plugin.revokeUser({ username: creds.username, revocationStatements: creds.revocation_statements });
        } catch (err) {
          throw databaseFailure(err, [config.password], 'failed to revoke user: ');
        }
      });
    },
  };
}
