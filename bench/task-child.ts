/**
 * Runs a benchmark task (populating leases, a revocation storm) to completion in its own Node
 * process, so its heap and its CPU never mix with the harness's. The child reports progress as
 * lines on stderr, which are passed on to the harness log, and its result as ONE JSON line on
 * stdout, which is parsed and returned.
 *
 * Must never leave the child running: it is registered with `cleanup`, killed on a time limit,
 * and it exits by itself when its stdin (our pipe) closes.
 */
import { spawn } from 'node:child_process';
import type { Cleanup } from './cleanup.js';

const STDERR_TAIL_LINES = 20;
const STOP_GRACE_MS = 5_000;

export async function runTaskChild<Result>(options: {
  name: string;
  entry: string;
  args: string[];
  cleanup: Cleanup;
  log(line: string): void;
  /** Killed and rejected after this long. */
  timeoutMs: number;
  /** Extra flags for node itself, e.g. ['--cpu-prof']. */
  nodeFlags?: string[];
  parse(value: unknown): Result | undefined;
}): Promise<Result> {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.entry, ...options.args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${options.name}`);
  let exited = false;
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  const kill = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exitPromise;
    clearTimeout(timer);
  };
  options.cleanup.add(`${options.name} (pid ${pid})`, kill);

  const tail: string[] = [];
  let stderrBuffer = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrBuffer += chunk;
    const lines = stderrBuffer.split('\n');
    stderrBuffer = lines.pop() ?? '';
    for (const line of lines) {
      options.log(`  ${options.name}: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
      tail.push(line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
    }
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void kill();
  }, options.timeoutMs);
  const { code, signal } = await exitPromise;
  clearTimeout(timer);
  if (code !== 0) {
    const why = timedOut ? `stopped after its limit of ${Math.round(options.timeoutMs / 1000)} s` : signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
    throw new Error(`${options.name} failed (${why})${tail.length > 0 ? `:\n${tail.join('\n')}` : ''}`);
  }
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastLine);
  } catch {
    throw new Error(`${options.name} printed no JSON result line`);
  }
  const result = options.parse(parsed);
  if (result === undefined) throw new Error(`${options.name} printed a result of the wrong shape`);
  return result;
}

/** In a task child: exit when the parent's pipe closes, so a killed harness leaves nothing behind. */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.on('error', () => process.exit(1));
  process.stdin.resume();
}
