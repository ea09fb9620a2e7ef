/**
 * The dynamic secrets the agent holds, renewed by the SDK's own lease handles
 * (src/sdk/leased-secret.ts: renewal at two thirds of the lease, a fresh secret before the max
 * TTL, `onRotate`), but owned here rather than by the Coffer instance.
 *
 * Why not `coffer.adoptLease()`: a Coffer revokes every lease it holds when it closes, and
 * Vault Agent by default does not: the application keeps using the rendered credential while
 * the agent restarts, and the lease ends at its TTL. `revoke_on_exit` chooses. The SDK should
 * grow `close({ revokeLeases: false })`; until then this file is that addition, built only on
 * the SDK's public `read` and `write` plus its lease handle and scheduler.
 *
 * Owns: one scheduler for the renewals, stopping it without revoking, or revoking everything.
 * Must never: put a secret into an error; let a renewal run after abandon().
 */
import type { Coffer } from '../sdk/coffer.js';
import { CofferConfigError } from '../sdk/errors.js';
import { openLeasedSecret, type LeasedSecret } from '../sdk/leased-secret.js';
import { createScheduler, type RetryBackoff } from '../sdk/scheduler.js';
import { secretData } from '../sdk/secret-value.js';
import type { Requester } from '../sdk/token-manager.js';
import type { Envelope } from '../sdk/wire.js';

export type Secret = Record<string, unknown>;

export interface AgentLeases {
  /** Keeps the lease of an answer already read; `onRotate` runs after a fresh secret replaced it. */
  adopt(path: string, envelope: Envelope<unknown>, onRotate: () => void): Promise<LeasedSecret<Secret>>;
  /** Stops renewing; the leases stay valid until their TTL ends. */
  abandon(): void;
  /** Revokes every lease held (and stops renewing). */
  revokeAll(): Promise<void>;
}

/** `retry` is the agent's backoff: renewals and fresh reads that fail are retried at its pace. */
export function createAgentLeases(coffer: Coffer, onError: (err: unknown) => void, retry?: RetryBackoff): AgentLeases {
  const scheduler = createScheduler(onError, undefined, retry);
  const handles = new Set<LeasedSecret<Secret>>();
  // The lease handle renews and revokes with PUT sys/leases/{renew,revoke}; Vault treats POST alike.
  const request: Requester = async (method, path, options) => {
    if (method !== 'PUT' && method !== 'POST') throw new CofferConfigError(`unexpected ${method} ${path} from a lease handle`);
    const answer = await coffer.write(path, (options?.body ?? {}) as Record<string, unknown>);
    return { status: answer === undefined ? 204 : 200, body: answer };
  };
  return {
    async adopt(path, envelope, onRotate) {
      const handle = await openLeasedSecret<Secret>(
        { path, read: () => coffer.read(path), request, scheduler, toSecret: secretData, onError, initial: envelope },
        { onRotate: () => onRotate() },
      );
      handles.add(handle);
      return handle;
    },
    abandon() {
      scheduler.stop();
      handles.clear();
    },
    async revokeAll() {
      const all = [...handles];
      handles.clear();
      const results = await Promise.allSettled(all.map((h) => h.close()));
      scheduler.stop();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
