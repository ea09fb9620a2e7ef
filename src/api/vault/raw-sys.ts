/**
 * The sys endpoints Vault answers with a bare JSON body instead of the response envelope, all
 * reachable without a token and while sealed: init, unseal, seal-status, health, leader.
 * None of them is audited (as in Vault): they carry key shares, which must never be logged.
 */
import type { Lifecycle } from '../../core/lifecycle.js';
import { badRequest, CofferError } from '../../core/errors.js';

export interface RawResponse {
  status: number;
  body: unknown;
}

export interface RawSysDeps {
  lifecycle: Lifecycle;
  version: string;
  clock: { now(): number };
}

function intParam(query: Record<string, unknown>, name: string, fallback: number): number {
  const raw = query[name];
  if (typeof raw !== 'string' || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100 || value > 599) throw badRequest(`invalid ${name}`);
  return value;
}

function positiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 255) {
    throw badRequest(`${field} must be an integer between 1 and 255`);
  }
  return value;
}

export type RawHandler = (method: string, query: Record<string, unknown>, body: Record<string, unknown>) => Promise<RawResponse>;

/** GET and HEAD arrive as 'read' ('list' with ?list=true); PUT and POST as 'write'. */
const isGet = (method: string): boolean => method === 'read' || method === 'list';

/** Vault answers any other method on these endpoints with 405. */
function unsupported(): CofferError {
  return new CofferError('unsupported_operation', 'unsupported operation');
}

/** Wraps a GET-only handler so that every other method gets 405, as in Vault. */
function getOnly(handler: RawHandler): RawHandler {
  return async (method, query, body) => {
    if (!isGet(method)) throw unsupported();
    return handler(method, query, body);
  };
}

/** The raw handler for `path`, or undefined when the path is an ordinary enveloped one. */
export function rawSysHandler(path: string, deps: RawSysDeps): RawHandler | undefined {
  const { lifecycle } = deps;
  switch (path) {
    case 'sys/seal-status':
      return getOnly(async () => ({ status: 200, body: await lifecycle.status() }));
    case 'sys/init':
      return async (method, _query, body) => {
        if (isGet(method)) return { status: 200, body: { initialized: (await lifecycle.status()).initialized } };
        if (method !== 'write') throw unsupported();
        for (const field of ['pgp_keys', 'root_token_pgp_key', 'recovery_pgp_keys']) {
          const value = body[field];
          if (value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0)) {
            throw badRequest(`${field} is not supported`);
          }
        }
        const outcome = await lifecycle.initialize({
          secretShares: positiveInt(body.secret_shares, 'secret_shares'),
          secretThreshold: positiveInt(body.secret_threshold, 'secret_threshold'),
        });
        return {
          status: 200,
          body: {
            keys: outcome.keys.map((k) => k.toString('hex')),
            keys_base64: outcome.keys.map((k) => k.toString('base64')),
            root_token: outcome.rootToken,
          },
        };
      };
    case 'sys/unseal':
      return async (method, _query, body) => {
        if (method !== 'write') throw unsupported();
        const reset = body.reset === true;
        const key = body.key;
        if (!reset && (typeof key !== 'string' || key === '')) {
          throw badRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
        }
        return { status: 200, body: await lifecycle.submitShare(typeof key === 'string' && key !== '' ? key : undefined, reset) };
      };
    case 'sys/health':
      return getOnly(async (_method, query) => {
        const status = await lifecycle.status();
        const code = !status.initialized
          ? intParam(query, 'uninitcode', 501)
          : status.sealed
            ? intParam(query, 'sealedcode', 503)
            : intParam(query, 'activecode', 200);
        return {
          status: code,
          body: {
            initialized: status.initialized,
            sealed: status.sealed,
            standby: false,
            performance_standby: false,
            replication_performance_mode: 'disabled',
            replication_dr_mode: 'disabled',
            server_time_utc: Math.floor(deps.clock.now() / 1000),
            version: deps.version,
            ...(status.cluster_name ? { cluster_name: status.cluster_name, cluster_id: status.cluster_id } : {}),
          },
        };
      });
    case 'sys/leader':
      return getOnly(async () => ({
        status: 200,
        body: {
          ha_enabled: false,
          is_self: false,
          active_time: '0001-01-01T00:00:00Z',
          leader_address: '',
          leader_cluster_address: '',
          performance_standby: false,
          performance_standby_last_remote_wal: 0,
        },
      }));
    default:
      return undefined;
  }
}
