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
 * and unseal reachable, so a bad quota can be undone), or keep limiting with a deleted quota.
 */
import { badRequest, CofferError } from '../errors.js';
import { parseDurationSeconds } from '../duration.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';
import { createRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter.js';

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
  /** What a request path must equal (or start with, for a mount or a glob). */
  match: string;
  prefix: boolean;
  rate: number;
  interval: number;
  block_interval: number;
  /** Bumped on every write, so a changed quota starts with fresh buckets. */
  revision: number;
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
}

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
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`${field} must be a boolean`);
}

function exemptPathsOf(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw badRequest('rate_limit_exempt_paths must be a list of paths');
  return list.map((p) => p.trim().replace(/^\/+/, '')).filter((p) => p !== '');
}

function exempt(paths: readonly string[], path: string): boolean {
  for (const entry of paths) {
    if (entry.endsWith('*') ? path.startsWith(entry.slice(0, -1)) : path === entry || path === `${entry}/`) return true;
  }
  return false;
}

export function createQuotaStore(options: QuotaStoreOptions): QuotaStore {
  const { storage } = options;
  const limiter: RateLimiter = createRateLimiter({ now: () => options.clock.now(), ...(options.maxClients === undefined ? {} : { maxClients: options.maxClients }) });
  let quotas = new Map<string, StoredQuota>();
  let config: StoredConfig = { rate_limit_exempt_paths: [...DEFAULT_EXEMPT_PATHS], enable_rate_limit_response_headers: false };
  // Most specific first, rebuilt on every change: a request walks it until the first match.
  let ordered: StoredQuota[] = [];

  const reorder = (): void => {
    ordered = [...quotas.values()].sort((a, b) => rank[b.scope] - rank[a.scope] || b.match.length - a.match.length);
  };

  const scopeOf = (path: string): Pick<StoredQuota, 'scope' | 'match' | 'prefix'> => {
    if (path === '') return { scope: 'global', match: '', prefix: true };
    const glob = path.endsWith('*');
    const base = glob ? path.slice(0, -1) : path;
    if (base.includes('*')) throw badRequest('path may hold one glob, at its end');
    if (base.split('/').some((segment) => segment === '.' || segment === '..')) throw badRequest('path must not hold "." or ".." segments');
    const mount = options.mountOf(base);
    if (mount === undefined) throw badRequest(`invalid mount path "${path}": no mount owns it`);
    if (!glob && (base === mount || `${base}/` === mount)) return { scope: 'mount', match: mount, prefix: true };
    if (base.length <= mount.length && glob) return { scope: 'mount', match: mount, prefix: true };
    return { scope: 'path', match: base, prefix: glob };
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
      quotas = new Map();
      ordered = [];
      limiter.clear();
    },
    get active() {
      return ordered.length > 0;
    },
    check(path, client) {
      if (ordered.length === 0 || exempt(config.rate_limit_exempt_paths, path)) return undefined;
      for (const quota of ordered) {
        const matches = quota.prefix ? path.startsWith(quota.match) || `${path}/` === quota.match : path === quota.match;
        if (!matches) continue;
        const decision = limiter.take(
          { key: `${quota.name}#${quota.revision}`, rate: quota.rate, intervalSeconds: quota.interval, blockSeconds: quota.block_interval },
          client,
        );
        return { quota: quota.name, decision, headers: config.enable_rate_limit_response_headers };
      }
      return undefined;
    },
    list: () => [...quotas.keys()].sort(),
    read(name) {
      const quota = quotas.get(name);
      return quota === undefined ? undefined : view(quota);
    },
    async write(name, input) {
      quotaName(name);
      if (input.role !== undefined && input.role !== '') throw badRequest('role is not supported by Coffer rate limit quotas');
      if (input.inheritable === true) throw badRequest('inheritable is not supported: Coffer has no namespaces');
      const previous = quotas.get(name);
      const path = typeof input.path === 'string' ? input.path.trim().replace(/^\/+/, '') : input.path === undefined ? (previous?.path ?? '') : undefined;
      if (path === undefined) throw badRequest('path must be a string');
      const rate = input.rate === undefined && previous ? previous.rate : rateOf(input.rate);
      const interval = parseDurationSeconds(input.interval, 'interval') ?? previous?.interval ?? 1;
      if (interval < 1 || interval > MAX_INTERVAL_SECONDS) throw badRequest('interval must be between 1s and 24h');
      const blockInterval = parseDurationSeconds(input.block_interval, 'block_interval') ?? previous?.block_interval ?? 0;
      if (blockInterval > MAX_INTERVAL_SECONDS) throw badRequest('block_interval must be at most 24h');
      const quota: StoredQuota = { name, path, ...scopeOf(path), rate, interval, block_interval: blockInterval, revision: (previous?.revision ?? 0) + 1 };
      for (const other of quotas.values()) {
        if (other.name !== name && other.scope === quota.scope && other.match === quota.match && other.prefix === quota.prefix) {
          throw new CofferError('bad_request', `quota "${other.name}" already applies to path "${other.path}"`);
        }
      }
      await putJson(storage, `${RULE_PREFIX}${name}`, quota);
      quotas.set(name, quota);
      reorder();
    },
    async delete(name) {
      quotaName(name);
      await storage.delete(`${RULE_PREFIX}${name}`);
      quotas.delete(name);
      reorder();
    },
    readConfig: () => ({
      rate_limit_exempt_paths: [...config.rate_limit_exempt_paths],
      enable_rate_limit_audit_logging: false,
      enable_rate_limit_response_headers: config.enable_rate_limit_response_headers,
    }),
    async writeConfig(input) {
      if (booleanOf(input.enable_rate_limit_audit_logging, 'enable_rate_limit_audit_logging', false)) {
        throw badRequest('enable_rate_limit_audit_logging is not supported: refused requests are never audited, so a flood cannot fill the audit log');
      }
      const next: StoredConfig = {
        rate_limit_exempt_paths: input.rate_limit_exempt_paths === undefined ? config.rate_limit_exempt_paths : exemptPathsOf(input.rate_limit_exempt_paths),
        enable_rate_limit_response_headers: booleanOf(input.enable_rate_limit_response_headers, 'enable_rate_limit_response_headers', config.enable_rate_limit_response_headers),
      };
      await putJson(storage, CONFIG_KEY, next);
      config = next;
    },
  };
}
