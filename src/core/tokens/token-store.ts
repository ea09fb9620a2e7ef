/**
 * The token store: service tokens, their accessors, the parent/child tree and expiry.
 *
 * Only an HMAC of each token (keyed by a per-install salt kept behind the barrier) is stored or
 * used as an id; the raw token exists only in the response that creates it. Storage keys are
 * not encrypted by the barrier, so accessors are HMAC'd in keys too.
 *
 * Never log or return a raw token other than at creation.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { CofferError, badRequest } from '../errors.js';
import { randomBase62 } from '../ids.js';
import { getJson, jsonBytes, type Storage, type WriteOp } from '../storage/storage.js';
import { createKeyedMutex } from '../keyed-mutex.js';
import { formatDuration } from '../duration.js';
import type { LoginRenewalLimits } from '../router/engine.js';
import { dueExpiries, expiryDeletes, expiryKey } from './token-expiry-index.js';
import { createTokenFences } from './token-fences.js';

export interface TokenEntry {
  /** HMAC of the token; the storage id and the only handle the server keeps. */
  id: string;
  accessor: string;
  /** Parent token id, '' for orphans. */
  parent: string;
  policies: string[];
  meta: Record<string, string>;
  displayName: string;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  /** Milliseconds since the epoch. */
  creationTime: number;
  /** The TTL the token was created with, seconds. */
  creationTtl: number;
  explicitMaxTtl: number;
  period: number;
  /** Milliseconds since the epoch; 0 = never (root tokens only). */
  expireAt: number;
  renewable: boolean;
  path: string;
  orphan: boolean;
  entityId: string;
  lastRenewal: number;
  /**
   * CIDR blocks the token may be used from (a login's token_bound_cidrs); absent = anywhere.
   * Absent rather than empty in entries stored before the field existed, and whenever unbound.
   */
  boundCidrs?: string[];
  /** The token role it was made through (auth/token/create/:role); absent for every other token. */
  role?: string;
}

export interface CreateTokenInput {
  /** Caller-chosen token value (root only, e.g. --dev-root-token); random when absent. */
  token?: string;
  parent: TokenEntry | undefined;
  policies: string[];
  meta?: Record<string, string>;
  displayName: string;
  numUses?: number;
  /** Seconds; undefined = default. */
  ttl?: number;
  explicitMaxTtl?: number;
  period?: number;
  renewable?: boolean;
  path: string;
  /** Ties the token to these CIDR blocks (checked by the request pipeline); empty = anywhere. */
  boundCidrs?: readonly string[];
  /** Allows a token that never expires; only for root tokens. */
  allowNoExpiry?: boolean;
  /** The token role it is made through. */
  role?: string;
}

export interface TokenStoreOptions {
  storage: Storage;
  clock: Clock;
  /** Seconds. Vault's system default and maximum are both 768h. */
  defaultTtl?: number;
  maxTtl?: number;
  /**
   * The default and maximum TTL (seconds) for a token created through `path`, when they differ
   * from the two above: the token mount's tuned TTLs apply to tokens made by auth/token/create,
   * as in Vault. Asked at every create and renew, so a tune takes effect at once.
   */
  ttlLimits?: (path: string) => { defaultTtl: number; maxTtl: number } | undefined;
}

export type RevokeListener = (entry: TokenEntry) => Promise<void>;

/** A token made or renewed, with Vault's warnings for what the TTL limits cut short. */
export interface TokenGrant {
  entry: TokenEntry;
  /** Vault's CalculateTTL warnings: a TTL or period above the effective max TTL was capped. */
  warnings: string[];
}

export interface TokenStore {
  /** Loads or creates the salt; call after every unseal. */
  setup(): Promise<void>;
  /**
   * Goes on with the revocations a stop or crash cut short (their trees are dead to lookups
   * from setup on); called once everything their revoke listeners need is loaded.
   */
  resumeRevocations(): void;
  /** Forgets the salt and caches; call on seal. */
  reset(): void;
  /**
   * Forgets the cached entry of token `id`, whose stored record another process changed (an
   * HTTP replica applying the primary's commits); a read of it in flight will not cache it.
   */
  forgetCached(id: string): void;
  create(input: CreateTokenInput): Promise<TokenGrant & { token: string }>;
  /** The live entry for a raw token, or undefined when unknown or expired. */
  lookup(token: string): Promise<TokenEntry | undefined>;
  /** The live entry for a token id; undefined also while its revocation is in progress. */
  lookupById(id: string): Promise<TokenEntry | undefined>;
  /**
   * The entry of the token making the request being served: as lookupById, except that a token
   * whose last use this very request spent still answers (Vault's tainted lookup), so a
   * use-limited token can look itself up, renew or revoke itself with its last use. Only for a
   * request that has passed `use`.
   */
  lookupCaller(id: string): Promise<TokenEntry | undefined>;
  lookupByAccessor(accessor: string): Promise<TokenEntry | undefined>;
  /**
   * Consumes one use of a use-limited token; returns true when that was its last use. From then
   * on the token is dead to every lookup, even before the caller has revoked it.
   */
  use(entry: TokenEntry): Promise<boolean>;
  /**
   * Extends the token's life. `login`: the issuing role's current token TTLs (Vault's renew
   * handler response), which replace the token's own period, lower its max TTL and give the
   * default increment.
   */
  renew(entry: TokenEntry, incrementSeconds: number | undefined, login?: LoginRenewalLimits): Promise<TokenGrant>;
  /** Revokes the token and every descendant (depth first). */
  revokeTree(id: string): Promise<void>;
  /** Revokes only the token; its children become orphans. */
  revokeOrphan(id: string): Promise<void>;
  listAccessors(): Promise<string[]>;
  /** Revokes every token whose expiry has passed; returns how many. */
  sweepExpired(): Promise<number>;
  /**
   * Revokes (with their children) every token created through a path under `prefix`, e.g. all
   * logins of an auth mount being disabled; returns how many. Reads every token: an admin
   * operation, not a request path. `leasedOnly` skips tokens that never expire (root tokens),
   * which have no lease in Vault and so are not reached by sys/leases/revoke-prefix.
   */
  revokeByPathPrefix(prefix: string, options?: { leasedOnly?: boolean }): Promise<number>;
  onRevoke(listener: RevokeListener): void;
  /** Seconds until expiry (0 for never-expiring tokens). */
  ttlSeconds(entry: TokenEntry): number;
}

const DEFAULT_TTL = 768 * 3600;
const SWEEP_PAGE = 64;

/** Vault's CalculateTTL warnings, durations in Go's format ("768h0m0s"). */
const ttlCapped = (ttl: number, max: number): string =>
  `TTL of "${formatDuration(ttl)}" exceeded the effective max_ttl of "${formatDuration(max)}"; TTL value is capped accordingly`;
const periodCapped = (period: number, max: number): string =>
  `period of "${formatDuration(period)}" exceeded the effective max_ttl of "${formatDuration(max)}"; period value is capped accordingly`;

/** Token entries are stored at this prefix + the token's id, under the store's storage. */
export const TOKEN_ENTRY_PREFIX = 'id/';
const idKey = (id: string): string => `${TOKEN_ENTRY_PREFIX}${id}`;
const accessorKey = (hashed: string): string => `accessor/${hashed}`;
const parentKey = (parent: string, child: string): string => `parent/${parent}/${child}`;
/** A tree whose revocation has begun and not yet ended (revokeTree). */
const REVOKING_PREFIX = 'revoking/';
const revokingKey = (id: string): string => `${REVOKING_PREFIX}${id}`;

/** numUses of a token whose last allowed use has been taken (0 means unlimited). */
const USES_EXHAUSTED = -1;

export function createTokenStore(options: TokenStoreOptions): TokenStore {
  const { storage, clock } = options;
  const systemLimits = { defaultTtl: options.defaultTtl ?? DEFAULT_TTL, maxTtl: options.maxTtl ?? DEFAULT_TTL };
  const limitsFor = (path: string): { defaultTtl: number; maxTtl: number } => options.ttlLimits?.(path) ?? systemLimits;
  let salt: Buffer | undefined;
  // The salt as a KeyObject: HMAC setup skips re-importing raw key bytes on every request.
  let saltKey: KeyObject | undefined;
  const cache = new LRUCache<string, TokenEntry>({ max: 10_000 });
  // Tokens whose deletion is committing: a lookup in that window still reads the stored entry,
  // and caching it would let the token outlive its revocation.
  const removing = new Map<string, number>();
  // Bumped when any removal starts: a read that began before it must not cache what it read
  // (with an asynchronous backend it could finish after the removal did).
  let removalEpoch = 0;
  // Keeps a revocation from missing a child created while it runs (token-fences.ts).
  const fences = createTokenFences();
  // Serialises every change to one token's record (a use, a renewal, orphaning, revocation):
  // two uses cannot both spend the same count, and a renewal that read the entry before a
  // revocation cannot write it back after it.
  const changes = createKeyedMutex();
  const revokeListeners: RevokeListener[] = [];

  const hmac = (value: string): string => {
    if (!saltKey) throw new CofferError('sealed', 'Vault is sealed');
    return createHmac('sha256', saltKey).update(value).digest('hex');
  };

  // The last token looked up, with its id. Under load most requests carry one of a few tokens,
  // and skipping their HMAC (a native Hmac object per request) cut a KV read's server CPU from
  // about 120 to 100 µs here (6 paired runs, 64 connections, one token). One entry only, so at
  // most one token value outlives its request; compared in constant time; wiped on reset (seal).
  let lastLookup: { token: Buffer; id: string } | undefined;
  const idOf = (token: string): string => {
    const bytes = Buffer.from(token, 'utf8');
    const last = lastLookup;
    if (last !== undefined && last.token.length === bytes.length && timingSafeEqual(last.token, bytes)) return last.id;
    const id = hmac(token);
    lastLookup = { token: bytes, id };
    return id;
  };

  const read = async (id: string): Promise<TokenEntry | undefined> => {
    const cached = cache.get(id);
    if (cached) return cached;
    const epoch = removalEpoch;
    const entry = await getJson<TokenEntry>(storage, idKey(id));
    if (entry && !removing.has(id) && epoch === removalEpoch) cache.set(id, entry);
    return entry;
  };

  const isExpired = (entry: TokenEntry): boolean => entry.expireAt !== 0 && clock.now() >= entry.expireAt;

  /** Whether a revocation of this token's tree, or of an ancestor's, has started. */
  const underRevocation = async (entry: TokenEntry): Promise<boolean> => {
    const seen = new Set<string>();
    for (let current: TokenEntry | undefined = entry; current !== undefined && !seen.has(current.id); current = current.parent ? await read(current.parent) : undefined) {
      if (fences.isDoomed(current.id)) return true;
      seen.add(current.id);
    }
    return false;
  };

  const live = async (id: string, spentByCaller = false): Promise<TokenEntry | undefined> => {
    const entry = await read(id);
    // USES_EXHAUSTED: its last use is spent and its revocation is on the way.
    if (!entry || (entry.numUses === USES_EXHAUSTED && !spentByCaller) || removing.has(id)) return undefined;
    if (isExpired(entry)) {
      // An expired token stops working at once; its tree is revoked in the background.
      void revokeTree(id).catch(() => undefined);
      return undefined;
    }
    // A token dies with its parent, as in Vault, but keeps its own TTL while the parent lives
    // (a child of a periodic token outlives its parent's expiry at creation as long as the
    // parent is renewed). An expired ancestor ends it at once, before the sweep revokes the tree.
    if (entry.parent !== '' && (await expiredAncestor(entry)) !== undefined) return undefined;
    // Checked only while some revocation is under way: no extra await on the hot path.
    if (fences.anyDoomed() && (await underRevocation(entry))) return undefined;
    return entry;
  };

  /** The first ancestor that has expired (its tree's revocation is then started), if any. */
  const expiredAncestor = async (entry: TokenEntry): Promise<string | undefined> => {
    const seen = new Set<string>([entry.id]);
    for (let id = entry.parent; id !== '' && !seen.has(id); ) {
      seen.add(id);
      const ancestor = await read(id);
      if (ancestor === undefined) return undefined;
      if (isExpired(ancestor)) {
        void revokeTree(id).catch(() => undefined);
        return id;
      }
      id = ancestor.parent;
    }
    return undefined;
  };

  /** Marks a token doomed (see token-fences.ts); it leaves the cache, where a lookup would find it. */
  const doom = (id: string): Promise<() => void> => {
    cache.delete(id);
    return fences.doom(id);
  };

  const writeEntry = async (entry: TokenEntry, extra: WriteOp[] = []): Promise<void> => {
    await storage.batch([{ type: 'put', key: idKey(entry.id), value: jsonBytes(entry) }, ...extra]);
    cache.set(entry.id, entry);
  };

  const removeOne = (entry: TokenEntry): Promise<void> =>
    changes.run(entry.id, async () => {
      // Dead to lookups from here on: the revoke listeners revoke its leases first, and a
      // request that registers a lease meanwhile checks for this (see lookupById).
      removing.set(entry.id, (removing.get(entry.id) ?? 0) + 1);
      removalEpoch += 1;
      cache.delete(entry.id);
      try {
        for (const listener of revokeListeners) await listener(entry);
        const ops: WriteOp[] = [
          { type: 'delete', key: idKey(entry.id) },
          { type: 'delete', key: accessorKey(hmac(entry.accessor)) },
        ];
        if (entry.expireAt !== 0) ops.push(...expiryDeletes(entry.expireAt, entry.id));
        if (entry.parent) ops.push({ type: 'delete', key: parentKey(entry.parent, entry.id) });
        await storage.batch(ops);
      } finally {
        const left = (removing.get(entry.id) ?? 1) - 1;
        if (left === 0) removing.delete(entry.id);
        else removing.set(entry.id, left);
      }
    });

  const children = async (id: string): Promise<string[]> =>
    (await storage.list(`parent/${id}/`)).filter((child) => !child.endsWith('/'));

  const revokeTree = async (id: string): Promise<void> => {
    // Iterative walk: each token is marked (dead to lookups, no new children) before its
    // children are listed, and deleted after them, so a crash midway leaves the parent (and the
    // way to find the rest) in place for a retry. The marks go when the walk ends: the tokens
    // are gone by then, or still stored if it failed, and the caller learns that it did.
    // The revocation itself is recorded first: a crash midway must not bring the rest of the
    // tree back to life (setup dooms it again, and resumeRevocations finishes the walk).
    const undo: Array<() => void> = [];
    await storage.put(revokingKey(id), Buffer.alloc(0));
    try {
      const stack: Array<{ id: string; expanded: boolean }> = [{ id, expanded: false }];
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as { id: string; expanded: boolean };
        if (!top.expanded) {
          top.expanded = true;
          undo.push(await doom(top.id));
          for (const child of await children(top.id)) stack.push({ id: child, expanded: false });
          continue;
        }
        stack.pop();
        const entry = await read(top.id);
        if (entry) await removeOne(entry);
        else {
          // A dangling child index (its token already gone): drop the index entries.
          for (const child of await children(top.id)) await storage.delete(parentKey(top.id, child));
        }
      }
      // Lost in a crash, the record only makes the next start find the tree already gone.
      await storage.batch([{ type: 'delete', key: revokingKey(id) }], { durability: 'deferred' });
    } finally {
      for (const release of undo) release();
    }
  };

  // Revocations a stop or crash cut short, doomed by setup until resumeRevocations ends them.
  let unfinished: Array<{ id: string; release: () => void }> = [];

  /**
   * The longest a token may live from its creation, seconds: the system maximum, lowered (never
   * raised) by its explicit max TTL. A periodic token without one has no such limit: each
   * renewal extends it by its period.
   */
  const hardLimit = (explicitMax: number, period: number, maxTtl: number): number => {
    if (explicitMax > 0) return Math.min(explicitMax, maxTtl);
    return period > 0 ? Infinity : maxTtl;
  };

  /** The max TTL a token is held to, as Vault's CalculateTTL takes it: the mount's, lowered by the explicit max. */
  const effectiveMax = (explicitMax: number, maxTtl: number): number => (explicitMax > 0 ? Math.min(explicitMax, maxTtl) : maxTtl);

  const computeExpiry = (input: CreateTokenInput, now: number): { ttl: number; expireAt: number; warnings: string[] } => {
    const explicitMax = input.explicitMaxTtl ?? 0;
    const { defaultTtl, maxTtl } = limitsFor(input.path);
    const warnings: string[] = [];
    // A period longer than the system maximum is capped to it, as Vault does.
    const requestedPeriod = input.period ?? 0;
    const period = Math.min(requestedPeriod, maxTtl);
    let ttl = period > 0 ? period : input.ttl ?? 0;
    if (ttl === 0 && explicitMax === 0 && input.allowNoExpiry) return { ttl: 0, expireAt: 0, warnings };
    if (ttl === 0) ttl = defaultTtl;
    // Vault warns about what it caps: a period (and so the TTL) above the effective max, or a
    // TTL (the one asked for, else the default) past it.
    const max = effectiveMax(explicitMax, maxTtl);
    if (requestedPeriod > max) warnings.push(periodCapped(requestedPeriod, max));
    else if (period === 0 && ttl > max) warnings.push(ttlCapped(ttl, max));
    // TTL 0 must never mean "forever" for a non-root token (CVE-2021-32923).
    ttl = Math.min(ttl, hardLimit(explicitMax, period, maxTtl));
    // Not capped by the parent's expiry: the child dies with its parent (see `live`), and a
    // parent that is renewed keeps its children alive, as in Vault.
    const expireAt = now + ttl * 1000;
    return { ttl, expireAt, warnings };
  };

  /**
   * A token's bound CIDRs: its own, else its parent's, as Vault copies them to a child, so a
   * bound token cannot escape its binding by minting a child inside the allowed blocks (an
   * orphan has no parent: whoever makes one without sudo passes its creator's blocks itself, as
   * create-orphan and a token role do).
   */
  const boundCidrsFor = (input: CreateTokenInput): Pick<TokenEntry, 'boundCidrs'> => {
    const own = input.boundCidrs && input.boundCidrs.length > 0 ? input.boundCidrs : undefined;
    const cidrs = own ?? input.parent?.boundCidrs;
    return cidrs && cidrs.length > 0 ? { boundCidrs: [...cidrs] } : {};
  };

  const revokeOrphan = async (id: string): Promise<void> => {
    const entry = await read(id);
    if (!entry) return;
    // Closed first, so no child appears after the listing and keeps a parent that is gone.
    // Not doomed: its children live on (as orphans) and must not be refused meanwhile.
    const release = await fences.close(id);
    try {
      for (const childId of await children(id)) {
        await changes.run(childId, async () => {
          const child = await read(childId);
          if (child) await writeEntry({ ...child, parent: '', orphan: true }, [{ type: 'delete', key: parentKey(id, childId) }]);
        });
      }
      await removeOne(entry);
    } finally {
      release();
    }
  };

  return {
    async setup() {
      let stored = await storage.get('salt');
      if (!stored) {
        stored = randomBytes(32);
        await storage.put('salt', stored);
      }
      salt = stored;
      saltKey = createSecretKey(stored);
      for (const id of await storage.list(REVOKING_PREFIX)) {
        if (!id.endsWith('/')) unfinished.push({ id, release: await doom(id) });
      }
    },
    resumeRevocations() {
      const resumed = unfinished;
      unfinished = [];
      for (const { id, release } of resumed) {
        void revokeTree(id)
          .catch(() => undefined) // Still recorded: the next start tries again.
          .finally(release);
      }
    },
    reset() {
      for (const { release } of unfinished) release();
      unfinished = [];
      salt?.fill(0);
      salt = undefined;
      saltKey = undefined;
      lastLookup?.token.fill(0);
      lastLookup = undefined;
      cache.clear();
    },
    forgetCached(id) {
      removalEpoch += 1;
      cache.delete(id);
    },
    async create(input) {
      const now = clock.now();
      const token = input.token ?? `hvs.${randomBase62(24)}`;
      const id = hmac(token);
      if (input.token !== undefined && (await read(id))) throw badRequest('cannot create a token with a duplicate ID');
      const accessor = randomBase62(24);
      const { ttl, expireAt, warnings } = computeExpiry(input, now);
      const entry: TokenEntry = {
        id,
        accessor,
        parent: input.parent?.id ?? '',
        policies: input.policies,
        meta: input.meta ?? {},
        displayName: input.displayName,
        numUses: input.numUses ?? 0,
        creationTime: now,
        creationTtl: ttl,
        explicitMaxTtl: input.explicitMaxTtl ?? 0,
        period: input.period ?? 0,
        expireAt,
        renewable: expireAt !== 0 && (input.renewable ?? true),
        path: input.path,
        orphan: !input.parent,
        entityId: '',
        lastRenewal: 0,
        ...boundCidrsFor(input),
        ...(input.role === undefined ? {} : { role: input.role }),
      };
      const ops: WriteOp[] = [{ type: 'put', key: accessorKey(hmac(accessor)), value: jsonBytes({ id }) }];
      if (entry.parent) ops.push({ type: 'put', key: parentKey(entry.parent, id), value: Buffer.alloc(0) });
      if (expireAt !== 0) ops.push({ type: 'put', key: expiryKey(expireAt, id), value: Buffer.alloc(0) });
      const parent = input.parent;
      if (parent === undefined) {
        await writeEntry(entry, ops);
        return { token, entry, warnings };
      }
      // Registered first, checked second (token-fences.ts): the parent's revocation either sees
      // this child or this check sees the revocation.
      const end = fences.beginCreation(parent.id);
      try {
        const current = fences.isClosed(parent.id) ? undefined : await live(parent.id);
        if (current === undefined) throw new CofferError('permission_denied', 'permission denied');
        // As Vault, for every way of creating a child (auth/token/create, aws-keys/creds): a
        // use-limited token could otherwise escape its limit through one.
        if (current.numUses !== 0) throw badRequest('restricted use token cannot generate child tokens');
        await writeEntry(entry, ops);
      } finally {
        end();
      }
      return { token, entry, warnings };
    },
    lookup: async (token) => (token === '' ? undefined : live(idOf(token))),
    lookupById: (id) => live(id),
    lookupCaller: (id) => live(id, true),
    async lookupByAccessor(accessor) {
      if (accessor === '') return undefined;
      const index = await getJson<{ id: string }>(storage, accessorKey(hmac(accessor)));
      return index ? live(index.id) : undefined;
    },
    async use(entry) {
      if (entry.numUses === 0) return false;
      return changes.run(entry.id, async () => {
        const current = await read(entry.id);
        if (!current || current.numUses === USES_EXHAUSTED) throw new CofferError('permission_denied', 'permission denied');
        const remaining = current.numUses - 1;
        // The last use is recorded before the request runs, so a request queued behind this
        // one finds the token spent (it is revoked once the last request is done).
        await writeEntry({ ...current, numUses: remaining <= 0 ? USES_EXHAUSTED : remaining });
        return remaining <= 0;
      });
    },
    renew: (stale, incrementSeconds, login) => changes.run(stale.id, async () => {
      // The caller's copy may predate a revocation or another renewal: work from the record.
      const entry = await read(stale.id);
      if (!entry || isExpired(entry)) throw new CofferError('permission_denied', 'permission denied');
      if (!entry.renewable || entry.expireAt === 0) throw badRequest('lease is not renewable');
      const now = clock.now();
      const mountMax = limitsFor(entry.path).maxTtl;
      // As Vault's CalculateTTL: the role's max TTL only lowers the mount's, counted from creation.
      const maxTtl = login && login.maxTtl > 0 ? Math.min(login.maxTtl, mountMax) : mountMax;
      const requestedPeriod = login ? login.period : entry.period;
      const period = Math.min(requestedPeriod, maxTtl);
      const defaultIncrement = login && login.ttl > 0 ? login.ttl : entry.creationTtl;
      const roleExplicitMax = login?.explicitMaxTtl ?? 0;
      const explicitMax = roleExplicitMax > 0 && (entry.explicitMaxTtl === 0 || roleExplicitMax < entry.explicitMaxTtl) ? roleExplicitMax : entry.explicitMaxTtl;
      const max = effectiveMax(explicitMax, maxTtl);
      const warnings: string[] = [];
      if (requestedPeriod > max) warnings.push(periodCapped(requestedPeriod, max));
      // What this renewal asks for: the period (capped as just warned), else the increment.
      const wanted = period > 0 ? Math.min(period, max) : incrementSeconds && incrementSeconds > 0 ? incrementSeconds : defaultIncrement;
      const limit = hardLimit(explicitMax, period, maxTtl);
      let expireAt = now + Math.min(wanted, maxTtl) * 1000;
      if (limit !== Infinity) expireAt = Math.min(expireAt, entry.creationTime + limit * 1000);
      const granted = Math.max(0, Math.round((expireAt - now) / 1000));
      if (granted === 0) throw badRequest('past the max TTL, cannot renew');
      // The max TTL counts from creation: what is left of it is the max this renewal could give.
      if (granted < wanted) warnings.push(ttlCapped(wanted, granted));
      // The role's period is the token's from now on, so a lookup shows what renewals do.
      const renewed: TokenEntry = { ...entry, expireAt, lastRenewal: now, ...(login ? { period } : {}) };
      await writeEntry(renewed, [
        ...expiryDeletes(entry.expireAt, entry.id),
        { type: 'put', key: expiryKey(expireAt, entry.id), value: Buffer.alloc(0) },
      ]);
      return { entry: renewed, warnings };
    }),
    revokeTree,
    revokeOrphan,
    async listAccessors() {
      const accessors: string[] = [];
      for (const id of await storage.list('id/')) {
        const entry = await read(id);
        if (entry && !isExpired(entry)) accessors.push(entry.accessor);
      }
      return accessors.sort();
    },
    async sweepExpired() {
      const now = clock.now();
      let revoked = 0;
      for (const due of await dueExpiries(storage, now)) {
        const entry = await read(due.id);
        if (!entry || (due.expireAt !== undefined && entry.expireAt !== due.expireAt)) {
          // Its token is gone, or was renewed and this entry outlived a crash.
          await storage.delete(due.key);
        } else if (isExpired(entry)) {
          await revokeTree(due.id);
          revoked += 1;
        }
      }
      return revoked;
    },
    async revokeByPathPrefix(prefix, opts = {}) {
      // Whole path segments, as Vault's lease prefixes: "auth/userpass/login/bob" is not a
      // prefix of bobby's logins, nor "auth/token/create" of "auth/token/create-orphan".
      const segmentPrefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
      let revoked = 0;
      for (let after = ''; ;) {
        const page = await storage.listPage('id/', after, SWEEP_PAGE);
        for (const id of page) {
          const entry = await read(id);
          if (entry && `${entry.path}/`.startsWith(segmentPrefix) && !(opts.leasedOnly === true && entry.expireAt === 0)) {
            await revokeTree(id);
            revoked += 1;
          }
        }
        if (page.length < SWEEP_PAGE) return revoked;
        after = page[page.length - 1] as string;
      }
    },
    onRevoke(listener) {
      revokeListeners.push(listener);
    },
    ttlSeconds(entry) {
      if (entry.expireAt === 0) return 0;
      return Math.max(0, Math.round((entry.expireAt - clock.now()) / 1000));
    },
  };
}
