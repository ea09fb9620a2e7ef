/**
 * Starts a benchmark server in its own Node process (so the load generator never shares its
 * event loop), waits for the one JSON "ready" line it prints on stdout, and stops it again.
 *
 * Must never echo the child's stdout: the ready line of a Coffer child carries a root token.
 * Only stderr (server logs) is kept, as a short tail for error reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';

export interface ServerChild<Ready> {
  readonly name: string;
  readonly pid: number;
  readonly ready: Ready;
  /** The exit description once the child has died, else undefined. */
  exited(): string | undefined;
  /** The last lines the child wrote on stderr. */
  stderrTail(): string[];
  stop(): Promise<void>;
}

const STDERR_TAIL_LINES = 40;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

/** The path of a compiled sibling module of this file, e.g. `childEntry('coffer-child.js')`. */
export function childEntry(fileName: string): string {
  return fileURLToPath(new URL(`./${fileName}`, import.meta.url));
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Spawns `node <entry> <args>` and resolves with the child once it printed a JSON line that
 * `parseReady` accepts. The child is registered with `cleanup` before anything can fail.
 */
export async function startServerChild<Ready>(options: {
  name: string;
  entry: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cleanup: Cleanup;
  parseReady: (value: unknown) => Ready | undefined;
}): Promise<ServerChild<Ready>> {
  // stdin stays an open pipe: the child exits when it closes, so a parent killed with SIGKILL
  // still leaves no server behind.
  const child = spawn(process.execPath, [options.entry, ...(options.args ?? [])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${options.name}`);

  let exitDescription: string | undefined;
  const tail: string[] = [];
  let stderrBuffer = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrBuffer += chunk;
    const lines = stderrBuffer.split('\n');
    stderrBuffer = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
    }
  });
  child.on('exit', (code, signal) => {
    exitDescription = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
  });

  const stop = async (): Promise<void> => {
    if (exitDescription !== undefined) return;
    child.kill('SIGTERM');
    if (await waitForExit(child, STOP_GRACE_MS)) return;
    child.kill('SIGKILL');
    await waitForExit(child, STOP_GRACE_MS);
  };
  options.cleanup.add(`${options.name} (pid ${pid})`, stop);

  const ready = await new Promise<Ready>((resolve, reject) => {
    let stdoutBuffer = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`${options.name} did not start: ${why}\n${tail.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    child.once('exit', () => fail(exitDescription ?? 'exited'));
    child.once('error', (error) => fail(error.message));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdoutBuffer += chunk;
      let newline = stdoutBuffer.indexOf('\n');
      while (newline >= 0) {
        const line = stdoutBuffer.slice(0, newline).trim();
        stdoutBuffer = stdoutBuffer.slice(newline + 1);
        newline = stdoutBuffer.indexOf('\n');
        if (!line.startsWith('{')) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        const accepted = options.parseReady(parsed);
        if (accepted !== undefined) {
          clearTimeout(timer);
          resolve(accepted);
          return;
        }
      }
    });
  });

  return {
    name: options.name,
    pid,
    ready,
    exited: () => exitDescription,
    stderrTail: () => [...tail],
    stop,
  };
}
