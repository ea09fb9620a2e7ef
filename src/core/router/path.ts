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
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw badRequest('invalid request path: bad percent-encoding');
  }
  return normalizeDecodedPath(decoded);
}

/**
 * The same checks and normalisation for a path that is already decoded: a route parameter (the
 * listener decoded the URL once) or a path given in a request body. Decoding it again would
 * turn a literal "%41" into "A", and refuse a literal "50%".
 */
export function normalizeDecodedPath(decoded: string): string {
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
