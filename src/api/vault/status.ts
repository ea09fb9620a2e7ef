/**
 * The one table from Coffer error codes to Vault's HTTP status codes.
 */
import type { ErrorCode } from '../../core/errors.js';

export const VAULT_STATUS = {
  bad_request: 400,
  permission_denied: 403,
  not_found: 404,
  unsupported_path: 404,
  unsupported_operation: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  cas_mismatch: 400,
  cas_required: 400,
  conflict: 400,
  already_initialized: 400,
  not_initialized: 400,
  audit_failed: 500,
  internal: 500,
  upstream: 502,
  sealed: 503,
} as const satisfies Record<ErrorCode, number>;
