/**
 * `sys/wrapping/{wrap,unwrap,lookup,rewrap}`: Vault's response-wrapping endpoints over
 * core/wrapping. Which responses get wrapped is the request pipeline's business; these paths
 * only wrap given data, hand a wrapped response back once, describe a wrapping token, and move
 * a wrapped response to a fresh token.
 */
import { badRequest } from '../errors.js';
import { clientTokenOf } from '../request-context.js';
import type { EngineRequest, PathSpec } from '../router/engine.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { ResponseWrapping } from '../wrapping/response-wrapping.js';

/** The wrapping token named in the body, or undefined when none was given. */
function bodyToken(req: EngineRequest): string | undefined {
  const value = req.data.token;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest('"token" must be a string');
  return value;
}

function requiredToken(req: EngineRequest): string {
  const token = bodyToken(req);
  if (token === undefined) throw badRequest('missing "token" (the wrapping token)');
  return token;
}

export function wrappingPaths(wrapping: ResponseWrapping, tokens: TokenStore): PathSpec[] {
  return [
    {
      pattern: 'wrapping/wrap',
      description: 'Wrap the request body in a new response-wrapping token (needs X-Vault-Wrap-TTL).',
      operations: {
        // The pipeline wraps this answer, as it wraps any other, because the header is required.
        update: async (req) => {
          if (req.wrapTtl === undefined) throw badRequest('no wrapping TTL given: send the X-Vault-Wrap-TTL header');
          if (Object.keys(req.data).length === 0) throw badRequest('empty wrapping data');
          return { data: { ...req.data } };
        },
      },
    },
    {
      pattern: 'wrapping/unwrap',
      description: 'Return the response held by a wrapping token, once; the token is then revoked.',
      operations: {
        update: async (req) => {
          const token = bodyToken(req);
          // The stored answer is what a client stored: audit hashes its numbers too, as on a read.
          if (token !== undefined) return { rawBody: await wrapping.unwrap({ token }), auditStoredData: 'all' };
          // No token in the body: the client token must be the wrapping token itself.
          const caller = req.auth ? await tokens.lookupCaller(req.auth.tokenId) : undefined;
          if (caller === undefined) throw badRequest('wrapping token is not valid or does not exist');
          return { rawBody: await wrapping.unwrap({ caller }), auditStoredData: 'all' };
        },
      },
    },
    {
      pattern: 'wrapping/lookup',
      description: 'Describe a wrapping token (creation path, time and TTL) without spending it.',
      // As in Vault: a recipient checks a token it was handed before unwrapping it.
      unauthenticated: true,
      operations: {
        // Without one in the body, the client token is the one to describe, as in Vault.
        update: async (req) => ({ data: { ...(await wrapping.lookup(bodyToken(req) ?? clientTokenOf(req) ?? requiredToken(req))) } }),
      },
    },
    {
      pattern: 'wrapping/rewrap',
      description: 'Move a wrapped response to a new wrapping token with the same TTL; the old token is revoked.',
      operations: {
        update: async (req) => {
          const { info, warnings } = await wrapping.rewrap(requiredToken(req));
          return { wrapInfo: info, ...(warnings.length > 0 ? { warnings } : {}) };
        },
      },
    },
  ];
}
