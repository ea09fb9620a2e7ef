/**
 * The AWS JSON 1.1 wire layer of the Secrets Manager API: `POST /` with
 * `X-Amz-Target: secretsmanager.<Operation>`, on the same listener as the Vault API.
 *
 * Owns: reading the exact body bytes (SigV4 signs them); response headers (`x-amzn-RequestId`,
 * and a `Date` from the server's clock, which the SDK uses to correct its clock skew); errors as
 * `{"__type", "message"}` with `x-amzn-ErrorType`.
 * Must never: parse or act on a body before its signature is verified, or log a body, a
 * header value or key material.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import { isCofferError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { Logger } from '../../core/logger.js';
import type { RequestHandler } from '../../core/request-handler.js';
import type { AccessKeyStore } from '../../engines/aws-keys/key-store.js';
import { clientAddressOf, leaveBodyUnread, readBody, sendJson } from '../http-io.js';
import type { QuotaStore } from '../../core/quotas/quota-store.js';
import { parseJsonBody } from '../vault/json-body.js';
import { createAwsAuthenticator } from './authenticate.js';
import { AwsError, fromCofferError } from './errors.js';
import type { EnsureAwsMount } from './mount.js';
import type { AwsRotationDeps } from './rotation.js';
import { createAwsService } from './service.js';

export const AWS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'secretsmanager.';
/** AWS's own limit is far lower (a value is at most 64 KiB); this only bounds the buffer. */
const MAX_AWS_BODY_BYTES = 1024 * 1024;

export interface AwsProtocolDeps {
  handler: RequestHandler;
  keys: Pick<AccessKeyStore, 'lookup'>;
  clock: Clock;
  logger: Logger;
  isSealed(): boolean;
  /**
   * Admits a request to the core once its body is read (Lifecycle.admit); a seal waits for it.
   * One AWS operation can be several calls into the core (a record and a KV version): held
   * across all of them, so a seal never lands between two.
   */
  admit(): () => void;
  ensureMount: EnsureAwsMount;
  rotators?: AwsRotationDeps;
  maxRequestBytes: number;
  /**
   * Rate limit quotas: AWS operations have no Vault path, so only a global quota (path "")
   * applies to them, with the client's own bucket as on /v1.
   */
  quotas?: Pick<QuotaStore, 'active' | 'check'>;
}

/** The listener for `POST /` (the AWS SDK sends every operation there). */
export function createAwsRequestListener(deps: AwsProtocolDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const authenticate = createAwsAuthenticator({ keys: deps.keys, clock: deps.clock });
  const service = createAwsService({ handler: deps.handler, clock: deps.clock, ...(deps.rotators ? { rotators: deps.rotators } : {}) });
  const logger = deps.logger.child({ component: 'aws' });
  const bodyLimit = Math.min(deps.maxRequestBytes, MAX_AWS_BODY_BYTES);

  const toAws = (error: unknown): AwsError => {
    if (error instanceof AwsError) return error;
    if (isCofferError(error)) {
      if (error.code === 'payload_too_large') return new AwsError('ValidationException', 'The request body is too large.');
      if (error.code === 'internal' || error.code === 'audit_failed') logger.error('aws request failed', { code: error.code });
      return fromCofferError(error);
    }
    logger.error('internal error handling an aws request', { error: error instanceof Error ? error.name : typeof error });
    return new AwsError('InternalServiceError', 'An error occurred on the server side.');
  };

  const serve = async (req: IncomingMessage, awsRequestId: string): Promise<Record<string, unknown>> => {
    if (deps.isSealed()) throw new AwsError('ServiceUnavailableException', 'Coffer is sealed; unseal it to use the Secrets Manager API.');
    // Before the body is read or the signature checked: a flood costs as little as on /v1.
    if (deps.quotas?.active === true && deps.quotas.check('', clientAddressOf(req))?.decision.allowed === false) {
      leaveBodyUnread(req);
      throw new AwsError('ThrottlingException', 'Rate exceeded');
    }
    const body = await readBody(req, bodyLimit);
    const release = deps.admit();
    try {
      return await serveAdmitted(req, awsRequestId, body);
    } finally {
      release();
    }
  };

  const serveAdmitted = async (req: IncomingMessage, awsRequestId: string, body: Buffer): Promise<Record<string, unknown>> => {
    const key = await authenticate({ method: req.method ?? 'POST', url: req.url ?? '/', rawHeaders: req.rawHeaders, body });

    const target = req.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      throw new AwsError('UnknownOperationException', 'X-Amz-Target must be secretsmanager.<Operation>.');
    }
    let input: Record<string, unknown>;
    try {
      input = parseJsonBody(body);
    } catch {
      throw new AwsError('SerializationException', 'The request body is not a valid JSON object.');
    }
    await deps.ensureMount();
    return service.execute(
      target.slice(TARGET_PREFIX.length),
      input,
      { accessKeyId: key.accessKeyId, token: key.token, region: key.region, remoteAddress: clientAddressOf(req) },
      awsRequestId,
    );
  };

  return (req, res) => {
    const awsRequestId = uuid();
    // The content type exactly as AWS sends it (no '; charset=utf-8'). no-store as on /v1: a
    // GetSecretValue answer holds the secret, and no cache on the way may keep it.
    const headers = {
      'content-type': AWS_JSON_CONTENT_TYPE,
      'cache-control': 'no-store',
      'x-amzn-requestid': awsRequestId,
      date: new Date(deps.clock.now()).toUTCString(),
    };
    serve(req, awsRequestId).then(
      (output) => sendJson(res, 200, output, headers),
      (error: unknown) => {
        const aws = toAws(error);
        if (aws.type === 'UnrecognizedClientException' || aws.type === 'InvalidSignatureException' || aws.type === 'IncompleteSignatureException') {
          logger.info('aws request refused', { type: aws.type, remoteAddress: clientAddressOf(req) });
        }
        sendJson(res, aws.status, { __type: aws.type, message: aws.message }, { ...headers, 'x-amzn-errortype': aws.type });
      },
    );
  };
}
