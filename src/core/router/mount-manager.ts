/**
 * Enabling, tuning and disabling secrets engines and auth methods at paths, and keeping the
 * router in step with the persisted mount tables.
 *
 * Owns engine instances. Each engine is built by its factory with a context holding only its
 * own storage view, so it cannot reach another mount's data.
 */
import type { Clock } from '../clock.js';
import { CofferError, badRequest } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import { deletePrefix, scope } from '../storage/view.js';
import type { Engine, EngineAuditEntry, EngineFactory, MountInfo } from './engine.js';
import {
  assertMountPathFree,
  createMountTableStore,
  mountStoragePrefix,
  newMountEntry,
  type MountConfig,
  type MountEntry,
  type MountTableKind,
} from './mount-table.js';
import { normalizeMountPath } from './path.js';
import type { Router } from './router.js';
import type { EventBus } from '../events/event-bus.js';
import type { ConsumerRegistry } from '../consumers/consumer-registry.js';

const CUBBYHOLE_TYPE = 'cubbyhole';
/** Mount types the core provides itself, one mount each, which cannot be disabled. */
const BUILTIN_TYPES: ReadonlySet<string> = new Set(['system', 'token', CUBBYHOLE_TYPE]);
/**
 * Mounts Vault refuses to tune (its untunableMounts): their settings are Coffer's own. Tuning
 * sys/ could, for one, name audit_non_hmac_request_keys that put tokens in the audit log in
 * clear. The token auth mount stays tunable, as in Vault (its max_lease_ttl caps tokens).
 */
const UNTUNABLE_TYPES: ReadonlySet<string> = new Set(['system', CUBBYHOLE_TYPE]);

function cubbyholeEntry(): MountEntry {
  // Local, as Vault's: tokens, and so their cubbyholes, belong to this server alone.
  return newMountEntry({ path: 'cubbyhole/', type: CUBBYHOLE_TYPE, table: 'secrets', description: 'per-token private secret storage', local: true });
}

/** Paths no user mount may take or overlap. */
const RESERVED_SECRET_PATHS = ['sys/', 'auth/', 'cubbyhole/', 'identity/', 'audit/'];

export interface EnableMountInput {
  type: string;
  description?: string;
  config?: Partial<MountConfig>;
  options?: Record<string, string>;
  local?: boolean;
}

export interface MountManagerDeps {
  /** The server's lease TTLs, seconds, for mounts that do not tune their own. */
  systemTtl: { defaultSeconds: number; maxSeconds: number };
  barrier: Storage;
  systemStorage: Storage;
  router: Router<MountEntry>;
  clock: Clock;
  logger: Logger;
  secretEngines: Readonly<Record<string, EngineFactory>>;
  authMethods: Readonly<Record<string, EngineFactory>>;
  /**
   * The core's own engines, mounted at 'sys/', 'cubbyhole/' and 'auth/token/' and never
   * removable. A function because the system engine itself needs this manager, so it is built
   * after it.
   */
  builtins: () => { system: Engine; token: Engine; cubbyhole: Engine };
  /** Mounts created on first start (dev mode adds 'secret/'). */
  initialMounts?: ReadonlyArray<{ path: string } & EnableMountInput>;
  events: Pick<EventBus, 'publish'>;
  consumers: Pick<ConsumerRegistry, 'list' | 'servingSince'>;
  audit: { record(entry: EngineAuditEntry): void };
  /** Called before a mount is removed, so its leases can be revoked first. */
  beforeUnmount?: (entry: MountEntry) => Promise<void>;
}

export interface MountManager {
  load(): Promise<void>;
  unload(): Promise<void>;
  enable(kind: MountTableKind, path: string, input: EnableMountInput): Promise<MountEntry>;
  disable(kind: MountTableKind, path: string): Promise<void>;
  tune(kind: MountTableKind, path: string, config: Partial<MountConfig> & { description?: string; options?: Record<string, string> }): Promise<void>;
  list(kind: MountTableKind): MountEntry[];
  get(kind: MountTableKind, path: string): MountEntry | undefined;
  /** The mount that serves `path`: the one with the longest path that is a prefix of it (Vault's MatchingMount). */
  matching(kind: MountTableKind, path: string): MountEntry | undefined;
  /** The TTLs a mount grants: its tuning, else the server's system TTLs. */
  effectiveTtls(entry: MountEntry): { defaultLeaseTtl: number; maxLeaseTtl: number };
  /** The live engine of the mount with this UUID (leases find their issuer this way). */
  engineByUuid(uuid: string): Engine | undefined;
}

/** KV v2 is enabled as type 'kv' with options.version '2', as Vault does with 'kv-v2'. */
/**
 * What an engine sees of its mount. Getters, so a tune of the entry is seen at once. Exported
 * for the HTTP replica processes, which build engines for the same mount table.
 */
export function mountInfoOf(entry: MountEntry, systemTtl: MountManagerDeps['systemTtl']): MountInfo {
  return {
    get path() { return entry.path; },
    get uuid() { return entry.uuid; },
    get type() { return entry.type; },
    get options() { return entry.options; },
    // Effective values, as the request pipeline grants leases: the mount's tuning, else the
    // server's system TTLs, the default never above the max.
    get defaultLeaseTtl() { return Math.min(entry.config.default_lease_ttl || systemTtl.defaultSeconds, this.maxLeaseTtl); },
    get maxLeaseTtl() { return entry.config.max_lease_ttl || systemTtl.maxSeconds; },
  };
}

function canonicalType(input: EnableMountInput): EnableMountInput {
  if (input.type === 'kv-v2') return { ...input, type: 'kv', options: { ...input.options, version: '2' } };
  if (input.type === 'kv' && input.options?.version === undefined) return { ...input, options: { ...input.options, version: '1' } };
  return input;
}

export function createMountManager(deps: MountManagerDeps): MountManager {
  const tables = createMountTableStore(deps.systemStorage);
  const entries: Record<MountTableKind, MountEntry[]> = { secrets: [], auth: [] };
  const engines = new Map<string, Engine>();

  const routePath = (kind: MountTableKind, path: string): string => (kind === 'auth' ? `auth/${path}` : path);

  const mountInfo = (entry: MountEntry): MountInfo => mountInfoOf(entry, deps.systemTtl);

  const instantiate = async (entry: MountEntry): Promise<Engine> => {
    if (entry.type === 'system') return deps.builtins().system;
    if (entry.type === 'token') return deps.builtins().token;
    if (entry.type === CUBBYHOLE_TYPE) return deps.builtins().cubbyhole;
    const factories = entry.table === 'auth' ? deps.authMethods : deps.secretEngines;
    const factory = factories[entry.type];
    if (!factory) throw badRequest(`plugin not found in the catalog: ${entry.type}`);
    const engine = factory({
      storage: scope(deps.barrier, mountStoragePrefix(entry)),
      clock: deps.clock,
      logger: deps.logger.child({ mount: entry.path }),
      mount: mountInfo(entry),
      events: deps.events,
      consumers: deps.consumers,
      audit: deps.audit,
    });
    await engine.initialize?.();
    return engine;
  };

  const activate = async (entry: MountEntry): Promise<void> => {
    const engine = await instantiate(entry);
    engines.set(entry.path, engine);
    deps.router.add(entry, engine);
    // Its engine still revokes its leases (engineByUuid); no request reaches it.
    if (entry.tainted === true) void deps.router.taint(entry.path);
  };

  const find = (kind: MountTableKind, path: string): MountEntry | undefined => {
    const full = routePath(kind, normalizeMountPath(path));
    return entries[kind].find((e) => e.path === full);
  };

  const parseTtl = (value: unknown): number | undefined => {
    if (value === undefined || value === '' || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    throw badRequest('invalid lease TTL');
  };

  const manager: MountManager = {
    async load() {
      for (const kind of ['secrets', 'auth'] as const) {
        let table = await tables.load(kind);
        if (!table) {
          table =
            kind === 'secrets'
              ? [newMountEntry({ path: 'sys/', type: 'system', table: 'secrets', description: 'system endpoints used for control, policy and debugging' }), cubbyholeEntry()]
              : [newMountEntry({ path: 'auth/token/', type: 'token', table: 'auth', description: 'token based credentials' })];
          await tables.save(kind, table);
          entries[kind] = table;
          if (kind === 'secrets') {
            for (const initial of deps.initialMounts ?? []) await manager.enable('secrets', initial.path, initial);
          }
        } else if (kind === 'secrets' && !table.some((e) => e.type === CUBBYHOLE_TYPE)) {
          // A table written before Coffer had a cubbyhole gains it once, as Vault's always has one.
          table = [...table, cubbyholeEntry()];
          await tables.save(kind, table);
          entries[kind] = table;
        } else {
          entries[kind] = table;
        }
        for (const entry of entries[kind]) {
          // Initial mounts were set up by enable() above; a second instance would run twice.
          if (engines.has(entry.path)) continue;
          try {
            await activate(entry);
          } catch (error) {
            deps.logger.error('failed to set up mount', { mount: entry.path, type: entry.type, error: String(error) });
          }
        }
      }
    },
    async unload() {
      for (const [path, engine] of engines) {
        try {
          await engine.shutdown?.();
        } catch (error) {
          deps.logger.warn('engine shutdown failed', { mount: path, error: String(error) });
        }
        deps.router.remove(path);
      }
      engines.clear();
      entries.secrets = [];
      entries.auth = [];
    },
    async enable(kind, path, rawInput) {
      const input = canonicalType(rawInput);
      const mountPath = normalizeMountPath(path);
      const full = routePath(kind, mountPath);
      if (kind === 'secrets') {
        for (const reserved of RESERVED_SECRET_PATHS) {
          if (full.startsWith(reserved) || reserved.startsWith(full)) throw badRequest(`cannot mount under reserved path ${reserved}`);
        }
      } else if (full === 'auth/token/') {
        throw badRequest('token credential backend cannot be instantiated');
      }
      if (!/^[A-Za-z0-9_.\-/]+$/.test(mountPath)) throw badRequest('mount path may contain only letters, digits, "_", "-", "." and "/"');
      assertMountPathFree(full, [...entries.secrets, ...entries.auth]);
      const factories = kind === 'auth' ? deps.authMethods : deps.secretEngines;
      if (!factories[input.type]) throw badRequest(`plugin not found in the catalog: ${input.type}`);
      const config: Partial<MountConfig> = {};
      const defaultTtl = parseTtl(input.config?.default_lease_ttl);
      const maxTtl = parseTtl(input.config?.max_lease_ttl);
      if (defaultTtl !== undefined) config.default_lease_ttl = defaultTtl;
      if (maxTtl !== undefined) config.max_lease_ttl = maxTtl;
      // Vault's handleMount checks: a mount whose default is above its max could never be tuned.
      if (defaultTtl && maxTtl && defaultTtl > maxTtl) throw badRequest('given default lease TTL greater than given max lease TTL');
      if (defaultTtl && !maxTtl && defaultTtl > deps.systemTtl.maxSeconds) throw badRequest('given default lease TTL greater than system max lease TTL');
      if (input.config?.audit_non_hmac_request_keys !== undefined) config.audit_non_hmac_request_keys = [...input.config.audit_non_hmac_request_keys];
      if (input.config?.audit_non_hmac_response_keys !== undefined) config.audit_non_hmac_response_keys = [...input.config.audit_non_hmac_response_keys];
      if (input.config?.listing_visibility !== undefined) config.listing_visibility = input.config.listing_visibility;
      const entry = newMountEntry({ path: full, type: input.type, table: kind, description: input.description ?? '', config, options: input.options ?? {}, local: input.local ?? false });
      await activate(entry);
      entries[kind] = [...entries[kind], entry];
      await tables.save(kind, entries[kind]);
      return entry;
    },
    async disable(kind, path) {
      const entry = find(kind, path);
      if (!entry) return;
      if (BUILTIN_TYPES.has(entry.type)) throw badRequest(`cannot unmount "${entry.path}"`);
      // No request reaches the mount from here on, and those under way finish (their leases
      // stored) before its leases are revoked; a lease issued behind the revocation would
      // otherwise survive the mount and be left with no engine to revoke it. As in Vault, a
      // disable that fails (a lease would not revoke) leaves the mount tainted, recorded in
      // the table so a restart keeps it so: an operator who disabled it must not find it
      // issuing credentials again. The failed leases are retried; disabling again finishes.
      await deps.router.taint(entry.path);
      if (entry.tainted !== true) {
        entry.tainted = true;
        await tables.save(kind, entries[kind]);
      }
      await deps.beforeUnmount?.(entry);
      const engine = engines.get(entry.path);
      await engine?.shutdown?.();
      deps.router.remove(entry.path);
      engines.delete(entry.path);
      entries[kind] = entries[kind].filter((e) => e !== entry);
      // The table no longer names the mount before its data goes, so a crash midway leaves
      // orphaned ciphertext (harmless, unreachable) rather than a mount with half its data.
      await tables.save(kind, entries[kind]);
      await deletePrefix(deps.barrier, mountStoragePrefix(entry));
    },
    async tune(kind, path, config) {
      const entry = find(kind, path);
      if (!entry) throw badRequest(`no mount at ${path}`);
      if (kind === 'secrets' && UNTUNABLE_TYPES.has(entry.type)) throw badRequest(`cannot tune "${entry.path}"`);
      const defaultTtl = parseTtl(config.default_lease_ttl);
      const maxTtl = parseTtl(config.max_lease_ttl);
      const next: MountConfig = { ...entry.config };
      if (defaultTtl !== undefined) next.default_lease_ttl = defaultTtl;
      if (maxTtl !== undefined) next.max_lease_ttl = maxTtl;
      if (config.audit_non_hmac_request_keys !== undefined) next.audit_non_hmac_request_keys = [...config.audit_non_hmac_request_keys];
      if (config.audit_non_hmac_response_keys !== undefined) next.audit_non_hmac_response_keys = [...config.audit_non_hmac_response_keys];
      if (config.listing_visibility !== undefined) next.listing_visibility = config.listing_visibility;
      if (next.max_lease_ttl > 0 && next.default_lease_ttl > next.max_lease_ttl) {
        throw badRequest('default_lease_ttl cannot be greater than max_lease_ttl');
      }
      if (config.options?.version !== undefined && entry.type === 'kv' && config.options.version !== entry.options.version) {
        throw new CofferError('bad_request', 'changing the KV version of a mount is not supported');
      }
      entry.config = next;
      // As Vault: the options given are merged into the mount's, and an empty value removes one.
      if (config.options !== undefined) {
        const options: Record<string, string> = { ...entry.options };
        for (const [key, value] of Object.entries(config.options)) {
          if (key === 'version' && entry.type === 'kv') continue;
          if (value === '') delete options[key];
          else options[key] = value;
        }
        entry.options = options;
      }
      if (config.description !== undefined) entry.description = config.description;
      await tables.save(kind, entries[kind]);
    },
    list: (kind) => [...entries[kind]],
    engineByUuid(uuid) {
      const entry = [...entries.secrets, ...entries.auth].find((e) => e.uuid === uuid);
      return entry ? engines.get(entry.path) : undefined;
    },
    get: (kind, path) => find(kind, path),
    matching(kind, path) {
      const full = routePath(kind, `${normalizeMountPath(path)}`);
      let best: MountEntry | undefined;
      for (const entry of entries[kind]) {
        if (full.startsWith(entry.path) && (best === undefined || entry.path.length > best.path.length)) best = entry;
      }
      return best;
    },
    effectiveTtls(entry) {
      const info = mountInfo(entry);
      return { defaultLeaseTtl: info.defaultLeaseTtl, maxLeaseTtl: info.maxLeaseTtl };
    },
  };
  return manager;
}
