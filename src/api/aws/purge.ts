/**
 * The end of a recovery window: as AWS does, a secret whose DeleteSecret window has passed is
 * deleted for good (its KV metadata and every version), not merely hidden. A sweep runs soon
 * after unseal and then every `intervalMs`; until it reaches a secret, every AWS operation
 * already treats it as missing (secret-state.ts), so the sweep's timing only decides how long
 * the ciphertext stays on disk.
 *
 * Nobody is logged in when the sweep runs, so it gets its own identity, like a rotation step
 * (rotators/rotation-identity.ts): the system policy `coffer-aws-purge` (list, read and delete
 * on `aws/metadata/*`, nothing on data) and a fresh orphan token bound to
 * it alone, revoked when the sweep ends. Every request goes through the pipeline and is audited
 * under request ids `aws:Purge:<sweep id>:<n>` and display name `aws-purge`.
 * Must never: delete a secret that is live or still inside its window (each one is re-read
 * under the same per-secret lock the AWS operations take, so a RestoreSecret that won the race
 * stands), read secret data, or store or log the token.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import type { Logger } from '../../core/logger.js';
import type { PolicyStore } from '../../core/policy/store.js';
import type { RequestHandler } from '../../core/request-handler.js';
import type { MountManager } from '../../core/router/mount-manager.js';
import type { TokenStore } from '../../core/tokens/token-store.js';
import { createKvGateway, type KvGateway } from './kv-gateway.js';
import { AWS_KV_MOUNT } from './names.js';
import { decodeRecord } from './record.js';
import { deletionState } from './secret-state.js';

export const PURGE_POLICY = 'coffer-aws-purge';
const PURGE_POLICY_TEXT = [
  '# Written by Coffer for the sweep that deletes AWS secrets past their recovery window.',
  '# Rewritten before every sweep; edits do not last.',
  `path "${AWS_KV_MOUNT}metadata/*" {\n  capabilities = ["list", "read", "delete"]\n}`,
].join('\n');

/** Vault's hourly tidy cadence; AWS gives no figure beyond "at the end of the window". */
export const DEFAULT_PURGE_INTERVAL_MS = 60 * 60_000;
/** The first sweep waits for the server to settle after unseal. */
const FIRST_SWEEP_DELAY_MS = 10_000;
/** A sweep token outlives any sane sweep, and is revoked as soon as the sweep ends. */
const SWEEP_TOKEN_TTL_SECONDS = 15 * 60;

export interface AwsPurger {
  /** Schedules sweeps (after unseal). */
  start(): void;
  /** Cancels them and waits for a sweep in progress (before seal). */
  stop(): Promise<void>;
  /** One sweep now; resolves with how many secrets it deleted. */
  sweep(): Promise<number>;
}

export interface AwsPurgerDeps {
  /** Late-bound: the pipeline is built after the services that use it. */
  handler: () => RequestHandler;
  tokens: Pick<TokenStore, 'create' | 'revokeOrphan'>;
  policies: Pick<PolicyStore, 'put'>;
  mounts: Pick<MountManager, 'get'>;
  clock: Clock;
  /** The AWS operations' per-secret lock table. */
  locks: KeyedMutex;
  logger: Logger;
  intervalMs?: number;
}

export function createAwsPurger(deps: AwsPurgerDeps): AwsPurger {
  const intervalMs = deps.intervalMs ?? DEFAULT_PURGE_INTERVAL_MS;
  let running = false;
  // Set by stop(): a sweep in progress ends after the secret it is on.
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> | undefined;

  const isPurgeDue = async (kv: KvGateway, name: string): Promise<boolean> => {
    const meta = await kv.readMetadata(name);
    const record = meta ? decodeRecord(meta.customMetadata) : undefined;
    return record !== undefined && deletionState(record, deps.clock.now()) === 'purge-due';
  };

  /** Every secret name under aws/, depth first; KV folders end in '/'. */
  const walk = async function* (kv: KvGateway): AsyncGenerator<string> {
    const folders = [''];
    while (folders.length > 0) {
      const folder = folders.pop() as string;
      for (const child of await kv.list(folder)) {
        if (child.endsWith('/')) folders.push(folder + child);
        else yield folder + child;
      }
    }
  };

  const sweepOnce = async (): Promise<number> => {
    const mount = deps.mounts.get('secrets', AWS_KV_MOUNT);
    if (!mount || mount.type !== 'kv' || mount.options['version'] !== '2') return 0;
    await deps.policies.put(PURGE_POLICY, PURGE_POLICY_TEXT);
    const { token, entry } = await deps.tokens.create({
      parent: undefined,
      policies: [PURGE_POLICY],
      displayName: 'aws-purge',
      ttl: SWEEP_TOKEN_TTL_SECONDS,
      explicitMaxTtl: SWEEP_TOKEN_TTL_SECONDS,
      renewable: false,
      path: 'aws/purge',
      meta: {},
    });
    const kv = createKvGateway(deps.handler(), { token, remoteAddress: 'internal', operation: 'Purge', awsRequestId: randomUUID() }, deps.clock);
    let purged = 0;
    try {
      for await (const name of walk(kv)) {
        if (stopping) break;
        // A cheap unlocked look first; the decision is taken again under the secret's lock.
        if (!(await isPurgeDue(kv, name))) continue;
        const deleted = await deps.locks.run(name, async () => {
          if (!(await isPurgeDue(kv, name))) return false;
          await kv.deleteMetadata(name);
          return true;
        });
        if (deleted) purged += 1;
      }
    } finally {
      await deps.tokens.revokeOrphan(entry.id).catch(() => undefined);
    }
    if (purged > 0) deps.logger.info('deleted AWS secrets past their recovery window', { count: purged });
    return purged;
  };

  /** One sweep at a time: a call during a sweep shares it. */
  const sweep = (): Promise<number> => {
    current ??= sweepOnce().finally(() => {
      current = undefined;
    });
    return current;
  };

  const schedule = (delayMs: number): void => {
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      sweep()
        .catch((error: unknown) => {
          deps.logger.warn('AWS recovery-window sweep failed; the next sweep retries', { error: error instanceof Error ? error.message : 'unknown error' });
        })
        .finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  };

  return {
    start() {
      if (running) return;
      running = true;
      stopping = false;
      schedule(Math.min(FIRST_SWEEP_DELAY_MS, intervalMs));
    },
    async stop() {
      running = false;
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current?.catch(() => undefined);
    },
    sweep,
  };
}
