/**
 * The request pipeline every authenticated API call goes through, in this order:
 * sealed check → token → route → operation (existence check) → ACL → use count → audit request
 * → engine → audit response.
 *
 * It knows nothing of HTTP: the wire layers (Vault JSON, later AWS) build an ApiRequest and
 * render the ApiResult. Audit is fail-closed: with devices enabled, a request that cannot be
 * logged is refused before the engine runs.
 */
import type { AuditBroker } from './audit/broker.js';
import type { AuditEvent } from './audit/entry.js';
import type { Clock } from './clock.js';
import { CofferError, isCofferError, permissionDenied } from './errors.js';
import type { Logger } from './logger.js';
import type { PolicyStore } from './policy/store.js';
import { attachClientToken } from './request-context.js';
import type { EngineRequest, EngineResponse, Operation, RequestAuth } from './router/engine.js';
import type { MountEntry } from './router/mount-table.js';
import type { Router } from './router/router.js';
import type { TokenEntry, TokenStore } from './tokens/token-store.js';

/** The HTTP verb, reduced to what decides the operation. */
export type RequestVerb = 'read' | 'list' | 'write' | 'delete' | 'patch';

export interface ApiRequest {
  readonly requestId: string;
  readonly verb: RequestVerb;
  /** Normalised path after '/v1/'. */
  readonly path: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly clientToken: string | undefined;
  readonly remoteAddress: string;
}

export interface ApiResult {
  readonly response: EngineResponse | null;
  readonly mountType: string | undefined;
}

export interface RequestHandlerDeps {
  router: Router<MountEntry>;
  tokens: TokenStore;
  policies: PolicyStore;
  audit: AuditBroker;
  clock: Clock;
  logger: Logger;
  isSealed(): boolean;
}

export type RequestHandler = (req: ApiRequest) => Promise<ApiResult>;

const VERB_OPERATION: Record<Exclude<RequestVerb, 'write'>, Operation> = {
  read: 'read',
  list: 'list',
  delete: 'delete',
  patch: 'patch',
};

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

export function createRequestHandler(deps: RequestHandlerDeps): RequestHandler {
  const { router, tokens, policies, audit, clock } = deps;

  const auditEvent = (
    req: ApiRequest,
    operation: Operation,
    token: TokenEntry | undefined,
    mount: MountEntry | undefined,
  ): AuditEvent => ({
    time: clock.now(),
    ...(token
      ? {
          auth: {
            ...(req.clientToken === undefined ? {} : { clientToken: req.clientToken }),
            accessor: token.accessor,
            displayName: token.displayName,
            policies: token.policies,
            tokenPolicies: token.policies,
            metadata: token.meta,
            entityId: token.entityId,
            tokenType: 'service',
            tokenTtl: tokens.ttlSeconds(token),
          },
        }
      : {}),
    request: {
      id: req.requestId,
      operation,
      path: req.path,
      ...(mount ? { mountType: mount.type, mountPoint: mount.path } : {}),
      remoteAddress: req.remoteAddress,
      data: Object.keys(req.data).length > 0 ? { ...req.data } : null,
      ...(req.clientToken === undefined ? {} : { clientToken: req.clientToken }),
      ...(token ? { clientTokenAccessor: token.accessor } : {}),
    },
  });

  return async (req) => {
    if (deps.isSealed()) throw new CofferError('sealed', 'Vault is sealed');

    const token = req.clientToken ? await tokens.lookup(req.clientToken) : undefined;
    const routed = router.route(req.path);
    const matched = routed ? router.matchPath(routed.engine, routed.relativePath) : undefined;
    const unauthenticated = matched?.spec.unauthenticated === true;
    // A missing, unknown or expired token is "permission denied", as in Vault (403, not 401).
    if (!token && !unauthenticated) throw permissionDenied();

    const auth = token ? requestAuth(token) : undefined;
    const engineRequestBase = {
      requestId: req.requestId,
      path: routed?.relativePath ?? '',
      params: matched?.params ?? {},
      data: req.data,
      mountPath: routed?.mount.path ?? '',
      auth,
      remoteAddress: req.remoteAddress,
    };

    let operation: Operation;
    if (req.verb === 'write') {
      const check = matched?.spec.existenceCheck;
      operation = check ? ((await check({ ...engineRequestBase, operation: 'update' })) ? 'update' : 'create') : 'update';
    } else {
      operation = VERB_OPERATION[req.verb];
    }

    if (!unauthenticated) {
      const acl = await policies.acl((token as TokenEntry).policies);
      // Vault checks LIST against the path with a trailing slash.
      const aclPath = operation === 'list' && !req.path.endsWith('/') ? req.path + '/' : req.path;
      const verdict = acl.check(aclPath, operation, req.data);
      if (!verdict.allowed || (matched?.spec.sudo === true && !verdict.rootPrivs)) throw permissionDenied();
    }

    if (!routed) throw new CofferError('unsupported_path', `no handler for route "${req.path}". route entry not found.`);
    if (!matched) throw new CofferError('unsupported_path', 'unsupported path');
    const handler = matched.spec.operations[operation] ?? (operation === 'create' ? matched.spec.operations.update : undefined);
    if (!handler) throw new CofferError('unsupported_operation', 'unsupported operation');

    let lastUse = false;
    if (token) lastUse = await tokens.use(token);

    const event = auditEvent(req, operation, token, routed.mount);
    audit.logRequest(event);

    const engineRequest: EngineRequest = { ...engineRequestBase, operation };
    if (req.clientToken && (routed.mount.type === 'token' || routed.mount.type === 'system')) {
      attachClientToken(engineRequest, req.clientToken);
    }

    let response: EngineResponse | null;
    try {
      response = await handler(engineRequest);
    } catch (error) {
      const message = isCofferError(error) ? error.message : 'internal error';
      audit.logResponse({ ...event, time: clock.now(), error: message });
      throw error;
    } finally {
      if (lastUse && token) await tokens.revokeTree(token.id).catch(() => undefined);
    }
    audit.logResponse({
      ...event,
      time: clock.now(),
      response: {
        statusCode: response?.statusCode ?? (response ? 200 : 204),
        data: response?.data ?? null,
        auth: response?.auth ? { ...response.auth } : null,
        warnings: response?.warnings ?? null,
        ...(response?.auditNonHmacKeys ? { nonHmacKeys: response.auditNonHmacKeys } : {}),
      },
    });
    return { response, mountType: routed.mount.type };
  };
}
