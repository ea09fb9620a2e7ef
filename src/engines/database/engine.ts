/**
 * The database secrets engine (type `database`): Vault-compatible dynamic credentials for
 * PostgreSQL (built in) and any other plugin the composition root registers (MySQL, Redis).
 *
 * Owns: wiring paths, the `creds` secret type and the connection pools together. Paths:
 *   config/:name, config/   connections      roles/:name, roles/   dynamic roles
 *   creds/:role             issue a leased credential
 *   rotate-root/:name       rotate the admin password      reset/:name   reopen the pool
 * Must never: read or write outside `ctx.storage`, keep lease bookkeeping of its own, or put a
 * password into a response, an error or a log line.
 */
import type { Engine, EngineContext } from '../../core/router/engine.js';
import { createDatabaseStore } from './config-store.js';
import { createConnections } from './connections.js';
import { configPaths } from './path-config.js';
import { credsPath } from './path-creds.js';
import { rolePaths } from './path-roles.js';
import { rotatePaths } from './path-rotate.js';
import { builtinDatabasePlugins, type DatabasePluginRegistry } from './plugins.js';
import { CREDS_SECRET_TYPE, credsSecretType } from './secret-creds.js';

export interface DatabaseEngineOptions {
  /** plugin_name → factory; defaults to the built-in PostgreSQL plugin only. */
  plugins?: DatabasePluginRegistry;
}

export function createDatabaseEngine(ctx: EngineContext, options: DatabaseEngineOptions = {}): Engine {
  const registry = options.plugins ?? builtinDatabasePlugins;
  const store = createDatabaseStore(ctx.storage);
  const connections = createConnections(store, registry);
  return {
    type: 'database',
    paths: [
      ...configPaths(store, connections, registry),
      ...rolePaths(store),
      credsPath(ctx, store, connections),
      ...rotatePaths(store, connections),
    ],
    secretTypes: { [CREDS_SECRET_TYPE]: credsSecretType(connections) },
    // Pools open lazily on first use, so a sealed-then-unsealed mount needs nothing here.
    shutdown: () => connections.closeAll(),
  };
}
