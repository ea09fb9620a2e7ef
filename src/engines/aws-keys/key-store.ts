/**
 * AWS access-key pairs issued by Coffer: each pair owns a child token (created by the token
 * store, with the pair's policies and TTL) through which every request signed with the pair
 * runs the core pipeline, so ACL policies and audit apply exactly as for the token itself.
 *
 * Owns: the records under its storage view (`keys/<access key id>`), which must be behind the
 * barrier: SigV4 verification needs the secret access key itself, and the pipeline needs the
 * child token, so both are kept (encrypted at rest) and never returned after issuance.
 * Must never: log or put into an error a secret access key or a token; return a record whose
 * expiry has passed or whose token is gone (a key stops working at its expiry, before any
 * background revocation runs).
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { randomBase62 } from '../../core/ids.js';
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import type { TokenEntry, TokenStore } from '../../core/tokens/token-store.js';

export interface AccessKeyRecord {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The raw child token. Used only as the clientToken of this key's pipeline requests. */
  readonly token: string;
  /** The child token's storage id (its HMAC). */
  readonly tokenId: string;
  readonly policies: readonly string[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly expireAt: number;
}

export interface IssueInput {
  /** The caller's token: the key's token is its child, so revoking the caller revokes the key. */
  parent: TokenEntry;
  policies: string[];
  ttlSeconds: number;
}

export interface IssuedKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly policies: readonly string[];
  /** The effective TTL: the child token never outlives its parent. */
  readonly ttlSeconds: number;
  readonly expireAt: number;
}

export interface AccessKeyStore {
  issue(input: IssueInput): Promise<IssuedKey>;
  /** The live record of `accessKeyId`, or undefined when unknown, expired or revoked. */
  lookup(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  /** Revokes the key's token and forgets the key. Idempotent: the lease manager may retry it. */
  revoke(accessKeyId: string): Promise<void>;
}

export interface AccessKeyStoreDeps {
  /** A view behind the barrier, owned by this store. */
  storage: Storage;
  clock: Clock;
  tokens: Pick<TokenStore, 'create' | 'lookupById' | 'revokeTree'>;
}

const keyRecordKey = (accessKeyId: string): string => `keys/${accessKeyId}`;

/** AWS access key ids are 'AKIA' plus 16 characters of base32 (A-Z, 2-7). */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ACCESS_KEY_ID_PATTERN = /^AKIA[A-Z2-7]{16}$/;

function newAccessKeyId(): string {
  let id = 'AKIA';
  for (let i = 0; i < 16; i++) id += BASE32[randomInt(BASE32.length)];
  return id;
}

export function createAccessKeyStore(deps: AccessKeyStoreDeps): AccessKeyStore {
  const { storage, clock, tokens } = deps;

  const read = (accessKeyId: string): Promise<AccessKeyRecord | undefined> =>
    ACCESS_KEY_ID_PATTERN.test(accessKeyId) ? getJson<AccessKeyRecord>(storage, keyRecordKey(accessKeyId)) : Promise.resolve(undefined);

  return {
    async issue(input) {
      let accessKeyId = newAccessKeyId();
      // 80 random bits make a collision practically impossible; checking costs one read.
      while ((await storage.get(keyRecordKey(accessKeyId))) !== undefined) accessKeyId = newAccessKeyId();
      const secretAccessKey = randomBase62(40);
      const now = clock.now();
      // A key pair is not renewable and AWS SDKs cache it until its expiration, so that must be
      // true: capped by the issuing token's remaining life (a child token alone would keep its
      // own TTL while its parent lives, and die early if the parent is not renewed).
      const parentLeft = input.parent.expireAt === 0 ? Infinity : Math.max(1, Math.floor((input.parent.expireAt - now) / 1000));
      const ttlSeconds = Math.min(input.ttlSeconds, parentLeft);
      const { token, entry } = await tokens.create({
        parent: input.parent,
        policies: input.policies,
        meta: { aws_access_key_id: accessKeyId },
        displayName: `aws-keys-${accessKeyId.toLowerCase()}`,
        ttl: ttlSeconds,
        explicitMaxTtl: ttlSeconds,
        renewable: false,
        path: 'aws-keys/creds',
        // The key is the issuing token in another wire format: a token tied to CIDR blocks must
        // not escape them through a key, so the key's requests are checked against the same blocks.
        boundCidrs: input.parent.boundCidrs ?? [],
      });
      const record: AccessKeyRecord = {
        accessKeyId,
        secretAccessKey,
        token,
        tokenId: entry.id,
        policies: entry.policies,
        createdAt: now,
        expireAt: entry.expireAt,
      };
      try {
        await putJson(storage, keyRecordKey(accessKeyId), record);
      } catch (error) {
        // No token may outlive a key that was never stored.
        await tokens.revokeTree(entry.id).catch(() => undefined);
        throw new CofferError('internal', 'could not store the access key', { cause: error });
      }
      return {
        accessKeyId,
        secretAccessKey,
        policies: entry.policies,
        ttlSeconds: Math.max(0, Math.round((entry.expireAt - now) / 1000)),
        expireAt: entry.expireAt,
      };
    },

    async lookup(accessKeyId) {
      const record = await read(accessKeyId);
      if (!record || record.expireAt <= clock.now()) return undefined;
      // The token may have been revoked with its parent before the lease worker ran.
      if (!(await tokens.lookupById(record.tokenId))) return undefined;
      return record;
    },

    async revoke(accessKeyId) {
      const record = await read(accessKeyId);
      if (!record) return;
      await tokens.revokeTree(record.tokenId);
      await storage.delete(keyRecordKey(accessKeyId));
    },
  };
}
