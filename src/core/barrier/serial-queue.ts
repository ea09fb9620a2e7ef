/**
 * Runs async tasks one at a time, in call order: the seal and the barrier use it so that
 * initialise, unseal and rotate never interleave their reads and writes of key records.
 * A failed task does not block the ones queued after it.
 */
export type SerialQueue = <T>(task: () => Promise<T>) => Promise<T>;

export function createSerialQueue(): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
