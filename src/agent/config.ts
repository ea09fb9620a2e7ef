/**
 * The agent's configuration: one JSON document, validated once at start into plain values.
 * Every error names the field (`templates[1].perms: ...`) and says what to write instead;
 * unknown fields are errors too, so a misspelt `destinaton` does not pass silently.
 *
 * Relative file paths are resolved against the configuration file's directory. Template
 * sources are read and parsed here, so a template with a syntax error stops the start.
 *
 * Owns: the schema, its defaults, and reading the template sources.
 * Must never: read a credential file (role id, secret id, JWT, token): those are read at login
 * time by auto-auth, and their content never reaches a message.
 */
import { readFileSync } from 'node:fs';
import { constants, hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseTemplate, TemplateSyntaxError, type ParsedTemplate } from './template.js';

export type AuthMethod = 'approle' | 'jwt' | 'kubernetes' | 'token_file';
export const AUTH_METHODS: readonly AuthMethod[] = ['approle', 'jwt', 'kubernetes', 'token_file'];
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AutoAuthConfig {
  method: AuthMethod;
  /** The auth mount; the method's name when omitted (not used by token_file). */
  mount: string | undefined;
  roleIdFile: string | undefined;
  secretIdFile: string | undefined;
  /** As in Vault Agent, true by default: the secret id then lives only in the agent's memory. */
  removeSecretIdFileAfterReading: boolean;
  /**
   * Vault Agent's `secret_id_response_wrapping_path`: the secret id file holds a wrapping token
   * made by a wrapped request to this path (auth/approle/role/NAME/secret-id); the agent checks
   * that path and unwraps the token to get the secret id.
   */
  secretIdResponseWrappingPath?: string | undefined;
  jwtFile: string | undefined;
  role: string | undefined;
  tokenFile: string | undefined;
}

export interface SinkConfig {
  path: string;
  mode: number;
}

export type ReloadAction =
  | { kind: 'none' }
  | { kind: 'command'; argv: readonly string[]; timeoutMs: number }
  | { kind: 'signal'; pidFile: string; signal: NodeJS.Signals };

export interface TemplateConfig {
  /** `templates[N]`, for messages. */
  readonly label: string;
  readonly template: ParsedTemplate;
  readonly destination: string;
  readonly mode: number;
  readonly reload: ReloadAction;
  /**
   * Check in as a consumer of the paths it renders: true for every versioned path (KV v2 and
   * static roles), false for none, undefined (the default) for static-role paths only.
   */
  readonly consumer: boolean | undefined;
}

export interface AgentConfig {
  address: string;
  /**
   * How an https address is verified: PEM certificates from `ca_cert` (or COFFER_CACERT /
   * VAULT_CACERT), read at start; `tls_skip_verify` (or VAULT_SKIP_VERIFY) turns verification off.
   */
  tls: { caPem: Buffer | undefined; skipVerify: boolean };
  namespace: string | undefined;
  autoAuth: AutoAuthConfig;
  sink: SinkConfig | undefined;
  templates: readonly TemplateConfig[];
  retry: { initialBackoffMs: number; maxBackoffMs: number };
  /** Every non-leased secret is read again this often, in case a change event was missed. */
  renderIntervalMs: number;
  /** On SIGTERM/SIGINT, revoke the leases (and the token) the agent created. */
  revokeOnExit: boolean;
  /**
   * How long stopping may take: the render in flight, lease revocation, deregistration. Past it
   * the agent stops anyway (an orchestrator kills a sidecar after its grace period, 30 s in
   * Kubernetes, and an unreachable server would otherwise hold each request for 30 s).
   */
  shutdownTimeoutMs: number;
  consumerName: string;
  /** Seconds a check-in counts for (the SDK heartbeats well within it). */
  consumerTtl: number;
  logLevel: LogLevel;
}

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, message: string): never {
  throw new AgentConfigError(`${field}: ${message}`);
}

function object(value: unknown, field: string, allowed: readonly string[]): Obj {
  if (!isObject(value)) fail(field, 'must be an object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(field === '' ? key : `${field}.${key}`, `unknown field; the fields here are ${allowed.join(', ')}`);
  }
  return value;
}

function optionalString(o: Obj, key: string, field: string): string | undefined {
  const value = o[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') fail(field, 'must be a non-empty string');
  return value;
}

function requiredString(o: Obj, key: string, field: string, hint: string): string {
  const value = optionalString(o, key, field);
  if (value === undefined) fail(field, `is required (${hint})`);
  return value;
}

function optionalBoolean(o: Obj, key: string, field: string): boolean | undefined {
  const value = o[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') fail(field, 'must be true or false');
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds: "250ms", "1s", "1m30s", "2h", or a number of seconds. */
export function parseDurationMs(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
    const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    let total = 0;
    let consumed = 0;
    for (let m = part.exec(text); m; m = part.exec(text)) {
      total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
      consumed = part.lastIndex;
    }
    if (consumed > 0 && consumed === text.length) return Math.round(total);
  }
  return fail(field, 'must be a duration such as "500ms", "1s", "5m" or a number of seconds');
}

function optionalDuration(o: Obj, key: string, field: string, fallbackMs: number, minMs: number): number {
  if (o[key] === undefined || o[key] === null) return fallbackMs;
  const ms = parseDurationMs(o[key], field);
  if (ms < minMs) fail(field, `must be at least ${minMs} ms`);
  return ms;
}

/** A file mode written as an octal string ("0600", "640"). */
export function parseMode(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' || !/^0?[0-7]{3}$/.test(value.trim())) fail(field, 'must be an octal mode as a string, such as "0600"');
  return parseInt(value.trim(), 8);
}

function pathIn(baseDir: string, value: string): string {
  return isAbsolute(value) ? value : resolve(baseDir, value);
}

function parseAutoAuth(value: unknown, baseDir: string): AutoAuthConfig {
  const o = object(value, 'auto_auth', [
    'method', 'mount', 'role_id_file', 'secret_id_file', 'remove_secret_id_file_after_reading', 'secret_id_response_wrapping_path', 'jwt_file', 'role', 'token_file',
  ]);
  const method = o['method'];
  if (typeof method !== 'string' || !AUTH_METHODS.includes(method as AuthMethod)) fail('auto_auth.method', `must be one of ${AUTH_METHODS.join(', ')}`);
  const file = (key: string): string | undefined => {
    const v = optionalString(o, key, `auto_auth.${key}`);
    return v === undefined ? undefined : pathIn(baseDir, v);
  };
  const config: AutoAuthConfig = {
    method: method as AuthMethod,
    mount: optionalString(o, 'mount', 'auto_auth.mount'),
    roleIdFile: file('role_id_file'),
    secretIdFile: file('secret_id_file'),
    removeSecretIdFileAfterReading: optionalBoolean(o, 'remove_secret_id_file_after_reading', 'auto_auth.remove_secret_id_file_after_reading') ?? true,
    secretIdResponseWrappingPath: optionalString(o, 'secret_id_response_wrapping_path', 'auto_auth.secret_id_response_wrapping_path'),
    jwtFile: file('jwt_file'),
    role: optionalString(o, 'role', 'auto_auth.role'),
    tokenFile: file('token_file'),
  };
  const needs = (key: string, hint: string): void => {
    if (o[key] === undefined) fail(`auto_auth.${key}`, `is required for method "${config.method}" (${hint})`);
  };
  const forbids = (keys: string[]): void => {
    for (const key of keys) if (o[key] !== undefined) fail(`auto_auth.${key}`, `does not apply to method "${config.method}"`);
  };
  switch (config.method) {
    case 'approle':
      needs('role_id_file', 'a file holding the role id');
      needs('secret_id_file', 'a file holding the secret id');
      forbids(['jwt_file', 'role', 'token_file']);
      break;
    case 'jwt':
      needs('jwt_file', 'a file holding the JWT, read again at every login');
      forbids(['role_id_file', 'secret_id_file', 'remove_secret_id_file_after_reading', 'secret_id_response_wrapping_path', 'token_file']);
      break;
    case 'kubernetes':
      needs('role', 'the Kubernetes auth role to log in to');
      forbids(['role_id_file', 'secret_id_file', 'remove_secret_id_file_after_reading', 'secret_id_response_wrapping_path', 'token_file']);
      break;
    case 'token_file':
      needs('token_file', 'a file holding a token');
      forbids(['role_id_file', 'secret_id_file', 'remove_secret_id_file_after_reading', 'secret_id_response_wrapping_path', 'jwt_file', 'role', 'mount']);
      break;
  }
  return config;
}

const SIGNALS = Object.keys(constants.signals);

function parseReload(o: Obj, field: string, baseDir: string): ReloadAction {
  const command = o['command'];
  const signal = o['signal'];
  if (command !== undefined && signal !== undefined) fail(field, 'give command or signal, not both');
  const timeoutMs = optionalDuration(o, 'command_timeout', `${field}.command_timeout`, 30_000, 100);
  if (command !== undefined) {
    if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string') || command[0] === '') {
      fail(`${field}.command`, 'must be a non-empty array of strings, e.g. ["sh", "-c", "kill -HUP $(cat /run/app.pid)"]');
    }
    return { kind: 'command', argv: command as string[], timeoutMs };
  }
  if (o['command_timeout'] !== undefined) fail(`${field}.command_timeout`, 'applies only with command');
  if (signal !== undefined) {
    const s = object(signal, `${field}.signal`, ['pid_file', 'signal']);
    const pidFile = requiredString(s, 'pid_file', `${field}.signal.pid_file`, 'the file holding the process id to signal');
    const name = s['signal'] ?? 'SIGHUP';
    if (typeof name !== 'string' || !SIGNALS.includes(name)) fail(`${field}.signal.signal`, 'must be a signal name such as "SIGHUP" or "SIGUSR1"');
    return { kind: 'signal', pidFile: pathIn(baseDir, pidFile), signal: name as NodeJS.Signals };
  }
  return { kind: 'none' };
}

function parseTemplateEntry(value: unknown, index: number, baseDir: string, read: (path: string) => string): TemplateConfig {
  const label = `templates[${index}]`;
  const o = object(value, label, ['source', 'contents', 'destination', 'perms', 'command', 'command_timeout', 'signal', 'consumer']);
  const source = optionalString(o, 'source', `${label}.source`);
  const contents = o['contents'];
  if (contents !== undefined && typeof contents !== 'string') fail(`${label}.contents`, 'must be a string');
  if ((source === undefined) === (contents === undefined)) fail(label, 'give exactly one of source (a template file) or contents (the template itself)');
  let text: string;
  let where: string;
  if (source !== undefined) {
    where = `${label}.source`;
    try {
      text = read(pathIn(baseDir, source));
    } catch (err) {
      fail(where, `cannot read ${pathIn(baseDir, source)}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
    }
  } else {
    where = `${label}.contents`;
    text = contents as string;
  }
  let template: ParsedTemplate;
  try {
    template = parseTemplate(text);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) fail(where, err.message);
    throw err;
  }
  const destination = pathIn(baseDir, requiredString(o, 'destination', `${label}.destination`, 'where the rendered file goes, ideally on tmpfs'));
  return {
    label,
    template,
    destination,
    mode: parseMode(o['perms'], `${label}.perms`, 0o600),
    reload: parseReload(o, label, baseDir),
    consumer: optionalBoolean(o, 'consumer', `${label}.consumer`),
  };
}

export interface ParseOptions {
  /** Where relative paths start (the configuration file's directory); default the working directory. */
  baseDir?: string;
  /** For COFFER_ADDR / VAULT_ADDR when `address` is not given. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads a template source (default: readFileSync as UTF-8). */
  readFile?: (path: string) => string;
  /** Reads the CA certificate file (default: readFileSync). */
  readBytes?: (path: string) => Buffer;
}

/** Go's strconv.ParseBool true words, as Vault reads VAULT_SKIP_VERIFY. */
const TRUE_WORDS = new Set(['1', 't', 'true']);

/** `ca_cert` and `tls_skip_verify`, falling back to the variables the CLI reads. */
function parseTls(o: Obj, env: Readonly<Record<string, string | undefined>>, baseDir: string, readBytes: (path: string) => Buffer): AgentConfig['tls'] {
  const fromConfig = optionalString(o, 'ca_cert', 'ca_cert');
  const caFile = fromConfig === undefined ? (env['COFFER_CACERT'] || env['VAULT_CACERT'] || undefined) : pathIn(baseDir, fromConfig);
  const field = fromConfig === undefined ? (env['COFFER_CACERT'] ? 'COFFER_CACERT' : 'VAULT_CACERT') : 'ca_cert';
  let caPem: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      caPem = readBytes(caFile);
    } catch (err) {
      fail(field, `cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) fail(field, `${caFile} holds no PEM certificate`);
  }
  const skipWord = (env['COFFER_SKIP_VERIFY'] || env['VAULT_SKIP_VERIFY'] || '').toLowerCase();
  const skipVerify = optionalBoolean(o, 'tls_skip_verify', 'tls_skip_verify') ?? TRUE_WORDS.has(skipWord);
  return { caPem, skipVerify };
}

/** Validates a parsed JSON document into an AgentConfig; throws AgentConfigError naming the field. */
export function parseAgentConfig(raw: unknown, options: ParseOptions = {}): AgentConfig {
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ?? process.env;
  const read = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const o = object(raw, '', [
    'address', 'ca_cert', 'tls_skip_verify', 'namespace', 'auto_auth', 'sink', 'templates', 'retry', 'render_interval', 'revoke_on_exit', 'shutdown_timeout', 'consumer_name', 'consumer_ttl', 'log_level',
  ]);
  const address = optionalString(o, 'address', 'address') ?? (env['COFFER_ADDR'] || env['VAULT_ADDR']);
  if (address === undefined) fail('address', 'is required (e.g. "https://coffer.internal:8200"), or set COFFER_ADDR');
  try {
    const url = new URL(address);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    fail('address', 'must be an http:// or https:// URL');
  }
  const tls = parseTls(o, env, baseDir, options.readBytes ?? ((path: string) => readFileSync(path)));
  if (o['auto_auth'] === undefined) fail('auto_auth', 'is required: how the agent logs in (method approle, jwt, kubernetes or token_file)');
  const autoAuth = parseAutoAuth(o['auto_auth'], baseDir);

  let sink: SinkConfig | undefined;
  if (o['sink'] !== undefined && o['sink'] !== null) {
    const s = object(o['sink'], 'sink', ['path', 'mode']);
    sink = {
      path: pathIn(baseDir, requiredString(s, 'path', 'sink.path', 'the file the agent writes its token to')),
      mode: parseMode(s['mode'], 'sink.mode', 0o600),
    };
  }

  const rawTemplates = o['templates'] ?? [];
  if (!Array.isArray(rawTemplates)) fail('templates', 'must be an array');
  const templates = rawTemplates.map((t, i) => parseTemplateEntry(t, i, baseDir, read));
  if (templates.length === 0 && sink === undefined) fail('templates', 'the agent has nothing to do: give at least one template or a sink');
  const seen = new Map<string, string>();
  if (sink) seen.set(sink.path, 'sink.path');
  for (const t of templates) {
    const other = seen.get(t.destination);
    if (other !== undefined) fail(`${t.label}.destination`, `is the same file as ${other}`);
    seen.set(t.destination, `${t.label}.destination`);
  }

  const retryRaw = o['retry'] === undefined ? {} : object(o['retry'], 'retry', ['initial_backoff', 'max_backoff']);
  const initialBackoffMs = optionalDuration(retryRaw, 'initial_backoff', 'retry.initial_backoff', 1000, 10);
  const maxBackoffMs = optionalDuration(retryRaw, 'max_backoff', 'retry.max_backoff', 300_000, 10);
  if (maxBackoffMs < initialBackoffMs) fail('retry.max_backoff', 'must not be shorter than retry.initial_backoff');

  const logLevel = o['log_level'] ?? 'info';
  if (typeof logLevel !== 'string' || !['debug', 'info', 'warn', 'error'].includes(logLevel)) fail('log_level', 'must be debug, info, warn or error');
  const consumerTtl = o['consumer_ttl'] === undefined ? 60 : Math.round(parseDurationMs(o['consumer_ttl'], 'consumer_ttl') / 1000);
  if (consumerTtl < 1) fail('consumer_ttl', 'must be at least 1s');

  return {
    address,
    tls,
    namespace: optionalString(o, 'namespace', 'namespace'),
    autoAuth,
    sink,
    templates,
    retry: { initialBackoffMs, maxBackoffMs },
    renderIntervalMs: optionalDuration(o, 'render_interval', 'render_interval', 300_000, 100),
    revokeOnExit: optionalBoolean(o, 'revoke_on_exit', 'revoke_on_exit') ?? false,
    shutdownTimeoutMs: optionalDuration(o, 'shutdown_timeout', 'shutdown_timeout', 10_000, 100),
    consumerName: optionalString(o, 'consumer_name', 'consumer_name') ?? `coffer-agent@${hostname()}/${process.pid}`,
    consumerTtl,
    logLevel: logLevel as LogLevel,
  };
}

/** Reads and validates the configuration file (JSON). */
export function loadAgentConfig(file: string, options: Omit<ParseOptions, 'baseDir'> = {}): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(`cannot read the configuration file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // JSON.parse's message quotes a few characters around the mistake; the file is not meant to hold secrets, but say only where.
    const at = /position (\d+)/.exec((err as Error).message);
    throw new AgentConfigError(`the configuration file ${file} is not valid JSON${at ? ` (near character ${at[1]})` : ''}`);
  }
  return parseAgentConfig(raw, { ...options, baseDir: dirname(resolve(file)) });
}
