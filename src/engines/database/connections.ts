/**
 * The open plugin (and so the connection pool) of each `config/:name`, opened on first use.
 *
 * Owns: pool lifecycles. A config write installs a freshly opened plugin and closes the old one
 * once the requests already using it have finished; delete and reset close it; shutdown closes
 * all. Also finishes a rotate-root that was cut short: a config with a pending password is
 * opened with whichever of the two passwords the database accepts, and that one is kept.
 * Must never: keep two live pools for one config, or close a pool under a running request.
 */
import { CofferError } from '../../core/errors.js';
import type { DatabaseStore, DbConfig } from './config-store.js';
import { databaseFailure } from './db-errors.js';
import { DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_STATEMENT_TIMEOUT_S, type DatabasePlugin, type PluginConnectionConfig } from './plugin.js';
import { resolvePlugin, type DatabasePluginRegistry } from './plugins.js';

interface Entry {
  plugin: DatabasePlugin;
  config: DbConfig;
  users: number;
  idle: (() => void) | undefined;
}

export interface Connections {
  /** Runs `work` with the config's open plugin, opening it first if needed. */
  use<T>(name: string, work: (plugin: DatabasePlugin, config: DbConfig) => Promise<T>): Promise<T>;
  /** Runs `work` while no other exclusive task for `name` runs (writes, rotate-root, reset). */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Builds and opens a plugin for `config`; with `verify`, connects once. Not yet installed. */
  open(config: DbConfig, verify: boolean): Promise<DatabasePlugin>;
  /** Makes `plugin` the one serving `name` and closes the previous one. */
  install(name: string, plugin: DatabasePlugin, config: DbConfig): Promise<void>;
  /** Closes `name`'s plugin; the next use reopens from storage. */
  retire(name: string): Promise<void>;
  closeAll(): Promise<void>;
}

export function pluginConnectionConfig(config: DbConfig, password = config.password): PluginConnectionConfig {
  return {
    connectionUrl: config.connectionUrl,
    username: config.username,
    password,
    maxOpenConnections: config.maxOpenConnections,
    maxIdleTimeMs: 0,
    maxConnectionLifetimeSeconds: config.maxConnectionLifetime,
    connectTimeoutMs: (config.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000,
    statementTimeoutMs: (config.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT_S) * 1000,
    ...(config.passwordAuthentication === undefined ? {} : { passwordAuthentication: config.passwordAuthentication }),
  };
}

export function createConnections(store: DatabaseStore, registry: DatabasePluginRegistry): Connections {
  const entries = new Map<string, Entry>();
  const opening = new Map<string, Promise<Entry>>();
  // Bumped by install/retire, so a lazy open that raced with them throws its result away.
  const generations = new Map<string, number>();
  const locks = new Map<string, Promise<void>>();

  const generation = (name: string): number => generations.get(name) ?? 0;
  const bump = (name: string): void => { generations.set(name, generation(name) + 1); };

  const open = async (config: DbConfig, verify: boolean, password = config.password): Promise<DatabasePlugin> => {
    const plugin = resolvePlugin(registry, config.pluginName)(config.pluginName);
    await plugin.initialize(pluginConnectionConfig(config, password), verify);
    return plugin;
  };

  /** Opens a config whose rotate-root was interrupted, settling on the password that works. */
  const openPending = async (name: string, config: DbConfig, pending: string): Promise<{ plugin: DatabasePlugin; config: DbConfig }> => {
    for (const password of [config.password, pending]) {
      try {
        const plugin = await open(config, true, password);
        const settled: DbConfig = { ...config, password };
        delete settled.pendingPassword;
        await store.putConfig(name, settled);
        return { plugin, config: settled };
      } catch {
        // Try the other password; if neither works the database is probably down.
      }
    }
    return { plugin: await open(config, false), config };
  };

  const retireEntry = async (entry: Entry): Promise<void> => {
    if (entry.users > 0) await new Promise<void>((resolve) => { entry.idle = resolve; });
    await entry.plugin.close().catch(() => undefined);
  };

  const lazyOpen = (name: string): Promise<Entry> => {
    const existing = opening.get(name);
    if (existing) return existing;
    const started = generation(name);
    const promise = (async (): Promise<Entry> => {
      const stored = await store.getConfig(name);
      if (!stored) throw new CofferError('bad_request', `database config "${name}" not found`);
      let opened: { plugin: DatabasePlugin; config: DbConfig };
      try {
        opened = stored.pendingPassword === undefined
          ? { plugin: await open(stored, false), config: stored }
          : await openPending(name, stored, stored.pendingPassword);
      } catch (err) {
        throw databaseFailure(err, [stored.password, stored.pendingPassword ?? ''], 'failed to open the database connection: ');
      }
      const { plugin, config } = opened;
      const entry: Entry = { plugin, config, users: 0, idle: undefined };
      if (generation(name) !== started || entries.has(name)) {
        await plugin.close().catch(() => undefined);
        const current = entries.get(name);
        if (current) return current;
        throw new CofferError('conflict', `database config "${name}" changed while opening; retry`);
      }
      entries.set(name, entry);
      return entry;
    })().finally(() => opening.delete(name));
    opening.set(name, promise);
    return promise;
  };

  return {
    async use(name, work) {
      const entry = entries.get(name) ?? (await lazyOpen(name));
      entry.users += 1;
      try {
        return await work(entry.plugin, entry.config);
      } finally {
        entry.users -= 1;
        if (entry.users === 0 && entry.idle) entry.idle();
      }
    },

    async exclusive(name, work) {
      const previous = locks.get(name) ?? Promise.resolve();
      let release!: () => void;
      const tail = previous.then(() => new Promise<void>((resolve) => { release = resolve; }));
      locks.set(name, tail);
      await previous;
      try {
        return await work();
      } finally {
        release();
        if (locks.get(name) === tail) locks.delete(name);
      }
    },

    open: (config, verify) => open(config, verify),

    async install(name, plugin, config) {
      bump(name);
      const old = entries.get(name);
      entries.set(name, { plugin, config, users: 0, idle: undefined });
      if (old) await retireEntry(old);
    },

    async retire(name) {
      bump(name);
      const old = entries.get(name);
      entries.delete(name);
      if (old) await retireEntry(old);
    },

    async closeAll() {
      const all = [...entries.values()];
      entries.clear();
      for (const name of new Set([...generations.keys(), ...opening.keys()])) bump(name);
      await Promise.all(all.map((entry) => retireEntry(entry)));
    },
  };
}
