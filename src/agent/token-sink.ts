/**
 * The token sink: the agent's current token in a file, for the application or a tool beside it.
 * Written atomically with the sink's mode into a directory the agent creates 0700 (as it does
 * for template destinations); a write that fails is retried with the agent's backoff until it
 * succeeds or a newer token replaces it; a file that was deleted or edited is written again at
 * the next check (SIGHUP, render_interval).
 *
 * Owns: the sink file, its retry timer, and the order of its writes (one at a time, newest token last).
 * Must never: put the token into a message or a log line, or write the file partly.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomicMakingDirectory } from './atomic-file.js';
import { readRegularFile } from './regular-file.js';
import type { SinkConfig } from './config.js';

export interface TokenSink {
  /** Creates the sink's directory (0700) if it is missing. */
  prepare(): Promise<void>;
  /** Writes `token` now; settles after the first attempt (a failure is retried in the background). */
  write(token: string): Promise<void>;
  /** Writes the current token again if the file is missing or holds anything else. */
  check(): Promise<void>;
  stop(): void;
}

export interface TokenSinkDeps {
  sink: SinkConfig;
  backoff(attempt: number): number;
  /** A write failed; it is tried again in `retryInMs`. The error names files only. */
  onError(err: unknown, retryInMs: number): void;
  /** The file was missing or held something else, and was written again. */
  onRestored(): void;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export function createTokenSink(deps: TokenSinkDeps): TokenSink {
  const { path, mode } = deps.sink;
  let token: string | undefined;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let queue: Promise<void> = Promise.resolve();

  /** Whether the file holds `want`; compared as hashes, in constant time, as it is a credential. */
  const holds = async (want: string): Promise<boolean> => {
    try {
      // A link or a FIFO at the path is not our file: it is replaced, never followed or read.
      const content = await readRegularFile(path);
      return content !== undefined && timingSafeEqual(sha256(content), sha256(want));
    } catch {
      // Missing or unreadable: writing it again is the answer either way.
      return false;
    }
  };

  const attempt = (onlyIfDifferent: boolean): Promise<void> => {
    queue = queue.then(async () => {
      const want = token;
      if (stopped || want === undefined) return;
      if (onlyIfDifferent && (await holds(want))) return;
      if (retry) clearTimeout(retry);
      retry = undefined;
      try {
        await writeFileAtomicMakingDirectory(path, want, mode);
        failures = 0;
        if (onlyIfDifferent) deps.onRestored();
      } catch (err) {
        if (stopped) return;
        failures += 1;
        const delay = deps.backoff(failures);
        deps.onError(err, delay);
        retry = setTimeout(() => {
          retry = undefined;
          void attempt(false);
        }, delay);
        retry.unref();
      }
    });
    return queue;
  };

  return {
    async prepare() {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    },
    write(next) {
      token = next;
      return attempt(false);
    },
    check() {
      // While a retry is pending, the retry writes it; a check would only add a failure.
      if (retry) return queue;
      return attempt(true);
    },
    stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
    },
  };
}
