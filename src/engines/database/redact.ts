/**
 * The connection_url as a config read shows it: placeholders stay, any password written into
 * the URL itself is masked.
 *
 * Must never: return a URL in which an embedded password (URL userinfo, a `password=` query
 * parameter or DSN key) or the config's own password survives.
 */
import { scanDsn, type DsnPair } from './plugin-postgres-connection.js';
import { fillPlaceholders } from './statement-placeholders.js';

const MASK = '*****';
const TEMPLATE = /^\{\{\s*password\s*\}\}$/;

const maskValue = (value: string): string => (TEMPLATE.test(value) ? value : MASK);

/**
 * A key=value DSN value, quoted or not, masked with its quotes kept: what a read returns can be
 * written back as it is (a quoted '{{password}}' stays quoted, so a password with a space works).
 */
function maskDsnValue(raw: string): string {
  const quoted = raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'");
  if (!quoted) return maskValue(raw);
  return TEMPLATE.test(raw.slice(1, -1)) ? raw : `'${MASK}'`;
}

/** The pairs of a key=value DSN as the PostgreSQL plugin reads it; undefined when `text` is not one. */
function dsnPairs(text: string): DsnPair[] | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim()) || !text.includes('=')) return undefined;
  try {
    return scanDsn(text);
  } catch {
    return undefined;
  }
}

/**
 * A key=value DSN with each password value masked where the plugin's own reading finds it (so
 * `user='u'password=p`, which libpq reads as two pairs, is masked too). A bare placeholder with
 * spaces (`password={{ password }}`) only becomes one value once filled: such a DSN is read, and
 * returned, with its placeholders written without spaces. Undefined when `url` is not a DSN.
 */
function redactDsn(url: string): string | undefined {
  for (const text of [url, fillPlaceholders(url, { username: '{{username}}', password: '{{password}}' })]) {
    const pairs = dsnPairs(text);
    if (pairs === undefined) continue;
    let out = '';
    let at = 0;
    for (const pair of pairs) {
      if (pair.key.toLowerCase() !== 'password') continue;
      out += text.slice(at, pair.start) + maskDsnValue(text.slice(pair.start, pair.end));
      at = pair.end;
    }
    return out + text.slice(at);
  }
  return undefined;
}

export function redactConnectionUrl(url: string, knownSecrets: readonly string[]): string {
  let out = (redactDsn(url) ?? url)
    // scheme://user:password@host — the password runs to the last '@' before the path.
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*:)([^/?#]*)@/i, (_w, head: string, pw: string) => `${head}${maskValue(pw)}@`)
    // Go's MySQL DSN, user:password@tcp(host:port)/db (also unix(...), or no protocol); never a URL.
    .replace(/^(?!.*:\/\/)([^:/@()\s]*:)(.*)@((?:tcp|unix|tcp4|tcp6)?\(|\/)/i, (_w, head: string, pw: string, tail: string) => `${head}${maskValue(pw)}@${tail}`)
    // ?password=... or &password=... in a URL query.
    .replace(/([?&]password=)([^&#]*)/gi, (_w, head: string, pw: string) => `${head}${maskValue(decodeURIComponentSafe(pw))}`)
    // password=... or password='...' in a key=value DSN.
    .replace(/(^|\s)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/gi, (_w, lead: string, head: string, pw: string) => `${lead}${head}${maskDsnValue(pw)}`);
  // Whole occurrences only: the URL never holds a fragment of a password, and fragment matching
  // would mask host names that merely share a few letters with it.
  for (const secret of knownSecrets.filter((s) => s.length >= 3)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join(MASK);
  }
  return out;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
