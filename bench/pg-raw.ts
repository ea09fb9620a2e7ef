/**
 * The raw side of the credential comparison: the same CREATE ROLE + GRANT and REVOKE + DROP ROLE
 * statements a Coffer role runs, issued by `pg` directly from the harness, one transaction per
 * step (BEGIN, one query per statement, COMMIT) on a dedicated connection per worker.
 *
 * A step that fails with a known concurrency conflict (SQLSTATE 40001, 40P01, or XX000 "tuple
 * concurrently updated") is rolled back and retried with a short jittered backoff, up to the same
 * number of attempts Coffer allows, so the raw rate is what a careful client gets; the retries
 * are counted. Must never print a password: errors carry the SQLSTATE and the server's message,
 * which for these statements holds none.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CycleOutcome } from './cycle-loop.js';

export interface RawStatements {
  create(name: string, password: string, expiration: string): string[];
  revoke(name: string): string[];
}

export interface RawDriver {
  cycle(worker: number): Promise<CycleOutcome>;
  close(): Promise<void>;
}

const MAX_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 400;
const PASSWORD_LENGTH = 20;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function conflict(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === '40001' || code === '40P01') return true;
  return code === 'XX000' && /tuple concurrently updated/i.test((error as Error).message);
}

function randomText(length: number): string {
  return [...randomBytes(length)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

/** 'YYYY-MM-DD HH:MM:SS+00', as Coffer renders {{expiration}}. */
function expirationIn(ms: number): string {
  return `${new Date(Date.now() + ms).toISOString().slice(0, 19).replace('T', ' ')}+00`;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function createRawDriver(options: { url: string; workers: number; tag: string; statements: RawStatements }): Promise<RawDriver> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < options.workers; i += 1) {
    const client = new pg.Client({ connectionString: options.url, application_name: 'coffer-bench-raw' });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
  }
  let serial = 0;
  let closed = false;
  // Roles whose revoke gave up (conflicts past the last attempt); dropped by close().
  const stranded: string[] = [];

  /** One transaction, retried on conflicts; each retried attempt is counted in `tally`. */
  const transaction = async (client: pg.Client, statements: string[], tally: { retried: number }): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.query('BEGIN');
        for (const statement of statements) await client.query(statement);
        await client.query('COMMIT');
        return;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt >= MAX_ATTEMPTS || !conflict(error)) throw error;
        tally.retried += 1;
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
        await pause(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  };

  const describe = (error: unknown): string => {
    const code = (error as { code?: unknown })?.code;
    return `${typeof code === 'string' ? `${code} ` : ''}${(error as Error).message}`;
  };

  return {
    async cycle(worker) {
      const client = clients[worker % clients.length] as pg.Client;
      serial += 1;
      // Shaped like Coffer's generated names (v-<display>-<role>-<random>-<unix>), same length class.
      const name = `v-raw-${options.tag}-${serial.toString(36)}${randomText(8).toLowerCase()}-${Math.floor(Date.now() / 1000)}`;
      const password = randomText(PASSWORD_LENGTH);
      const tally = { retried: 0 };
      const t0 = performance.now();
      try {
        await transaction(client, options.statements.create(name, password, expirationIn(3_600_000)), tally);
      } catch (error) {
        return { ok: false, issueMs: performance.now() - t0, revokeMs: 0, retriedAttempts: tally.retried, error: `create: ${describe(error)}` };
      }
      const t1 = performance.now();
      try {
        await transaction(client, options.statements.revoke(name), tally);
      } catch (error) {
        stranded.push(name);
        return { ok: false, issueMs: t1 - t0, revokeMs: performance.now() - t1, retriedAttempts: tally.retried, error: `revoke: ${describe(error)}` };
      }
      return { ok: true, issueMs: t1 - t0, revokeMs: performance.now() - t1, retriedAttempts: tally.retried };
    },
    async close() {
      // A pg Client's end() on an ended client may never settle; close once.
      if (closed) return;
      closed = true;
      const first = clients[0];
      if (first !== undefined) {
        for (const name of stranded.splice(0)) await transaction(first, options.statements.revoke(name), { retried: 0 }).catch(() => undefined);
      }
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    },
  };
}
