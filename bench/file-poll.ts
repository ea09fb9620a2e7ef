/**
 * Watches a file the way an application would notice a re-rendered secret: reads it every
 * millisecond until its content passes a check, and says when. Used to time the agent's
 * change → file path.
 *
 * Must never print the content: it may hold a secret.
 */
import { readFileSync } from 'node:fs';

/** The content, or undefined while the file does not exist. */
export function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Polls `path` every millisecond (a timer tick, so other work of the harness goes on) until
 * `accept(content)`; resolves with performance.now() of the read that passed, or undefined
 * after `limitMs`.
 */
export async function pollFile(path: string, accept: (content: string) => boolean, limitMs: number): Promise<number | undefined> {
  const end = performance.now() + limitMs;
  for (;;) {
    const content = readIfPresent(path);
    const at = performance.now();
    if (content !== undefined && accept(content)) return at;
    if (at > end) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
