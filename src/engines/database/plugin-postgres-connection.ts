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

/** One `key=value` of a DSN: the value as read, and where its raw text (quotes included) lies. */
export interface DsnPair {
  key: string;
  value: string;
  start: number;
  end: number;
}

/** C's isspace, which libpq uses. */
const isSpace = (ch: string | undefined): boolean => ch !== undefined && ' \t\n\v\f\r'.includes(ch);
const KEY = /^[A-Za-z_]+$/;

/**
 * Splits a key=value DSN by libpq's rules (conninfo_parse in fe-connect.c): blanks around `=`
 * are skipped; a value is either single-quoted, or bare up to the next blank; a backslash takes
 * the next character as it is, in both forms. Nothing needs to separate a quoted value from the
 * next key (`user='u'password=p` is two pairs). Config reads mask passwords from this same
 * reading (redact.ts), so what is masked is exactly what is used as the password. Throws on
 * text that is not such pairs, without quoting it (it may hold a password).
 */
export function scanDsn(text: string): DsnPair[] {
  const invalid = (): DatabasePluginError => new DatabasePluginError('connection', 'invalid connection_url: cannot parse the key=value form');
  const pairs: DsnPair[] = [];
  let i = 0;
  const skipSpaces = (): void => {
    while (isSpace(text[i])) i += 1;
  };
  for (skipSpaces(); i < text.length; skipSpaces()) {
    const keyStart = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i])) i += 1;
    const key = text.slice(keyStart, i);
    skipSpaces();
    if (text[i] !== '=' || !KEY.test(key)) throw invalid();
    i += 1;
    skipSpaces();
    const start = i;
    let value = '';
    if (text[i] === "'") {
      for (i += 1; ; i += 1) {
        if (i >= text.length) throw invalid();
        if (text[i] === '\\') {
          i += 1;
          if (i < text.length) value += text[i];
        } else if (text[i] === "'") {
          i += 1;
          break;
        } else {
          value += text[i];
        }
      }
    } else {
      for (; i < text.length && !isSpace(text[i]); i += 1) {
        if (text[i] === '\\') i += 1;
        if (i < text.length) value += text[i];
      }
    }
    pairs.push({ key, value, start, end: i });
  }
  return pairs;
}

/** The DSN's values by key; a key given twice keeps its last value, as in libpq. */
function parseDsn(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of scanDsn(text)) out[key] = value;
  return out;
}

/** Backslash before every character that would end or change a DSN value, quoted or bare. */
const escapeDsnValue = (s: string): string => s.replace(/[\\' \t\n\v\f\r]/g, (ch) => `\\${ch}`);

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
  const dsn = parseDsn(fill(template, username, password, escapeDsnValue));
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

/**
 * The `connect_timeout` a connection_url carries (libpq's parameter, which Vault's plugin, on
 * pgx, honours), in seconds, or undefined when it has none. It wins over the config's
 * `connect_timeout` field, since it is what the URL asks for. libpq reads 0 as "wait forever",
 * which Coffer never does: 0, a negative or a non-integer value is refused.
 */
export function pgConnectTimeout(connectionUrl: string): number | undefined {
  const template = connectionUrl.trim();
  let raw: string | undefined;
  if (/^postgres(?:ql)?:\/\//i.test(template)) {
    const query = template.indexOf('?');
    raw = query < 0 ? undefined : new URLSearchParams(template.slice(query + 1)).get('connect_timeout') ?? undefined;
  } else if (template.includes('=')) {
    raw = parseDsn(template)['connect_timeout'];
  }
  if (raw === undefined) return undefined;
  if (!/^\s*[1-9]\d{0,4}\s*$/.test(raw)) {
    throw new DatabasePluginError('connection', 'invalid connection_url: connect_timeout must be a whole number of seconds from 1 to 99999');
  }
  return Number(raw);
}
