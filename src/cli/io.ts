/**
 * The CLI's view of its process: output streams, environment and standard input, injectable
 * so that tests run `main()` in-process.
 *
 * Owns: reading standard input (whole, or one hidden line from a terminal).
 * Must never: echo what is typed at a hidden prompt, or keep stdin open after reading it
 * (a paused-but-referenced stdin would keep the process alive).
 */
import type { Readable } from 'node:stream';

export interface CliWriter {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export type CliStdin = Readable & {
  readonly isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
};

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: CliWriter;
  stderr: CliWriter;
  stdin: CliStdin;
  /** The HTTP client; the global fetch unless a test or embedder supplies another. */
  fetch?: typeof fetch;
}

/** Reads standard input to its end. */
export async function readAllStdin(stdin: CliStdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads one secret value. On a terminal: shows `prompt` on stderr and reads a line without echo.
 * Otherwise: reads all of stdin and drops one trailing newline, so `echo KEY | coffer ...` works.
 */
export async function readSecret(io: CliIo, prompt: string): Promise<string> {
  if (io.stdin.isTTY && typeof io.stdin.setRawMode === 'function') return readHiddenLine(io, prompt);
  return (await readAllStdin(io.stdin)).replace(/\r?\n$/, '');
}

/** Thrown when the user presses Ctrl-C or Ctrl-D at a hidden prompt. */
export class PromptAborted extends Error {
  constructor() {
    super('input aborted');
    this.name = 'PromptAborted';
  }
}

function readHiddenLine(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  const setRaw = stdin.setRawMode as (mode: boolean) => unknown;
  io.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (err: Error | undefined): void => {
      stdin.off('data', onData);
      setRaw.call(stdin, false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of typeof data === 'string' ? data : data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(undefined);
        if (ch === '\u0003' || ch === '\u0004') return finish(new PromptAborted());
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    setRaw.call(stdin, true);
    stdin.on('data', onData);
    stdin.resume();
  });
}
