/**
 * Validation of secret paths taken from a request (the part after 'data/', 'metadata/', ... or
 * after the mount for KV v1).
 *
 * The router already refuses '.' and '..' and collapses '//', but an engine is handed raw
 * strings and builds storage keys from them, so it checks again rather than trust the caller.
 * Must never: normalise a bad path into a good one; a bad path is refused with 400. Error
 * messages never echo the path.
 */
import { badRequest, notFound } from '../../core/errors.js';

export const MAX_SECRET_PATH_BYTES = 1024;

/** An empty segment (leading, trailing or doubled '/') or a '.' or '..' segment. */
const SEGMENT_PROBLEM = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** Returns `raw` if it names a secret; throws bad_request otherwise. */
export function validateSecretPath(raw: string | undefined): string {
  const path = raw ?? '';
  if (path === '') throw badRequest('missing path');
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short paths need no byte count.
  if (path.length * 3 > MAX_SECRET_PATH_BYTES && Buffer.byteLength(path, 'utf8') > MAX_SECRET_PATH_BYTES) {
    throw badRequest(`invalid path: longer than ${MAX_SECRET_PATH_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw badRequest('invalid path: control characters are not allowed');
  // Every KV request passes here: one regex clears the common path; the loop below only runs
  // for a path it flags, to name what is wrong with it.
  if (!SEGMENT_PROBLEM.test(path)) return path;
  for (const segment of path.split('/')) {
    if (segment === '') throw badRequest('invalid path: empty path segments are not allowed');
    if (segment === '.' || segment === '..') throw badRequest('invalid path: relative segments are not allowed');
  }
  return path;
}

/**
 * The secret a read names. An empty path or one ending in '/' names a folder, or nothing, where
 * no secret can be: Vault answers such a read 404 like any other missing secret, and so does
 * this. Every other problem is still refused as validateSecretPath refuses it.
 */
export function validateReadPath(raw: string | undefined): string {
  const path = raw ?? '';
  if (path === '') throw notFound();
  if (!path.endsWith('/')) return validateSecretPath(path);
  // The folder itself must be a valid path: 'a/../' is refused, not looked for.
  validateSecretPath(path.slice(0, -1));
  throw notFound();
}

/**
 * A folder to list: '' (the mount root) or a valid secret path. One trailing '/' is accepted
 * and dropped, since LIST arrives with or without it.
 */
export function validateListPath(raw: string | undefined): string {
  const path = (raw ?? '').endsWith('/') ? (raw ?? '').slice(0, -1) : raw ?? '';
  return path === '' ? '' : validateSecretPath(path);
}

/** True when `raw` would pass validateSecretPath; for existence checks, which must not throw. */
export function isValidSecretPath(raw: string | undefined): raw is string {
  try {
    validateSecretPath(raw);
    return true;
  } catch {
    return false;
  }
}
