/**
 * Audit entries: the Vault-shaped JSON objects written for every audited request and response.
 *
 * Owns: the input types the request pipeline hands to the broker, and the mapping from them to
 * entries with every token, accessor and data string HMAC'd. It must never put a raw token,
 * accessor or data string into an entry, and never return an entry that aliases its input.
 */
import { rfc3339 } from '../clock.js';
import { copyValue, redactData, redactValue, type Hasher } from './hmac.js';

export interface AuditAuthInfo {
  /** The raw client token; only its HMAC is written. */
  clientToken?: string;
  /** The token's accessor; only its HMAC is written. */
  accessor?: string;
  displayName?: string;
  policies?: string[];
  tokenPolicies?: string[];
  metadata?: Record<string, string>;
  entityId?: string;
  tokenType?: string;
  tokenTtl?: number;
}

export interface AuditRequestInfo {
  id: string;
  operation: string;
  path: string;
  mountType?: string;
  mountPoint?: string;
  remoteAddress: string;
  data?: Record<string, unknown> | null;
  clientToken?: string;
  clientTokenAccessor?: string;
  /** Top-level keys of `data` written in clear (the mount's audit_non_hmac_request_keys). */
  nonHmacKeys?: string[];
}

export interface AuditResponseInfo {
  statusCode: number;
  data?: Record<string, unknown> | null;
  auth?: { client_token: string; accessor: string; [k: string]: unknown } | null;
  warnings?: string[] | null;
  /** Top-level keys of `data` written in clear (the engine's or mount's non-HMAC response keys). */
  nonHmacKeys?: string[];
  /** Where `data` holds client-stored values, whose numbers are hashed too ('all' or a top-level key). */
  storedData?: 'all' | string;
  /** A wrapped response's `wrap_info` (core/wrapping): its token and accessors are hashed. */
  wrapInfo?: { token: string; accessor: string; ttl: number; creation_time: string; creation_path: string; wrapped_accessor?: string };
}

export interface AuditEvent {
  /** Milliseconds since the epoch. */
  time: number;
  auth?: AuditAuthInfo;
  request: AuditRequestInfo;
  response?: AuditResponseInfo;
  error?: string;
}

export type AuditEntryType = 'request' | 'response';

/** One audit line before the device adds its hash chain. Already redacted. */
export interface AuditEntry {
  type: AuditEntryType;
  time: string;
  auth: Record<string, unknown>;
  request: Record<string, unknown>;
  response?: Record<string, unknown>;
  error: string;
}

/**
 * Keys of a response `auth` block that carry no secret and stay readable. Any other key is
 * redacted like data, so a new field is hashed until someone decides it is safe.
 */
const CLEAR_RESPONSE_AUTH_KEYS: ReadonlySet<string> = new Set([
  'display_name',
  'policies',
  'token_policies',
  'identity_policies',
  'metadata',
  'entity_id',
  'token_type',
  'lease_duration',
  'renewable',
  'orphan',
  'num_uses',
]);

/** An empty token or accessor reveals nothing, and Vault writes it as "" too. */
const hashOptional = (hash: Hasher, value: string | undefined): string | undefined =>
  value === undefined || value === '' ? value : hash(value);

// Values that are not secret are still copied, so an entry never aliases the caller's objects.
const copyClear = copyValue;

function buildAuth(auth: AuditAuthInfo | undefined, hash: Hasher): Record<string, unknown> {
  if (auth === undefined) return {};
  const out: Record<string, unknown> = {};
  if (auth.clientToken !== undefined) out['client_token'] = hashOptional(hash, auth.clientToken);
  if (auth.accessor !== undefined) out['accessor'] = hashOptional(hash, auth.accessor);
  if (auth.displayName !== undefined) out['display_name'] = auth.displayName;
  if (auth.policies !== undefined) out['policies'] = copyClear(auth.policies);
  if (auth.tokenPolicies !== undefined) out['token_policies'] = copyClear(auth.tokenPolicies);
  if (auth.metadata !== undefined) out['metadata'] = copyClear(auth.metadata);
  if (auth.entityId !== undefined) out['entity_id'] = auth.entityId;
  if (auth.tokenType !== undefined) out['token_type'] = auth.tokenType;
  if (auth.tokenTtl !== undefined) out['token_ttl'] = auth.tokenTtl;
  return out;
}

/** `hashIdentity` hashes the token and accessor; `hash`, the request data. */
function buildRequest(req: AuditRequestInfo, hash: Hasher, hashIdentity: Hasher = hash): Record<string, unknown> {
  const out: Record<string, unknown> = { id: req.id, operation: req.operation };
  if (req.mountType !== undefined) out['mount_type'] = req.mountType;
  if (req.mountPoint !== undefined) out['mount_point'] = req.mountPoint;
  if (req.clientToken !== undefined) out['client_token'] = hashOptional(hashIdentity, req.clientToken);
  if (req.clientTokenAccessor !== undefined) out['client_token_accessor'] = hashOptional(hashIdentity, req.clientTokenAccessor);
  out['namespace'] = { id: 'root' };
  out['path'] = req.path;
  // Request data is what the client sent: its numbers are its own, and hashed like its strings.
  if (req.data !== undefined) out['data'] = redactData(req.data, hash, req.nonHmacKeys ?? [], { hashNumbersUnder: 'all' });
  out['remote_address'] = req.remoteAddress;
  return out;
}

function buildResponseAuth(auth: NonNullable<AuditResponseInfo['auth']>, hash: Hasher): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(auth)) {
    const value = auth[key];
    if (key === 'client_token' || key === 'accessor') {
      // A non-string here is a bug upstream; hash its text rather than trust it.
      out[key] = typeof value === 'string' ? hashOptional(hash, value) : redactValue(value, hash);
    } else if (CLEAR_RESPONSE_AUTH_KEYS.has(key)) {
      out[key] = copyClear(value);
    } else {
      out[key] = redactValue(value, hash);
    }
  }
  return out;
}

function buildResponse(event: AuditEvent, res: AuditResponseInfo, hash: Hasher): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (event.request.mountType !== undefined) out['mount_type'] = event.request.mountType;
  if (event.request.mountPoint !== undefined) out['mount_point'] = event.request.mountPoint;
  out['status_code'] = res.statusCode;
  if (res.auth !== undefined) out['auth'] = res.auth === null ? null : buildResponseAuth(res.auth, hash);
  // Numbers an engine computed (a TTL, a version) stay readable; those a client stored do not.
  if (res.data !== undefined) out['data'] = redactData(res.data, hash, res.nonHmacKeys ?? [], res.storedData === undefined ? {} : { hashNumbersUnder: res.storedData });
  if (res.warnings !== undefined) out['warnings'] = copyClear(res.warnings);
  if (res.wrapInfo !== undefined) {
    const { token, accessor, wrapped_accessor: wrappedAccessor, ...clear } = res.wrapInfo;
    out['wrap_info'] = {
      ...clear,
      token: hashOptional(hash, token),
      accessor: hashOptional(hash, accessor),
      ...(wrappedAccessor === undefined ? {} : { wrapped_accessor: hashOptional(hash, wrappedAccessor) }),
    };
  }
  return out;
}

/** The redacted `auth` and `request` blocks of one event for one device key. */
interface SharedBlocks {
  readonly authSource: AuditAuthInfo | undefined;
  readonly auth: Record<string, unknown>;
  readonly request: Record<string, unknown>;
}

/**
 * The blocks built for an event's request entry, kept for its response entry. Both entries
 * carry the same `auth` and `request` blocks, and building them again meant four more HMACs of
 * the token and accessor and a second walk over the request data for every audited request.
 * Keyed by the event's request object, which the response event shares (it is the request event
 * spread with a response), then by the device's hasher; held weakly, so they go with the
 * request. Entries are never changed after they are built (a device that must shorten one
 * copies it), so the two entries may share the blocks.
 */
const sharedBlocks = new WeakMap<AuditRequestInfo, Map<Hasher, SharedBlocks>>();

/** An entry's token and accessor appear in both blocks: each is hashed once per build. */
function hashingOnce(hash: Hasher): Hasher {
  const done = new Map<string, string>();
  return (value) => {
    let hashed = done.get(value);
    if (hashed === undefined) {
      hashed = hash(value);
      done.set(value, hashed);
    }
    return hashed;
  };
}

function blocksFor(event: AuditEvent, hash: Hasher): SharedBlocks {
  let perHasher = sharedBlocks.get(event.request);
  const kept = perHasher?.get(hash);
  // A response event whose auth is not the request's (a login's) gets blocks of its own.
  if (kept !== undefined && kept.authSource === event.auth) return kept;
  const once = hashingOnce(hash);
  // Only the token and accessor go through `once`: data strings are hashed as they come.
  const blocks: SharedBlocks = { authSource: event.auth, auth: buildAuth(event.auth, once), request: buildRequest(event.request, hash, once) };
  if (perHasher === undefined) {
    perHasher = new Map();
    sharedBlocks.set(event.request, perHasher);
  }
  perHasher.set(hash, blocks);
  return blocks;
}

/** The `type: "request"` entry, written before the handler runs. */
export function buildRequestEntry(event: AuditEvent, hash: Hasher): AuditEntry {
  const { auth, request } = blocksFor(event, hash);
  return { type: 'request', time: rfc3339(event.time), auth, request, error: event.error ?? '' };
}

/** The `type: "response"` entry, written after the handler, before the client sees the result. */
export function buildResponseEntry(event: AuditEvent, hash: Hasher): AuditEntry {
  const { auth, request } = blocksFor(event, hash);
  return {
    type: 'response',
    time: rfc3339(event.time),
    auth,
    request,
    response: buildResponse(event, event.response ?? { statusCode: 0 }, hash),
    error: event.error ?? '',
  };
}
