/**
 * Rate limit quotas, as Vault's `sys/quotas/rate-limit/:name` and `sys/quotas/config`: named
 * rules stored behind the barrier, held in memory while unsealed, and checked for every API
 * request before it is read or audited (so a flood costs a 429, not a parsed body and two audit
 * lines).
 *
 * A quota's `path` is empty (global), a mount (`secret/`, `auth/userpass/`), or a path inside a
 * mount, exact or ending in `*` (a prefix). The most specific quota that matches applies, and
 * only it: a path quota over a mount quota over the global one; between two path quotas, the
 * longer. Buckets are per client address (rate-limiter.ts).
 *
 * Owns: the storage keys `rate-limit/<name>` and `config` under its storage, and the buckets.
 * Must never: let a request on an exempt path be refused (the defaults keep health, seal status
 * and unseal reachable; `sys/quotas/*` is not exempt, as in Vault, but no bucket ever stays
 * empty past its Retry-After), or keep limiting with a deleted quota.
 */
import { randomBytes } from 'node:crypto';
import { badRequest, CofferError } from '../errors.js';
import { parseDurationSeconds } from '../duration.js';
import { parseBool, parseStringList } from '../input.js';
import type { Logger } from '../logger.js';
import { normalizeDecodedPath } from '../router/path.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';
import { createRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter.js';
import { rateLimitBucket } from './client-bucket.js';

/** Vault's defaults: reachable whatever the quotas say. */
export const DEFAULT_EXEMPT_PATHS: readonly string[] = [
  'sys/generate-recovery-token/attempt',
  'sys/generate-recovery-token/update',
  'sys/generate-root/attempt',
  'sys/generate-root/update',
  'sys/health',
  'sys/seal-status',
  'sys/unseal',
];

const RULE_PREFIX = 'rate-limit/';
const CONFIG_KEY = 'config';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Per interval; a larger one is almost certainly a unit mistake and would never limit. */
const MAX_RATE = 1_000_000;
const MAX_INTERVAL_SECONDS = 24 * 3600;

type Scope = 'global' | 'mount' | 'path';

interface StoredQuota {
  name: string;
  /** As given (normalised: no leading slash). */
  path: string;
  scope: Scope;
  /** The mount the quota is on ('' for a global one): disabling the mount deletes the quota. */
  mount: string;
  /**
   * What a request path must equal (an exact path quota, both without a trailing slash) or
   * start with (a mount or a glob).
   */
  match: string;
  prefix: boolean;
  rate: number;
  interval: number;
  block_interval: number;
  /** New at every write: a changed or recreated quota starts with fresh buckets (and no blocks). */
  generation: string;
}

interface StoredConfig {
  rate_limit_exempt_paths: string[];
  enable_rate_limit_response_headers: boolean;
}

export interface QuotaCheck {
  readonly quota: string;
  readonly decision: RateDecision;
  /** sys/quotas/config enable_rate_limit_response_headers. */
  readonly headers: boolean;
}

export interface QuotaStore {
  /** Loads the quotas; call after every unseal. */
  setup(): Promise<void>;
  /** Forgets quotas and buckets; call on seal. */
  reset(): void;
  /** Whether any quota exists (an HTTP replica then forwards every request to the primary). */
  readonly active: boolean;
  /** Takes one request from the bucket of the quota that applies, if any (undefined: none does). */
  check(path: string, client: string): QuotaCheck | undefined;
  /** Deletes the quotas on a mount being disabled (`mountPath` with its trailing slash), as Vault. */
  removeForMount(mountPath: string): Promise<void>;
  list(): string[];
  read(name: string): Record<string, unknown> | undefined;
  write(name: string, input: Readonly<Record<string, unknown>>): Promise<void>;
  delete(name: string): Promise<void>;
  readConfig(): Record<string, unknown>;
  writeConfig(input: Readonly<Record<string, unknown>>): Promise<void>;
}

export interface QuotaStoreOptions {
  /** Already scoped to the quotas' own prefix. */
  storage: Storage;
  clock: { now(): number };
  /** The mount path (with its trailing slash) that owns `path`, if any: for validating quota paths. */
  mountOf(path: string): string | undefined;
  maxClients?: number;
  /** Where refusals are reported: one warning per quota per REFUSAL_REPORT_MS at most. */
  logger?: Logger;
}

/** Refused requests are counted and reported at most this often per quota, never per request. */
export const REFUSAL_REPORT_MS = 10_000;

const rank: Record<Scope, number> = { global: 0, mount: 1, path: 2 };

function view(quota: StoredQuota): Record<string, unknown> {
  return {
    name: quota.name,
    path: quota.path,
    type: 'rate-limit',
    rate: quota.rate,
    interval: quota.interval,
    block_interval: quota.block_interval,
    role: '',
    inheritable: quota.scope === 'global',
  };
}

function quotaName(name: string): string {
  if (!NAME.test(name)) throw badRequest('quota name must be 1 to 128 letters, digits, dots, dashes or underscores');
  return name;
}

function rateOf(value: unknown): number {
  const rate = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) throw badRequest('rate must be positive');
  if (rate > MAX_RATE) throw badRequest(`rate must be at most ${MAX_RATE}`);
  return rate;
}

function booleanOf(value: unknown, field: string, fallback: boolean): boolean {
  return value === undefined || value === null || value === '' ? fallback : parseBool(value, field);
}

function exemptPathsOf(value: unknown): string[] {
  return parseStringList(value, 'rate_limit_exempt_paths').map((p) => p.replace(/^\/+/, '')).filter((p) => p !== '');
}

function exempt(paths: readonly string[], path: string): boolean {
  for (const entry of paths) {
    if (entry.endsWith('*') ? path.startsWith(entry.slice(0, -1)) : path === entry || path === `${entry}/`) return true;
  }
  return false;
}

const withoutTrailingSlash = (path: string): string => (path.endsWith('/') ? path.slice(0, -1) : path);

export function createQuotaStore(options: QuotaStoreOptions): QuotaStore {
  const { storage } = options;
  // Per quota: refusals not yet reported, the last refused address, when the last report went out.
  const refusals = new Map<string, { count: number; lastClient: string; reportedAt: number }>();
  const noteRefusal = (quota: string, client: string): void => {
    if (options.logger === undefined) return;
    const now = options.clock.now();
    let entry = refusals.get(quota);
    if (entry === undefined) {
      entry = { count: 0, lastClient: client, reportedAt: -Infinity };
      refusals.set(quota, entry);
    }
    entry.count += 1;
    entry.lastClient = client;
    if (now - entry.reportedAt < REFUSAL_REPORT_MS) return;
    // Operators see throttling without a log line per request (which a flood would turn into its own flood).
    options.logger.warn('rate limit quota refused requests', { quota, refused: entry.count, last_client: entry.lastClient });
    entry.count = 0;
    entry.reportedAt = now;
  };
  const limiter: RateLimiter = createRateLimiter({ now: () => options.clock.now(), ...(options.maxClients === undefined ? {} : { maxClients: options.maxClients }) });
  let quotas = new Map<string, StoredQuota>();
  let config: StoredConfig = { rate_limit_exempt_paths: [...DEFAULT_EXEMPT_PATHS], enable_rate_limit_response_headers: false };
  // Most specific first, rebuilt on every change: a request walks it until the first match.
  let ordered: StoredQuota[] = [];

  // Longest first within a rank, and an exact path before a glob of the same text (as Vault).
  const reorder = (): void => {
    ordered = [...quotas.values()].sort((a, b) => rank[b.scope] - rank[a.scope] || b.match.length - a.match.length || Number(a.prefix) - Number(b.prefix));
  };
  // Changes one at a time: a duplicate-path check or a partial update must see the last write.
  let writing: Promise<unknown> = Promise.resolve();
  // Bumped at every seal: a change asked for before it must not touch memory after it.
  let epoch = 0;
  /** Runs `fn` after the changes before it; `current()` says whether no seal came since the call. */
  const serially = <T>(fn: (current: () => boolean) => Promise<T>): Promise<T> => {
    const asked = epoch;
    const current = (): boolean => epoch === asked;
    const run = writing.then(() => fn(current), () => fn(current));
    writing = run.catch(() => undefined);
    return run;
  };

  const scopeOf = (path: string): Pick<StoredQuota, 'scope' | 'mount' | 'match' | 'prefix'> => {
    if (path === '') return { scope: 'global', mount: '', match: '', prefix: true };
    const glob = path.endsWith('*');
    const given = glob ? path.slice(0, -1) : path;
    if (given.includes('*')) throw badRequest('path may hold one glob, at its end');
    // The same rules as a request path (doubled slashes collapse; "." and ".." are refused).
    const base = normalizeDecodedPath(given);
    const mount = options.mountOf(base);
    if (mount === undefined) throw badRequest(`invalid mount path "${path}": no mount owns it`);
    if (`${withoutTrailingSlash(base)}/` === mount || (glob && base.length <= mount.length)) return { scope: 'mount', mount, match: mount, prefix: true };
    return glob ? { scope: 'path', mount, match: base, prefix: true } : { scope: 'path', mount, match: withoutTrailingSlash(base), prefix: false };
  };

  /** Validates and stores one quota; `current()` false: a seal came since the call, so memory stays as it is. */
  const writeQuota = async (name: string, input: Readonly<Record<string, unknown>>, current: () => boolean): Promise<void> => {
    quotaName(name);
    if (input.role !== undefined && input.role !== '') throw badRequest('role is not supported by Coffer rate limit quotas');
    const previous = quotas.get(name);
    const path = typeof input.path === 'string' ? input.path.trim().replace(/^\/+/, '') : input.path === undefined ? (previous?.path ?? '') : undefined;
    if (path === undefined) throw badRequest('path must be a string');
    const rate = input.rate === undefined && previous ? previous.rate : rateOf(input.rate);
    // 0 or absent: the default, one second (as Vault).
    const interval = parseDurationSeconds(input.interval, 'interval') || (previous?.interval ?? 1);
    if (interval < 1 || interval > MAX_INTERVAL_SECONDS) throw badRequest('interval must be between 1s and 24h');
    const blockInterval = parseDurationSeconds(input.block_interval, 'block_interval') ?? previous?.block_interval ?? 0;
    if (blockInterval > MAX_INTERVAL_SECONDS) throw badRequest('block_interval must be at most 24h');
    const quota: StoredQuota = { name, path, ...scopeOf(path), rate, interval, block_interval: blockInterval, generation: randomBytes(8).toString('hex') };
    // Only a global quota is inherited (Coffer has no namespaces to inherit it); saying so is fine.
    if (booleanOf(input.inheritable, 'inheritable', false) && quota.scope !== 'global') throw badRequest('inheritable applies to a global quota only');
    for (const other of quotas.values()) {
      if (other.name !== name && other.scope === quota.scope && other.match === quota.match && other.prefix === quota.prefix) {
        throw new CofferError('bad_request', `quota "${other.name}" already applies to path "${other.path}"`);
      }
    }
    await putJson(storage, `${RULE_PREFIX}${name}`, quota);
    if (!current()) return;
    quotas.set(name, quota);
    reorder();
  };

  const writeConfigNow = async (input: Readonly<Record<string, unknown>>, current: () => boolean): Promise<void> => {
    if (booleanOf(input.enable_rate_limit_audit_logging, 'enable_rate_limit_audit_logging', false)) {
      throw badRequest('enable_rate_limit_audit_logging is not supported: refused requests are never audited, so a flood cannot fill the audit log');
    }
    const next: StoredConfig = {
      rate_limit_exempt_paths: input.rate_limit_exempt_paths === undefined ? config.rate_limit_exempt_paths : exemptPathsOf(input.rate_limit_exempt_paths),
      enable_rate_limit_response_headers: booleanOf(input.enable_rate_limit_response_headers, 'enable_rate_limit_response_headers', config.enable_rate_limit_response_headers),
    };
    await putJson(storage, CONFIG_KEY, next);
    if (current()) config = next;
  };

  return {
    async setup() {
      const names = await storage.list(RULE_PREFIX);
      const loaded = new Map<string, StoredQuota>();
      for (const name of names) {
        const quota = await getJson<StoredQuota>(storage, `${RULE_PREFIX}${name}`);
        if (quota) loaded.set(quota.name, quota);
      }
      quotas = loaded;
      config = (await getJson<StoredConfig>(storage, CONFIG_KEY)) ?? { rate_limit_exempt_paths: [...DEFAULT_EXEMPT_PATHS], enable_rate_limit_response_headers: false };
      reorder();
      limiter.clear();
    },
    reset() {
      epoch += 1;
      refusals.clear();
      quotas = new Map();
      ordered = [];
      limiter.clear();
    },
    get active() {
      return ordered.length > 0;
    },
    check(path, client) {
      if (ordered.length === 0 || exempt(config.rate_limit_exempt_paths, path)) return undefined;
      const exactPath = withoutTrailingSlash(path);
      for (const quota of ordered) {
        // A trailing slash changes nothing: `LIST secret/metadata/team/` is the same resource.
        const matches = quota.prefix ? path.startsWith(quota.match) || `${path}/` === quota.match : exactPath === quota.match;
        if (!matches) continue;
        const decision = limiter.take(
          { key: quota.generation, rate: quota.rate, intervalSeconds: quota.interval, blockSeconds: quota.block_interval },
          rateLimitBucket(client),
        );
        if (!decision.allowed) noteRefusal(quota.name, client);
        return { quota: quota.name, decision, headers: config.enable_rate_limit_response_headers };
      }
      return undefined;
    },
    list: () => [...quotas.keys()].sort(),
    read(name) {
      const quota = quotas.get(name);
      return quota === undefined ? undefined : view(quota);
    },
    write: (name, input) => serially((current) => writeQuota(name, input, current)),
    delete: (name) =>
      serially(async (current) => {
        quotaName(name);
        await storage.delete(`${RULE_PREFIX}${name}`);
        if (!current()) return;
        quotas.delete(name);
        reorder();
      }),
    removeForMount: (mountPath) =>
      serially(async (current) => {
        for (const quota of [...quotas.values()]) {
          if (quota.mount !== mountPath) continue;
          await storage.delete(`${RULE_PREFIX}${quota.name}`);
          if (!current()) return;
          quotas.delete(quota.name);
        }
        reorder();
      }),
    readConfig: () => ({
      rate_limit_exempt_paths: [...config.rate_limit_exempt_paths],
      enable_rate_limit_audit_logging: false,
      enable_rate_limit_response_headers: config.enable_rate_limit_response_headers,
    }),
    writeConfig: (input) => serially((current) => writeConfigNow(input, current)),
  };
}
