/**
 * What every command runs with: the resolved global options (-address, -token, -format,
 * -field), a lazily built API client, output helpers and a list of values to redact.
 *
 * Owns: the precedence of global settings (flag, then COFFER_*, then VAULT_*, then defaults /
 * the token file; a token variable only with its own family's address, see resolveToken) and
 * standard input being read at most once.
 * Must never: print a token; every token the CLI handles is registered for redaction so that
 * main() can scrub it out of any error line.
 */
import { readFileSync } from 'node:fs';
import { createNodeHttpFetch } from '../sdk/node-http.js';
import { createApiClient, type ApiClient } from './client.js';
import { CliError } from './errors.js';
import { readAllStdin, readSecret, type CliIo } from './io.js';
import { readTokenFile, tokenFilePath } from './token-file.js';

export type OutputFormat = 'table' | 'json';

/** Flags every command accepts. */
export const GLOBAL_FLAGS = {
  address: { kind: 'string', usage: 'Server address (env COFFER_ADDR or VAULT_ADDR; default http://127.0.0.1:8200).' },
  token: { kind: 'string', usage: 'Token (env COFFER_TOKEN, or VAULT_TOKEN; then the file ~/.coffer-token). COFFER_TOKEN is not sent to an address from VAULT_ADDR, nor VAULT_TOKEN to COFFER_ADDR when VAULT_ADDR names another server.' },
  format: { kind: 'string', usage: 'Output format: table or json (env COFFER_FORMAT; VAULT_FORMAT when it is one of these).' },
  field: { kind: 'string', usage: 'Print only this field, raw.' },
  'ca-cert': { kind: 'string', usage: 'PEM file of the CA that signed the server\'s certificate, for an https address (env COFFER_CACERT or VAULT_CACERT).' },
  'tls-skip-verify': { kind: 'boolean', usage: 'Do not verify the server\'s certificate (env COFFER_SKIP_VERIFY or VAULT_SKIP_VERIFY). Insecure: for tests only.' },
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
  caCert?: string | undefined;
  tlsSkipVerify?: boolean | undefined;
}

export interface CommandContext {
  readonly io: CliIo;
  readonly format: OutputFormat;
  readonly field: string | undefined;
  readonly address: string;
  /** The fetch for the server with the CLI's TLS settings (-ca-cert, -tls-skip-verify), if any. */
  readonly fetch: typeof fetch | undefined;
  /** The client with the resolved token (read from the token file on first use). */
  client(): ApiClient;
  /** A client that sends `token` instead (null: none), e.g. for `login` to verify a new token. */
  clientWithToken(token: string | null): ApiClient;
  /**
   * The token `client()` sends (-token, else COFFER_TOKEN or VAULT_TOKEN as the address allows,
   * else the token file), for commands that talk to the server through the SDK.
   */
  token(): string | undefined;
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

/** Go's strconv.ParseBool, as Vault reads VAULT_SKIP_VERIFY. */
const TRUE_WORDS = new Set(['1', 't', 'true']);

/**
 * The fetch for an https server signed by a private CA (-ca-cert, COFFER_CACERT, VAULT_CACERT)
 * or not verified at all (-tls-skip-verify, COFFER_SKIP_VERIFY, VAULT_SKIP_VERIFY); undefined
 * for the default trust (Node's CA list, NODE_EXTRA_CA_CERTS).
 */
function tlsFetch(globals: GlobalFlagValues, env: NodeJS.ProcessEnv): typeof fetch | undefined {
  const caFile = globals.caCert ?? (env['COFFER_CACERT'] || env['VAULT_CACERT'] || undefined);
  const skipWord = (env['COFFER_SKIP_VERIFY'] || env['VAULT_SKIP_VERIFY'] || '').toLowerCase();
  const skipVerify = globals.tlsSkipVerify === true || TRUE_WORDS.has(skipWord);
  if (caFile === undefined && !skipVerify) return undefined;
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new CliError(`cannot read the CA certificate file ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  // node:https takes a CA per request; the global fetch would need undici's Agent, which Node
  // does not expose. The CLI's client reads only what this fetch's answers have.
  return createNodeHttpFetch({ ...(ca === undefined ? {} : { ca }), ...(skipVerify ? { rejectUnauthorized: false } : {}) }) as unknown as typeof fetch;
}

/** Whether two addresses name the same server (scheme, host and port). */
function sameServer(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return a === b;
  }
}

export function createContext(io: CliIo, globals: GlobalFlagValues): CommandContext {
  const env = io.env;
  const address = globals.address ?? (env['COFFER_ADDR'] || env['VAULT_ADDR'] || DEFAULT_ADDRESS);
  // VAULT_FORMAT is a Vault user's setting, often yaml, which Coffer does not print: it is
  // followed only where it names a format Coffer has, never a reason for every command to fail.
  const vaultFormat = (env['VAULT_FORMAT'] ?? '').toLowerCase();
  const formatName = (globals.format ?? (env['COFFER_FORMAT'] || (vaultFormat === 'json' || vaultFormat === 'table' ? vaultFormat : '') || 'table')).toLowerCase();
  if (formatName !== 'table' && formatName !== 'json') {
    throw new CliError('invalid -format: must be "table" or "json"');
  }
  const wrapTtl = globals.wrapTtl ?? (env['COFFER_WRAP_TTL'] || env['VAULT_WRAP_TTL'] || undefined);
  // Built on first use: a command that talks to no server (audit verify, help) must not fail
  // over an unreadable CA file it does not need.
  let chosenFetch: { value: typeof fetch | undefined } | undefined;
  const fetchImpl = (): typeof fetch | undefined => (chosenFetch ??= { value: io.fetch ?? tlsFetch(globals, env) }).value;
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

  // A token variable goes with its own family's address: with COFFER_ADDR set and VAULT_ADDR
  // naming another server, VAULT_TOKEN is a Vault token (a Vault user's shell profile) and must
  // not be sent to Coffer; with the address taken from VAULT_ADDR, COFFER_TOKEN is not sent
  // there. Anything else (one family only, or an explicit -address) is as Vault's CLI does.
  const addressFromVault = globals.address === undefined && !env['COFFER_ADDR'] && Boolean(env['VAULT_ADDR']);
  const vaultElsewhere = globals.address === undefined && Boolean(env['COFFER_ADDR']) && Boolean(env['VAULT_ADDR'])
    && !sameServer(env['COFFER_ADDR'] as string, env['VAULT_ADDR'] as string);
  const usable = (name: 'COFFER_TOKEN' | 'VAULT_TOKEN', skip: boolean, because: string): string | undefined => {
    const value = env[name];
    if (!value) return undefined;
    if (!skip) return value;
    io.stderr.write(`Warning: ${name} is not sent to ${address}, ${because}\n`);
    return undefined;
  };

  const resolveToken = (): string | undefined => {
    const token = globals.token
      ?? (usable('COFFER_TOKEN', addressFromVault, 'which comes from VAULT_ADDR')
        || usable('VAULT_TOKEN', vaultElsewhere, 'which comes from COFFER_ADDR while VAULT_ADDR names another server')
        || readTokenFile(tokenFilePath(env)));
    if (token) redact(token);
    return token;
  };

  return {
    io,
    format: formatName,
    field: globals.field,
    address,
    get fetch() {
      return fetchImpl();
    },
    client() {
      client ??= createApiClient({ address, token: resolveToken(), fetch: fetchImpl(), wrapTtl });
      return client;
    },
    token: () => resolveToken(),
    clientWithToken(token) {
      if (token) redact(token);
      return createApiClient({ address, token: token ?? undefined, fetch: fetchImpl(), wrapTtl });
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
