/**
 * The AWS JSON 1.1 wire layer of the Secrets Manager API: `POST /` with
 * `X-Amz-Target: secretsmanager.<Operation>`, on the same fastify instance (and listener) as
 * the Vault API.
 *
 * Owns: an encapsulated fastify context whose only body parser keeps the exact body bytes
 * (SigV4 signs them), so the Vault parser on `/v1/*` is untouched; response headers
 * (`x-amzn-RequestId`, and a `Date` from the server's clock, which the SDK uses to correct its
 * clock skew); errors as `{"__type", "message"}` with `x-amzn-ErrorType`.
 * Must never: parse or act on a body before its signature is verified, or log a body, a
 * header value or key material.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { isCofferError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { Logger } from '../../core/logger.js';
import type { RequestHandler } from '../../core/request-handler.js';
import type { AccessKeyStore } from '../../engines/aws-keys/key-store.js';
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
  ensureMount: EnsureAwsMount;
  rotators?: AwsRotationDeps;
  maxRequestBytes: number;
}

// A Buffer, so fastify sends the content type exactly as AWS does (no '; charset=utf-8').
const jsonBody = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

function sendAwsError(reply: FastifyReply, error: AwsError): FastifyReply {
  return reply
    .code(error.status)
    .header('content-type', AWS_JSON_CONTENT_TYPE)
    .header('x-amzn-errortype', error.type)
    .send(jsonBody({ __type: error.type, message: error.message }));
}

/** Registers `POST /` on `app`; call before the app starts listening. */
export function registerAwsProtocol(app: FastifyInstance, deps: AwsProtocolDeps): void {
  const authenticate = createAwsAuthenticator({ keys: deps.keys, clock: deps.clock });
  const service = createAwsService({ handler: deps.handler, clock: deps.clock, ...(deps.rotators ? { rotators: deps.rotators } : {}) });
  const logger = deps.logger.child({ component: 'aws' });
  const bodyLimit = Math.min(deps.maxRequestBytes, MAX_AWS_BODY_BYTES);

  const toAws = (error: unknown): AwsError => {
    if (error instanceof AwsError) return error;
    if (isCofferError(error)) {
      if (error.code === 'internal' || error.code === 'audit_failed') logger.error('aws request failed', { code: error.code });
      return fromCofferError(error);
    }
    const code = (error as { code?: unknown }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AwsError('ValidationException', 'The request body is too large.');
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return new AwsError('SerializationException', 'The request could not be read.');
    logger.error('internal error handling an aws request', { error: error instanceof Error ? error.name : typeof error });
    return new AwsError('InternalServiceError', 'An error occurred on the server side.');
  };

  void app.register(async (child) => {
    // Encapsulated: these parsers apply to this context's route only, never to /v1/*.
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    child.setErrorHandler((error, _request, reply) => sendAwsError(reply, toAws(error)));

    child.post('/', async (request: FastifyRequest, reply: FastifyReply) => {
      const awsRequestId = uuid();
      reply.header('x-amzn-requestid', awsRequestId).header('date', new Date(deps.clock.now()).toUTCString());
      try {
        if (deps.isSealed()) throw new AwsError('ServiceUnavailableException', 'Coffer is sealed; unseal it to use the Secrets Manager API.');
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const key = await authenticate({ method: request.method, url: request.raw.url ?? '/', rawHeaders: request.raw.rawHeaders, body });

        const target = request.headers['x-amz-target'];
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
        const output = await service.execute(
          target.slice(TARGET_PREFIX.length),
          input,
          { accessKeyId: key.accessKeyId, token: key.token, region: key.region, remoteAddress: request.socket.remoteAddress ?? '' },
          awsRequestId,
        );
        return reply.code(200).header('content-type', AWS_JSON_CONTENT_TYPE).send(jsonBody(output));
      } catch (error) {
        const aws = toAws(error);
        if (aws.type === 'UnrecognizedClientException' || aws.type === 'InvalidSignatureException' || aws.type === 'IncompleteSignatureException') {
          logger.info('aws request refused', { type: aws.type, remoteAddress: request.socket.remoteAddress ?? '' });
        }
        return sendAwsError(reply, aws);
      }
    });
  });
}
