/**
 * Admission of requests to an unsealed core, and the wait for the ones admitted: what Vault's
 * state lock does (each request holds its read side; a seal takes it exclusively, so it waits
 * for them, and a request that comes after it sees the server sealed).
 *
 * A request is admitted once its body has been read, before the core starts on it, and
 * released once its answer is queued. Closing the gate refuses every later request with
 * "Vault is sealed" (503) while the admitted ones finish, so none of them is cut off half way
 * (a KV write between its storage batches, a credential made but its lease not stored).
 *
 * Owns: the count of admitted requests. Must never: admit a request while closed.
 */
import { CofferError } from './errors.js';

export interface RequestGate {
  /** Admits one request; returns its release (calling it again does nothing). Throws 'sealed' while closed. */
  enter(): () => void;
  /** Whether requests are admitted now. */
  readonly isOpen: boolean;
  /** Admits requests from now on (the core is unsealed and loaded). */
  open(): void;
  /** Refuses requests from now on; those already admitted go on. */
  close(): void;
  /** Requests admitted and not yet released. */
  readonly inFlight: number;
  /**
   * Resolves true once no admitted request is left, or false when `ms` pass first (some are
   * still in: the caller goes on without them, rather than wait on a stuck one forever).
   */
  drained(ms: number): Promise<boolean>;
}

export function createRequestGate(): RequestGate {
  let open = false;
  let inFlight = 0;
  let waiters: Array<() => void> = [];

  const release = (): void => {
    inFlight -= 1;
    if (inFlight > 0 || waiters.length === 0) return;
    const wake = waiters;
    waiters = [];
    for (const resolve of wake) resolve();
  };

  return {
    enter() {
      if (!open) throw new CofferError('sealed', 'Vault is sealed');
      inFlight += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
    get isOpen() {
      return open;
    },
    open() {
      open = true;
    },
    close() {
      open = false;
    },
    get inFlight() {
      return inFlight;
    },
    drained(ms) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((waiter) => waiter !== done);
          resolve(false);
        }, ms);
        waiters.push(done);
      });
    },
  };
}
