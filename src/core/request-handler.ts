/**
 * The request pipeline every authenticated API call goes through, in this order:
 * sealed check → token (with its bound CIDRs, against the client address) → route → operation
 * (existence check) → ACL → use count → audit request → engine → audit response.
 *
 * It knows nothing of HTTP: the wire layers (Vault JSON, later AWS) build an ApiRequest and
 * render the ApiResult. Audit is fail-closed: with devices enabled, a request that cannot be
 * logged is refused before the engine runs.
 */
import type { AuditBroker } from './audit/broker.js';
import type { AuditEvent, AuditResponseInfo } from './audit/entry.js';
import type { Clock } from './clock.js';
import { badRequest, CofferError, isCofferError, permissionDenied } from './errors.js';
import type { Logger } from './logger.js';
import type { PolicyStore } from './policy/store.js';
import { attachClientToken } from './request-context.js';
import { responseEnvelope } from './response-envelope.js';
import type { ResponseWrapping } from './wrapping/response-wrapping.js';
import { isEmptyResponse, type EngineRequest, type EngineResponse, type LoginResult, type Operation, type PathSpec, type RequestAuth } from './router/engine.js';
import { engineHelp, pathHelp } from './router/path-help.js';
import { warnIgnoredFields } from './router/ignored-fields.js';
import { canonicalPolicyName } from './policy/parse.js';
import { authBlock } from './tokens/token-response.js';
import type { MountEntry } from './router/mount-table.js';
import type { RoutedMount, Router } from './router/router.js';
import type { TokenEntry, TokenStore } from './tokens/token-store.js';
import type { LeaseManager } from './leases/lease-manager.js';
import type { EventBus } from './events/event-bus.js';
import { changeEventFor } from './events/change-events.js';
import { addressAllowed } from './cidr.js';
import { formatDuration } from './duration.js';

/**
 * The HTTP verb, reduced to what decides the operation; 'help' is Vault's `?help=1`, which
 * describes the path and runs nothing (with any method).
 */
export type RequestVerb = 'read' | 'list' | 'write' | 'delete' | 'patch' | 'help';

export interface ApiRequest {
  readonly requestId: string;
  readonly verb: RequestVerb;
  /** Normalised path after '/v1/'. */
  readonly path: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly clientToken: string | undefined;
  readonly remoteAddress: string;
  /** X-Vault-Wrap-TTL, seconds (positive): answer with a wrapping token instead (core/wrapping). */
  readonly wrapTtl?: number | undefined;
}

export interface ApiResult {
  readonly response: EngineResponse | null;
  readonly mountType: string | undefined;
}

export interface RequestHandlerDeps {
  router: Router<MountEntry>;
  leases: Pick<LeaseManager, 'register' | 'revoke'>;
  events: Pick<EventBus, 'publish'>;
  /** System default and maximum lease TTLs, seconds (mounts may tune lower). */
  systemTtl: { defaultSeconds: number; maxSeconds: number };
  tokens: TokenStore;
  policies: PolicyStore;
  audit: AuditBroker;
  clock: Clock;
  logger: Logger;
  isSealed(): boolean;
  /** Response wrapping; absent where no token can be made (an HTTP replica forwards such requests). */
  wrapping?: ResponseWrapping;
}

export type RequestHandler = (req: ApiRequest) => Promise<ApiResult>;

const VERB_OPERATION: Record<Exclude<RequestVerb, 'write' | 'help'>, Operation> = {
  read: 'read',
  list: 'list',
  delete: 'delete',
  patch: 'patch',
};

/** The operation a refusal is audited under, before the existence check could tell create from update. */
function refusedOperation(verb: RequestVerb): Operation | 'help' {
  if (verb === 'write') return 'update';
  return verb === 'help' ? 'help' : VERB_OPERATION[verb];
}

/** See auditEvent: the most values of a refused request's data audited one by one. */
const SUMMARISED_ABOVE_VALUES = 1_000;
const SUMMARY_KEY = 'coffer_refused_data_summary';

/** How many scalar values `value` holds, counting no further than `limit` + 1. */
function countValues(value: unknown, limit: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= limit) {
    const next = stack.pop();
    if (next !== null && typeof next === 'object') {
      for (const child of Object.values(next)) stack.push(child);
    } else {
      count += 1;
    }
  }
  return count;
}

/** Whether a sys/wrapping call names its wrapping token in the body (else the client token is it). */
function hasBodyToken(data: Readonly<Record<string, unknown>>): boolean {
  return data.token !== undefined && data.token !== null && data.token !== '';
}

/** Whether the token may be used by a client at `address` (its bound CIDRs, if any). */
function usableFrom(entry: TokenEntry, address: string): boolean {
  return entry.boundCidrs === undefined || addressAllowed(address, entry.boundCidrs);
}

function requestAuth(entry: TokenEntry): RequestAuth {
  return {
    tokenId: entry.id,
    accessor: entry.accessor,
    displayName: entry.displayName,
    policies: entry.policies,
    metadata: entry.meta,
    entityId: entry.entityId,
    isRoot: entry.policies.includes('root'),
  };
}

/**
 * Whether an answer is wrapped when the request asks for it: one with something to hand over
 * and a success status. An empty answer (204) has nothing to wrap, an error is sent as it is,
 * and an answer that is already a wrap_info (rewrap) is not wrapped again. An unwrapped body
 * is (unwrap with X-Vault-Wrap-TTL hands it on in a new wrapping token); Vault does the same.
 */
function isWrappable(response: EngineResponse | null): response is EngineResponse {
  if (response === null || isEmptyResponse(response)) return false;
  if (response.wrapInfo !== undefined) return false;
  return (response.statusCode ?? 200) < 300;
}

/**
 * What wrap_info.wrapped_accessor names, as in Vault: the accessor of a token a login made, or
 * of an AppRole secret ID, so its holder can be traced or revoked without unwrapping.
 */
function wrappedAccessorOf(response: EngineResponse, mountType: string): string | undefined {
  if (response.auth) return response.auth.accessor;
  // Only the AppRole engine's own answer: anywhere else the field is whatever a client stored.
  const secretIdAccessor = mountType === 'approle' ? response.data?.['secret_id_accessor'] : undefined;
  return typeof secretIdAccessor === 'string' ? secretIdAccessor : undefined;
}

export function createRequestHandler(deps: RequestHandlerDeps): RequestHandler {
  const { router, tokens, policies, audit, clock } = deps;

  // Built field by field rather than with spreads: this runs twice for every audited request,
  // and each object spread costs about a microsecond here.
  /**
   * `refused`: the request is being refused (no valid token, a policy, an unserved path). Its
   * data is then audited value by value only up to SUMMARISED_ABOVE_VALUES; past that, as a
   * count. Every value costs an HMAC and ~80 bytes of audit line, so a refused 1 MB body of
   * 100,000 empty strings would cost 17 MB of audit log and half a second of the event loop,
   * from a client with no token at all (CVE-2025-6203's class). Requests a valid token is
   * allowed to make are audited in full.
   */
  const auditEvent = (req: ApiRequest, operation: Operation | 'help', token: TokenEntry | undefined, mount: MountEntry | undefined, refused = token === undefined): AuditEvent => {
    const request: AuditEvent['request'] = { id: req.requestId, operation, path: req.path, remoteAddress: req.remoteAddress, data: null };
    if (mount) {
      request.mountType = mount.type;
      request.mountPoint = mount.path;
      const nonHmacKeys = mount.config.audit_non_hmac_request_keys;
      if (nonHmacKeys?.length) request.nonHmacKeys = [...nonHmacKeys];
    }
    if (Object.keys(req.data).length > 0) {
      const values = refused ? countValues(req.data, SUMMARISED_ABOVE_VALUES) : 0;
      if (values > SUMMARISED_ABOVE_VALUES) {
        request.data = { [SUMMARY_KEY]: `more than ${SUMMARISED_ABOVE_VALUES} values in ${Object.keys(req.data).length} top-level keys; a refused request's data is not audited value by value past that` };
        request.nonHmacKeys = [...(request.nonHmacKeys ?? []), SUMMARY_KEY];
      } else {
        request.data = { ...req.data };
      }
    }
    if (req.clientToken !== undefined) request.clientToken = req.clientToken;
    if (token) request.clientTokenAccessor = token.accessor;
    const event: AuditEvent = { time: clock.now(), request };
    if (token) {
      const auth: NonNullable<AuditEvent['auth']> = {};
      if (req.clientToken !== undefined) auth.clientToken = req.clientToken;
      auth.accessor = token.accessor;
      auth.displayName = token.displayName;
      auth.policies = token.policies;
      auth.tokenPolicies = token.policies;
      auth.metadata = token.meta;
      auth.entityId = token.entityId;
      auth.tokenType = 'service';
      auth.tokenTtl = tokens.ttlSeconds(token);
      event.auth = auth;
    }
    return event;
  };

  /** The response keys audited in clear: the engine's, and the mount's audit_non_hmac_response_keys. */
  const responseNonHmacKeys = (engineKeys: readonly string[] | undefined, mount: MountEntry): string[] | undefined => {
    const mountKeys = mount.config.audit_non_hmac_response_keys;
    if (!engineKeys?.length && !mountKeys?.length) return undefined;
    return [...new Set([...(engineKeys ?? []), ...(mountKeys ?? [])])];
  };

  /** A lease-less lease_duration: the engine's hint, or the mount's default lease TTL. */
  const withRefreshInterval = (response: EngineResponse, mount: MountEntry): EngineResponse => {
    const mountMax = mount.config.max_lease_ttl || deps.systemTtl.maxSeconds;
    const mountDefault = Math.min(mount.config.default_lease_ttl || deps.systemTtl.defaultSeconds, mountMax);
    const { refreshInterval, ...rest } = response;
    return { ...rest, lease: { id: '', duration: refreshInterval && refreshInterval > 0 ? refreshInterval : mountDefault, renewable: false } };
  };

  /**
   * Registers the lease of a leased secret. The effective TTL is the role's request capped by
   * the mount's maximum (or the system's). The lease manager revokes the secret again if the
   * lease cannot be stored, so no credential exists that Coffer does not track; a secret the
   * engine left to `create` is made while the lease is stored (LeaseManager.register).
   */
  const attachLease = async (
    response: EngineResponse,
    mount: MountEntry,
    path: string,
    token: TokenEntry | undefined,
    tokenEndsWithRequest: boolean,
  ): Promise<EngineResponse> => {
    const secret = response.secret as NonNullable<EngineResponse['secret']>;
    const mountMax = mount.config.max_lease_ttl || deps.systemTtl.maxSeconds;
    const mountDefault = Math.min(mount.config.default_lease_ttl || deps.systemTtl.defaultSeconds, mountMax);
    const maxTtl = secret.maxTtl > 0 ? Math.min(secret.maxTtl, mountMax) : mountMax;
    const ttl = Math.min(secret.ttl > 0 ? secret.ttl : mountDefault, maxTtl);
    const record = await deps.leases.register(
      {
        path,
        mountUuid: mount.uuid,
        mountPath: mount.path,
        secretType: secret.type,
        internal: secret.internal,
        tokenId: token?.id ?? '',
        renewable: secret.renewable,
        ttl,
        maxTtl,
      },
      secret.create,
    );
    // A token revoked while this lease was being stored may have walked its lease index before
    // the lease was in it: then the lease is revoked here, or it would outlive its token. (A
    // token spending its last use is revoked after this request, leases included.)
    if (token && !tokenEndsWithRequest && !(await tokens.lookupById(token.id))) {
      await deps.leases.revoke(record.id).catch((error: unknown) =>
        deps.logger.warn('could not revoke the lease of a token revoked during issuance; it will be retried', { error: String(error) }),
      );
      throw permissionDenied();
    }
    const { secret: _internal, ...rest } = response;
    return { ...rest, lease: { id: record.id, duration: ttl, renewable: secret.renewable } };
  };

  /**
   * Turns an auth method's verdict into an orphan service token. Only a handler that returned
   * normally gets here: an error, with or without a verdict, issues nothing.
   *
   * TTLs as Vault's CalculateTTL for login tokens: the effective max TTL is the mount's (or the
   * system's), lowered by the role's max and explicit max TTLs. A non-periodic token ends at it.
   * A period longer than it is capped to it, with a warning; a periodic token is then renewable
   * indefinitely, unless it has an explicit max TTL, which stays its hard end.
   */
  const attachLogin = async (response: EngineResponse, mount: MountEntry, path: string): Promise<EngineResponse> => {
    const login = response.login as LoginResult;
    const mountMax = mount.config.max_lease_ttl || deps.systemTtl.maxSeconds;
    const mountDefault = Math.min(mount.config.default_lease_ttl || deps.systemTtl.defaultSeconds, mountMax);
    const maxTtl = login.maxTtl > 0 ? Math.min(login.maxTtl, mountMax) : mountMax;
    const requestedTtl = login.ttl > 0 ? login.ttl : mountDefault;
    const ttl = Math.min(requestedTtl, maxTtl);
    const requestedPeriod = login.period ?? 0;
    const period = Math.min(requestedPeriod, maxTtl);
    // Vault's CalculateTTL words, for whichever of the period and the TTL the token lives by.
    const warnings = requestedPeriod > 0
      ? requestedPeriod > maxTtl ? [`period of "${formatDuration(requestedPeriod)}" exceeded the effective max_ttl of "${formatDuration(maxTtl)}"; period value is capped accordingly`] : []
      : requestedTtl > maxTtl ? [`TTL of "${formatDuration(requestedTtl)}" exceeded the effective max_ttl of "${formatDuration(maxTtl)}"; TTL value is capped accordingly`] : [];
    const requested = login.policies.map(canonicalPolicyName).filter((p) => p !== '');
    if (requested.includes('root')) throw new CofferError('permission_denied', 'permission denied');
    const policies = [...new Set(login.noDefaultPolicy ? requested : [...requested, 'default'])].sort();
    const name = login.displayName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    const { token, entry } = await tokens.create({
      parent: undefined,
      policies,
      meta: login.metadata,
      displayName: name === '' ? mount.type : `${mount.type}-${name}`,
      numUses: login.numUses ?? 0,
      ttl,
      // Only the role's own hard limit: its max TTL and the mount's are read again at every
      // renewal (LoginRenewal, the token store's ttlLimits), so raising either applies to
      // tokens already issued, as in Vault.
      explicitMaxTtl: login.explicitMaxTtl ?? 0,
      period,
      renewable: login.renewable ?? true,
      path,
      boundCidrs: login.boundCidrs ?? [],
    });
    const { login: _verdict, ...rest } = response;
    const allWarnings = [...(response.warnings ?? []), ...warnings];
    return { ...rest, auth: authBlock(token, entry, tokens), ...(allWarnings.length > 0 ? { warnings: allWarnings } : {}) };
  };

  /**
   * `?help=1`: describes the path and runs nothing. As in Vault, any valid token may ask (its
   * ACL allows help everywhere): the text names routes and operations, never stored data. It
   * is still a request made with the token, so it spends one of a use-limited token's uses
   * (Vault's CheckToken does the same), and the last use revokes the token.
   */
  const help = async (
    req: ApiRequest,
    token: TokenEntry | undefined,
    unauthenticated: boolean,
    routed: RoutedMount<MountEntry> | undefined,
    spec: PathSpec | undefined,
  ): Promise<ApiResult> => {
    const lastUse = token !== undefined && !unauthenticated && token.numUses !== 0 ? await tokens.use(token) : false;
    try {
      const event = audit.enabled ? auditEvent(req, 'help', token, routed?.mount) : undefined;
      if (event) audit.logRequest(event);
      const text = !routed ? undefined : spec ? pathHelp(routed.relativePath, spec) : routed.relativePath === '' ? engineHelp(routed.engine) : undefined;
      if (text === undefined) {
        if (event) audit.logResponse({ ...event, time: clock.now(), error: 'unsupported path' });
        throw new CofferError('unsupported_path', 'unsupported path');
      }
      const data = { help: text, see_also: null };
      if (event) audit.logResponse({ ...event, time: clock.now(), response: { statusCode: 200, data, auth: null, warnings: null } });
      return { response: { data }, mountType: routed?.mount.type };
    } finally {
      if (lastUse && token) await tokens.revokeTree(token.id).catch(() => undefined);
    }
  };

  /**
   * Stores the answer behind a wrapping token and answers with that token's wrap_info instead
   * (X-Vault-Wrap-TTL). A lease the answer carried stays the caller's, as in Vault; if the
   * answer cannot be stored, that lease and a token the answer made are revoked at once, and
   * what else the engine made for it (an AppRole secret ID) is withdrawn, since nobody will
   * ever see them.
   */
  const wrapResponse = async (req: ApiRequest, token: TokenEntry | undefined, response: EngineResponse, mountType: string): Promise<EngineResponse> => {
    const wrapTtl = req.wrapTtl as number;
    if (!deps.wrapping) throw badRequest('response wrapping is not available here');
    // Each wrap stores a token and a record: without a caller token, only a login (whose
    // credentials were just checked) may ask, or anyone could fill the storage for free.
    if (token === undefined && !response.auth) throw badRequest('response wrapping needs a client token here');
    const body = response.rawBody ?? responseEnvelope(req.requestId, response, mountType);
    try {
      const { info, warnings } = await deps.wrapping.wrap(body, wrapTtl, req.path, wrappedAccessorOf(response, mountType));
      return { wrapInfo: info, ...(warnings.length > 0 ? { warnings } : {}) };
    } catch (error) {
      await takeBack(req, response, 'whose wrapping failed');
      throw error;
    }
  };

  /**
   * Revokes what an answer that will not reach its caller issued (its lease, its login's token,
   * whatever its withdraw undoes): nobody could use it, and it must not live on unseen. Returns
   * whether there was anything to take back.
   */
  const takeBack = async (req: ApiRequest, response: EngineResponse | null, why: string): Promise<boolean> => {
    if (!response) return false;
    if (response.lease) await deps.leases.revoke(response.lease.id).catch(() => undefined);
    if (response.auth) {
      const made = await tokens.lookupByAccessor(response.auth.accessor).catch(() => undefined);
      if (made) await tokens.revokeTree(made.id).catch(() => undefined);
    }
    if (response.withdraw) {
      await response.withdraw().catch((withdrawError: unknown) =>
        deps.logger.warn(`could not withdraw what an answer ${why} had made; it lasts until its own TTL`, {
          path: req.path,
          error: isCofferError(withdrawError) ? withdrawError.message : 'internal error',
        }),
      );
    }
    return Boolean(response.lease || response.auth || response.withdraw);
  };

  /** Tells watchers about a change made by a write (a cubbyhole's paths are its token's alone: never). */
  const announce = (mount: MountEntry, relativePath: string, operation: Operation, response: EngineResponse | null, changed: boolean): void => {
    if (!changed || operation === 'read' || operation === 'list' || mount.table !== 'secrets' || mount.type === 'system' || mount.type === 'cubbyhole') return;
    const change = changeEventFor(mount, relativePath, operation, response);
    if (change) deps.events.publish(change);
  };

  const serveRouted = async (req: ApiRequest, token: TokenEntry | undefined, routed: RoutedMount<MountEntry> | undefined): Promise<ApiResult> => {
    const matched = routed ? router.matchPath(routed.engine, routed.relativePath) : undefined;
    const unauthenticated = matched?.spec.unauthenticated === true;

    // Refusals are audited too (as in Vault), so probing for paths leaves a trace.
    const deny = (operation: Operation | 'help'): never => {
      if (audit.enabled) {
        const event = auditEvent(req, operation, token, routed?.mount, true);
        audit.logRequest({ ...event, error: 'permission denied' });
        audit.logResponse({ ...event, time: clock.now(), error: 'permission denied' });
      }
      throw permissionDenied();
    };
    // So are requests for paths or operations nothing serves (as Vault logs them before routing).
    const unserved = (operation: Operation, error: CofferError): never => {
      if (audit.enabled) {
        const event = auditEvent(req, operation, token, routed?.mount, true);
        audit.logRequest(event);
        audit.logResponse({ ...event, time: clock.now(), error: error.message });
      }
      throw error;
    };

    // A token used from outside its bound CIDRs is refused, as in Vault (and audited with its
    // accessor); where no token is needed (a login) it is set aside, as an unknown token would be.
    if (token && !usableFrom(token, req.remoteAddress)) {
      if (unauthenticated) return serveRouted(req, undefined, routed);
      deny(refusedOperation(req.verb));
    }

    // A wrapping token sent as the client token to unwrap is checked before the token itself, as
    // in Vault (validateWrappingToken): a spent or unknown one is told so (400), which is how a
    // recipient learns that someone else may have unwrapped the secret, not "permission denied".
    if (!token && req.clientToken && routed?.mount.type === 'system' && routed.relativePath === 'wrapping/unwrap' && !hasBodyToken(req.data)) {
      unserved('update', badRequest('wrapping token is not valid or does not exist'));
    }
    // A missing, unknown or expired token is "permission denied", as in Vault (403, not 401).
    if (!token && !unauthenticated) deny(refusedOperation(req.verb));
    if (req.verb === 'help') return help(req, token, unauthenticated, routed, matched?.spec);

    // A use is spent before the request is judged, as in Vault, which counts a refused request
    // too: a use-limited token (an intercepted wrapping token, say) cannot probe without limit.
    // An unauthenticated path (a login, the sys/internal/ui/mounts preflight) spends no use of
    // a token sent with it, as in Vault: `vault kv get` with a one-use token still works.
    // (A token without a use limit has nothing to count: no call, no await.)
    // One exception, kept from before: `cubbyhole/response` read with a wrapping token (Vault's
    // old unwrap) is refused without spending it (README), so its use is spent only if allowed.
    const spendsWhenRefused = !(routed?.mount.type === 'cubbyhole' && routed.relativePath === 'response');
    let lastUse = false;
    const spendUse = async (): Promise<void> => {
      if (token && !unauthenticated && token.numUses !== 0) lastUse = await tokens.use(token);
    };
    if (spendsWhenRefused) await spendUse();
    // Its last use spent on a refusal, the token is revoked as after any last use.
    const refusing = async <T>(refusal: () => T): Promise<T> => {
      try {
        return refusal();
      } catch (error) {
        if (lastUse && token) await tokens.revokeTree(token.id).catch(() => undefined);
        throw error;
      }
    };

    const auth = token ? requestAuth(token) : undefined;
    // Built by one literal per call, not by spreading a base object: a spread of a
    // seven-field object costs about a microsecond, on every request.
    const relativePath = routed?.relativePath ?? '';
    const params = matched?.params ?? {};
    const mountPath = routed?.mount.path ?? '';
    const engineRequestFor = (operation: Operation): EngineRequest => ({
      requestId: req.requestId,
      path: relativePath,
      params,
      data: req.data,
      mountPath,
      auth,
      remoteAddress: req.remoteAddress,
      operation,
      wrapTtl: req.wrapTtl,
    });

    const acl = unauthenticated ? undefined : await policies.acl((token as TokenEntry).policies);
    // The path the handler will really act on, when it canonicalises a name in it (PathSpec).
    const canonical = matched?.spec.canonicalPath?.(params);
    const canonicalPath = canonical !== undefined && canonical !== relativePath ? mountPath + canonical : undefined;
    const permits = (operation: Operation): boolean => {
      if (acl === undefined) return true;
      const sudo = matched?.spec.sudo;
      const needsSudo = sudo === true || (Array.isArray(sudo) && sudo.includes(operation));
      const allows = (path: string): boolean => {
        // Vault checks LIST against the path with a trailing slash.
        const aclPath = operation === 'list' && !path.endsWith('/') ? path + '/' : path;
        const verdict = acl.check(aclPath, operation, req.data, req.wrapTtl);
        return verdict.allowed && (!needsSudo || verdict.rootPrivs);
      };
      return allows(req.path) && (canonicalPath === undefined || allows(canonicalPath));
    };

    // The existence check costs a storage read on every write, and its answer only chooses
    // between create and update. Skipped when that choice changes nothing: no audit device
    // records it, both run the same handler, and the token's policies answer both alike (a
    // root token, or a policy granting both, as most do).
    const handlerFor = (operation: Operation) =>
      matched?.spec.operations[operation] ?? (operation === 'create' ? matched?.spec.operations.update : undefined);
    const existenceMatters = (): boolean =>
      audit.enabled || handlerFor('create') !== handlerFor('update') || permits('create') !== permits('update');

    let operation: Operation;
    if (req.verb === 'write') {
      const check = matched?.spec.existenceCheck;
      operation = check && existenceMatters() ? ((await check(engineRequestFor('update'))) ? 'update' : 'create') : 'update';
    } else {
      operation = VERB_OPERATION[req.verb as Exclude<RequestVerb, 'write' | 'help'>];
    }
    if (!permits(operation)) await refusing(() => deny(operation));

    if (!routed) return refusing(() => unserved(operation, new CofferError('unsupported_path', `no handler for route "${req.path}". route entry not found.`)));
    if (!matched) return refusing(() => unserved(operation, new CofferError('unsupported_path', 'unsupported path')));
    const handler = handlerFor(operation);
    if (!handler) return refusing(() => unserved(operation, new CofferError('unsupported_operation', 'unsupported operation')));
    if (!spendsWhenRefused) await spendUse();

    // Building the entry costs as much as a KV read's crypto; skip it when nothing records it.
    const event = audit.enabled ? auditEvent(req, operation, token, routed.mount) : undefined;
    if (event) audit.logRequest(event);

    const engineRequest = engineRequestFor(operation);
    if (req.clientToken && (routed.mount.type === 'token' || routed.mount.type === 'system')) {
      attachClientToken(engineRequest, req.clientToken);
    }

    const auditFailure = (error: unknown): void => {
      const message = isCofferError(error) ? error.message : 'internal error';
      if (event) audit.logResponse({ ...event, time: clock.now(), error: message });
    };
    let response: EngineResponse | null;
    try {
      try {
        response = await handler(engineRequest);
        if (response?.secret) response = await attachLease(response, routed.mount, req.path, token, lastUse);
        else if (response?.refreshInterval !== undefined) response = withRefreshInterval(response, routed.mount);
        if (response?.login) response = await attachLogin(response, routed.mount, req.path);
      } catch (error) {
        // A secret the engine left to `create` can fail in attachLease, and a login's token in
        // attachLogin: those are responses too, and are audited as such.
        auditFailure(error);
        throw error;
      }
    } finally {
      // After the lease is stored, so revoking the spent token revokes the lease too (as Vault).
      if (lastUse && token) await tokens.revokeTree(token.id).catch(() => undefined);
    }
    // Only a write that succeeded and changed something is announced (a PATCH of a deleted
    // version answers 404 with metadata; a delete of what is gone answers 204 unchanged).
    const changed = response === null || (response.unchanged !== true && (response.statusCode ?? 200) < 300);
    const unwrapped = response;
    response = warnIgnoredFields(response, matched.spec, operation, req.data, params);
    if (req.wrapTtl !== undefined && isWrappable(response)) {
      try {
        response = await wrapResponse(req, token, response, routed.mount.type);
      } catch (error) {
        auditFailure(error);
        throw error;
      }
    }
    if (event) {
      const audited: AuditResponseInfo = {
        statusCode: response?.statusCode ?? (isEmptyResponse(response) ? 204 : 200),
        data: response?.rawBody ?? response?.data ?? null,
        auth: response?.auth ? { ...response.auth } : null,
        warnings: response?.warnings ?? null,
      };
      if (response?.wrapInfo) audited.wrapInfo = response.wrapInfo;
      const nonHmacKeys = response?.rawBody ? undefined : responseNonHmacKeys(response?.auditNonHmacKeys, routed.mount);
      if (nonHmacKeys) audited.nonHmacKeys = nonHmacKeys;
      if (response?.auditStoredData) audited.storedData = response.auditStoredData;
      try {
        audit.logResponse({ ...event, time: clock.now(), response: audited });
      } catch (error) {
        // The request was carried out: its answer is withheld (an unaudited answer must not
        // leave), what it issued is revoked, and the caller is told that it did take effect.
        if (!isCofferError(error) || error.code !== 'audit_failed') throw error;
        const tookBack = await takeBack(req, unwrapped, 'whose response could not be audited');
        announce(routed.mount, routed.relativePath, operation, unwrapped, changed);
        throw new CofferError('audit_failed', tookBack
          ? 'no audit device could record the response, so it is withheld; what the request issued has been revoked'
          : 'no audit device could record the response, so it is withheld; the request itself was carried out');
      }
    }
    announce(routed.mount, routed.relativePath, operation, unwrapped, changed);
    return { response, mountType: routed.mount.type };
  };

  return async (req) => {
    if (deps.isSealed()) throw new CofferError('sealed', 'Vault is sealed');

    const token = req.clientToken ? await tokens.lookup(req.clientToken) : undefined;
    const routed = router.route(req.path);
    // Held until answered, its lease stored: disabling the mount waits for this request.
    const release = routed ? router.hold(routed.mount.path) : undefined;
    try {
      return await serveRouted(req, token, routed);
    } finally {
      release?.();
    }
  };
}
