/**
 * Request path normalisation, done once before routing and authorisation so that the ACL and
 * the router always see the same string.
 *
 * '.' and '..' segments (also percent-encoded), NUL and control characters are refused rather
 * than resolved: resolving them is how a glob grant was once stretched onto another path
 * (CVE-2026-3605). Doubled slashes collapse, so 'secret//data/x' is 'secret/data/x' for both.
 */
import { badRequest } from '../errors.js';

/**
 * Takes the raw path after '/v1/' (still percent-encoded, without the query string) and returns
 * the decoded, normalised path. A trailing '/' is kept: Vault gives it meaning for LIST.
 */
export function normalizeRequestPath(rawPath: string): string {
  // Without a '%' there is nothing to decode (decodeURIComponent would return it unchanged).
  if (!rawPath.includes('%')) return normalizeDecodedPath(rawPath);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw badRequest('invalid request path: bad percent-encoding');
  }
  return normalizeDecodedPath(decoded);
}

/**
 * Anything normalizeDecodedPath would refuse or change: a control character, a leading or
 * doubled slash (an empty segment), or a '.' or '..' segment.
 */
// eslint-disable-next-line no-control-regex
const NEEDS_WORK = /[\u0000-\u001f\u007f]|^\/|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * The same checks and normalisation for a path that is already decoded: a route parameter (the
 * listener decoded the URL once) or a path given in a request body. Decoding it again would
 * turn a literal "%41" into "A", and refuse a literal "50%".
 */
export function normalizeDecodedPath(decoded: string): string {
  // A path with nothing to refuse or collapse is already normal: the common case, checked with
  // one regex instead of a split and join on every request.
  if (!NEEDS_WORK.test(decoded)) return decoded;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw badRequest('invalid request path: control characters are not allowed');
  const trailingSlash = decoded.endsWith('/');
  const segments = decoded.split('/').filter((segment) => segment !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') throw badRequest('invalid request path: relative segments are not allowed');
  }
  const joined = segments.join('/');
  return trailingSlash && joined !== '' ? joined + '/' : joined;
}

/** Normalises a mount path given in an API call (already decoded): no leading slash, exactly one trailing slash. */
export function normalizeMountPath(path: string): string {
  const normalized = normalizeDecodedPath(path).replace(/\/+$/, '');
  if (normalized === '') throw badRequest('mount path cannot be empty');
  return normalized + '/';
}
