/**
 * The client token and its upkeep: log in, renew the token at about two thirds of its TTL,
 * stop when it cannot be renewed (not renewable, or capped by its max TTL), and log in again
 * with the same method when that is possible, before the old token runs out.
 *
 * Owns: the current token and its expiry, one background timer, and the re-login that requests
 * wait for when the held token is known to have expired.
 * Must never: log or throw a token; every token it holds is registered with the redactor.
 */
import { CofferConfigError, isDefinitive, type Redactor } from './errors.js';
import type { LoginKind, LoginMethod } from './login.js';
import { createTimerSlot, renewDelay, type Scheduler } from './scheduler.js';
import type { HttpMethod, RawResponse, RequestOptions } from './transport.js';
import { asEnvelope, authOf, type WireAuth } from './wire.js';

/** What the SDK tells the application about a token (never the token itself). */
export interface AuthInfo {
  accessor: string;
  policies: string[];
  /** Seconds the token lives from now; 0 means it does not expire. */
  leaseDuration: number;
  renewable: boolean;
  metadata: Record<string, string>;
  /** How the token was obtained. */
  method: LoginKind | 'token';
}

export type Requester = (method: HttpMethod, path: string, options?: RequestOptions) => Promise<RawResponse>;

export interface TokenManagerDeps {
  request: Requester;
  scheduler: Scheduler;
  redactor: Redactor;
  onError(err: unknown): void;
  onRenew?: ((info: AuthInfo) => void) | undefined;
}

export interface TokenManager {
  /** The token as held right now. */
  current(): string | undefined;
  /** The token to send with a request; logs in again first if the held one has expired. */
  forRequest(): Promise<string | undefined>;
  /** Replaces the token with one the application supplies; background renewal stops. */
  set(token: string | undefined): void;
  login(method: LoginMethod): Promise<AuthInfo>;
  /** Looks up a supplied token and renews it in the background from now on. */
  manage(): Promise<AuthInfo>;
  /** Called after a background re-login replaced the token (leases of the old one will end with it). */
  onRelogin(listener: () => void): () => void;
  /** Revokes the held token on the server and forgets it. */
  revokeSelf(): Promise<void>;
  stop(): void;
}

export function createTokenManager(initialToken: string | undefined, deps: TokenManagerDeps): TokenManager {
  const { request, scheduler, redactor } = deps;
  const slot = createTimerSlot(scheduler);
  const listeners = new Set<() => void>();
  let token = initialToken;
  redactor.add(token);
  let method: LoginMethod | undefined;
  /** Milliseconds since the epoch; 0 when unknown or never. */
  let expiresAt = 0;
  /** The TTL to ask for at each renewal: the token's original TTL. */
  let increment = 0;
  let attempts = 0;
  let relogging: Promise<AuthInfo> | undefined;

  const infoOf = (auth: WireAuth, kind: AuthInfo['method']): AuthInfo => ({
    accessor: auth.accessor,
    policies: [...auth.policies],
    leaseDuration: auth.lease_duration,
    renewable: auth.renewable,
    metadata: { ...(auth.metadata ?? {}) },
    method: kind,
  });

  const canRelogin = (): boolean => method !== undefined && method.canRelogin;

  /** Plans the next step for a token that has `ttl` seconds left. */
  const plan = (ttl: number, renewable: boolean, capped: boolean): void => {
    attempts = 0;
    if (ttl <= 0) {
      slot.clear();
      return;
    }
    const delay = renewDelay(ttl * 1000);
    if (renewable && !capped) slot.set(delay, renew);
    else if (canRelogin()) slot.set(delay, reloginInBackground);
    // Otherwise there is nothing left to do: the token lives out its TTL.
    else slot.clear();
  };

  const adopt = (auth: WireAuth, from: LoginMethod | undefined): AuthInfo => {
    redactor.add(auth.client_token);
    token = auth.client_token;
    method = from;
    increment = auth.lease_duration;
    expiresAt = auth.lease_duration > 0 ? scheduler.now() + auth.lease_duration * 1000 : 0;
    plan(auth.lease_duration, auth.renewable, false);
    return infoOf(auth, from?.kind ?? 'token');
  };

  const doLogin = async (m: LoginMethod): Promise<WireAuth> => {
    const req = await m.request();
    for (const secret of req.secrets) redactor.add(secret);
    const res = await request('POST', req.path, { body: req.body, token: null });
    return authOf(res.body, `${m.kind} login`);
  };

  // After a failed re-login, requests do not each start another before this time: the
  // background retry's backoff paces them (a server that is down must not get one login per call).
  let reloginNotBefore = 0;
  let reloginFailures = 0;

  const relogin = (): Promise<AuthInfo> => {
    if (!method) return Promise.reject(new CofferConfigError('no login method to log in again with'));
    const m = method;
    relogging ??= doLogin(m)
      .then((auth) => {
        reloginFailures = 0;
        reloginNotBefore = 0;
        const info = adopt(auth, m);
        for (const listener of listeners) listener();
        return info;
      })
      .catch((err: unknown) => {
        reloginFailures += 1;
        reloginNotBefore = scheduler.now() + scheduler.backoff(reloginFailures);
        throw err;
      })
      .finally(() => {
        relogging = undefined;
      });
    return relogging;
  };

  const retry = (fn: () => Promise<void>): void => {
    attempts += 1;
    let delay = scheduler.backoff(attempts);
    // A renewal retry must still happen before the token runs out; once it has run out there is
    // nothing to race, and the backoff stands (a fleet must not hammer a recovering server).
    const left = expiresAt - scheduler.now();
    if (expiresAt > 0 && left > 0) delay = Math.min(delay, Math.max(250, left / 2));
    slot.set(delay, fn);
  };

  async function reloginInBackground(): Promise<void> {
    try {
      await relogin();
    } catch (err) {
      deps.onError(err);
      retry(reloginInBackground);
    }
  }

  async function renew(): Promise<void> {
    const sent = token;
    if (!sent) return;
    try {
      const res = await request('POST', 'auth/token/renew-self', { body: increment > 0 ? { increment } : {}, token: sent });
      if (token !== sent) return;
      const auth = authOf(res.body, 'token renewal');
      expiresAt = auth.lease_duration > 0 ? scheduler.now() + auth.lease_duration * 1000 : 0;
      deps.onRenew?.(infoOf(auth, method?.kind ?? 'token'));
      // A shorter TTL than asked for means the max TTL caps it: renewing again cannot help.
      plan(auth.lease_duration, auth.renewable, increment > 0 && auth.lease_duration < increment);
    } catch (err) {
      if (token !== sent) return;
      deps.onError(err);
      if (isDefinitive(err) || (expiresAt > 0 && scheduler.now() >= expiresAt)) {
        // The server no longer renews this token: only a new login helps.
        if (canRelogin()) await reloginInBackground();
        else slot.clear();
        return;
      }
      retry(renew);
    }
  }

  return {
    current: () => token,
    async forRequest() {
      if (relogging) await relogging;
      else if (expiresAt > 0 && scheduler.now() >= expiresAt && scheduler.now() >= reloginNotBefore && canRelogin()) await relogin();
      return token;
    },
    set(next) {
      slot.clear();
      redactor.add(next);
      token = next;
      method = undefined;
      expiresAt = 0;
      increment = 0;
    },
    async login(m) {
      return adopt(await doLogin(m), m);
    },
    async manage() {
      if (!token) throw new CofferConfigError('no token to renew: pass a token or log in first');
      const sent = token;
      const data = asEnvelope((await request('GET', 'auth/token/lookup-self', { token: sent })).body).data ?? {};
      const ttl = typeof data['ttl'] === 'number' ? data['ttl'] : 0;
      const creationTtl = typeof data['creation_ttl'] === 'number' ? data['creation_ttl'] : ttl;
      const renewable = data['renewable'] === true;
      increment = creationTtl;
      expiresAt = ttl > 0 ? scheduler.now() + ttl * 1000 : 0;
      plan(ttl, renewable, false);
      return {
        accessor: typeof data['accessor'] === 'string' ? data['accessor'] : '',
        policies: Array.isArray(data['policies']) ? data['policies'].map(String) : [],
        leaseDuration: ttl,
        renewable,
        metadata: { ...((data['meta'] as Record<string, string> | null) ?? {}) },
        method: 'token',
      };
    },
    onRelogin(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async revokeSelf() {
      const held = token;
      slot.clear();
      if (!held) return;
      await request('POST', 'auth/token/revoke-self', { token: held });
      if (token === held) token = undefined;
    },
    stop() {
      slot.clear();
    },
  };
}
