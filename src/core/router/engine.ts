/**
 * What a secrets engine or auth method is, seen from the router.
 *
 * An engine is data: a list of path specs, each a regular expression relative to the mount with
 * one handler per operation. The router builds a fresh, narrowed EngineRequest for every call;
 * an engine never sees the raw client token, other mounts' storage or key material.
 */
import type { Clock } from '../clock.js';
import type { WrapInfo } from '../wrapping/response-wrapping.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import type { EventBus } from '../events/event-bus.js';
import type { ConsumerRegistry } from '../consumers/consumer-registry.js';

/** Operations as the ACL knows them. POST/PUT become create or update via the existence check. */
export type Operation = 'read' | 'list' | 'create' | 'update' | 'patch' | 'delete';

/** Who is calling, as far as an engine may know. Never holds the raw token. */
export interface RequestAuth {
  /** The token's storage id (an HMAC of the token), usable as an opaque handle, not as a credential. */
  readonly tokenId: string;
  readonly accessor: string;
  readonly displayName: string;
  readonly policies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly entityId: string;
  readonly isRoot: boolean;
}

export interface EngineRequest {
  readonly requestId: string;
  /**
   * What the ACL checked. A handler must not tell create from update by it: the pipeline skips
   * the existence check where its answer cannot change the outcome, and then a write to a new
   * path arrives as 'update'. A path that must treat them differently gives `create` a handler
   * of its own, which makes the check run.
   */
  readonly operation: Operation;
  /** Path relative to the mount, no leading slash ('' for the mount root). */
  readonly path: string;
  /** Named groups captured by the matched PathSpec pattern. */
  readonly params: Readonly<Record<string, string>>;
  /** The JSON body for writes, the query parameters for reads and lists. Never null. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The mount this request was routed to, e.g. 'secret/' or 'auth/token/'. */
  readonly mountPath: string;
  /** Undefined only on unauthenticated paths. */
  readonly auth: RequestAuth | undefined;
  readonly remoteAddress: string;
  /** The response-wrapping TTL the request asked for (X-Vault-Wrap-TTL), seconds; absent when none. */
  readonly wrapTtl?: number | undefined;
}

/** The auth block of a login or token creation response (Vault's `auth`). */
export interface AuthResponse {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: 'service' | 'batch';
  orphan: boolean;
  num_uses: number;
  mfa_requirement: null;
}

/**
 * A leased secret an engine hands out (a dynamic credential). The core registers the lease,
 * fills `lease_id`, `lease_duration` and `renewable` in the response, and routes renewal and
 * revocation back to the engine's `secretTypes[type]`, so engines keep no lease bookkeeping.
 */
export interface SecretLeaseRequest {
  /** Key into Engine.secretTypes. */
  type: string;
  /** Requested TTL in seconds; 0 = the mount's (or system) default. Capped by max TTLs. */
  ttl: number;
  /** The role's max TTL in seconds; 0 = only the mount/system max applies. */
  maxTtl: number;
  renewable: boolean;
  /**
   * Engine-private data needed to renew or revoke (username, config name, statements). Stored
   * encrypted with the lease, never returned to clients, never written to audit logs.
   */
  internal: Record<string, unknown>;
  /**
   * Makes the secret in the target system, for an engine that leaves that to the core so the
   * lease can be stored at the same time (work on both sides overlaps instead of queueing).
   * `leaseStored` resolves once the lease is durable and rejects if it cannot be stored: the
   * secret must not exist durably before it resolves (prepare, then commit after it), nor at
   * all if it rejects, so a crash at any moment leaves no secret without a lease. Revocation
   * must therefore succeed for a secret that was never made.
   * The response goes out only once both succeeded; if `create` fails, the request fails with
   * its error and the lease is deleted, so `create` must leave nothing behind when it fails. When
   * it cannot know that (a lost connection, a failed cleanup), it throws a CofferError with
   * `outcomeUnknown`: the lease is then kept and revoked at once. Absent: the engine made the
   * secret before returning.
   */
  create?: (leaseStored: Promise<void>) => Promise<void>;
}

/** What an engine sees of one of its leases when asked to renew or revoke it. */
export interface LeaseView {
  readonly id: string;
  readonly internal: Readonly<Record<string, unknown>>;
  /** Milliseconds since the epoch. */
  readonly issueTime: number;
  /** Milliseconds since the epoch: when the lease ends after this renewal (renew) or ended (revoke). */
  readonly expireTime: number;
}

/** The TTLs a renewal of a lease is held to now, in seconds (Vault: a renew response's Secret.TTL and MaxTTL). */
export interface RenewalTtls {
  /** The increment when the caller asks for none (the role's default TTL now, else the mount's). */
  ttl: number;
  /**
   * How long the lease may live, counted from its issue time: the role's max TTL now, capped by
   * the mount's max now. 0 = no cap beyond the one the lease was issued with.
   */
  maxTtl: number;
}

export interface SecretType {
  /**
   * Read before every renewal, so that lowering a role's or the mount's TTLs caps leases already
   * issued, as in Vault. The lease manager never extends a lease past the max it was issued with
   * either. Throws to refuse the renewal (say, the lease's role was deleted). Absent = the
   * lease's issue-time TTLs apply.
   */
  renewalTtls?(lease: LeaseView): Promise<RenewalTtls>;
  /**
   * Extends the secret's validity in the target system up to `lease.expireTime` (for example
   * VALID UNTIL). Absent = renewing only moves Coffer's expiry.
   */
  renew?(lease: LeaseView): Promise<void>;
  /** Removes the secret from the target system. Must be idempotent: it may be retried. */
  revoke(lease: LeaseView): Promise<void>;
}

/** What an auth method decides about a caller who proved an identity. */
export interface LoginResult {
  /** Policy names (canonicalised by the core; 'root' is refused). */
  policies: string[];
  /** Shown in lookups and audit logs, e.g. the role or user name. Sanitised by the core. */
  displayName: string;
  /** Non-secret facts about the identity (role_name, service account, username). */
  metadata: Record<string, string>;
  /** Seconds; 0 = the mount's default. */
  ttl: number;
  /** Seconds; 0 = the mount's maximum. Already lowered to explicitMaxTtl when that is smaller. */
  maxTtl: number;
  /**
   * Seconds; 0 or absent = none. The hard end of the token even when it is periodic (a periodic
   * token otherwise ignores maxTtl, which only caps its period).
   */
  explicitMaxTtl?: number;
  /** Seconds; > 0 makes a periodic token. Capped by the core at the effective max TTL. */
  period?: number;
  numUses?: number;
  renewable?: boolean;
  noDefaultPolicy?: boolean;
  /**
   * CIDR blocks the token is tied to (`token_bound_cidrs`): the core refuses the token on any
   * request from outside them. Absent or empty = any address.
   */
  boundCidrs?: string[];
}

export interface EngineResponse {
  /** The response `data`; null or absent with no other fields gives 204. */
  data?: Record<string, unknown> | null;
  /** HTTP status for a response that carries data with an error (KV v2 deleted version: 404). */
  statusCode?: number;
  /** Error strings when statusCode >= 400. */
  errors?: string[];
  warnings?: string[];
  auth?: AuthResponse;
  /** Keys of `data` that are not secret and may be written to audit logs in clear. */
  auditNonHmacKeys?: string[];
  /**
   * Where `data` holds what a client stored (a KV secret read back): 'all', or the top-level key
   * holding it. The audit log hashes the numbers there too, not only the strings.
   */
  auditStoredData?: 'all' | string;
  /** Makes this response a leased secret. */
  secret?: SecretLeaseRequest;
  /**
   * A successful login (auth methods only): the core creates an orphan service token with these
   * properties, capped by the auth mount's TTLs, and returns it as the response's `auth`.
   */
  login?: LoginResult;
  /** The envelope's lease fields; set by the core (new leases, sys/leases/renew), not engines. */
  lease?: { id: string; duration: number; renewable: boolean };
  /**
   * A refresh hint for what was read, without a lease (KV v1, as Vault's passthrough backend):
   * the envelope's lease_duration, seconds; 0 = the mount's default lease TTL.
   */
  refreshInterval?: number;
  /**
   * The request changed nothing (a delete of what is already gone): answered as without it, but
   * no change event is published, so watchers do not re-read for nothing.
   */
  unchanged?: boolean;
  /**
   * Built-in engines only (sys/seal): work that must wait until this request has left the core,
   * because it waits for every request in the core to finish, this one included. Whoever
   * admitted the request (Lifecycle.admit) runs it right after releasing the request, and
   * answers once it has settled (its failure is the answer). Never audited, never on the wire.
   */
  afterRelease?: () => Promise<void>;
  /** An already wrapped answer (sys/wrapping/rewrap): sent as `wrap_info`, never wrapped again. */
  wrapInfo?: WrapInfo;
  /**
   * Undoes what producing this answer created (a new AppRole secret ID). The core calls it when
   * the answer can never reach anyone: its response wrapping failed to store. Never on the wire.
   */
  withdraw?: () => Promise<void>;
  /** A body sent as it is, without the envelope (sys/wrapping/unwrap returns the stored response). */
  rawBody?: Record<string, unknown>;
}

/** A response answered 204 with no body: null, or one with nothing to put in an envelope. */
export function isEmptyResponse(response: EngineResponse | null): boolean {
  return (
    response === null ||
    (response.data == null && !response.auth && !response.warnings && !response.statusCode && !response.lease && !response.wrapInfo && !response.rawBody)
  );
}

export type Handler = (req: EngineRequest) => Promise<EngineResponse | null>;

export interface PathSpec {
  /**
   * Regular expression source matched against the whole relative path (anchors are added).
   * Use named groups for parameters: 'data/(?<path>.+)'.
   */
  readonly pattern: string;
  readonly operations: Partial<Record<Operation, Handler>>;
  /**
   * Tells create from update for POST/PUT. Without it, every write is an 'update' for the ACL,
   * as in Vault.
   */
  readonly existenceCheck?: (req: EngineRequest) => Promise<boolean>;
  /**
   * Requires the 'sudo' capability (or root) on top of the operation's capability: for every
   * operation, or for those listed (one path may serve a plain read and a privileged list).
   */
  readonly sudo?: boolean | readonly Operation[];
  /**
   * The relative path as the handler acts on it, for paths whose handler canonicalises a name
   * (Vault lower-cases user and policy names; Coffer also trims them): the ACL must allow that
   * path as well as the one requested, or a deny written for `users/admin/password` would not
   * stop `users/ADMIN/password`, which changes the same user.
   */
  readonly canonicalPath?: (params: Readonly<Record<string, string>>) => string;
  /** Reachable without a token (logins). */
  readonly unauthenticated?: boolean;
  /**
   * Every body field a write (create, update, patch) of this path reads; the pattern's named
   * groups count too. A write carrying others succeeds, and an answer with a body carries
   * Vault's warning naming them (a 204 stays a 204, as in Vault), so a misspelt field is
   * reported when it is sent rather than found missing later. Absent: the path stores whatever
   * it is given (KV v1, cubbyhole) and nothing is warned.
   */
  readonly fields?: ReadonlySet<string>;
  /** One line for `?help=1` and the docs. */
  readonly description?: string;
}

/** A token's login as the token store kept it, shown to the auth method that issued it at renewal. */
export interface LoginRenewal {
  /** The login path within the mount ('login', 'login/alice'). */
  readonly path: string;
  /** The metadata the login gave the token (role_name, role, username...). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The token's policies ('default' included unless the login refused it). */
  readonly policies: readonly string[];
}

/**
 * The token settings of the role or user behind a login as they are now, which a renewal applies
 * (Vault's renew handlers return them): seconds, 0 = not set by the role.
 */
export interface LoginRenewalLimits {
  readonly ttl: number;
  readonly maxTtl: number;
  readonly period: number;
  /**
   * A hard limit from creation, seconds, on top of the token's own (a token role's current
   * token_explicit_max_ttl); the smaller non-zero one holds. Absent or 0: only the token's.
   */
  readonly explicitMaxTtl?: number;
}

export interface Engine {
  readonly type: string;
  readonly paths: readonly PathSpec[];
  /** How to renew and revoke each kind of leased secret this engine issues. */
  readonly secretTypes?: Readonly<Record<string, SecretType>>;
  /**
   * Auth methods: asked before a token issued by one of their logins is renewed, as Vault asks
   * the backend's renew handler. Throws (bad_request, saying why) to refuse: the role or user is
   * gone, or its policies changed. Resolves with the role's current token TTLs, which the renewal
   * applies, so shortening a role's token_max_ttl also caps tokens it issued earlier. Absent =
   * such tokens renew within their own limits.
   */
  checkRenewal?(login: LoginRenewal): Promise<LoginRenewalLimits | undefined>;
  /**
   * Engines with versioned secrets (KV v2 data, database static credentials): asked before a
   * consumer's report that it uses `version` (> 0) of the secret at `path` (relative to the mount)
   * is recorded (sys/consumers). Resolves with why no consumer can be using it, as the sentence
   * the caller gets ("version 5 does not exist: the current version is 4"), or undefined when one
   * can. An older version, even one destroyed or no longer kept, can still be in use by a
   * straggler and is taken. Never names the path or holds secret data. Reports for paths
   * that hold no versioned secret of the engine, or for engines without this, are taken as given:
   * rotations verify only versioned secrets.
   */
  checkConsumerVersion?(path: string, version: number): Promise<string | undefined>;
  /** Called after the mount is set up (and after every unseal). */
  initialize?(): Promise<void>;
  /** Called before the mount is removed or the server seals; release timers and pools. */
  shutdown?(): Promise<void>;
}

/** Live view of a mount's settings; tuning changes what these getters return. */
export interface MountInfo {
  readonly path: string;
  readonly uuid: string;
  readonly type: string;
  readonly options: Readonly<Record<string, string>>;
  /**
   * Seconds: the lease TTLs this mount grants, its tuning or else the server's system TTLs (0
   * only in engine test harnesses, meaning Vault's 768h).
   */
  readonly defaultLeaseTtl: number;
  readonly maxLeaseTtl: number;
}

export interface EngineAuditEntry {
  /** Full API path the action concerns, e.g. 'database/static-creds/app'. */
  path: string;
  operation: string;
  data: Record<string, unknown>;
  /** Keys of `data` that are not secret (ids, versions) and are written in clear. */
  nonHmacKeys?: string[];
}

export interface EngineContext {
  /** This mount's own storage view; keys are relative to it. */
  readonly storage: Storage;
  /**
   * Publishes changes the engine makes on its own (not in answer to a write request, which the
   * core publishes itself), e.g. a scheduled rotation: `{ path: 'database/static-creds/app',
   * version: 7, event: 'rotate' }`. Paths are full API paths including the mount.
   */
  readonly events?: Pick<EventBus, 'publish'>;
  /** Who consumes a secret and which version they hold (rotation verification). */
  readonly consumers?: Pick<ConsumerRegistry, 'list' | 'servingSince'>;
  /**
   * Records something the engine did on its own initiative (a scheduled rotation revoking a
   * credential consumers still held) in the audit log. Throws 'audit_failed' when audit devices
   * are enabled and none could record it: callers treat that as "do not proceed yet".
   */
  readonly audit?: { record(entry: EngineAuditEntry): void };
  // (All three are always set by the mount manager; optional only so engine test harnesses may omit them.)
  readonly clock: Clock;
  readonly logger: Logger;
  readonly mount: MountInfo;
}

export type EngineFactory = (ctx: EngineContext) => Engine;
