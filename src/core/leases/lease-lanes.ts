/**
 * Per-lease ordering for the lease manager.
 *
 * Owns two short-lived maps keyed by lease id: the work in flight on a lease (registering it
 * while its secret is created, a renewal, a revocation attempt), and deletions of revoked leases
 * that the revoking caller did not wait for. Work on one lease runs after the earlier work on it
 * has settled, so a revocation can never run while the secret is still being created (and miss
 * it), one lease is never revoked twice at once, and every read-modify-write of a lease record
 * sees the latest record. A read of a lease waits for its pending deletion, so a lease that was
 * reported revoked is never seen again.
 *
 * Must never: hold anything for a lease with nothing in flight (entries go when their work
 * settles), or let a rejection escape unobserved (the caller of `run` gets it; deletions are
 * settled here, their failure is the caller's to log).
 */

export interface LeaseLanes {
  /** Runs `work` after all earlier work on lease `id` settled; later work on `id` waits for it. */
  run<T>(id: string, work: () => Promise<T>): Promise<T>;
  /** True while work on lease `id` is in flight or queued. */
  busy(id: string): boolean;
  /** Records a deletion of lease `id` that is still being committed. */
  trackDeletion(id: string, deletion: Promise<void>): void;
  /** Resolves once no deletion of lease `id` is pending. */
  deleted(id: string): Promise<void>;
  /** Resolves once every deletion pending now has settled. */
  allDeleted(): Promise<void>;
  /** Resolves once all work and deletions in flight now have settled. */
  idle(): Promise<void>;
}

export function createLeaseLanes(): LeaseLanes {
  const work = new Map<string, Promise<void>>();
  const deletions = new Map<string, Promise<void>>();

  /** Makes `promise` (never rejecting) the entry for `id`, removed once it settles if still current. */
  const hold = (map: Map<string, Promise<void>>, id: string, promise: Promise<unknown>): void => {
    const settled = promise.then(() => undefined, () => undefined);
    map.set(id, settled);
    void settled.then(() => {
      if (map.get(id) === settled) map.delete(id);
    });
  };

  return {
    run(id, task) {
      const result = (work.get(id) ?? Promise.resolve()).then(task);
      hold(work, id, result);
      return result;
    },
    busy: (id) => work.has(id),
    trackDeletion(id, deletion) {
      const earlier = deletions.get(id);
      hold(deletions, id, earlier === undefined ? deletion : Promise.allSettled([earlier, deletion]));
    },
    async deleted(id) {
      await deletions.get(id);
    },
    async allDeleted() {
      await Promise.all(deletions.values());
    },
    async idle() {
      await Promise.all([...work.values(), ...deletions.values()]);
    },
  };
}
