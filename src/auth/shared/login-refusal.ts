/**
 * Refusing a login: one uniform message per method for every reason, so a caller learns
 * nothing about which check failed (user exists? role exists? signature or audience?), while
 * the operator's log keeps the reason.
 *
 * Must never: put the presented credential, a claim value or a library's error text in the
 * message or the log line; only the reason category and non-secret names.
 */
import { CofferError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export interface LoginRefusals {
  /** Logs `reason` (a fixed category) with `fields`, and returns the uniform error to throw. */
  refuse(reason: string, fields?: Record<string, string>): CofferError;
}

export function createLoginRefusals(logger: Logger, message: string): LoginRefusals {
  return {
    refuse(reason, fields = {}) {
      logger.info('login refused', { reason, ...fields });
      return new CofferError('bad_request', message);
    },
  };
}
