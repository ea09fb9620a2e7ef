/**
 * Authenticates a Secrets Manager request: SigV4 against a Coffer-issued access key.
 *
 * Order: header shape → signed host and date, date within five minutes of the server clock,
 * payload hash → the key exists and has not expired → the signature. Nothing here touches a
 * secret; a request that fails any step never reaches the pipeline.
 * Must never: reveal why a key is unusable beyond AWS's own wording, or log key material.
 */
import type { Clock } from '../../core/clock.js';
import type { AccessKeyStore } from '../../engines/aws-keys/key-store.js';
import { AwsError } from './errors.js';
import { checkRequest, headerMap, parseAuthorization, SIGNATURE_MISMATCH, verifySignature, type ReceivedRequest } from './sigv4.js';

export interface AuthenticatedKey {
  readonly accessKeyId: string;
  readonly token: string;
  readonly region: string;
}

export type AwsAuthenticator = (request: ReceivedRequest) => Promise<AuthenticatedKey>;

const INVALID_TOKEN = 'The security token included in the request is invalid.';

export function createAwsAuthenticator(deps: { keys: Pick<AccessKeyStore, 'lookup'>; clock: Clock }): AwsAuthenticator {
  return async (request) => {
    const headers = headerMap(request.rawHeaders);
    const auth = parseAuthorization(headers.get('authorization'));
    // Coffer issues no session credentials, so a session token can never be valid.
    if (headers.has('x-amz-security-token')) throw new AwsError('UnrecognizedClientException', INVALID_TOKEN);
    const { amzDate, payloadHash } = checkRequest(request, auth, deps.clock.now());
    const key = await deps.keys.lookup(auth.accessKeyId);
    if (!key) throw new AwsError('UnrecognizedClientException', INVALID_TOKEN);
    if (!verifySignature(request, auth, key.secretAccessKey, amzDate, payloadHash)) throw new AwsError('InvalidSignatureException', SIGNATURE_MISMATCH);
    return { accessKeyId: key.accessKeyId, token: key.token, region: auth.region };
  };
}
