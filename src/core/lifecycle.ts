/**
 * Initialisation, unseal and seal of the whole core: what must be loaded after the barrier
 * opens (token salt, policies, mounts, audit devices) and dropped before it closes.
 *
 * Requests see the server as sealed until every post-unseal step has finished. A seal refuses
 * new requests from its first moment and waits for the ones already admitted (request-gate.ts)
 * before it tears anything down, as Vault's seal waits for its state lock.
 */
import type { AuditBroker } from './audit/broker.js';
import type { Barrier } from './barrier/barrier.js';
import { InitializationFailed, undoneInitialization, type Seal, type SealStatus } from './barrier/seal.js';
import type { Logger } from './logger.js';
import type { QuotaStore } from './quotas/quota-store.js';
import type { PolicyStore } from './policy/store.js';
import type { MountManager } from './router/mount-manager.js';
import { getJson, putJson, type Storage } from './storage/storage.js';
import type { TokenStore } from './tokens/token-store.js';
import { randomBytes } from 'node:crypto';
import { uuid } from './ids.js';
import { CofferError } from './errors.js';
import { createRequestGate } from './request-gate.js';

export interface ClusterInfo {
  cluster_name: string;
  cluster_id: string;
}

export interface InitOutcome {
  keys: Buffer[];
  rootToken: string;
}

export interface Lifecycle {
  /** Whether the core cannot serve (not unsealed, or not loaded yet, or torn down). */
  isSealed(): boolean;
  /**
   * Admits one request to the core: called once its body has been read, before any work on it;
   * the release is called once its answer is queued. Throws 'sealed' (503) once a seal has
   * begun, and while sealed. A seal waits for every admitted request to be released.
   */
  admit(): () => void;
  status(): Promise<SealStatus & Partial<ClusterInfo>>;
  /** Initialises; the server stays unsealed only when `keepUnsealed` (dev mode). */
  initialize(opts: { secretShares: number; secretThreshold: number; rootToken?: string; keepUnsealed?: boolean }): Promise<InitOutcome>;
  /**
   * Adds an unseal key share. `reset` instead discards the shares given so far, and nothing else
   * (a key sent with it is not counted); it is a bad request once the server is unsealed.
   */
  submitShare(key: string | undefined, reset: boolean): Promise<SealStatus & Partial<ClusterInfo>>;
  unsealWithShares(shares: readonly Buffer[]): Promise<void>;
  /**
   * Seals: refuses new requests at once, waits for the admitted ones (at most the seal drain
   * timeout; past it, seals anyway and logs how many were cut off), then drops every key.
   * Resolves once sealed.
   */
  sealNow(): Promise<void>;
  /** Dev mode: makes sure a token with this exact value exists with the root policy. */
  ensureRootToken(token: string): Promise<void>;
  /** Seals for shutdown: as sealNow, waiting at most `drainMs` for the admitted requests. */
  close(drainMs?: number): Promise<void>;
}

/** Something that runs only while the core is unsealed (lease expiry, replicas, watch streams). */
export interface LifecycleService {
  /** After every unseal, once everything is loaded. */
  start(): void;
  /**
   * As a seal begins, before the wait for the requests in flight: for what must not outlast
   * that moment (a watch stream ends, a replica stops answering) or must not hold the seal up.
   * Must not throw; `stop` still follows.
   */
  sealBegins?(): void;
  /** Once the requests in flight have finished, before the keys are dropped. */
  stop(): Promise<void>;
}

/** How long a seal waits for requests in flight by default (Vault waits without a bound). */
export const DEFAULT_SEAL_DRAIN_MS = 30_000;
/** The least time a seal gives engines and services to stop, however long requests took. */
const STOP_FLOOR_MS = 1_000;

/** How long an unseal waits for what the last seal left stopping before it refuses. */
const LINGERING_WAIT_MS = 5_000;

/** Whether `work` settles within `ms`; it goes on either way. */
async function settlesWithin(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface LifecycleDeps {
  seal: Seal;
  barrier: Barrier;
  systemStorage: Storage;
  tokens: TokenStore;
  policies: PolicyStore;
  /** Rate limit quotas: loaded after every unseal, forgotten at every seal. */
  quotas?: Pick<QuotaStore, 'setup' | 'reset'>;
  mounts: MountManager;
  audit: AuditBroker;
  logger: Logger;
  /** Background services started after unseal and stopped before seal (lease expiry, the AWS recovery-window sweep). */
  services?: ReadonlyArray<LifecycleService>;
  /**
   * How long a seal waits for the requests in flight, ms (DEFAULT_SEAL_DRAIN_MS). A stuck
   * database call must not keep the server unsealed: past this, it seals anyway.
   */
  sealDrainMs?: number;
  /** How often expired tokens are swept, ms. */
  sweepIntervalMs?: number;
}

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  let ready = false;
  // What a bounded seal left stopping in the background (teardown).
  let lingering: Promise<void> | undefined;
  // Open only while ready and no seal has begun: what requests are admitted by.
  const gate = createRequestGate();
  let cluster: ClusterInfo | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  // Serialises unseal and seal so a seal request cannot interleave with post-unseal loading.
  let transition: Promise<void> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = transition.then(fn, fn);
    transition = run.then(() => undefined, () => undefined);
    return run;
  };

  /**
   * An unseal waits (briefly) for what the last seal left stopping, before the barrier opens:
   * opened under it, a call cut off by that seal would finish into the new unseal (and answer
   * 200), the keys would be in memory while the server still says sealed, and a seal or a stop
   * sent meanwhile would wait behind it with no bound. Past the wait the share is refused
   * (503): nothing of it is kept, and the operator sends it again.
   */
  const requireStopped = async (): Promise<void> => {
    const left = lingering;
    if (left === undefined || (await settlesWithin(left, LINGERING_WAIT_MS))) return;
    throw new CofferError('sealed', 'the last seal is still stopping work that has not ended (a database call, say); send the unseal key again shortly');
  };

  const afterUnseal = async (): Promise<void> => {
    // Mounts and services a bounded seal left stopping must be gone before they are loaded again.
    if (lingering) await lingering;
    await deps.tokens.setup();
    await deps.policies.setup();
    cluster = await getJson<ClusterInfo>(deps.systemStorage, 'cluster');
    if (!cluster) {
      cluster = { cluster_name: `coffer-cluster-${randomBytes(4).toString('hex')}`, cluster_id: uuid() };
      await putJson(deps.systemStorage, 'cluster', cluster);
    }
    await deps.mounts.load();
    await deps.audit.load();
    await deps.quotas?.setup();
    // An expired token stops working at once (lookups check expiry); the sweep revokes what it
    // leaves behind, its children and its leases, so it runs often: a sweep that finds nothing
    // due only lists the names of the current minute's expiry entries. One at a time.
    let sweeping = false;
    sweeper = setInterval(() => {
      if (!ready || sweeping) return;
      sweeping = true;
      deps.tokens
        .sweepExpired()
        .catch((error: unknown) => deps.logger.warn('token expiry sweep failed', { error: String(error) }))
        .finally(() => {
          sweeping = false;
        });
    }, deps.sweepIntervalMs ?? 1_000);
    sweeper.unref();
    for (const service of deps.services ?? []) service.start();
    // Token revocations cut short by a stop go on once their leases' engines are loaded.
    deps.tokens.resumeRevocations();
    ready = true;
    deps.logger.info('core unsealed');
  };

  const stopEverything = async (): Promise<void> => {
    for (const service of deps.services ?? []) await service.stop().catch(() => undefined);
    await deps.audit.close().catch(() => undefined);
    await deps.mounts.unload().catch(() => undefined);
  };

  /**
   * Stops what runs while unsealed, then drops every key. With `stopWithinMs`, the keys go once
   * that time has passed even if stopping has not finished: an engine stops only once the calls
   * using it have (a database pool waits for its queries), and a call stuck past the seal drain
   * timeout must not keep the keys in memory. What is left goes on stopping in the background,
   * unable to reach storage (the barrier is sealed); the next unseal waits for it.
   */
  const teardown = async (stopWithinMs?: number): Promise<void> => {
    gate.close();
    ready = false;
    if (sweeper) clearInterval(sweeper);
    sweeper = undefined;
    const stopping = stopEverything();
    if (stopWithinMs === undefined) {
      await stopping;
    } else if (!(await settlesWithin(stopping, stopWithinMs))) {
      deps.logger.warn('sealing before every engine and service has stopped; they finish in the background, and the next unseal waits for them', {
        timeout_ms: stopWithinMs,
      });
      const left: Promise<void> = stopping.finally(() => {
        if (lingering === left) lingering = undefined;
      });
      lingering = left;
    }
    deps.tokens.reset();
    deps.quotas?.reset();
    deps.seal.seal();
    cluster = undefined;
    deps.logger.info('core sealed');
  };

  /**
   * The loading after an unseal, all or nothing: when it fails (a corrupt policy or mount table,
   * storage gone), the barrier is sealed again, so the server answers sealed and a new unseal
   * retries the loading, instead of staying half unsealed with the root key in memory.
   */
  const loadUnsealed = async (): Promise<void> => {
    try {
      await afterUnseal();
    } catch (error) {
      deps.logger.error('loading after unseal failed; sealed again', { error: error instanceof Error ? error.message : String(error) });
      await teardown();
      throw error;
    }
  };

  /**
   * A seal as Vault's: from its first moment new requests are refused (503), and the services
   * that must not wait are told (watch streams and long polls end, replicas give their key
   * back); the requests already admitted finish normally; then everything is torn down. The
   * keys are dropped by `drainMs` after the start (at least STOP_FLOOR_MS after the wait for
   * requests): a request still running then fails on the sealed barrier, as any storage call
   * does while sealed, and is logged here.
   */
  const sealAfterDrain = async (drainMs: number): Promise<void> => {
    const deadline = Date.now() + drainMs;
    gate.close();
    for (const service of deps.services ?? []) service.sealBegins?.();
    const waiting = gate.inFlight;
    if (!(await gate.drained(drainMs))) {
      deps.logger.warn('sealing with requests still in flight: the seal drain timeout passed', {
        in_flight: gate.inFlight,
        waited_for: waiting,
        timeout_ms: drainMs,
      });
    }
    await teardown(Math.max(deadline - Date.now(), STOP_FLOOR_MS));
  };

  /** Logs a failed initialisation with its causes (the answer omits them). */
  const logInitializationFailed = (error: InitializationFailed): void => {
    deps.logger.error(error.undone ? 'initialization failed and was undone' : 'initialization failed and could not be undone', { error: error.detail });
  };

  /** The core is unsealed and loaded: requests are admitted from now on. */
  const openToRequests = (): void => {
    if (ready && !deps.barrier.sealed) gate.open();
  };

  const withCluster = async (status: SealStatus): Promise<SealStatus & Partial<ClusterInfo>> =>
    !status.sealed && cluster ? { ...status, ...cluster } : status;

  return {
    isSealed: () => !ready || deps.barrier.sealed,
    admit: () => gate.enter(),
    // Sealed as soon as a seal starts (requests already get 503), not only once its teardown
    // has finished, and until an unseal has loaded everything.
    status: async () => {
      const status = await deps.seal.status();
      return withCluster(gate.isOpen || status.sealed ? status : { ...status, sealed: true });
    },
    initialize: (opts) =>
      serial(async () => {
        let initialized;
        try {
          initialized = await deps.seal.initialize({ secretShares: opts.secretShares, secretThreshold: opts.secretThreshold });
        } catch (error) {
          if (error instanceof InitializationFailed) logInitializationFailed(error);
          throw error;
        }
        const { keys, abandon } = initialized;
        let token: string;
        try {
          await loadUnsealed();
          ({ token } = await deps.tokens.create({
            ...(opts.rootToken === undefined ? {} : { token: opts.rootToken }),
            parent: undefined,
            policies: ['root'],
            displayName: 'root',
            path: 'auth/token/root',
            allowNoExpiry: true,
          }));
        } catch (error) {
          // Nobody has seen the shares yet: kept, the store would be initialised for good with
          // keys no one holds, and every later init refused.
          await teardown();
          const failed = await undoneInitialization(abandon, error);
          logInitializationFailed(failed);
          throw failed;
        }
        if (opts.keepUnsealed) openToRequests();
        else await teardown();
        return { keys, rootToken: token };
      }),
    submitShare: (key, reset) =>
      serial(async () => {
        // As Vault's handleSysUnseal: a reset only resets (a key sent with it is ignored), and
        // there is nothing to reset on an unsealed server.
        if (reset) {
          if (ready && !deps.barrier.sealed) throw new CofferError('bad_request', 'vault is unsealed');
          deps.seal.resetProgress();
          return withCluster(await deps.seal.status());
        }
        if (key === undefined) return withCluster(await deps.seal.status());
        const wasSealed = deps.barrier.sealed;
        if (wasSealed) await requireStopped();
        const status = await deps.seal.submitShare(key);
        if (wasSealed && !status.sealed) {
          await loadUnsealed();
          openToRequests();
        }
        return withCluster(await deps.seal.status());
      }),
    unsealWithShares: (shares) =>
      serial(async () => {
        if (!deps.barrier.sealed) return;
        await requireStopped();
        await deps.seal.unsealWithShares(shares);
        await loadUnsealed();
        openToRequests();
      }),
    sealNow: () => {
      // Refused from this moment, even while an unseal or another seal runs before this one.
      gate.close();
      return serial(async () => {
        if (deps.barrier.sealed) return;
        await sealAfterDrain(deps.sealDrainMs ?? DEFAULT_SEAL_DRAIN_MS);
      });
    },
    async ensureRootToken(token) {
      const existing = await deps.tokens.lookup(token);
      if (existing) return;
      await deps.tokens.create({ token, parent: undefined, policies: ['root'], displayName: 'root', path: 'auth/token/root', allowNoExpiry: true });
    },
    close: (drainMs) => {
      gate.close();
      return serial(async () => {
        if (!deps.barrier.sealed) await sealAfterDrain(drainMs ?? deps.sealDrainMs ?? DEFAULT_SEAL_DRAIN_MS);
      });
    },
  };
}
