/**
 * What every command runs with: the resolved global options (-address, -token, -format,
 * -field), a lazily built API client, output helpers and a list of values to redact.
 *
 * Owns: the precedence of global settings (flag, then COFFER_*, then VAULT_*, then defaults /
 * the token file) and standard input being read at most once.
 * Must never: print a token; every token the CLI handles is registered for redaction so that
 * main() can scrub it out of any error line.
 */
import { createApiClient, type ApiClient } from './client.js';
import { CliError } from './errors.js';
import { readAllStdin, readSecret, type CliIo } from './io.js';
import { readTokenFile, tokenFilePath } from './token-file.js';

export type OutputFormat = 'table' | 'json';

/** Flags every command accepts. */
export const GLOBAL_FLAGS = {
  address: { kind: 'string', usage: 'Server address (env COFFER_ADDR or VAULT_ADDR; default http://127.0.0.1:8200).' },
  token: { kind: 'string', usage: 'Token (env COFFER_TOKEN or VAULT_TOKEN; default: the file ~/.coffer-token).' },
  format: { kind: 'string', usage: 'Output format: table or json (env COFFER_FORMAT).' },
  field: { kind: 'string', usage: 'Print only this field, raw.' },
  'wrap-ttl': {
    kind: 'string',
    usage: 'Ask for the response to be wrapped in a single-use token living this long (5m, or seconds; env VAULT_WRAP_TTL), and print that token instead; "coffer unwrap" reads it.',
  },
} as const;

export const DEFAULT_ADDRESS = 'http://127.0.0.1:8200';

export interface GlobalFlagValues {
  address: string | undefined;
  token: string | undefined;
  format: string | undefined;
  field: string | undefined;
  wrapTtl?: string | undefined;
}

export interface CommandContext {
  readonly io: CliIo;
  readonly format: OutputFormat;
  readonly field: string | undefined;
  readonly address: string;
  /** The client with the resolved token (read from the token file on first use). */
  client(): ApiClient;
  /** A client that sends `token` instead (null: none), e.g. for `login` to verify a new token. */
  clientWithToken(token: string | null): ApiClient;
  /** Writes a line (a newline is added) to stdout. */
  out(text: string): void;
  /** Writes a line to stderr. */
  err(text: string): void;
  /** All of stdin, read once; a second call is a usage error. */
  readStdin(): Promise<string>;
  /** One secret line from stdin, hidden when stdin is a terminal. */
  readSecret(prompt: string): Promise<string>;
  /** Registers a value that must never appear in an error line. */
  redact(secret: string): void;
  /** Removes every registered secret from `text`. */
  scrub(text: string): string;
}

export function createContext(io: CliIo, globals: GlobalFlagValues): CommandContext {
  const env = io.env;
  const address = globals.address ?? (env['COFFER_ADDR'] || env['VAULT_ADDR'] || DEFAULT_ADDRESS);
  const formatName = (globals.format ?? (env['COFFER_FORMAT'] || env['VAULT_FORMAT'] || 'table')).toLowerCase();
  if (formatName !== 'table' && formatName !== 'json') {
    throw new CliError('invalid -format: must be "table" or "json"');
  }
  const wrapTtl = globals.wrapTtl ?? (env['COFFER_WRAP_TTL'] || env['VAULT_WRAP_TTL'] || undefined);
  const secrets = new Set<string>();
  const redact = (value: string): void => {
    // Very short strings would blank out ordinary words; no real token is this short.
    if (value.length >= 4) secrets.add(value);
  };
  if (globals.token) redact(globals.token);
  let stdinRead = false;
  const claimStdin = (): void => {
    if (stdinRead) throw new CliError('standard input can only be read once');
    stdinRead = true;
  };
  let client: ApiClient | undefined;

  const resolveToken = (): string | undefined => {
    const token = globals.token ?? (env['COFFER_TOKEN'] || env['VAULT_TOKEN'] || readTokenFile(tokenFilePath(env)));
    if (token) redact(token);
    return token;
  };

  return {
    io,
    format: formatName,
    field: globals.field,
    address,
    client() {
      client ??= createApiClient({ address, token: resolveToken(), fetch: io.fetch, wrapTtl });
      return client;
    },
    clientWithToken(token) {
      if (token) redact(token);
      return createApiClient({ address, token: token ?? undefined, fetch: io.fetch, wrapTtl });
    },
    out: (text) => void io.stdout.write(`${text}\n`),
    err: (text) => void io.stderr.write(`${text}\n`),
    async readStdin() {
      claimStdin();
      return readAllStdin(io.stdin);
    },
    async readSecret(prompt) {
      claimStdin();
      const value = await readSecret(io, prompt);
      redact(value);
      return value;
    },
    redact,
    scrub(text) {
      let out = text;
      for (const secret of secrets) out = out.split(secret).join('<redacted>');
      return out;
    },
  };
}
