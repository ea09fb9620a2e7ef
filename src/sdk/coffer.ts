/**
 * `Coffer`: the SDK's entry point. One instance holds one server address and one token, and owns
 * every piece of background work it starts (token renewal, lease renewal, watches, consumer
 * heartbeats), so that `close()` stops all of it and revokes the leases it created.
 *
 * Owns: wiring the small modules of src/sdk/ together; nothing else.
 * Must never: depend on the server's or the CLI's code, or expose the token in an error.
 */
import { createDatabaseClient, type DatabaseClient } from './database.js';
import { CofferClosedError, CofferConfigError, CofferNotFoundError, CofferPermissionDeniedError } from './errors.js';
import { createKvClient, type KvClient } from './kv.js';
import { openLeasedSecret, type LeasedSecret, type LeasedSecretOptions } from './leased-secret.js';
import {
  appRoleLogin,
  jwtLogin,
  kubernetesLogin,
  userpassLogin,
  type AppRoleLoginOptions,
  type JwtLoginOptions,
  type KubernetesLoginOptions,
  type LoginMethod,
  type UserpassLoginOptions,
} from './login.js';
import { registerConsumer, type ConsumerHandle, type ConsumerOptions } from './consumer.js';
import { parseReference, referenceValue } from './references.js';
import { createRotationHelper, type RotationHelper, type WithRotationOptions } from './rotation.js';
import { createScheduler, type RetryBackoff, type Scheduler } from './scheduler.js';
import { secretData } from './secret-value.js';
import { createTokenManager, type AuthInfo, type TokenManager } from './token-manager.js';
import { createNodeHttpFetch } from './node-http.js';
import { createTransport, type FetchLike, type HttpMethod, type RawResponse, type RequestOptions, type Transport } from './transport.js';
import { startWatch, type Subscription, type WatchHandler, type WatchOptions } from './watch.js';
import { asEnvelope, type Envelope } from './wire.js';


/** The longest wait between two watch reconnects, whatever the retry setting. */
const WATCH_RECONNECT_CAP_MS = 30_000;
export interface CofferOptions {
  /** The server, e.g. `https://coffer.internal:8200`. */
  address: string;
  /** A token to use as is (or log in with one of the login methods instead). */
  token?: string;
  /** Sent as X-Vault-Namespace. */
  namespace?: string;
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Renew the supplied `token` in the background (tokens from a login are always renewed). */
  renewToken?: boolean;
  /**
   * Failures of background work (renewals, re-logins, watches, heartbeats), which is retried.
   * Default: a process warning. Messages never contain secrets.
   */
  onError?: (err: unknown) => void;
  /** After each successful background token renewal. */
  onTokenRenew?: (info: AuthInfo) => void;
  /** An HTTP implementation (default: the global fetch; `nodeHttpFetch` starts faster). */
  fetch?: FetchLike;
  /**
   * How an https server is verified, for one signed by a private CA: `caCert`, PEM certificates
   * trusted instead of Node's list (Vault's VAULT_CACERT), or `skipVerify` (never in
   * production). Requests then go through node:https (`createNodeHttpFetch`), since the global
   * fetch takes no CA; not together with `fetch`.
   */
  tls?: { caCert?: string | Buffer; skipVerify?: boolean };
  /**
   * The backoff of every background retry (token and lease renewal, re-login, consumer
   * heartbeats, watch reconnects): the first after `initialBackoffMs`, doubling, capped at
   * `maxBackoffMs` (watch reconnects at 30 s at most). Default: 2 s up to 30 s (watch
   * reconnects: 250 ms up to 30 s).
   */
  retry?: { initialBackoffMs: number; maxBackoffMs: number };
}

export interface CloseOptions {
  /** Also revoke the client token (default: only when the SDK obtained it by logging in). */
  revokeToken?: boolean;
}

/** Checked at construction: a backoff of 0 or NaN would retry in a busy loop. */
function retryOption(retry: CofferOptions['retry']): RetryBackoff | undefined {
  if (retry === undefined) return undefined;
  const { initialBackoffMs, maxBackoffMs } = retry ?? {};
  const valid = (ms: unknown): ms is number => typeof ms === 'number' && Number.isFinite(ms) && ms >= 1;
  if (!valid(initialBackoffMs) || !valid(maxBackoffMs) || maxBackoffMs < initialBackoffMs) {
    throw new CofferConfigError('retry needs initialBackoffMs and maxBackoffMs in milliseconds (at least 1), with maxBackoffMs not below initialBackoffMs');
  }
  return { initialMs: initialBackoffMs, maxMs: maxBackoffMs };
}

/** The fetch for `options`: theirs, one verifying with `tls`, or undefined (the global fetch). */
function fetchOption(options: CofferOptions): FetchLike | undefined {
  if (options.tls === undefined) return options.fetch;
  if (options.fetch !== undefined) throw new CofferConfigError('give tls or fetch, not both: tls builds its own fetch');
  const { caCert, skipVerify } = options.tls ?? {};
  const validCa = caCert === undefined || (typeof caCert === 'string' && caCert.includes('-----BEGIN CERTIFICATE-----')) || (Buffer.isBuffer(caCert) && caCert.includes('-----BEGIN CERTIFICATE-----'));
  if (!validCa) throw new CofferConfigError('tls.caCert must hold PEM certificates (-----BEGIN CERTIFICATE-----)');
  if (skipVerify !== undefined && typeof skipVerify !== 'boolean') throw new CofferConfigError('tls.skipVerify must be a boolean');
  return createNodeHttpFetch({ ...(caCert === undefined ? {} : { ca: caCert }), ...(skipVerify === true ? { rejectUnauthorized: false } : {}) });
}

function defaultOnError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.emitWarning(message, 'CofferWarning');
}

export class Coffer {
  readonly kv: KvClient;
  readonly db: DatabaseClient;
  readonly #transport: Transport;
  readonly #tokens: TokenManager;
  readonly #scheduler: Scheduler;
  readonly #rotation: RotationHelper;
  readonly #onError: (err: unknown) => void;
  readonly #retry: RetryBackoff | undefined;
  /** Handles this instance created; the value says whether a re-login should refresh it. */
  readonly #leases = new Map<LeasedSecret<unknown>, boolean>();
  readonly #watches = new Set<Subscription>();
  readonly #consumers = new Set<ConsumerHandle>();
  #loggedIn = false;
  #closed = false;
  readonly #request = (method: HttpMethod, path: string, options?: RequestOptions): Promise<RawResponse> => this.#transport.request(method, path, options);

  constructor(options: CofferOptions) {
    if (!options || typeof options.address !== 'string' || options.address === '') {
      throw new CofferConfigError('address is required, e.g. new Coffer({ address: "https://coffer.internal:8200" })');
    }
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
      throw new CofferConfigError('token must be a non-empty string when given');
    }
    const fetch = fetchOption(options);
    this.#onError = options.onError ?? defaultOnError;
    this.#retry = retryOption(options.retry);
    this.#scheduler = createScheduler((err) => this.#onError(err), undefined, this.#retry);
    let tokens: TokenManager | undefined;
    this.#transport = createTransport({
      address: options.address,
      namespace: options.namespace,
      fetch,
      timeoutMs: options.timeoutMs,
      token: () => {
        if (this.#closed) throw new CofferClosedError();
        return tokens?.forRequest();
      },
    });
    tokens = createTokenManager(options.token, {
      request: this.#request,
      scheduler: this.#scheduler,
      redactor: this.#transport.redactor,
      onError: this.#onError,
      onRenew: options.onTokenRenew,
    });
    this.#tokens = tokens;
    tokens.onRelogin(() => {
      // Leases die with the token that created them: get fresh secrets under the new token now.
      for (const [handle, refreshOnRelogin] of this.#leases) if (refreshOnRelogin) handle.refresh().catch(this.#onError);
    });
    this.kv = createKvClient(this.#request);
    this.db = createDatabaseClient({ read: (path) => this.read(path), leased: (path, toSecret, opts) => this.#openLeased(path, toSecret, opts) });
    this.#rotation = createRotationHelper({
      read: (path) => this.read(path),
      openLeased: (path, initial) => this.#openLeased(path, secretData, {}, initial),
      registerConsumer: (path, opts) => this.consumer(path, opts),
      scheduler: this.#scheduler,
      onError: this.#onError,
    });
    if (options.renewToken && options.token) this.#tokens.manage().catch(this.#onError);
  }

  /** The server address, without credentials. */
  get address(): string {
    return this.#transport.address;
  }

  /** The token in use (after a login, the token it returned). */
  get token(): string | undefined {
    return this.#tokens.current();
  }

  /** Uses `token` from now on; background renewal of a previous token stops. */
  setToken(token: string): void {
    this.#tokens.set(token);
    this.#loggedIn = false;
  }

  /** Looks up the current token and renews it in the background (for a supplied token). */
  renewTokenInBackground(): Promise<AuthInfo> {
    return this.#tokens.manage();
  }

  loginAppRole(options: AppRoleLoginOptions): Promise<AuthInfo> {
    return this.#login(appRoleLogin(options));
  }

  loginJwt(options: JwtLoginOptions): Promise<AuthInfo> {
    return this.#login(jwtLogin(options));
  }

  /** Kubernetes service-account login; reads the pod's token file unless `jwt` or `jwtFile` is given. */
  loginKubernetes(options: KubernetesLoginOptions): Promise<AuthInfo> {
    return this.#login(kubernetesLogin(options));
  }

  loginUserpass(options: UserpassLoginOptions): Promise<AuthInfo> {
    return this.#login(userpassLogin(options));
  }

  /** Reads any path; the whole answer (lease, data, warnings). Throws CofferNotFoundError when nothing is there. */
  async read<T = Record<string, unknown>>(path: string): Promise<Envelope<T>> {
    const res = await this.#request('GET', path);
    if (res.status === 204) throw new CofferNotFoundError(`GET ${path}: no data (HTTP 204)`, { status: 204, errors: [], method: 'GET', path });
    return asEnvelope<T>(res.body);
  }

  /** The secret's fields at `path` (a KV v2 read gives `data.data`, any other path `data`). */
  async secret<T = Record<string, unknown>>(path: string): Promise<T> {
    return secretData(await this.read(path)) as T;
  }

  /** The value of one reference, `PATH#FIELD` (e.g. `secret/data/app#api_key`). */
  async resolve(reference: string): Promise<string> {
    const ref = parseReference(reference);
    return referenceValue(await this.secret(ref.path), ref);
  }

  /** Writes to any path; the answer, or undefined for a 204. */
  async write<T = Record<string, unknown>>(path: string, data: Record<string, unknown>): Promise<Envelope<T> | undefined> {
    const res = await this.#request('POST', path, { body: data });
    return res.status === 204 ? undefined : asEnvelope<T>(res.body);
  }

  async delete(path: string): Promise<void> {
    await this.#request('DELETE', path);
  }

  /**
   * The answer a wrapping token holds (response wrapping: a `wrap_info.token` from a request
   * made with X-Vault-Wrap-TTL), exactly as its request would have received it. A wrapping token
   * unwraps once; the call is made with that token itself, so it needs no other.
   */
  async unwrap<T = Record<string, unknown>>(wrappingToken: string): Promise<Envelope<T>> {
    const res = await this.#request('POST', 'sys/wrapping/unwrap', { token: wrappingToken, body: {} });
    return asEnvelope<T>(res.body);
  }

  /** What a wrapping token holds (creation path, time and TTL), without spending it. */
  async lookupWrapping(wrappingToken: string): Promise<{ creation_path: string; creation_time: string; creation_ttl: number }> {
    const res = await this.#request('POST', 'sys/wrapping/lookup', { token: null, body: { token: wrappingToken } });
    const data = asEnvelope(res.body).data ?? {};
    return { creation_path: String(data['creation_path'] ?? ''), creation_time: String(data['creation_time'] ?? ''), creation_ttl: Number(data['creation_ttl'] ?? 0) };
  }

  /** Keys under a path; empty when there are none. */
  async list(path: string): Promise<string[]> {
    try {
      const data = asEnvelope((await this.#request('LIST', path)).body).data ?? {};
      return Array.isArray(data['keys']) ? data['keys'].map(String) : [];
    } catch (err) {
      if (err instanceof CofferNotFoundError) return [];
      throw err;
    }
  }

  /**
   * Reads a leased secret at `path` and keeps it: renewed in the background, replaced by a fresh
   * one before the lease ends for good (see LeasedSecretOptions.rotate). Revoked on close().
   */
  leased<T = Record<string, unknown>>(path: string, options: LeasedSecretOptions<T> = {}): Promise<LeasedSecret<T>> {
    return this.#openLeased(path, (envelope) => secretData(envelope) as T, options);
  }

  /**
   * Takes over the lease of an answer already read with read(): from now on it is renewed (and
   * replaced before it ends, unless `rotate: false`) and revoked by close().
   */
  async adoptLease<T = Record<string, unknown>>(path: string, envelope: Envelope<unknown>, options: LeasedSecretOptions<T> = {}): Promise<LeasedSecret<T>> {
    if (envelope.lease_id === '') throw new CofferConfigError('the answer has no lease to adopt');
    return this.#openLeased(path, (e) => secretData(e) as T, options, envelope);
  }

  /**
   * Revokes one lease now. A handle of this instance holding it (and rotating) reads a fresh
   * secret at once, announced to its onRotate; a lease revoked elsewhere is noticed only at the
   * handle's next renewal, since the server pushes no lease events.
   */
  async revokeLease(leaseId: string): Promise<void> {
    await this.#request('PUT', 'sys/leases/revoke', { body: { lease_id: leaseId } });
    for (const [handle, rotates] of this.#leases) {
      // The revocation stands either way; a failed read is the handle's to retry, reported like its other background work.
      if (rotates && handle.leaseId === leaseId) await handle.refresh().catch(this.#onError);
    }
  }

  /**
   * Calls `handler` for every change under `prefix` the token may read (SSE, reconnecting;
   * long-poll when SSE is unavailable). Returns the function that stops it.
   */
  watch(prefix: string, handler: WatchHandler, options: WatchOptions = {}): Subscription {
    this.#open();
    // A configured retry paces reconnects too, but never past WATCH_RECONNECT_CAP_MS: a reconnect
    // is one cheap request, and the watch is how a client learns, after an outage, that what it
    // holds changed (a retry.max_backoff of minutes would leave it unaware that long).
    const scheduler = this.#scheduler;
    const reconnectDelay = this.#retry ? (failures: number): number => Math.min(scheduler.backoff(failures), WATCH_RECONNECT_CAP_MS) : undefined;
    const subscription = startWatch(this.#transport, prefix, handler, options, this.#onError, reconnectDelay);
    this.#watches.add(subscription);
    const stop = (): void => {
      this.#watches.delete(subscription);
      subscription();
    };
    Object.defineProperty(stop, 'ready', { value: subscription.ready });
    Object.defineProperty(stop, 'mode', { get: () => subscription.mode });
    Object.defineProperty(stop, 'position', { get: () => subscription.position });
    return stop as Subscription;
  }

  /** Registers this process as a consumer of the secret at `path`; check in with `handle.checkIn(version)`. */
  async consumer(path: string, options: ConsumerOptions = {}): Promise<ConsumerHandle> {
    this.#open();
    const handle = await registerConsumer(this.#request, this.#scheduler, path, options, this.#onError);
    this.#consumers.add(handle);
    return handle;
  }

  /**
   * Calls `fn` with the current secret at `path`; if `fn` fails because the credential was
   * refused (options.isAuthError), reads the secret again and calls `fn` once more.
   */
  withRotation<T = Record<string, unknown>, R = unknown>(path: string, fn: (secret: T) => R | Promise<R>, options: WithRotationOptions = {}): Promise<R> {
    this.#open();
    return this.#rotation.run(path, fn, options);
  }

  /**
   * Stops all background work, closes watches, deregisters consumers and revokes every lease
   * this instance created; revokes the token if it came from a login (or `revokeToken`).
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return;
    for (const watch of this.#watches) watch();
    this.#watches.clear();
    const work: Promise<unknown>[] = [this.#rotation.close()];
    for (const handle of this.#leases.keys()) work.push(handle.close());
    for (const consumer of this.#consumers) work.push(consumer.close());
    this.#leases.clear();
    this.#consumers.clear();
    let results = await Promise.allSettled(work);
    if (options.revokeToken ?? this.#loggedIn) {
      const [revoked] = await Promise.allSettled([this.#tokens.revokeSelf()]);
      // Revoking the token revokes its leases too, so a policy without sys/leases/revoke is no failure then.
      if (revoked.status === 'fulfilled') results = results.filter((r) => !(r.status === 'rejected' && r.reason instanceof CofferPermissionDeniedError));
      else results.push(revoked);
    }
    this.#tokens.stop();
    this.#scheduler.stop();
    this.#closed = true;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #open(): void {
    if (this.#closed) throw new CofferClosedError();
  }

  async #login(method: LoginMethod): Promise<AuthInfo> {
    this.#open();
    const info = await this.#tokens.login(method);
    this.#loggedIn = true;
    return info;
  }

  async #openLeased<T>(path: string, toSecret: (envelope: Envelope<unknown>) => T, options: LeasedSecretOptions<T>, initial?: Envelope<unknown>): Promise<LeasedSecret<T>> {
    this.#open();
    const clean = path.replace(/^\/+/, '').replace(/\/+$/, '');
    const handle = await openLeasedSecret<T>(
      {
        path: clean,
        read: () => this.read(clean),
        request: this.#request,
        scheduler: this.#scheduler,
        toSecret,
        onError: this.#onError,
        ...(initial ? { initial } : {}),
      },
      options,
    );
    if (this.#closed) {
      await handle.close();
      throw new CofferClosedError();
    }
    const tracked = handle as LeasedSecret<unknown>;
    this.#leases.set(tracked, options.rotate ?? true);
    // A handle closed by the application is no longer this instance's to revoke.
    const close = handle.close;
    const untrack = async (): Promise<void> => {
      this.#leases.delete(tracked);
      await close();
    };
    return Object.assign(Object.create(handle) as LeasedSecret<T>, { close: untrack, revoke: untrack });
  }
}
