/**
 * Parses a MySQL `connection_url` into the connection options mysql2 takes.
 *
 * Owns: the two accepted forms, Vault's (Go driver) DSN
 *   `{{username}}:{{password}}@tcp(127.0.0.1:3306)/dbname?tls=true`
 * and a URL
 *   `mysql://{{username}}:{{password}}@127.0.0.1:3306/dbname`.
 * The template is parsed before the credentials are put in, so a password containing `@`, `:`
 * or `/` can never move the host; and no error message here ever quotes a password.
 */
import { badRequest } from '../../core/errors.js';
import { fillPlaceholders } from './statement-placeholders.js';

export interface MysqlConnectionOptions {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password: string;
  database?: string;
  /** undefined: plain TCP; otherwise TLS, verifying the server unless told to skip. */
  ssl?: { rejectUnauthorized: boolean };
  connectTimeoutMs?: number;
  charset?: string;
}

interface Credentials {
  username: string;
  password: string;
}

const DEFAULT_PORT = 3306;

/**
 * Go driver options that change nothing for mysql2 (it already returns dates as Date, uses the
 * server's native password plugins, and so on). They are accepted so a Vault configuration can be
 * copied as it is.
 */
const IGNORED_PARAMS = new Set([
  'parseTime',
  'loc',
  'allowNativePasswords',
  'allowCleartextPasswords',
  'allowOldPasswords',
  'collation',
  'readTimeout',
  'writeTimeout',
  'interpolateParams',
  'multiStatements',
  'clientFoundRows',
  'columnsWithAlias',
  'rejectReadOnly',
  'maxAllowedPacket',
  'checkConnLiveness',
]);

/** Parses `template`, then fills `{{username}}`/`{{password}}` from `creds`. */
export function parseMysqlConnectionUrl(template: string, creds: Credentials): MysqlConnectionOptions {
  const trimmed = template.trim();
  if (trimmed === '') throw badRequest('connection_url is required for mysql-database-plugin');
  return /^mysql:\/\//i.test(trimmed) ? parseUrlForm(trimmed, creds) : parseGoDsn(trimmed, creds);
}

function fill(field: string, creds: Credentials): string {
  return fillPlaceholders(field, { username: creds.username, password: creds.password });
}

/** `[user[:password]@][net[(addr)]]/dbname[?params]`, cut the way the Go driver cuts it. */
function parseGoDsn(dsn: string, creds: Credentials): MysqlConnectionOptions {
  const slash = dsn.lastIndexOf('/');
  if (slash < 0) {
    throw badRequest('connection_url must look like {{username}}:{{password}}@tcp(host:3306)/ or mysql://{{username}}:{{password}}@host:3306/');
  }
  const head = dsn.slice(0, slash);
  const tail = dsn.slice(slash + 1);
  const at = head.lastIndexOf('@');
  const userInfo = at < 0 ? '' : head.slice(0, at);
  const address = at < 0 ? head : head.slice(at + 1);
  const colon = userInfo.indexOf(':');
  const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
  const password = colon < 0 ? '' : userInfo.slice(colon + 1);

  const options: MysqlConnectionOptions = { user: fill(user, creds), password: fill(password, creds) };
  Object.assign(options, parseGoAddress(address));

  const question = tail.indexOf('?');
  const database = question < 0 ? tail : tail.slice(0, question);
  if (database !== '') options.database = decode(database);
  if (question >= 0) applyParams(options, new URLSearchParams(tail.slice(question + 1)));
  return options;
}

function parseGoAddress(address: string): Pick<MysqlConnectionOptions, 'host' | 'port' | 'socketPath'> {
  if (address === '') return { host: '127.0.0.1', port: DEFAULT_PORT };
  const match = /^(tcp|tcp4|tcp6|unix)(?:\((.*)\))?$/.exec(address);
  if (!match) throw badRequest('connection_url: the address must be tcp(host:port) or unix(/path/to/socket)');
  const [, net, inner = ''] = match;
  if (net === 'unix') {
    if (inner === '') throw badRequest('connection_url: unix() needs a socket path');
    return { socketPath: inner };
  }
  if (inner === '') return { host: '127.0.0.1', port: DEFAULT_PORT };
  return splitHostPort(inner);
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (bracketed) return { host: bracketed[1] ?? '', port: parsePort(bracketed[2]) };
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) return { host: hostPort, port: DEFAULT_PORT };
  return { host: hostPort.slice(0, colon), port: parsePort(hostPort.slice(colon + 1)) };
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw badRequest('connection_url: the port must be a number from 1 to 65535');
  return port;
}

function parseUrlForm(text: string, creds: Credentials): MysqlConnectionOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The URL parser's own message would quote the URL, and a literal password with it.
    throw badRequest('connection_url is not a valid mysql:// URL');
  }
  const options: MysqlConnectionOptions = {
    user: fill(decode(url.username), creds),
    password: fill(decode(url.password), creds),
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsePort(url.port),
  };
  const database = decode(url.pathname.replace(/^\//, ''));
  if (database.includes('/')) throw badRequest('connection_url: the database name cannot contain "/"');
  if (database !== '') options.database = database;
  applyParams(options, url.searchParams);
  return options;
}

/** Percent-decoding that fails with our message: the runtime's would not name the field. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest('connection_url has a malformed %-escape');
  }
}

function applyParams(options: MysqlConnectionOptions, params: URLSearchParams): void {
  for (const [key, value] of params) {
    if (key === 'tls') options.ssl = parseTls(value);
    else if (key === 'timeout') options.connectTimeoutMs = parseDsnTimeoutMs(value);
    else if (key === 'charset') options.charset = value.split(',')[0] ?? value;
    else if (!IGNORED_PARAMS.has(key)) {
      throw badRequest(`connection_url: unsupported parameter "${key}" (supported: tls, timeout, charset)`);
    }
  }
}

function parseTls(value: string): MysqlConnectionOptions['ssl'] {
  switch (value) {
    case 'true':
      return { rejectUnauthorized: true };
    case 'skip-verify':
      return { rejectUnauthorized: false };
    case 'false':
      return undefined;
    default:
      // "preferred" (TLS when offered) has no mysql2 equivalent; choosing for the user would
      // either break a server without TLS or silently send credentials in clear.
      throw badRequest('connection_url: tls must be true, skip-verify or false');
  }
}

const MIN_TIMEOUT_MS = 1000;
const MAX_TIMEOUT_MS = 86_400_000;

/**
 * The DSN's `timeout`, held to the bounds the config's connect_timeout has (1s to 24h): it takes
 * the place of that field, and mysql2 reads 0 as "wait for ever", so `timeout=0s` would let a
 * server that never answers hold the request, and the config's name, with no end.
 */
function parseDsnTimeoutMs(text: string): number {
  const ms = parseGoDurationMs(text);
  if (ms < MIN_TIMEOUT_MS || ms > MAX_TIMEOUT_MS) throw badRequest('connection_url: timeout must be a duration from 1s to 24h');
  return ms;
}

/** Go durations as used in DSNs: "500ms", "5s", "1m30s". */
function parseGoDurationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? ''] ?? 0);
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length) throw badRequest('connection_url: timeout must be a duration such as 5s');
  return Math.round(total);
}
