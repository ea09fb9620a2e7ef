/**
 * A creation's permission to commit (NewUserRequest.commitAfter: the lease's write), in a form
 * a plugin can read at once.
 *
 * Owns: telling whether the lease is already durable, so the PostgreSQL plugin sends a creation
 * in one piece when it is (BEGIN … COMMIT, one round trip) and in two when it is not (BEGIN and
 * the statements now, COMMIT once it is).
 * Must never: open for a write that failed, or leave a rejection of its own unhandled.
 */

/** The lease could not be stored, so the creation must not commit; the lease manager reports why. */
export class CommitWithheld extends Error {
  constructor() {
    super('not committed: the lease could not be stored');
    this.name = 'CommitWithheld';
  }
}

export interface CommitGate {
  /** The lease is durable: a commit may go out now. */
  readonly open: boolean;
  /** Resolves once a commit may go out; rejects with CommitWithheld if none ever may. */
  wait(): Promise<void>;
}

export function commitGate(after: Promise<void> | undefined): CommitGate {
  if (after === undefined) return { open: true, wait: async () => undefined };
  let open = false;
  // Also marks a rejection as handled: the lease manager awaits the write and reports it.
  after.then(() => { open = true; }, () => undefined);
  return {
    get open() {
      return open;
    },
    wait: () => after.catch(() => {
      throw new CommitWithheld();
    }),
  };
}
