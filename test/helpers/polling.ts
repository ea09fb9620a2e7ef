/**
 * Waiting helpers for tests that watch files and processes change: poll a condition with a
 * deadline instead of sleeping a guessed time (no test asserts on how long anything took).
 */
import { existsSync, readFileSync } from 'node:fs';

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The file's text, or '' while it does not exist. */
export const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** Polls `check` every `everyMs` until it holds; throws naming `what` after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string, everyMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(everyMs);
  }
}

/** Like waitFor, for a check that has to ask something (a server, a database) each time. */
export async function eventually(check: () => Promise<boolean>, ms: number, what: string, everyMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(everyMs);
  }
}
