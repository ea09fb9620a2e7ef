/**
 * The `rotators` secrets engine (mounted at `rotators/` by default): webhook rotators as
 * configuration (`config/:name`), rotation schedules of secrets in the `aws/` KV v2 mount
 * (`schedule/:secret`, also written by RotateSecret), on-demand rotation (`rotate/:secret`),
 * status (`status/:secret`), and the scheduler that runs due rotations.
 *
 * Owns: wiring its parts together (store, identity, webhook caller, runner, scheduler) and
 * their lifetime: the scheduler starts in `initialize` (after every unseal) and stops, with
 * every rotation driver, in `shutdown` (seal, unmount); unfinished rotations resume from their
 * records on the next start.
 * Must never: touch a secret except through the StagedSecrets port (the request pipeline, with
 * a rotation token), or reach a webhook URL the URL policy forbids.
 */
import { createKeyedMutex } from '../core/keyed-mutex.js';
import type { PolicyStore } from '../core/policy/store.js';
import type { Engine, EngineContext } from '../core/router/engine.js';
import type { TokenStore } from '../core/tokens/token-store.js';
import type { RotatorDirectory } from './directory.js';
import { configPaths } from './path-config.js';
import { schedulePaths } from './path-schedule.js';
import { createRotationIdentity } from './rotation-identity.js';
import type { RotationRecord } from './rotation-record.js';
import { createRotationRunner } from './rotation-runner.js';
import { createRotatorStore } from './rotator-store.js';
import { createRotationScheduler } from './scheduler.js';
import type { StagedSecrets } from './staged-secrets.js';
import { normaliseAllowedHosts } from './url-policy.js';
import { createWebhookCaller } from './webhook.js';
import { namedInLogs } from '../core/consumers/verification.js';

export const ROTATORS_ENGINE_TYPE = 'rotators';

/** Mounted on first start, so RotateSecret can name a webhook rotator on a fresh server. */
export const ROTATORS_INITIAL_MOUNT = {
  path: 'rotators/',
  type: ROTATORS_ENGINE_TYPE,
  description: 'webhook rotators and rotation schedules',
} as const;

export interface RotatorsOptions {
  /** Hosts webhook URLs may name besides loopback (server configuration, never the API). */
  allowedHosts?: readonly string[];
  /** Real milliseconds between scheduler passes (default 10 s). */
  tickMs?: number;
  /** Real milliseconds between two looks at consumers while verifying (default 1 s). */
  pollMs?: number;
  /** Clock milliseconds before a failed rotation or finishSecret is retried (default 1 h). */
  retryMs?: number;
}

export interface RotatorsEngineDeps {
  secrets: StagedSecrets;
  tokens: Pick<TokenStore, 'create' | 'revokeOrphan'>;
  policies: Pick<PolicyStore, 'put' | 'delete' | 'acl'>;
  directory?: RotatorDirectory;
  options?: RotatorsOptions;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

const STEP_TOKEN_TTL_SECONDS = 3600;

/**
 * One live instance per mount. The mount manager can build two engines for one mount (on a
 * fresh server it activates each initial mount when enabling it and again when it loads the
 * table), and two schedulers on one storage would drive every rotation twice; so an instance
 * that initialises stops the one before it.
 */
const liveByMount = new Map<string, Engine>();

export function createRotatorsEngine(ctx: EngineContext, deps: RotatorsEngineDeps): Engine {
  const options = deps.options ?? {};
  const store = createRotatorStore(ctx.storage);
  const locks = createKeyedMutex();
  const urlPolicy = { allowedHosts: normaliseAllowedHosts(options.allowedHosts) };
  const identity = createRotationIdentity({ tokens: deps.tokens, policies: deps.policies, mountUuid: ctx.mount.uuid, tokenTtlSeconds: STEP_TOKEN_TTL_SECONDS });
  /** Names a verify timeout's stragglers in the audit log; throws audit_failed when it cannot. */
  const auditTimeout = (r: RotationRecord, onTimeout: 'revoke' | 'hold'): void => {
    ctx.audit?.record({
      path: deps.secrets.readPath(r.secret),
      operation: 'rotate',
      data: {
        rotation_id: r.id,
        rotator: r.rotator,
        outcome: onTimeout === 'revoke' ? 'timeout_revoked' : 'timeout_held',
        version: r.toKv ?? null,
        stragglers: namedInLogs(r.stragglers).map((s) => ({ consumer_id: s.id, name: s.name, version: s.version })),
        stragglers_count: r.stragglers.length,
      },
      nonHmacKeys: ['rotation_id', 'rotator', 'outcome', 'version', 'stragglers', 'stragglers_count'],
    });
  };

  const runner = createRotationRunner({
    store,
    secrets: deps.secrets,
    identity,
    webhook: createWebhookCaller({ policy: () => urlPolicy, now: () => ctx.clock.now(), ...(deps.fetch ? { fetch: deps.fetch } : {}) }),
    consumers: ctx.consumers,
    events: ctx.events,
    clock: ctx.clock,
    logger: ctx.logger,
    locks,
    auditTimeout,
    pollMs: options.pollMs ?? 1000,
    retryMs: options.retryMs ?? 3_600_000,
  });
  const scheduler = createRotationScheduler({ store, runner, clock: ctx.clock, logger: ctx.logger, tickMs: options.tickMs ?? 10_000 });
  let detach: (() => void) | undefined;

  const engine: Engine = {
    type: ROTATORS_ENGINE_TYPE,
    paths: [
      ...configPaths({ store, clock: ctx.clock, urlPolicy: () => urlPolicy }),
      ...schedulePaths({ store, runner, identity, secrets: deps.secrets, policies: deps.policies, clock: ctx.clock, locks }),
    ],
    async initialize() {
      const previous = liveByMount.get(ctx.mount.uuid);
      if (previous && previous !== engine) await previous.shutdown?.();
      liveByMount.set(ctx.mount.uuid, engine);
      if (deps.directory && deps.directory.mountPath === ctx.mount.path) {
        detach = deps.directory.attach(async (name) => (await store.getConfig(name)) !== undefined);
      }
      scheduler.start();
    },
    async shutdown() {
      if (liveByMount.get(ctx.mount.uuid) === engine) liveByMount.delete(ctx.mount.uuid);
      detach?.();
      detach = undefined;
      await scheduler.stop();
      await runner.stop();
    },
  };
  return engine;
}
