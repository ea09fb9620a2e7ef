/**
 * The CLI's two kinds of expected failure, following Vault's exit codes: a local mistake
 * (bad arguments, unreadable file: exit 1) and a remote one (the server said no: exit 2).
 *
 * Must never: carry a token, key or secret value in a message; main() prints messages as they are.
 */

/** A local error: wrong arguments, unreadable input. Exit code 1. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The server answered with a status of 400 or more. Exit code 2. */
export class ApiError extends Error {
  readonly status: number;
  /** The server's `errors` array (empty for a plain 404). */
  readonly errors: readonly string[];
  /** The parsed body, kept because Vault returns KV metadata beside a deleted version's 404. */
  readonly body: unknown;
  constructor(method: string, path: string, status: number, errors: readonly string[], body: unknown) {
    const detail = errors.length > 0 ? errors.join('; ') : statusText(status);
    // The path is printed without its query string: query values come from user data.
    super(`${method} ${path}: ${detail} (HTTP ${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
    this.body = body;
  }
}

/**
 * Not a failure: with -wrap-ttl the server answered with a wrapping token instead of the
 * response, so whatever the command meant to print cannot be printed. main() prints the
 * wrapping token's details and exits 0, as Vault's CLI does for any command run with -wrap-ttl.
 * Its message names no token: the token is only in `wrapInfo`.
 */
export class WrappedAnswer extends Error {
  /** The whole answer: the envelope with `wrap_info` set and `data` null. */
  readonly body: Readonly<Record<string, unknown>>;
  constructor(body: Readonly<Record<string, unknown>>) {
    super('the response was wrapped');
    this.name = 'WrappedAnswer';
    this.body = body;
  }
}

export function isNotFound(err: unknown): err is ApiError {
  return err instanceof ApiError && err.status === 404;
}

function statusText(status: number): string {
  switch (status) {
    case 400: return 'bad request';
    case 403: return 'permission denied';
    case 404: return 'not found';
    case 405: return 'unsupported operation';
    case 503: return 'service unavailable';
    default: return 'request failed';
  }
}
