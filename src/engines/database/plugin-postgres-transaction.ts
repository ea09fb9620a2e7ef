/**
 * How the PostgreSQL plugin runs a batch of statements: as one transaction on one pooled
 * client, retried on serialization failures, deadlocks and "tuple concurrently updated" with a
 * small jittered backoff, and, for batches that rewrite table ACLs, one at a time per config.
 *
 * Owns: the round trips of a transaction (one, or two when COMMIT must wait for a new user's
 * lease), what a lost connection means for it, and when it may run again.
 * Must never: commit a batch held by a CommitGate before the gate opens, run a creation twice,
 * or put a password into an error (callers scrub what they throw on).
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { CommitWithheld, type CommitGate } from './commit-gate.js';
import { classifyPgError } from './plugin-postgres-sql.js';
import { createSerialLane } from './serial-lane.js';

/** Attempts per batch; with 4 parallel per-table GRANTs about 44 % of single attempts conflict. */
const MAX_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 400;
/** SQLSTATE duplicate_object: CREATE ROLE of a name that exists. */
export const DUPLICATE_OBJECT = '42710';
/** What CREATE ROLE reports instead when it waited on the same name's uncommitted insert. */
export const UNIQUE_VIOLATION = '23505';

export const pgCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

export interface BatchRunnerDeps {
  /** A pooled client; throws the plugin's error when none can be had. */
  acquire(): Promise<PoolClient>;
  /** The pool's size now: how many lost connections one batch outlives. */
  maxOpen(): number;
  /** The config's statement_timeout now, ms. */
  statementTimeoutMs(): number;
  sleep(ms: number): Promise<void>;
  /**
   * Ends the server session still running the batch that opened with `marker` (its connection
   * was lost with COMMIT sent), and waits until none is: only then is its transaction's outcome
   * final, and `applied`'s answer the last word. Never throws; returns when it cannot tell any
   * better.
   */
  settleLost?(marker: string): Promise<void>;
}

export interface BatchOptions {
  /**
   * Whether the batch took effect, asked after a connection was lost with COMMIT sent; see
   * createBatchRunner. Without it, the batch must be idempotent: it simply runs again.
   */
  applied?: () => Promise<boolean>;
  /** Told before the first query that may commit goes out: a failure before that left nothing. */
  onMayCommit?: () => void;
  /** Holds COMMIT back until it opens (a new user's lease, NewUserRequest.commitAfter). */
  gate?: CommitGate;
}

/** Runs `statements` as one transaction, retried; in the config's ACL lane when `exclusive`. */
export type RunBatch = (statements: readonly string[], exclusive: boolean, options?: BatchOptions) => Promise<void>;

/**
 * One transaction in ONE round trip: BEGIN, SET LOCAL statement_timeout, the statements and
 * COMMIT reach the server as a single simple query. Why: every round trip costs both sides a
 * wake-up, and a transaction that waits on its client between statements holds its locks that
 * much longer while concurrent ones queue behind them. PostgreSQL runs the parts in order, skips
 * the rest once one fails and leaves the transaction aborted, which ROLLBACK ends. (SET LOCAL
 * rather than a startup parameter, which poolers such as pgbouncer refuse; before PostgreSQL 13
 * it does not time the statements sent in the same string.)
 *
 * With a `gate` that is not open yet (a new user whose lease is still being stored), COMMIT is
 * held back: BEGIN and the statements go out at once, COMMIT in a second query once the gate
 * opens, so the statements' work overlaps the lease's write and nothing commits before it.
 * Coffer dying in between drops the connection, and PostgreSQL rolls the transaction back; a
 * gate that never opens rolls it back here (CommitWithheld). A connection that goes silent
 * instead (Coffer's host loses power, a partition) is not noticed by the server until TCP
 * keepalive, two hours by default, while the uncommitted role keeps its locks: a held
 * transaction therefore sets idle_in_transaction_session_timeout (PostgreSQL 9.6 and later) to
 * the statement timeout, and the server ends the session after that long without a word from
 * us. A lease write slower than that meets a closed connection at COMMIT: `applied` finds
 * nothing committed and the batch runs again, now in one round trip. The statements must not end the
 * transaction themselves, nor commit on another connection (mayCommitOnItsOwn).
 *
 * A connection lost during the query that held COMMIT leaves unknown whether it ran, and
 * PostgreSQL finishes a query string it has received, COMMIT included, before it notices the
 * client is gone. So the server session still running it, found by the marker comment that
 * leads each of the run's queries, is ended first (settleLost: terminated, and waited for until
 * none is), and only then does `applied` ask, on another connection: true, and the
 * batch already took effect; false, and it runs again (which is also how a pooled connection the
 * server dropped while it sat idle is survived), at most once per pooled connection. If
 * `applied` cannot tell (the server is gone), the lost connection's error is thrown. `applied` is
 * asked only after a connection was lost with COMMIT sent, so its caller learns from it that a
 * failure's outcome is unknown: when the session could not be ended (the server out of reach,
 * or the admin not allowed to end it), the lost run may still commit after `applied` said no. A
 * connection lost before COMMIT was sent committed nothing: the batch simply runs again.
 */
export function createBatchRunner(deps: BatchRunnerDeps): RunBatch {
  const aclLane = createSerialLane();

  const transaction = async (statements: readonly string[], { applied, onMayCommit, gate }: BatchOptions): Promise<void> => {
    // Newline before each separator, so a template ending in a `--` comment cannot swallow the
    // next part; an unterminated quote or comment was a syntax error run alone, and still is.
    const timeoutMs = deps.statementTimeoutMs();
    // Sent as one string, the whole transaction never waits on us: no idle bound is needed.
    const whole = [`BEGIN; SET LOCAL statement_timeout = ${timeoutMs}`, ...statements, 'COMMIT'].join('\n;\n');
    const opening = [`BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL idle_in_transaction_session_timeout = ${timeoutMs}`, ...statements].join('\n;\n');
    for (let lost = 0; ; lost += 1) {
      // Leads every query of this run, so the server session running it can be found if the
      // connection is lost (pg_stat_activity shows a session's current or latest query).
      const marker = `/* coffer-batch ${randomBytes(12).toString('hex')} */`;
      const client = await deps.acquire();
      let commitSent = false;
      try {
        if (gate === undefined || gate.open) {
          onMayCommit?.();
          commitSent = true;
          await client.query(`${marker}\n${whole}`);
        } else {
          await client.query(`${marker}\n${opening}`);
          await gate.wait();
          onMayCommit?.();
          commitSent = true;
          await client.query(`${marker} COMMIT`);
        }
        client.release();
        return;
      } catch (err) {
        if (err instanceof CommitWithheld || classifyPgError(err) !== 'connection') {
          // A failed ROLLBACK means the connection itself is gone; drop it from the pool.
          let discard = false;
          await client.query('ROLLBACK').catch(() => { discard = true; });
          client.release(discard);
          // A re-run after a lost connection whose session could not be ended can meet the lost
          // run's own commit, which `applied` did not see yet: the object it made now exists.
          // Seen as 42710, or as 23505 when the re-run's CREATE ROLE waited on the lost run's
          // uncommitted row.
          const code = pgCode(err);
          if (lost > 0 && applied !== undefined && (code === DUPLICATE_OBJECT || code === UNIQUE_VIOLATION) && (await applied().catch(() => false))) return;
          throw err;
        }
        client.release(true);
        if (commitSent && applied !== undefined) {
          await deps.settleLost?.(marker);
          if (await applied().catch(() => { throw err; })) return;
        }
        if (lost >= deps.maxOpen()) throw err;
      }
    }
  };

  const withRetry = async (work: () => Promise<void>): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || classifyPgError(err) !== 'retry') throw err;
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
        await deps.sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  };

  return (statements, exclusive, options = {}) => {
    const work = (): Promise<void> => withRetry(() => transaction(statements, options));
    return exclusive ? aclLane.run(work) : work();
  };
}
