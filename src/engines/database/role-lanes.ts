/**
 * One lane per static role: work for a role (a rotation, a role update or delete) runs in
 * arrival order, never two at once; work for different roles runs in parallel.
 *
 * Owns: the queue and whether a role has work queued or running (`isBusy`, which the scheduler
 * reads so a tick does not queue a second rotation behind the first).
 * Must never: be entered from inside work already running in the same role's lane (it would
 * wait for itself).
 */
export interface RoleLanes {
  run<T>(name: string, work: () => Promise<T>): Promise<T>;
  isBusy(name: string): boolean;
}

export function createRoleLanes(): RoleLanes {
  const tails = new Map<string, Promise<void>>();
  const queued = new Map<string, number>();
  return {
    async run<T>(name: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => { release = resolve; });
      const tail = previous.then(() => mine);
      // Both set before the first await, so a caller sees the lane busy as soon as run() returns.
      tails.set(name, tail);
      queued.set(name, (queued.get(name) ?? 0) + 1);
      try {
        await previous;
        return await work();
      } finally {
        release();
        const left = (queued.get(name) ?? 1) - 1;
        if (left === 0) queued.delete(name);
        else queued.set(name, left);
        if (tails.get(name) === tail) tails.delete(name);
      }
    },
    isBusy: (name) => queued.has(name),
  };
}
