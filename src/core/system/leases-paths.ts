/**
 * `sys/leases/*` and the older `sys/renew`, `sys/revoke*` paths: lookup, renew, revoke (now or
 * later), revoke by prefix (sudo), force revoke (sudo), and the irrevocable list.
 */
import { parseDurationSeconds } from '../duration.js';
import { badRequest, notFound } from '../errors.js';
import type { LeaseManager } from '../leases/lease-manager.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../router/engine.js';
import type { TokenStore } from '../tokens/token-store.js';

function leaseIdFrom(req: EngineRequest): string {
  const fromPath = req.params.id;
  if (typeof fromPath === 'string' && fromPath !== '') return fromPath;
  const fromBody = req.data.lease_id;
  if (typeof fromBody !== 'string' || fromBody === '') throw badRequest('missing lease_id');
  return fromBody;
}

function prefixFrom(req: EngineRequest): string {
  const prefix = req.params.prefix;
  if (typeof prefix !== 'string' || prefix === '') throw badRequest('missing prefix');
  return prefix;
}

function syncFlag(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest('sync must be a boolean');
}

/**
 * Whether a read of `sys/leases` or `sys/leases/count` asks for the one kind Vault lists,
 * `type=irrevocable` (any case). Any other type, or none, finds nothing: Vault's handler returns
 * no response, which its HTTP layer answers for a read with 404 and an empty error list.
 */
function irrevocableRequested(req: EngineRequest): boolean {
  const type = req.data.type;
  return typeof type === 'string' && type.toLowerCase() === 'irrevocable';
}

/**
 * Whether a prefix reaches tokens: `auth` as much as `auth/` (Vault adds the slash to a prefix
 * that is not a lease id, so `revoke-prefix/auth` ends every login).
 */
function namesLogins(prefix: string): boolean {
  return prefix === 'auth' || prefix.startsWith('auth/');
}

/**
 * Revokes what a prefix names: leases whose id starts with it and, for a prefix under `auth/`,
 * the tokens created through a path starting with it (in Vault a token is a lease with id
 * `auth/<path>/…`, so `vault lease revoke -prefix auth/userpass/` ends every userpass login).
 * Tokens that never expire have no lease in Vault and are left alone. Returns how many.
 */
async function revokeUnder(leases: LeaseManager, tokens: Pick<TokenStore, 'revokeByPathPrefix'>, prefix: string, force: boolean): Promise<number> {
  const revokedTokens = namesLogins(prefix) ? await tokens.revokeByPathPrefix(prefix, { leasedOnly: true }) : 0;
  return revokedTokens + (await leases.revokePrefix(prefix, { force }));
}

export function leasesPaths(leases: LeaseManager, tokens: Pick<TokenStore, 'revokeByPathPrefix'>): PathSpec[] {
  const renew = async (req: EngineRequest): Promise<EngineResponse> => {
    const result = await leases.renew(leaseIdFrom(req), parseDurationSeconds(req.data.increment, 'increment'));
    return {
      data: null,
      lease: { id: result.id, duration: result.duration, renewable: result.renewable },
      ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
    };
  };
  const revoke = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const id = leaseIdFrom(req);
    if (!syncFlag(req.data.sync)) {
      await leases.revokeLater(id);
      return { statusCode: 202, data: null, warnings: ['the lease will be revoked shortly'] };
    }
    await leases.revoke(id);
    return null;
  };
  const revokePrefix = (force: boolean) => async (req: EngineRequest): Promise<EngineResponse | null> => {
    const prefix = prefixFrom(req);
    if (!syncFlag(req.data.sync)) {
      // As Vault's sync=false (LazyRevoke): every lease under the prefix is first made due in
      // storage, so a stop or crash right after the answer still revokes them all (the expiry
      // worker picks them up after unseal); the revocations themselves run after the answer.
      // A lease whose revocation fails keeps its failure and its retry schedule, as always.
      await leases.revokePrefixLater(prefix);
      // The worker revokes the leases now due, with their usual retries: an attempt of our own
      // beside it would spend a second of each lease's attempts at once while a database is
      // down. Only what the worker does not do runs here: revoke-force's removal of leases
      // whose revocation fails, and the tokens under an auth/ prefix.
      const background = force
        ? revokeUnder(leases, tokens, prefix, true)
        : namesLogins(prefix) ? tokens.revokeByPathPrefix(prefix, { leasedOnly: true }) : Promise.resolve(0);
      void background.catch(() => undefined);
      return { statusCode: 202, data: null, warnings: ['the leases will be revoked shortly'] };
    }
    await revokeUnder(leases, tokens, prefix, force);
    return null;
  };
  const listLeases = async (req: EngineRequest): Promise<EngineResponse> => {
    const keys = await leases.list(typeof req.params.prefix === 'string' ? req.params.prefix : '');
    if (keys.length === 0) return { statusCode: 404, data: null };
    return { data: { keys } };
  };

  const lookup = async (req: EngineRequest): Promise<EngineResponse> => ({ data: { ...(await leases.lookup(leaseIdFrom(req))) } });

  return [
    // Vault's root paths hold `leases/lookup/*`, which the top-level listing matches too (a LIST
    // of `leases/lookup` is checked with the trailing slash): listing leases at any level, or
    // anything on `leases/lookup/`, needs sudo; looking up one lease by id at `leases/lookup`
    // does not (the default policy grants it).
    { pattern: 'leases/lookup', sudo: ['list'], description: 'Look up a lease given in the body; LIST the lease ids (sudo).', operations: { update: lookup, list: listLeases } },
    { pattern: 'leases/lookup/', sudo: true, description: 'Look up a lease given in the body; LIST the lease ids (sudo).', operations: { update: lookup, list: listLeases } },
    { pattern: 'leases/lookup/(?<prefix>.+)', sudo: true, description: 'List the lease ids under a prefix (sudo).', operations: { list: listLeases } },
    { pattern: 'leases/renew(?:/(?<id>.+))?', description: 'Renew a lease, optionally by an increment.', operations: { update: renew } },
    { pattern: 'renew(?:/(?<id>.+))?', description: 'Renew a lease (the older path).', operations: { update: renew } },
    { pattern: 'leases/revoke(?:/(?<id>.+))?', description: 'Revoke a lease now.', operations: { update: revoke } },
    { pattern: 'revoke(?:/(?<id>.+))?', description: 'Revoke a lease now (the older path).', operations: { update: revoke } },
    { pattern: '(?:leases/)?revoke-prefix/(?<prefix>.+)', sudo: true, description: 'Revoke every lease under a prefix (sudo).', operations: { update: revokePrefix(false) } },
    { pattern: '(?:leases/)?revoke-force/(?<prefix>.+)', sudo: true, description: 'Revoke every lease under a prefix, deleting those whose revocation fails (sudo).', operations: { update: revokePrefix(true) } },
    {
      pattern: 'leases/tidy',
      description: "Run the expiry worker's pass now.",
      operations: {
        update: async () => {
          const handled = await leases.runDue();
          return { statusCode: 202, data: null, warnings: [`tidy handled ${handled} due leases`] };
        },
      },
    },
    {
      pattern: 'leases',
      description: 'With ?irrevocable=true: the leases whose revocation gave up, with their last error (sudo).',
      sudo: true,
      operations: {
        read: async (req) => {
          if (!irrevocableRequested(req)) throw notFound();
          const list = await leases.irrevocable();
          return { data: { leases: list, lease_count: list.length } };
        },
      },
    },
    {
      pattern: 'leases/count',
      description: 'With ?irrevocable=true: how many leases are irrevocable (sudo).',
      sudo: true,
      operations: {
        read: async (req) => {
          if (!irrevocableRequested(req)) throw notFound();
          const list = await leases.irrevocable();
          // As Vault: the total, and how many per mount.
          const counts: Record<string, number> = {};
          for (const lease of list) counts[lease.mount_id] = (counts[lease.mount_id] ?? 0) + 1;
          return { data: { lease_count: list.length, counts } };
        },
      },
    },
  ];
}
