/**
 * Response wrapping, as Vault's: a response is stored behind a new single-use token (the
 * wrapping token) instead of being sent, and the caller gets only `wrap_info`. Whoever holds
 * the wrapping token can unwrap it exactly once, before its TTL runs out; a recipient who
 * finds it already unwrapped knows someone else saw the secret (secure introduction).
 *
 * Owns: the wrapping tokens (policy `response-wrapping`, one use, orphans, not renewable) and
 * the stored responses, one record per wrapping token, deleted when that token is revoked for
 * any reason (unwrapped, expired, revoked by an operator).
 * Must never: hand a stored response out twice (an unwrap spends the token's one use under the
 * token store's per-token lock, so two concurrent unwraps cannot both succeed), treat a token
 * that is not a wrapping token as one, or say which of "unknown", "expired" and "already
 * unwrapped" a bad token is (one message for all, as Vault).
 */
import { rfc3339 } from '../clock.js';
import { badRequest, isCofferError } from '../errors.js';
import { RESPONSE_WRAPPING_POLICY } from '../policy/store.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';
import type { TokenEntry, TokenStore } from '../tokens/token-store.js';

/** The path wrapping tokens are recorded as created through (Vault's). */
const WRAPPING_TOKEN_PATH = 'sys/wrapping/wrap';

/** Vault's one message for a wrapping token that is unknown, expired, spent or not one. */
const INVALID_WRAPPING_TOKEN = 'wrapping token is not valid or does not exist';

/** What a wrapped response's caller gets instead of it: the envelope's `wrap_info`. */
export interface WrapInfo {
  token: string;
  accessor: string;
  /** Seconds the wrapping token lives. */
  ttl: number;
  creation_time: string;
  creation_path: string;
  /** The accessor of the token a wrapped login created, when there is one. */
  wrapped_accessor?: string;
}

interface StoredResponse {
  format: 1;
  /** The response body exactly as the wrapped request would have been answered. */
  body: Record<string, unknown>;
  creationPath: string;
  /** Milliseconds since the epoch. */
  creationTime: number;
  /** The TTL the wrapping token got, seconds; a rewrap gives the new token the same. */
  ttl: number;
  wrappedAccessor?: string;
}

export interface WrappingLookup {
  creation_path: string;
  creation_time: string;
  creation_ttl: number;
}

export interface ResponseWrapping {
  /** Stores `body` behind a new wrapping token living `ttlSeconds` (capped by the token TTL limits). */
  wrap(body: Record<string, unknown>, ttlSeconds: number, creationPath: string, wrappedAccessor?: string): Promise<{ info: WrapInfo; warnings: string[] }>;
  /**
   * The stored response of the wrapping token `token`, which is then revoked. `caller`: the
   * entry of the token that made the request when the wrapping token itself was sent as the
   * client token (the request pipeline has already spent its one use).
   */
  unwrap(target: { token: string } | { caller: TokenEntry }): Promise<Record<string, unknown>>;
  /** What a wrapping token holds, without spending it. */
  lookup(token: string): Promise<WrappingLookup>;
  /** Moves a wrapped response to a new wrapping token with the original TTL; the old one is revoked. */
  rewrap(token: string): Promise<{ info: WrapInfo; warnings: string[] }>;
  /** Deletes what `entry` held, if it is a wrapping token: the token store calls this on every revocation. */
  forget(entry: TokenEntry): Promise<void>;
}

export function isWrappingToken(entry: TokenEntry): boolean {
  return entry.policies.length === 1 && entry.policies[0] === RESPONSE_WRAPPING_POLICY && entry.path === WRAPPING_TOKEN_PATH;
}

export function createResponseWrapping(deps: { storage: Storage; tokens: TokenStore }): ResponseWrapping {
  const { storage, tokens } = deps;
  // Keyed by the token's id, which is an HMAC of the token (token-store.ts), never the token.
  const recordKey = (entry: TokenEntry): string => entry.id;

  const invalid = () => badRequest(INVALID_WRAPPING_TOKEN);

  /** The live wrapping token `token` and its stored response, or a 400. */
  const find = async (token: string): Promise<{ entry: TokenEntry; stored: StoredResponse }> => {
    if (typeof token !== 'string' || token === '') throw invalid();
    const entry = await tokens.lookup(token);
    if (entry === undefined || !isWrappingToken(entry)) throw invalid();
    const stored = await getJson<StoredResponse>(storage, recordKey(entry));
    if (stored === undefined) throw invalid();
    return { entry, stored };
  };

  /** Makes a wrapping token living `ttl` seconds (or as long as the token limits allow) holding `body`. */
  const store = async (body: Record<string, unknown>, ttl: number, creationPath: string, wrappedAccessor: string | undefined): Promise<{ info: WrapInfo; warnings: string[] }> => {
    const { token, entry, warnings } = await tokens.create({
      parent: undefined,
      policies: [RESPONSE_WRAPPING_POLICY],
      displayName: '',
      numUses: 1,
      ttl,
      explicitMaxTtl: ttl,
      renewable: false,
      path: WRAPPING_TOKEN_PATH,
    });
    // The TTL and time the token really got (a TTL past the max is capped), so a lookup and a
    // rewrap agree with wrap_info.
    const granted = tokens.ttlSeconds(entry);
    const stored: StoredResponse = {
      format: 1,
      body,
      creationPath,
      creationTime: entry.creationTime,
      ttl: granted,
      ...(wrappedAccessor === undefined ? {} : { wrappedAccessor }),
    };
    try {
      await putJson(storage, recordKey(entry), stored);
    } catch (error) {
      await tokens.revokeTree(entry.id).catch(() => undefined);
      throw error;
    }
    // A token revoked while its record was written (by its accessor, say) has already had
    // `forget` run: the record must not outlive it.
    if ((await tokens.lookupById(entry.id)) === undefined) {
      await storage.delete(recordKey(entry));
      throw badRequest('the wrapping token was revoked while it was being made');
    }
    const info: WrapInfo = {
      token,
      accessor: entry.accessor,
      ttl: granted,
      creation_time: rfc3339(entry.creationTime),
      creation_path: creationPath,
      ...(wrappedAccessor === undefined ? {} : { wrapped_accessor: wrappedAccessor }),
    };
    return { info, warnings };
  };

  /** Spends the one use of a wrapping token found by `find`; a second taker gets the 400. */
  const spend = async (entry: TokenEntry): Promise<void> => {
    try {
      await tokens.use(entry);
    } catch (error) {
      if (isCofferError(error) && error.code === 'permission_denied') throw invalid();
      throw error;
    }
  };

  return {
    async wrap(body, ttlSeconds, creationPath, wrappedAccessor) {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw badRequest('wrapping TTL must be a positive number of seconds');
      return store(body, ttlSeconds, creationPath, wrappedAccessor);
    },

    async unwrap(target) {
      let entry: TokenEntry;
      let stored: StoredResponse | undefined;
      if ('caller' in target) {
        // The pipeline spent the caller's use already and revokes it once this request is done.
        entry = target.caller;
        if (!isWrappingToken(entry)) throw invalid();
        stored = await getJson<StoredResponse>(storage, recordKey(entry));
        if (stored === undefined) throw invalid();
      } else {
        ({ entry, stored } = await find(target.token));
        await spend(entry);
        try {
          // Read again under the spent use: a revocation that raced this one may have deleted it.
          stored = await getJson<StoredResponse>(storage, recordKey(entry));
        } finally {
          await tokens.revokeTree(entry.id);
        }
        if (stored === undefined) throw invalid();
      }
      return stored.body;
    },

    async lookup(token) {
      const { stored } = await find(token);
      return { creation_path: stored.creationPath, creation_time: rfc3339(stored.creationTime), creation_ttl: stored.ttl };
    },

    async rewrap(token) {
      const { entry, stored } = await find(token);
      await spend(entry);
      // Spent first, so two rewraps cannot both copy the response to a token of their own. If
      // storing the copy then fails, the response is gone with the old token: it fails closed.
      try {
        return await store(stored.body, stored.ttl, stored.creationPath, stored.wrappedAccessor);
      } finally {
        await tokens.revokeTree(entry.id);
      }
    },

    async forget(entry) {
      if (!isWrappingToken(entry)) return;
      await storage.delete(recordKey(entry));
    },
  };
}
