/**
 * Initialisation, unseal and seal of the whole core: what must be loaded after the barrier
 * opens (token salt, policies, mounts, audit devices) and dropped before it closes.
 *
 * Requests see the server as sealed until every post-unseal step has finished.
 */
import type { AuditBroker } from './audit/broker.js';
import type { Barrier } from './barrier/barrier.js';
import type { Seal, SealStatus } from './barrier/seal.js';
import type { Logger } from './logger.js';
import type { PolicyStore } from './policy/store.js';
import type { MountManager } from './router/mount-manager.js';
import { getJson, putJson, type Storage } from './storage/storage.js';
import type { TokenStore } from './tokens/token-store.js';
import { randomBytes } from 'node:crypto';
import { uuid } from './ids.js';
import { CofferError } from './errors.js';

export interface ClusterInfo {
  cluster_name: string;
  cluster_id: string;
}

export interface InitOutcome {
  keys: Buffer[];
  rootToken: string;
}

export interface Lifecycle {
  isSealed(): boolean;
  status(): Promise<SealStatus & Partial<ClusterInfo>>;
  /** Initialises; the server stays unsealed only when `keepUnsealed` (dev mode). */
  initialize(opts: { secretShares: number; secretThreshold: number; rootToken?: string; keepUnsealed?: boolean }): Promise<InitOutcome>;
  /**
   * Adds an unseal key share. `reset` instead discards the shares given so far, and nothing else
   * (a key sent with it is not counted); it is a bad request once the server is unsealed.
   */
  submitShare(key: string | undefined, reset: boolean): Promise<SealStatus & Partial<ClusterInfo>>;
  unsealWithShares(shares: readonly Buffer[]): Promise<void>;
  sealNow(): Promise<void>;
  /** Dev mode: makes sure a token with this exact value exists with the root policy. */
  ensureRootToken(token: string): Promise<void>;
  close(): Promise<void>;
}

export interface LifecycleDeps {
  seal: Seal;
  barrier: Barrier;
  systemStorage: Storage;
  tokens: TokenStore;
  policies: PolicyStore;
  mounts: MountManager;
  audit: AuditBroker;
  logger: Logger;
  /** Background services started after unseal and stopped before seal (lease expiry, the AWS recovery-window sweep). */
  services?: ReadonlyArray<{ start(): void; stop(): Promise<void> }>;
  /** How often expired tokens are swept, ms. */
  sweepIntervalMs?: number;
}

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  let ready = false;
  let cluster: ClusterInfo | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  // Serialises unseal and seal so a seal request cannot interleave with post-unseal loading.
  let transition: Promise<void> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = transition.then(fn, fn);
    transition = run.then(() => undefined, () => undefined);
    return run;
  };

  const afterUnseal = async (): Promise<void> => {
    await deps.tokens.setup();
    await deps.policies.setup();
    cluster = await getJson<ClusterInfo>(deps.systemStorage, 'cluster');
    if (!cluster) {
      cluster = { cluster_name: `coffer-cluster-${randomBytes(4).toString('hex')}`, cluster_id: uuid() };
      await putJson(deps.systemStorage, 'cluster', cluster);
    }
    await deps.mounts.load();
    await deps.audit.load();
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
    ready = true;
    deps.logger.info('core unsealed');
  };

  const teardown = async (): Promise<void> => {
    ready = false;
    if (sweeper) clearInterval(sweeper);
    sweeper = undefined;
    for (const service of deps.services ?? []) await service.stop().catch(() => undefined);
    await deps.audit.close().catch(() => undefined);
    await deps.mounts.unload().catch(() => undefined);
    deps.tokens.reset();
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

  const withCluster = async (status: SealStatus): Promise<SealStatus & Partial<ClusterInfo>> =>
    !status.sealed && cluster ? { ...status, ...cluster } : status;

  return {
    isSealed: () => !ready || deps.barrier.sealed,
    // Sealed as soon as a seal starts (requests already get 503), not only once its teardown
    // has finished: a client that sealed and then asks must see it sealed.
    status: async () => {
      const status = await deps.seal.status();
      return withCluster(ready || status.sealed ? status : { ...status, sealed: true });
    },
    initialize: (opts) =>
      serial(async () => {
        const { keys } = await deps.seal.initialize({ secretShares: opts.secretShares, secretThreshold: opts.secretThreshold });
        await loadUnsealed();
        const { token } = await deps.tokens.create({
          ...(opts.rootToken === undefined ? {} : { token: opts.rootToken }),
          parent: undefined,
          policies: ['root'],
          displayName: 'root',
          path: 'auth/token/root',
          allowNoExpiry: true,
        });
        if (!opts.keepUnsealed) await teardown();
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
        const status = await deps.seal.submitShare(key);
        if (wasSealed && !status.sealed) await loadUnsealed();
        return withCluster(await deps.seal.status());
      }),
    unsealWithShares: (shares) =>
      serial(async () => {
        if (!deps.barrier.sealed) return;
        await deps.seal.unsealWithShares(shares);
        await loadUnsealed();
      }),
    sealNow: () =>
      serial(async () => {
        if (deps.barrier.sealed) return;
        await teardown();
      }),
    async ensureRootToken(token) {
      const existing = await deps.tokens.lookup(token);
      if (existing) return;
      await deps.tokens.create({ token, parent: undefined, policies: ['root'], displayName: 'root', path: 'auth/token/root', allowNoExpiry: true });
    },
    close: () =>
      serial(async () => {
        if (!deps.barrier.sealed) await teardown();
      }),
  };
}
