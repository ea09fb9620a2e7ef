/**
 * A one-at-a-time lane: tasks run in arrival order, never two at once.
 *
 * Owns: serialising the statement batches of one config that rewrite shared catalog rows
 * (per-table GRANTs), which PostgreSQL otherwise fails with "tuple concurrently updated".
 * Must never: be held while waiting for something that itself waits for the lane.
 */
export interface SerialLane {
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function createSerialLane(): SerialLane {
  let tail: Promise<void> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task);
      // The lane moves on whether the task succeeded or not.
      tail = result.then(() => undefined, () => undefined);
      return result;
    },
  };
}
