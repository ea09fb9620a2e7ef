/**
 * The AWS JSON 1.1 error catalogue: the `__type` names Secrets Manager (and the AWS front door
 * in front of it) answers with, their HTTP status, and the one mapping from Coffer's own error
 * codes to them.
 *
 * Must never: put a secret value, a token, a secret access key or a signature into a message.
 * Messages are built from names the caller sent (secret names, version ids, access key ids)
 * and fixed text only.
 */
import type { CofferError, ErrorCode } from '../../core/errors.js';

export type AwsErrorName =
  | 'ResourceNotFoundException'
  | 'ResourceExistsException'
  | 'InvalidParameterException'
  | 'InvalidRequestException'
  | 'InvalidNextTokenException'
  | 'LimitExceededException'
  | 'ThrottlingException'
  | 'AccessDeniedException'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  | 'IncompleteSignatureException'
  | 'MissingAuthenticationTokenException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ValidationException'
  | 'InternalServiceError'
  | 'ServiceUnavailableException';

/** AWS answers every client error with 400; only its own failures are 5xx. */
export const AWS_STATUS = {
  ResourceNotFoundException: 400,
  ResourceExistsException: 400,
  InvalidParameterException: 400,
  InvalidRequestException: 400,
  InvalidNextTokenException: 400,
  LimitExceededException: 400,
  // The AWS SDKs retry this name with backoff (their throttling error list).
  ThrottlingException: 400,
  AccessDeniedException: 400,
  UnrecognizedClientException: 400,
  InvalidSignatureException: 400,
  IncompleteSignatureException: 400,
  MissingAuthenticationTokenException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  ValidationException: 400,
  InternalServiceError: 500,
  ServiceUnavailableException: 503,
} as const satisfies Record<AwsErrorName, number>;

export class AwsError extends Error {
  readonly type: AwsErrorName;

  constructor(type: AwsErrorName, message: string) {
    super(message);
    this.name = 'AwsError';
    this.type = type;
  }

  get status(): number {
    return AWS_STATUS[this.type];
  }
}

export const isAwsError = (error: unknown): error is AwsError => error instanceof AwsError;

export const invalidParameter = (message: string): AwsError => new AwsError('InvalidParameterException', message);
export const invalidRequest = (message: string): AwsError => new AwsError('InvalidRequestException', message);

export const SECRET_NOT_FOUND = "Secrets Manager can't find the specified secret.";
export const secretNotFound = (): AwsError => new AwsError('ResourceNotFoundException', SECRET_NOT_FOUND);

export const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";

/**
 * How a Coffer error raised inside the pipeline reads to an AWS client. `not_found` has no
 * context here; operations that expect one catch it and say which thing was missing.
 */
const FROM_COFFER = {
  bad_request: 'InvalidParameterException',
  permission_denied: 'AccessDeniedException',
  not_found: 'ResourceNotFoundException',
  unsupported_operation: 'InvalidRequestException',
  unsupported_path: 'InvalidRequestException',
  payload_too_large: 'InvalidParameterException',
  unsupported_media_type: 'InvalidRequestException',
  sealed: 'ServiceUnavailableException',
  not_initialized: 'ServiceUnavailableException',
  already_initialized: 'InvalidRequestException',
  cas_mismatch: 'InternalServiceError',
  cas_required: 'InvalidRequestException',
  conflict: 'InvalidRequestException',
  audit_failed: 'InternalServiceError',
  upstream: 'InternalServiceError',
  rate_limited: 'LimitExceededException',
  internal: 'InternalServiceError',
} as const satisfies Record<ErrorCode, AwsErrorName>;

/**
 * Translates a CofferError. Client-facing Coffer messages are safe to show (errors.ts promises
 * it); server-side failures get a fixed text so nothing internal leaks.
 */
export function fromCofferError(error: CofferError): AwsError {
  const type = FROM_COFFER[error.code];
  switch (type) {
    case 'InternalServiceError':
      return new AwsError(type, 'An error occurred on the server side.');
    case 'ServiceUnavailableException':
      return new AwsError(type, 'Coffer is sealed; unseal it to use the Secrets Manager API.');
    case 'AccessDeniedException':
      return new AwsError(type, 'Access denied by the Coffer policies of this access key.');
    case 'ResourceNotFoundException':
      return secretNotFound();
    default:
      return new AwsError(type, error.message === '' ? 'The request is not valid.' : error.message);
  }
}
