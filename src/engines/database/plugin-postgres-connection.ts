/**
 * Turns a config's connection_url template into `pg` pool options.
 *
 * Accepts the two forms Vault's PostgreSQL plugin accepts: a URL
 * (`postgresql://{{username}}:{{password}}@host:5432/db?sslmode=disable`) and a key=value DSN
 * (`host=db port=5432 user={{username}} password={{password}} dbname=app`). The admin username
 * and password reach the driver only through the placeholders, as in Vault.
 * Must never: let a parse error carry the filled-in string (it holds the password).
 */
import { DatabasePluginError } from './plugin.js';
import { fillPlaceholders } from './statement-placeholders.js';

export interface PgTarget {
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  ssl?: boolean | { rejectUnauthorized: boolean };
}

const fill = (template: string, username: string, password: string, encode: (s: string) => string): string =>
  fillPlaceholders(template, { username: encode(username), password: encode(password) });

/** Reads one DSN value: bare up to whitespace, or single-quoted with \' and \\ escapes. */
function parseDsn(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out[m[1] as string] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] as string);
    consumed = re.lastIndex;
  }
  if (text.slice(consumed).trim() !== '') throw new DatabasePluginError('connection', 'invalid connection_url: cannot parse the key=value form');
  return out;
}

function sslFromMode(mode: string | undefined): PgTarget['ssl'] {
  if (mode === undefined || mode === 'disable' || mode === 'allow' || mode === 'prefer') return undefined;
  // 'require' encrypts without checking the certificate, as libpq does.
  if (mode === 'require') return { rejectUnauthorized: false };
  return { rejectUnauthorized: true };
}

export function pgTarget(connectionUrl: string, username: string, password: string): PgTarget {
  const template = connectionUrl.trim();
  if (/^postgres(?:ql)?:\/\//i.test(template)) {
    return { connectionString: fill(template, username, password, encodeURIComponent) };
  }
  if (!template.includes('=')) {
    throw new DatabasePluginError('connection', 'invalid connection_url: use postgresql://... or host=... key=value form');
  }
  const dsn = parseDsn(fill(template, username, password, (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")));
  const target: PgTarget = {};
  if (dsn['host'] !== undefined) target.host = dsn['host'];
  if (dsn['port'] !== undefined) target.port = Number(dsn['port']);
  if (dsn['dbname'] !== undefined) target.database = dsn['dbname'];
  if (dsn['user'] !== undefined) target.user = dsn['user'];
  if (dsn['password'] !== undefined) target.password = dsn['password'];
  const ssl = sslFromMode(dsn['sslmode']);
  if (ssl !== undefined) target.ssl = ssl;
  return target;
}
