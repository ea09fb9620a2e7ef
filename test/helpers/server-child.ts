/**
 * A Coffer dev server in its own process (paused-server-child.ts), for crash tests that kill it
 * with SIGKILL (no clean shutdown, no flushing) and start it again on the same data directory.
 * Must never do anything at import (node:test runs every file under test/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'paused-server-child.js');

export interface ServerChild {
  process: ChildProcess;
  url: string;
  token: string;
  /** Resolves with the rotation id once a rotation stopped at the pause point (see `pause`). */
  paused: Promise<string>;
}

/**
 * Starts a server on `dataDir`; with `pause`, the first static-role rotation stops at that
 * phase of its state machine and waits forever. Resolves once it listens.
 */
export function startServerChild(dataDir: string, pause?: { phase: string; when: string }): Promise<ServerChild> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, COFFER_PAUSED_CHILD: '1', DATA_DIR: dataDir, ...(pause ? { PAUSE_PHASE: pause.phase, PAUSE_WHEN: pause.when } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffer = '';
  let onPaused!: (id: string) => void;
  const paused = new Promise<string>((resolve) => {
    onPaused = resolve;
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server child exited early with ${code}`)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const end = buffer.indexOf('\n');
        if (end === -1) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        const [word, a, b] = line.split(' ');
        if (word === 'READY') resolve({ process: child, url: a as string, token: b as string, paused });
        if (word === 'PAUSED') onPaused(a as string);
      }
    });
  });
}

/** SIGKILL, and wait until the process is gone. */
export function kill9(child: ServerChild): Promise<void> {
  return new Promise((resolve) => {
    child.process.removeAllListeners('exit');
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      resolve();
      return;
    }
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}
