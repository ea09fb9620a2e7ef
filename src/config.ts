/**
 * Server configuration: parsed and validated once at start (flags over config file over
 * defaults), then passed down as plain values.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parseDeclaredAuditDevices, type DeclaredAuditDevice } from './core/audit/declared.js';
import { parseDurationSeconds } from './core/duration.js';
import { CofferError } from './core/errors.js';
import { DEFAULT_MAX_WATCHES, DEFAULT_MAX_WATCHES_PER_TOKEN } from './core/events/watch-slots.js';
import { canonicalAllowedHost } from './rotators/url-policy.js';
import { parseForwardedForSettings, type ForwardedForInput, type ForwardedForSettings } from './server/forwarded-for-settings.js';

export type StorageKind = 'sqlite' | 'memory';
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';
/**
 * Whether sys/audit may enable audit devices (OpenBao: unsafe_allow_api_audit_creation). Either
 * way it may disable a device the config file does not declare, so a planted one can be removed.
 */
export type ApiAuditCreation = 'allow' | 'deny';

export interface ServerConfig {
  listenHost: string;
  listenPort: number;
  dataDir: string;
  storage: StorageKind;
  dev: boolean;
  devRootToken: string | undefined;
  logLevel: LogLevelName;
  maxRequestBytes: number;
  /** Decrypted-value cache entries in the barrier; 0 disables. */
  cacheEntries: number;
  /** Seconds. */
  defaultTokenTtl: number;
  maxTokenTtl: number;
  /** Extra processes that serve KV reads beside this one (src/server/replicas/); 0 = none. */
  httpReplicas: number;
  /** Hosts webhook rotators may call besides loopback, canonical (src/rotators/url-policy.ts). */
  rotatorAllowedHosts: string[];
  /** Directories a file audit device enabled through the API must write in; empty: no such limit. */
  auditFileDirs: string[];
  /** 'deny': sys/audit can only list; audit devices come from `auditDevices`. */
  apiAuditCreation: ApiAuditCreation;
  /** Audit devices the config file declares (key `audit`), enabled at every unseal. */
  auditDevices: DeclaredAuditDevice[];
  /** How long each HTTP server waits for a client (src/server/http.ts), seconds. */
  http: HttpTimeouts;
  /** sys/watch event streams and long polls one token may hold open at once (watch-slots.ts). */
  maxWatchesPerToken: number;
  /** The same on the whole server, whatever tokens hold them. */
  maxWatches: number;
  /** How long a seal waits for the requests in flight before it seals anyway, seconds. */
  sealDrainTimeout: number;
  /** How long SIGTERM/SIGINT lets the requests in flight finish before closing their connections, seconds. */
  shutdownGracePeriod: number;
  /** Proxies whose X-Forwarded-For is believed (src/server/forwarded-for.ts); undefined: none. */
  forwardedFor: ForwardedForSettings | undefined;
}

/** One entry of the config file's `audit` list, before validation. */
export interface AuditDeviceInput {
  path: string;
  type: string;
  description?: string;
  options: Readonly<Record<string, string>>;
}

/** Seconds, named after Vault's listener settings; each one is positive. */
export interface HttpTimeouts {
  /** `http_read_header_timeout`: from the connection or the request's first byte to the end of its headers. */
  readHeader: number;
  /** `http_read_timeout`: the same start to the end of the request body; never the response. */
  read: number;
  /** `http_idle_timeout`: from the end of a response to the next request's first byte. */
  idle: number;
}

export interface ServerConfigInput {
  listen?: string;
  dataDir?: string;
  storage?: StorageKind;
  dev?: boolean;
  devRootToken?: string;
  logLevel?: string;
  maxRequestBytes?: number;
  cacheEntries?: number;
  defaultTokenTtl?: string | number;
  maxTokenTtl?: string | number;
  httpReplicas?: number;
  /** Exact host names or IP addresses; config file key `rotator_allowed_hosts`. */
  rotatorAllowedHosts?: readonly string[];
  /** Absolute directories; config file key `audit_file_dirs`. */
  auditFileDirs?: readonly string[];
  /** 'allow' (default) or 'deny'; config file key `api_audit_creation`. */
  apiAuditCreation?: string;
  /** Config file key `audit`. */
  auditDevices?: readonly AuditDeviceInput[];
  /** Config file keys `http_read_header_timeout`, `http_read_timeout`, `http_idle_timeout`. */
  httpReadHeaderTimeout?: string | number;
  httpReadTimeout?: string | number;
  httpIdleTimeout?: string | number;
  /** Config file key `max_watches_per_token`. */
  maxWatchesPerToken?: number;
  /** Config file key `max_watches`. */
  maxWatches?: number;
  /** Config file keys `x_forwarded_for_authorized_addrs`, `_hop_skips`, `_reject_not_authorized`, `_reject_not_present`. */
  forwardedFor?: ForwardedForInput;
  /** Config file key `seal_drain_timeout`. */
  sealDrainTimeout?: string | number;
  /** Config file key `shutdown_grace_period`. */
  shutdownGracePeriod?: string | number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen.trim());
  if (!match) {
    // ":8200" binds every interface in Go (Vault); Coffer serves plain HTTP, so that must be said.
    const hint = /^:\d{1,5}$/.test(listen.trim()) ? `; to listen on every interface write 0.0.0.0${listen.trim()}` : '';
    throw new ConfigError(`invalid listen address "${listen}": expected HOST:PORT, e.g. 127.0.0.1:8200${hint}`);
  }
  const port = Number(match[2]);
  if (port > 65535) throw new ConfigError(`invalid listen port ${port}`);
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

const LEVELS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error'];

/** Vault's listener defaults (OpenBao command/server.go): 10 s, 30 s, 5 min. */
const HTTP_TIMEOUT_DEFAULTS: HttpTimeouts = { readHeader: 10, read: 30, idle: 300 };
/**
 * Node arms the idle timeout with setTimeout, which fires at once past 2^31-1 ms (~24.8 days);
 * no client should take a day to send a request either.
 */
const MAX_HTTP_TIMEOUT_SECONDS = 24 * 3600;

/** A seal waits 30 s for requests in flight (Vault waits without a bound); a shutdown 10 s. */
const SEAL_DRAIN_DEFAULT_SECONDS = 30;
const SHUTDOWN_GRACE_DEFAULT_SECONDS = 10;
/** A server that cannot be sealed or stopped for an hour is one with a stuck call, not a slow one. */
const MAX_DRAIN_SECONDS = 3600;

/** More replica processes than cores only adds context switches; 64 bounds a typo. */
const MAX_HTTP_REPLICAS = 64;

/** Each open watch holds a socket: past this, a typo (an extra zero or three) rather than a need. */
const MAX_WATCHES_PER_TOKEN = 100_000;
const MAX_WATCHES = 1_000_000;

function dataDirOf(value: string | undefined): string {
  if (value === undefined) return './coffer-data';
  if (value.trim() === '') throw new ConfigError('data_dir must not be empty: give a directory, e.g. ./coffer-data');
  return value;
}

export function resolveConfig(input: ServerConfigInput): ServerConfig {
  const { host, port } = parseListen(input.listen ?? '127.0.0.1:8200');
  const storage = input.storage ?? 'sqlite';
  if (storage !== 'sqlite' && storage !== 'memory') throw new ConfigError(`unknown storage "${String(storage)}": use sqlite or memory`);
  const logLevel = (input.logLevel ?? 'info') as LogLevelName;
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`unknown log level "${logLevel}": use ${LEVELS.join(', ')}`);
  // As Vault: 0 (or unset) means the default, never "no lifetime at all".
  const ttl = (value: string | number | undefined, field: string, fallback: number): number => {
    try {
      return parseDurationSeconds(value, field) || fallback;
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  };
  // As Vault: 0 (or unset) is the default. Vault's negative "no limit" is refused: a server
  // without a body limit is not one Coffer runs.
  const maxRequestBytes = input.maxRequestBytes === undefined || input.maxRequestBytes === 0 ? 32 * 1024 * 1024 : input.maxRequestBytes;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
    throw new ConfigError('max_request_size must be an integer of at least 1024 bytes, or 0 for the default (32 MiB); Coffer has no unlimited setting');
  }
  const cacheEntries = input.cacheEntries ?? 10_000;
  if (!Number.isInteger(cacheEntries) || cacheEntries < 0) throw new ConfigError('cache_entries must be a non-negative integer');
  const defaultTokenTtl = ttl(input.defaultTokenTtl, 'default_lease_ttl', 768 * 3600);
  const maxTokenTtl = ttl(input.maxTokenTtl, 'max_lease_ttl', 768 * 3600);
  if (defaultTokenTtl > maxTokenTtl) throw new ConfigError('default_lease_ttl cannot exceed max_lease_ttl');
  const httpReplicas = input.httpReplicas ?? 0;
  if (!Number.isInteger(httpReplicas) || httpReplicas < 0 || httpReplicas > MAX_HTTP_REPLICAS) {
    throw new ConfigError(`http_replicas must be an integer from 0 to ${MAX_HTTP_REPLICAS}`);
  }
  // Replicas read the primary's SQLite file; memory storage lives in one process only.
  if (httpReplicas > 0 && storage !== 'sqlite') throw new ConfigError('http_replicas needs sqlite storage');
  const rotatorAllowedHosts = resolveAllowedHosts(input.rotatorAllowedHosts ?? []);
  const apiAuditCreation = input.apiAuditCreation ?? 'allow';
  if (apiAuditCreation !== 'allow' && apiAuditCreation !== 'deny') {
    throw new ConfigError(`api_audit_creation must be "allow" or "deny", not "${String(apiAuditCreation)}"`);
  }
  let auditDevices: DeclaredAuditDevice[];
  try {
    auditDevices = parseDeclaredAuditDevices(input.auditDevices);
  } catch (error) {
    if (error instanceof CofferError) throw new ConfigError(`config key "audit": ${error.message}`);
    throw error;
  }
  const http = resolveHttpTimeouts(input);
  const maxWatchesPerToken = input.maxWatchesPerToken ?? DEFAULT_MAX_WATCHES_PER_TOKEN;
  // No "0 = unlimited": an unbounded number of streams per token is what this cap exists to stop.
  if (!Number.isInteger(maxWatchesPerToken) || maxWatchesPerToken < 1 || maxWatchesPerToken > MAX_WATCHES_PER_TOKEN) {
    throw new ConfigError(`max_watches_per_token must be an integer from 1 to ${MAX_WATCHES_PER_TOKEN} (default ${DEFAULT_MAX_WATCHES_PER_TOKEN})`);
  }
  const maxWatches = input.maxWatches ?? DEFAULT_MAX_WATCHES;
  if (!Number.isInteger(maxWatches) || maxWatches < 1 || maxWatches > MAX_WATCHES) {
    throw new ConfigError(`max_watches must be an integer from 1 to ${MAX_WATCHES} (default ${DEFAULT_MAX_WATCHES})`);
  }
  let forwardedFor: ForwardedForSettings | undefined;
  try {
    forwardedFor = parseForwardedForSettings(input.forwardedFor ?? {});
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const drain = (value: string | number | undefined, key: string, fallback: number): number => {
    let seconds: number | undefined;
    try {
      seconds = parseDurationSeconds(value, key) || undefined;
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    if (seconds !== undefined && seconds > MAX_DRAIN_SECONDS) throw new ConfigError(`${key} must be at most 1h`);
    return seconds ?? fallback;
  };
  // Outside dev mode nothing would use it: the server would start sealed and uninitialised with
  // a token nobody can log in with, which is not what whoever typed it meant.
  if (input.devRootToken !== undefined && input.dev !== true) throw new ConfigError('-dev-root-token only works with -dev');
  return {
    listenHost: host,
    listenPort: port,
    dataDir: dataDirOf(input.dataDir),
    storage,
    dev: input.dev ?? false,
    devRootToken: input.devRootToken,
    logLevel,
    maxRequestBytes,
    cacheEntries,
    defaultTokenTtl,
    maxTokenTtl,
    httpReplicas,
    rotatorAllowedHosts,
    auditFileDirs: resolveAuditFileDirs(input.auditFileDirs ?? []),
    apiAuditCreation,
    auditDevices,
    http,
    maxWatchesPerToken,
    maxWatches,
    sealDrainTimeout: drain(input.sealDrainTimeout, 'seal_drain_timeout', SEAL_DRAIN_DEFAULT_SECONDS),
    shutdownGracePeriod: drain(input.shutdownGracePeriod, 'shutdown_grace_period', SHUTDOWN_GRACE_DEFAULT_SECONDS),
    forwardedFor,
  };
}

/**
 * Checked for form only: a directory is resolved to its real path at each check, so it may be
 * created (or re-pointed) after start.
 */
function resolveAuditFileDirs(entries: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'string') throw new ConfigError('audit_file_dirs must be a list of absolute directory paths');
    if (!isAbsolute(entry) || entry.includes('\0')) {
      throw new ConfigError(`audit_file_dirs entry "${entry}" must be an absolute directory path, e.g. /var/log/coffer`);
    }
    dirs.add(entry);
  }
  return [...dirs];
}

function resolveHttpTimeouts(input: ServerConfigInput): HttpTimeouts {
  // As Vault: 0 (or unset) means the default; a server without these limits cannot be asked for.
  // Sub-second values are whole seconds, and one under a second counts as 1s, never 0.
  const given = (value: string | number | undefined, key: string): number | undefined => {
    let seconds: number | undefined;
    try {
      seconds = parseDurationSeconds(value, key) || undefined;
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    if (seconds !== undefined && seconds > MAX_HTTP_TIMEOUT_SECONDS) throw new ConfigError(`${key} must be at most 24h`);
    return seconds;
  };
  const read = given(input.httpReadTimeout, 'http_read_timeout') ?? HTTP_TIMEOUT_DEFAULTS.read;
  const idle = given(input.httpIdleTimeout, 'http_idle_timeout') ?? HTTP_TIMEOUT_DEFAULTS.idle;
  // Unset, the header deadline follows a shorter read timeout down: the default was never asked
  // for, so it must not stop a server from starting with only http_read_timeout set.
  const readHeader = given(input.httpReadHeaderTimeout, 'http_read_header_timeout') ?? Math.min(HTTP_TIMEOUT_DEFAULTS.readHeader, read);
  // Both deadlines run from the same start, so a longer header deadline could never fire
  // (node:http refuses the pair outright); say which one to change rather than ignore it.
  if (readHeader > read) {
    throw new ConfigError(
      `http_read_header_timeout (${readHeader}s) cannot exceed http_read_timeout (${read}s): the whole request, headers included, must arrive within http_read_timeout; raise it too`,
    );
  }
  return { readHeader, read, idle };
}

/** Refused at start rather than left to never match: a rotator would fail only when first configured. */
function resolveAllowedHosts(entries: readonly string[]): string[] {
  const hosts = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'string') throw new ConfigError('rotator_allowed_hosts must be a list of host names');
    const canonical = canonicalAllowedHost(entry);
    if ('problem' in canonical) throw new ConfigError(`rotator_allowed_hosts entry "${entry}" ${canonical.problem}`);
    hosts.add(canonical.host);
  }
  return [...hosts];
}

/** The keys a config file may hold (also listed by `coffer server -h`). */
export const CONFIG_FILE_KEYS = [
  'listen',
  'data_dir',
  'storage',
  'log_level',
  'max_request_size',
  'cache_entries',
  'default_lease_ttl',
  'max_lease_ttl',
  'http_replicas',
  'rotator_allowed_hosts',
  'http_read_header_timeout',
  'http_read_timeout',
  'http_idle_timeout',
  'max_watches_per_token',
  'max_watches',
  'seal_drain_timeout',
  'shutdown_grace_period',
  'audit_file_dirs',
  'api_audit_creation',
  'audit',
  'x_forwarded_for_authorized_addrs',
  'x_forwarded_for_hop_skips',
  'x_forwarded_for_reject_not_authorized',
  'x_forwarded_for_reject_not_present',
] as const;

/** Reads a JSON config file with snake_case keys into a ServerConfigInput. */
export function readConfigFile(path: string): ServerConfigInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object`);
  const raw = parsed as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(CONFIG_FILE_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`unknown config key "${key}" in ${path}; known keys: ${CONFIG_FILE_KEYS.join(', ')}`);
    }
  }
  const str = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ConfigError(`config key "${key}" must be a string`);
    return value;
  };
  const num = (key: string): number | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number') throw new ConfigError(`config key "${key}" must be a number`);
    return value;
  };
  const out: ServerConfigInput = {};
  const listen = str('listen');
  if (listen !== undefined) out.listen = listen;
  const dataDir = str('data_dir');
  if (dataDir !== undefined) out.dataDir = dataDir;
  const storage = str('storage');
  if (storage !== undefined) out.storage = storage as StorageKind;
  const logLevel = str('log_level');
  if (logLevel !== undefined) out.logLevel = logLevel;
  const maxRequest = num('max_request_size');
  if (maxRequest !== undefined) out.maxRequestBytes = maxRequest;
  const cache = num('cache_entries');
  if (cache !== undefined) out.cacheEntries = cache;
  const replicas = num('http_replicas');
  if (replicas !== undefined) out.httpReplicas = replicas;
  const maxWatchesPerToken = num('max_watches_per_token');
  if (maxWatchesPerToken !== undefined) out.maxWatchesPerToken = maxWatchesPerToken;
  const maxWatches = num('max_watches');
  if (maxWatches !== undefined) out.maxWatches = maxWatches;
  const allowedHosts = raw.rotator_allowed_hosts;
  if (allowedHosts !== undefined) {
    if (!Array.isArray(allowedHosts) || !allowedHosts.every((h) => typeof h === 'string')) {
      throw new ConfigError('config key "rotator_allowed_hosts" must be a list of host names, e.g. ["rotator.internal"]');
    }
    out.rotatorAllowedHosts = allowedHosts;
  }
  const auditDirs = raw.audit_file_dirs;
  if (auditDirs !== undefined) {
    if (!Array.isArray(auditDirs) || !auditDirs.every((d) => typeof d === 'string')) {
      throw new ConfigError('config key "audit_file_dirs" must be a list of absolute directory paths, e.g. ["/var/log/coffer"]');
    }
    out.auditFileDirs = auditDirs;
  }
  const apiAudit = str('api_audit_creation');
  if (apiAudit !== undefined) out.apiAuditCreation = apiAudit;
  // Checked entry by entry in resolveConfig (declared.ts), as a value given to startServer is.
  if (raw.audit !== undefined) out.auditDevices = raw.audit as AuditDeviceInput[];
  const duration = (key: string): string | number | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`config key "${key}" must be a duration such as "768h", or a number of seconds`);
    return value;
  };
  const defaultTtl = duration('default_lease_ttl');
  if (defaultTtl !== undefined) out.defaultTokenTtl = defaultTtl;
  const maxTtl = duration('max_lease_ttl');
  if (maxTtl !== undefined) out.maxTokenTtl = maxTtl;
  const readHeaderTimeout = duration('http_read_header_timeout');
  if (readHeaderTimeout !== undefined) out.httpReadHeaderTimeout = readHeaderTimeout;
  const readTimeout = duration('http_read_timeout');
  if (readTimeout !== undefined) out.httpReadTimeout = readTimeout;
  const idleTimeout = duration('http_idle_timeout');
  if (idleTimeout !== undefined) out.httpIdleTimeout = idleTimeout;
  const sealDrain = duration('seal_drain_timeout');
  if (sealDrain !== undefined) out.sealDrainTimeout = sealDrain;
  const shutdownGrace = duration('shutdown_grace_period');
  if (shutdownGrace !== undefined) out.shutdownGracePeriod = shutdownGrace;
  const forwardedFor: ForwardedForInput = {};
  if (raw.x_forwarded_for_authorized_addrs !== undefined) forwardedFor.authorizedAddrs = raw.x_forwarded_for_authorized_addrs;
  if (raw.x_forwarded_for_hop_skips !== undefined) forwardedFor.hopSkips = raw.x_forwarded_for_hop_skips;
  if (raw.x_forwarded_for_reject_not_authorized !== undefined) forwardedFor.rejectNotAuthorized = raw.x_forwarded_for_reject_not_authorized;
  if (raw.x_forwarded_for_reject_not_present !== undefined) forwardedFor.rejectNotPresent = raw.x_forwarded_for_reject_not_present;
  if (Object.keys(forwardedFor).length > 0) out.forwardedFor = forwardedFor;
  return out;
}
