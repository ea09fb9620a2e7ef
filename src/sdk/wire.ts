/**
 * The shapes of Vault's response envelope as the SDK reads them, and the checks that turn an
 * `unknown` body into them.
 *
 * Must never: include a field's value in an error message (a field may hold a secret).
 */
import { CofferResponseError } from './errors.js';

/** The `auth` block of a login or token renewal. */
export interface WireAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
}

/** Vault's success envelope. */
export interface Envelope<T = Record<string, unknown>> {
  request_id: string;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: T;
  warnings: string[] | null;
  auth: WireAuth | null;
  /** Vault (not OpenBao) names the type of the mount that answered. */
  mount_type?: string;
}

type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The envelope of a 200 answer; a 204 (no body) gives an empty one. */
export function asEnvelope<T = Obj>(body: unknown): Envelope<T> {
  const b = isObject(body) ? body : {};
  return {
    request_id: typeof b['request_id'] === 'string' ? b['request_id'] : '',
    lease_id: typeof b['lease_id'] === 'string' ? b['lease_id'] : '',
    renewable: b['renewable'] === true,
    lease_duration: typeof b['lease_duration'] === 'number' ? b['lease_duration'] : 0,
    data: (isObject(b['data']) ? b['data'] : null) as T,
    warnings: Array.isArray(b['warnings']) ? (b['warnings'] as unknown[]).map(String) : null,
    auth: isObject(b['auth']) ? (b['auth'] as unknown as WireAuth) : null,
    ...(typeof b['mount_type'] === 'string' ? { mount_type: b['mount_type'] } : {}),
  };
}

/** The `auth` block, checked enough to use: a login without one is a server bug. */
export function authOf(body: unknown, what: string): WireAuth {
  const auth = asEnvelope(body).auth;
  if (!auth || typeof auth.client_token !== 'string' || auth.client_token === '') {
    throw new CofferResponseError(`${what}: the server's answer has no auth block`);
  }
  return {
    ...auth,
    accessor: typeof auth.accessor === 'string' ? auth.accessor : '',
    policies: Array.isArray(auth.policies) ? auth.policies.map(String) : [],
    lease_duration: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
    renewable: auth.renewable === true,
    metadata: isObject(auth.metadata) ? (auth.metadata as Record<string, string>) : null,
  };
}
