/**
 * The SDK's typed errors. Every failure the SDK reports on purpose is a CofferError subclass, so
 * an application can `catch (err) { if (err instanceof CofferNotFoundError) ... }` without
 * looking at message text.
 *
 * Owns: the mapping from an HTTP status to an error class, and scrubbing messages.
 * Must never: put a token, secret id, JWT, password or secret value into a message. Messages are
 * built from the method, the API path (no query string) and the server's `errors` strings, and
 * every credential the SDK holds is scrubbed out of them once more before they are thrown.
 */

/** Base class: `status` is the HTTP status when the server answered, undefined otherwise. */
export class CofferError extends Error {
  readonly status: number | undefined;
  /** The server's `errors` array (empty when it sent none, or for local failures). */
  readonly errors: readonly string[];

  constructor(message: string, options: { status?: number; errors?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.errors = options.errors ?? [];
  }
}

/** The server answered with a status of 400 or more. */
export class CofferHttpError extends CofferError {
  readonly method: string;
  /** The API path without `/v1/` and without a query string. */
  readonly path: string;
  constructor(message: string, options: { status: number; errors: readonly string[]; method: string; path: string }) {
    super(message, options);
    this.method = options.method;
    this.path = options.path;
  }
}

/** 400: a bad request, bad login credentials, an unknown or expired lease, a CAS mismatch. */
export class CofferBadRequestError extends CofferHttpError {}
/** 403: the token is missing, invalid or expired, or a policy denies the path. */
export class CofferPermissionDeniedError extends CofferHttpError {}
/** 404: nothing at the path (or a deleted KV version), or no such route. */
export class CofferNotFoundError extends CofferHttpError {}
/** 429: a rate limit or quota. */
export class CofferRateLimitedError extends CofferHttpError {}
/** 503: the server is sealed or not ready. */
export class CofferSealedError extends CofferHttpError {}
/** 5xx other than 503: the server or a system behind it (a database) failed. */
export class CofferServerError extends CofferHttpError {}

/** The server could not be reached, or the request timed out. */
export class CofferConnectionError extends CofferError {
  /** A system error code such as ECONNREFUSED, or 'TIMEOUT'. */
  readonly code: string;
  constructor(message: string, code: string, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

/** Wrong options or a wrong use of the SDK (detected locally, nothing was sent). */
export class CofferConfigError extends CofferError {}

/** The Coffer instance (or the handle) was closed. */
export class CofferClosedError extends CofferError {
  constructor(what = 'the Coffer client') {
    super(`${what} is closed`);
  }
}

/**
 * The server's answer did not have the shape the SDK needs (for example a secret without a
 * field, or a success whose body is not JSON). `status` is the answer's status when there was one.
 */
export class CofferResponseError extends CofferError {}

/**
 * The server answered with a redirect (3xx). The SDK never follows one: the request carried the
 * token, and the Location may name another host or plain http. Point the address at the server
 * that answers instead. `location` is the target's origin only (scheme, host, port), if any.
 */
export class CofferRedirectError extends CofferResponseError {
  readonly method: string;
  readonly path: string;
  readonly location: string | undefined;
  constructor(message: string, options: { status: number; method: string; path: string; location: string | undefined }) {
    super(message, { status: options.status });
    this.method = options.method;
    this.path = options.path;
    this.location = options.location;
  }
}

const BY_STATUS: Readonly<Record<number, typeof CofferHttpError>> = {
  400: CofferBadRequestError,
  403: CofferPermissionDeniedError,
  404: CofferNotFoundError,
  429: CofferRateLimitedError,
  503: CofferSealedError,
};

function statusText(status: number): string {
  switch (status) {
    case 400: return 'bad request';
    case 403: return 'permission denied';
    case 404: return 'not found';
    case 405: return 'unsupported operation';
    case 429: return 'too many requests';
    case 503: return 'service unavailable';
    default: return 'request failed';
  }
}

/** The typed error for an HTTP error answer; `scrub` removes held credentials from the message. */
export function httpError(method: string, path: string, status: number, errors: readonly string[], scrub: (text: string) => string): CofferHttpError {
  const detail = errors.length > 0 ? errors.join('; ') : statusText(status);
  const Class = BY_STATUS[status] ?? (status >= 500 ? CofferServerError : CofferHttpError);
  return new Class(scrub(`${method} ${path}: ${detail} (HTTP ${status})`), {
    status,
    errors: errors.map(scrub),
    method,
    path,
  });
}

/** The error for an answer whose body the SDK cannot use; `problem` never quotes the body. */
export function responseError(method: string, path: string, status: number, problem: string, scrub: (text: string) => string): CofferResponseError {
  return new CofferResponseError(scrub(`${method} ${path}: ${problem} (HTTP ${status})`), { status });
}

/**
 * The error for a redirect. Only the Location's origin is kept: its path or query could carry
 * anything, and the origin is what the operator needs to fix the address.
 */
export function redirectError(method: string, path: string, status: number, location: string | null, scrub: (text: string) => string): CofferRedirectError {
  let origin: string | undefined;
  try {
    if (location) origin = new URL(location).origin;
  } catch {
    // A relative or malformed Location: nothing worth naming.
  }
  if (origin === 'null') origin = undefined;
  const target = origin === undefined ? '' : ` to ${origin}`;
  return new CofferRedirectError(scrub(`${method} ${path}: the server answered with a redirect${target} (HTTP ${status}), which is not followed so the token stays with this server; set the address to the server that answers`), {
    status,
    method,
    path,
    location: origin === undefined ? undefined : scrub(origin),
  });
}

/** Tells a lease or token that the server no longer knows (or refuses to extend) from a transient failure. */
export function isDefinitive(err: unknown): boolean {
  return err instanceof CofferBadRequestError || err instanceof CofferPermissionDeniedError || err instanceof CofferNotFoundError;
}

/**
 * A set of values that must never appear in an error message. Values shorter than 6 characters
 * are not registered: they would blank out ordinary words and no credential is that short.
 */
export interface Redactor {
  add(value: string | undefined): void;
  scrub(text: string): string;
}

/** Old tokens stay registered for a while after a re-login; the oldest are forgotten past this. */
const MAX_REDACTED = 256;

export function createRedactor(): Redactor {
  const values = new Set<string>();
  return {
    add(value) {
      if (value === undefined || value.length < 6 || values.has(value)) return;
      values.add(value);
      if (values.size > MAX_REDACTED) values.delete(values.values().next().value as string);
    },
    scrub(text) {
      let out = text;
      for (const value of values) if (out.includes(value)) out = out.split(value).join('<redacted>');
      return out;
    },
  };
}
