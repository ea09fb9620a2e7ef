/**
 * The `cubbyhole/` secrets engine, as Vault's: a private key/value store for each token. A
 * token reads, writes, lists and deletes only its own cubbyhole, no other token (root included)
 * can reach it, and it is destroyed with the token, however the token ends.
 *
 * Owns: the per-token storage under one prefix, `<token id>/<path>` (the id is the token store's
 * HMAC of the token, never the token). Values behave as KV version 1 (kv-v1.ts), without its
 * refresh hint. Mounted at `cubbyhole/` on every server, like `sys/`; it cannot be disabled.
 * Must never: let a request reach another token's prefix, leave a value behind a revoked token,
 * or announce a change to watchers (a path in a cubbyhole is private to its token;
 * request-handler.ts skips this mount type).
 */
import { permissionDenied } from '../../core/errors.js';
import type { Engine, EngineRequest, EngineResponse, Handler, Operation, PathSpec } from '../../core/router/engine.js';
import type { Storage } from '../../core/storage/storage.js';
import { deletePrefix, scope } from '../../core/storage/view.js';
import { kvV1Paths } from '../kv/kv-v1.js';

export const CUBBYHOLE_ENGINE_TYPE = 'cubbyhole';

export interface CubbyholeEngine extends Engine {
  /** Deletes every value of token `tokenId`'s cubbyhole (the token store calls this on revocation). */
  destroy(tokenId: string): Promise<void>;
}

/**
 * `isLive(tokenId)`: whether the token still lives. A write re-checks it once stored, because a
 * revocation that began meanwhile may already have destroyed the cubbyhole, and the value would
 * otherwise outlive the token (and be found by a later token given the same custom id).
 */
export function createCubbyholeEngine(storage: Storage, isLive: (tokenId: string) => Promise<boolean>): CubbyholeEngine {
  const tokenPrefix = (tokenId: string): string => `${tokenId}/`;

  /** The KV v1 route over the requesting token's own cubbyhole. */
  const routeFor = (req: EngineRequest): PathSpec => {
    // Every cubbyhole path needs a token (none is unauthenticated); this is only a backstop.
    if (req.auth === undefined || req.auth.tokenId === '') throw permissionDenied();
    return kvV1Paths(scope(storage, tokenPrefix(req.auth.tokenId)))[0] as PathSpec;
  };

  const operation = (name: Operation): Handler => async (req) => {
    const route = routeFor(req);
    const handler = route.operations[name] as Handler;
    const response: EngineResponse | null = await handler(req);
    if ((name === 'create' || name === 'update') && !(await isLive((req.auth as NonNullable<EngineRequest['auth']>).tokenId))) {
      // Revoked while this write ran: take the value back out, as the revocation would have.
      await (route.operations.delete as Handler)(req);
      throw permissionDenied();
    }
    if (response === null) return null;
    // KV v1 shows a stored `ttl` as a refresh interval; a cubbyhole value is just data, as in Vault.
    const { refreshInterval: _hint, ...rest } = response;
    return rest;
  };

  return {
    type: CUBBYHOLE_ENGINE_TYPE,
    paths: [
      {
        pattern: '(?<path>.*)',
        description: "Read, write, delete and list values in the requesting token's own cubbyhole.",
        existenceCheck: async (req) => (routeFor(req).existenceCheck as (r: EngineRequest) => Promise<boolean>)(req),
        operations: {
          read: operation('read'),
          create: operation('create'),
          update: operation('update'),
          delete: operation('delete'),
          list: operation('list'),
        },
      },
    ],
    async destroy(tokenId) {
      await deletePrefix(storage, tokenPrefix(tokenId));
    },
  };
}
