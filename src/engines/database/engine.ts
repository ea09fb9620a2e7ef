/**
 * The database secrets engine (type `database`): Vault-compatible dynamic credentials for
 * PostgreSQL (built in) and any other plugin the composition root registers (MySQL, Redis), and
 * static roles whose passwords Coffer rotates, with Coffer's dual-credential mode.
 *
 * Owns: wiring paths, the `creds` secret type, the connection pools and the rotation scheduler
 * together. Paths:
 *   config/:name, config/   connections      roles/:name, roles/   dynamic roles
 *   creds/:role             issue a leased credential
 *   rotate-root/:name       rotate the admin password      reset/:name   reopen the pool
 *   static-roles/:name, static-roles/   static roles        static-creds/:name   their credential
 *   rotate-role/:name       rotate a static role now       rotations/:name, rotations/   history
 * Must never: read or write outside `ctx.storage`, keep lease bookkeeping of its own, or put a
 * password into a response (other than a credential read), an error or a log line.
 */
import type { Engine, EngineContext } from '../../core/router/engine.js';
import { createDatabaseStore } from './config-store.js';
import { createConnections } from './connections.js';
import { configPaths } from './path-config.js';
import { credsPath } from './path-creds.js';
import { rolePaths } from './path-roles.js';
import { rotatePaths } from './path-rotate.js';
import { rotationPaths } from './path-rotations.js';
import { staticCredsConsumerVersionCheck, staticCredsPath } from './path-static-creds.js';
import { staticRolePaths } from './path-static-roles.js';
import { builtinDatabasePlugins, type DatabasePluginRegistry } from './plugins.js';
import { currentRotationOptions, type RotationOptions } from './rotation-hooks.js';
import { createRotationMachine, type RotationMachine } from './rotation-machine.js';
import { createRotationScheduler, type RotationScheduler } from './rotation-scheduler.js';
import { CREDS_SECRET_TYPE, credsSecretType } from './secret-creds.js';
import { createStaticStore } from './static-store.js';

export interface DatabaseEngineOptions {
  /** plugin_name → factory; defaults to the built-in PostgreSQL plugin only. */
  plugins?: DatabasePluginRegistry;
  /** Rotation tuning and test hooks; main.ts passes none (see rotation-hooks.ts). */
  rotation?: RotationOptions;
}

/** The engine, plus handles on its rotation machinery for tests. */
export interface DatabaseEngine extends Engine {
  readonly rotation: { readonly machine: RotationMachine; readonly scheduler: RotationScheduler };
}

export function createDatabaseEngine(ctx: EngineContext, options: DatabaseEngineOptions = {}): DatabaseEngine {
  const registry = options.plugins ?? builtinDatabasePlugins;
  const store = createDatabaseStore(ctx.storage);
  const connections = createConnections(store, registry);
  const statics = createStaticStore(ctx.storage);
  // Set by shutdown: a rotation in flight stops before its next write and resumes on the next start.
  let stopped = false;
  const isStopped = (): boolean => stopped;
  const rotationOptions = (): RotationOptions => currentRotationOptions(options.rotation);
  const machine = createRotationMachine({ ctx, statics, configs: store, connections, options: rotationOptions, isStopped });
  const scheduler = createRotationScheduler({ ctx, statics, machine, options: rotationOptions, isStopped });
  return {
    type: 'database',
    paths: [
      ...configPaths(store, connections, registry),
      ...rolePaths(store),
      credsPath(ctx, store, connections),
      ...rotatePaths(store, connections),
      ...staticRolePaths({ ctx, statics, configs: store, machine, scheduler }),
      staticCredsPath(ctx, statics),
      ...rotationPaths({ statics, machine, scheduler }),
    ],
    secretTypes: { [CREDS_SECRET_TYPE]: credsSecretType(connections, store, ctx.mount) },
    checkConsumerVersion: staticCredsConsumerVersionCheck(statics),
    // Pools open lazily on first use; the scheduler resumes unfinished rotations in the background.
    initialize: () => scheduler.start(),
    shutdown: async () => {
      stopped = true;
      scheduler.stop();
      await connections.closeAll();
    },
    rotation: { machine, scheduler },
  };
}
