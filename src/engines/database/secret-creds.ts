/**
 * The `creds` secret type: how the lease manager renews and revokes a dynamic credential.
 *
 * Owns: reading the lease's `internal` snapshot (written by creds/:role) and turning it into
 * plugin calls. Before a renewal it tells the lease manager the TTLs the role and the mount give
 * now (lease-ttls.ts); renewal moves the database-side validity to the lease's new end;
 * revocation removes the user and succeeds if it is already gone (or was never made: a crash
 * before its creation committed leaves a lease whose user never existed), so the lease layer
 * may retry it freely. Both run the role's statements as they are now, as Vault does, so fixing a role's
 * revocation_statements rescues leases whose revocation kept failing; the snapshot's copy is
 * used once the role is gone.
 * Must never: let revocation depend on the role still existing (it may have been deleted since
 * issuance), or revoke through another config than the one the user was made in. Renewal
 * depends on the role, as in Vault: a deleted role's credentials are not extended.
 */
import { CofferError } from '../../core/errors.js';
import type { LeaseView, MountInfo, RenewalTtls, SecretType } from '../../core/router/engine.js';
import type { DatabaseStore, DbRole } from './config-store.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';
import { renewalTtls } from './lease-ttls.js';

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

/**
 * The statements a lease is renewed and revoked with: its role's as they are now (Vault's
 * secretCredsRevoke and secretCredsRenew do the same), or the copy taken at issuance when the
 * role is gone. Unlike Vault, a role that now names another config (db_name) does not lend its
 * statements: the user lives in the database it was made in, and revoking it through another
 * config would find no such user there, "succeed", and leave the user behind for good.
 */
export function statementsFor(creds: CredsInternal, role: DbRole | undefined): Pick<CredsInternal, 'revocation_statements' | 'renew_statements'> {
  if (role === undefined || role.dbName !== creds.db_name) {
    return { revocation_statements: creds.revocation_statements, renew_statements: creds.renew_statements };
  }
  return { revocation_statements: [...role.revocationStatements], renew_statements: [...role.renewStatements] };
}

/** `mount` is live: its getters return the mount's tuning as it is now. */
export function credsSecretType(connections: Connections, store: Pick<DatabaseStore, 'getRole'>, mount: MountInfo): SecretType {
  return {
    async renewalTtls(lease: LeaseView): Promise<RenewalTtls> {
      const creds = readCredsInternal(lease.internal);
      if (creds.role === '') return renewalTtls(undefined, mount);
      const role = await store.getRole(creds.role);
      // As Vault: deleting a role stops its credentials from being extended (they still expire
      // and are revoked as usual; revocation never needs the role).
      if (!role) throw new CofferError('bad_request', `error during renew: could not find role with name "${creds.role}"`);
      return renewalTtls(role, mount);
    },

    // Called after renewalTtls, which refused a lease whose role is gone.
    async renew(lease: LeaseView): Promise<void> {
      const creds = readCredsInternal(lease.internal);
      const statements = statementsFor(creds, creds.role === '' ? undefined : await store.getRole(creds.role));
      await connections.use(creds.db_name, async (plugin, config) => {
        try {
          await plugin.renewUser({ username: creds.username, expiration: new Date(lease.expireTime), renewStatements: statements.renew_statements });
        } catch (err) {
          throw databaseFailure(err, [config.password], 'failed to renew user: ');
        }
      });
    },

    async revoke(lease: LeaseView): Promise<void> {
      const creds = readCredsInternal(lease.internal);
      const statements = statementsFor(creds, creds.role === '' ? undefined : await store.getRole(creds.role));
      await connections.use(creds.db_name, async (plugin, config) => {
        try {
          await plugin.revokeUser({ username: creds.username, revocationStatements: statements.revocation_statements });
        } catch (err) {
          // A user that does not exist is revoked, whatever the statements said about it (a
          // `DROP ROLE "{{name}}"` fails for a user whose creation never committed). Asked only
          // after a failure, so a revocation stays one round of statements; a check that fails
          // too (the database is down) leaves the revocation failed, to be retried.
          if ((await plugin.userExists(creds.username).catch(() => undefined)) === false) return;
          throw databaseFailure(err, [config.password], 'failed to revoke user: ');
        }
      });
    },
  };
}
