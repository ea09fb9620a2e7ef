/**
 * `coffer server` run as users run it: `bin/coffer.js` in a process of its own, for tests of
 * what only a real process shows (signals, exit codes, what it prints). Must never do anything
 * at import (node:test runs every file under test/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './polling.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package's bin, next to the build this file was compiled into. */
export const COFFER_BIN = resolve(HERE, '..', '..', '..', 'bin', 'coffer.js');
/** False when this build is not inside the package (the bin would run another build). */
export const cliServerAvailable = existsSync(COFFER_BIN) && existsSync(resolve(HERE, '..', '..', 'src', 'main.js'));

export interface CliServer {
  readonly process: ChildProcess;
  readonly url: string;
  /** Everything the process has written so far. */
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `coffer server ARGS` (no COFFER_TOKEN/VAULT_TOKEN inherited) and resolves once its
 * banner names the address. A server that never gets there is killed before this rejects.
 */
export async function startCliServer(args: readonly string[], options: { cwd?: string; waitMs?: number } = {}): Promise<CliServer> {
  const child = spawn(process.execPath, [COFFER_BIN, 'server', ...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, COFFER_TOKEN: '', VAULT_TOKEN: '' },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const banner = /Address:\s+(http:\/\/\S+)/;
  try {
    await waitFor(() => banner.test(output.stdout) || child.exitCode !== null, options.waitMs ?? 20_000, 'the dev banner');
    const url = banner.exec(output.stdout)?.[1];
    if (url === undefined) throw new Error(`coffer server exited before its banner: ${output.stderr}`);
    return { process: child, url, output, exited };
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
}
