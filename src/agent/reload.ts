/**
 * Telling the application that a rendered file changed: run the template's command, or send a
 * signal to the process whose id is in a pid file.
 *
 * The command is the operator's fixed argv from the configuration, run without a shell of ours:
 * nothing rendered is ever put on its command line (where `ps` would show it) or into its
 * environment; the application reads the new file itself.
 *
 * Owns: the child process of one reload, its timeout, reading the pid file, and never running
 * two reloads of one template at once.
 * Must never: pass the agent's own credentials (COFFER_TOKEN, VAULT_TOKEN...) to the command.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { ReloadAction } from './config.js';

export type ReloadOutcome =
  | { kind: 'none' }
  | { kind: 'command'; exitCode: number | null; signal: NodeJS.Signals | null; timedOut: boolean }
  | { kind: 'signal'; pid: number; signal: NodeJS.Signals };

/** A reload that could not be done; the message names the command or pid file only. */
export class ReloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReloadError';
  }
}

const CREDENTIAL_VARS = ['COFFER_TOKEN', 'VAULT_TOKEN', 'COFFER_SECRET_ID', 'COFFER_JWT'];
const KILL_GRACE_MS = 2000;

function commandEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of CREDENTIAL_VARS) delete out[name];
  return out;
}

function runCommand(argv: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<ReloadOutcome> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { env: commandEnv(env), stdio: ['ignore', 'inherit', 'inherit'] });
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ReloadError(`cannot run ${file}: ${(err as NodeJS.ErrnoException).code ?? 'spawn failed'}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      resolve({ kind: 'command', exitCode: code, signal, timedOut });
    });
  });
}

async function sendSignal(pidFile: string, signal: NodeJS.Signals): Promise<ReloadOutcome> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (err) {
    throw new ReloadError(`cannot read the pid file ${pidFile}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  const pid = Number(text.trim());
  // 0 and negative ids address process groups; only one process is meant.
  if (!Number.isInteger(pid) || pid <= 1) throw new ReloadError(`the pid file ${pidFile} does not hold a process id`);
  try {
    process.kill(pid, signal);
  } catch (err) {
    throw new ReloadError(`cannot send ${signal} to process ${pid} (from ${pidFile}): ${(err as NodeJS.ErrnoException).code ?? 'kill failed'}`);
  }
  return { kind: 'signal', pid, signal };
}

/** Performs a template's reload action. */
export function reload(action: ReloadAction, env: NodeJS.ProcessEnv = process.env): Promise<ReloadOutcome> {
  switch (action.kind) {
    case 'none':
      return Promise.resolve({ kind: 'none' });
    case 'command':
      return runCommand(action.argv, action.timeoutMs, env);
    case 'signal':
      return sendSignal(action.pidFile, action.signal);
  }
}

/** One template's reloads: never two at once; a change during a reload reloads once more after it. */
export interface Reloader {
  trigger(): void;
  /** No reload starts after this (one running finishes). */
  stop(): void;
}

export function createReloader(
  action: ReloadAction,
  deps: { env: NodeJS.ProcessEnv; onOutcome(outcome: ReloadOutcome): void; onError(err: unknown): void },
): Reloader {
  let running = false;
  let again = false;
  let stopped = false;
  const run = async (): Promise<void> => {
    running = true;
    try {
      do {
        again = false;
        try {
          deps.onOutcome(await reload(action, deps.env));
        } catch (err) {
          deps.onError(err);
        }
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };
  return {
    trigger() {
      if (action.kind === 'none' || stopped) return;
      if (running) again = true;
      else void run();
    },
    stop() {
      stopped = true;
    },
  };
}
