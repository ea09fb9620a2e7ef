/**
 * One place that remembers everything the benchmark must undo (child processes, temp dirs) and
 * undoes it exactly once: on normal exit, on error, on SIGINT/SIGTERM and on the time limit.
 *
 * Must never kill anything it was not handed: only the pids of children this run spawned.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type CleanupAction = () => Promise<void> | void;

export interface Cleanup {
  /** Registers an action; actions run in reverse order of registration. */
  add(name: string, action: CleanupAction): void;
  /** A fresh private temp dir, removed on cleanup. */
  tempDir(label: string): string;
  /** Runs every action once; later calls wait for the first. */
  runAll(): Promise<void>;
  /** Called with a reason when a signal or the watchdog asks the run to stop. */
  onAbort(listener: (reason: string) => void): void;
  /** The abort reason once the run was asked to stop; loops check it before each step. */
  aborted(): string | undefined;
  /** Arms a watchdog that aborts the whole run after `seconds`; returns its disarm function. */
  armWatchdog(seconds: number, what: string): () => void;
}

export function createCleanup(log: (line: string) => void): Cleanup {
  const actions: { name: string; action: CleanupAction }[] = [];
  const abortListeners: ((reason: string) => void)[] = [];
  let running: Promise<void> | undefined;
  let abortReason: string | undefined;

  const runAll = (): Promise<void> => {
    running ??= (async () => {
      for (const { name, action } of actions.splice(0).reverse()) {
        try {
          await action();
        } catch (error) {
          log(`cleanup of ${name} failed: ${(error as Error).message}`);
        }
      }
    })();
    return running;
  };

  const abort = (reason: string): void => {
    if (abortReason !== undefined) return;
    abortReason = reason;
    log(`\nstopping: ${reason}`);
    for (const listener of abortListeners) listener(reason);
    // Exit even if the main flow is stuck; cleanup first, then a non-zero code.
    void runAll().finally(() => process.exit(130));
  };

  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));

  return {
    add(name, action) {
      actions.push({ name, action });
    },
    tempDir(label) {
      const dir = mkdtempSync(join(tmpdir(), `coffer-bench-${label}-`));
      actions.push({ name: `temp dir ${dir}`, action: () => rmSync(dir, { recursive: true, force: true }) });
      return dir;
    },
    runAll,
    onAbort(listener) {
      abortListeners.push(listener);
    },
    aborted: () => abortReason,
    armWatchdog(seconds, what) {
      const timer = setTimeout(() => abort(`${what} took longer than its limit of ${Math.round(seconds)} s`), seconds * 1000);
      timer.unref();
      return () => clearTimeout(timer);
    },
  };
}
