/**
 * Tests: SigV4 against AWS's published signing-key and get-vanilla examples, and every refusal of the verifier.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.js';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  checkRequest,
  formatAmzDate,
  parseAmzDate,
  parseAuthorization,
  sha256Hex,
  signingKey,
  signRequest,
  stringToSign,
  verifySignature,
  type ReceivedRequest,
} from './sigv4.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

function rejects(fn: () => unknown, type: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AwsError);
    assert.equal(error.type, type);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('SigV4 primitives against AWS published examples', () => {
  it('derives the signing key of the AWS documentation example', () => {
    assert.equal(signingKey(SECRET, '20120215', 'us-east-1', 'iam').toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  it('reproduces the get-vanilla case of the AWS SigV4 test suite', () => {
    const request: ReceivedRequest = {
      method: 'GET',
      url: '/',
      rawHeaders: ['Host', 'example.amazonaws.com', 'X-Amz-Date', '20150830T123600Z'],
      body: Buffer.alloc(0),
    };
    const canonical = canonicalRequest(request, ['host', 'x-amz-date'], sha256Hex('')) as string;
    assert.equal(
      canonical,
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const toSign = stringToSign('20150830T123600Z', '20150830/us-east-1/service/aws4_request', canonical);
    assert.equal(toSign.split('\n')[3], 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
    const auth = { accessKeyId: 'AKIDEXAMPLE', scopeDate: '20150830', region: 'us-east-1', service: 'service', signedHeaders: ['host', 'x-amz-date'] };
    const signature = '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
    assert.equal(verifySignature(request, { ...auth, signature }, SECRET, '20150830T123600Z', sha256Hex('')), true);
    assert.equal(verifySignature(request, { ...auth, signature: signature.replace(/^5/, '6') }, SECRET, '20150830T123600Z', sha256Hex('')), false);
  });

  it('builds canonical URIs and query strings as the AWS SDK does', () => {
    assert.equal(canonicalUri('/'), '/');
    assert.equal(canonicalUri('/a/./b/../c/'), '/a/c/');
    assert.equal(canonicalUri('/a%20b'), '/a%2520b');
    assert.equal(canonicalQuery(''), '');
    assert.equal(canonicalQuery('b=2&a=1&a=0&c'), 'a=0&a=1&b=2&c=');
    assert.equal(canonicalQuery('k=%2Fx%20y&q=it*s'), 'k=%2Fx%20y&q=it%2As');
  });

  it('parses and formats X-Amz-Date and refuses impossible dates', () => {
    assert.equal(parseAmzDate('20260101T000000Z'), Date.UTC(2026, 0, 1));
    assert.equal(formatAmzDate(Date.UTC(2026, 0, 1, 12, 30, 5)), '20260101T123005Z');
    assert.equal(parseAmzDate('20260231T000000Z'), undefined);
    assert.equal(parseAmzDate('2026-01-01T00:00:00Z'), undefined);
  });
});

describe('verifying a signed request', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const amzDate = formatAmzDate(now);
  const body = Buffer.from('{"SecretId":"prod/db"}');
  const headers = { host: '127.0.0.1:8200', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' };
  const authorization = signRequest({ method: 'POST', url: '/', headers, body, accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET, region: 'eu-west-3', amzDate });
  const received = (overrides: Partial<ReceivedRequest> = {}, extraHeaders: Record<string, string> = {}): ReceivedRequest => ({
    method: 'POST',
    url: '/',
    rawHeaders: Object.entries({ ...headers, 'x-amz-date': amzDate, authorization, ...extraHeaders }).flat(),
    body,
    ...overrides,
  });
  const verify = (request: ReceivedRequest, secret = SECRET): boolean => {
    const auth = parseAuthorization(authorization);
    const { amzDate: date, payloadHash } = checkRequest(request, auth, now);
    return verifySignature(request, auth, secret, date, payloadHash);
  };

  it('accepts the exact request that was signed, in any region', () => {
    const auth = parseAuthorization(authorization);
    assert.equal(auth.region, 'eu-west-3');
    assert.equal(auth.accessKeyId, 'AKIAEXAMPLE');
    assert.equal(verify(received()), true);
  });

  it('refuses a changed body byte, header, method, path or query, and another secret', () => {
    assert.equal(verify(received({ body: Buffer.from('{"SecretId":"prod/dc"}') })), false);
    assert.equal(verify(received({}, { 'x-amz-target': 'secretsmanager.DeleteSecret' })), false);
    assert.equal(verify(received({ method: 'PUT' })), false);
    assert.equal(verify(received({ url: '/other' })), false);
    assert.equal(verify(received({ url: '/?a=1' })), false);
    assert.equal(verify(received(), SECRET.slice(0, -1) + 'X'), false);
  });

  it('treats a signed header that did not arrive as a mismatch', () => {
    const request = received();
    const withoutTarget: ReceivedRequest = { ...request, rawHeaders: request.rawHeaders.filter((_v, i, all) => all[i - (i % 2)] !== 'x-amz-target') };
    assert.equal(verify(withoutTarget), false);
  });

  it('refuses a date more than five minutes from the server clock, either way, with AWS wording', () => {
    const auth = parseAuthorization(authorization);
    assert.doesNotThrow(() => checkRequest(received(), auth, now + 5 * 60_000));
    rejects(() => checkRequest(received(), auth, now + 5 * 60_000 + 1000), 'InvalidSignatureException', /^Signature expired: 20260101T120000Z is now earlier than 20260101T120001Z \(20260101T120501Z - 5 min\.\)$/);
    rejects(() => checkRequest(received(), auth, now - 6 * 60_000), 'InvalidSignatureException', /^Signature not yet current/);
  });

  it('requires host and x-amz-date to be signed and the scope date to match', () => {
    const unsignedHost = signRequest({ method: 'POST', url: '/', headers: { 'x-amz-target': 'x' }, body, accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET, region: 'us-east-1', amzDate });
    rejects(() => checkRequest(received(), parseAuthorization(unsignedHost), now), 'InvalidSignatureException', /'Host'/);
    const noDate = authorization.replace('SignedHeaders=content-type;host;x-amz-date;x-amz-target', 'SignedHeaders=content-type;host;x-amz-target');
    rejects(() => checkRequest(received(), parseAuthorization(noDate), now), 'InvalidSignatureException', /X-Amz-Date/);
    // Unsigned, X-Amz-Target would let one signed request be replayed as another operation.
    const noTarget = signRequest({ method: 'POST', url: '/', headers: { host: headers.host, 'content-type': headers['content-type'] }, body, accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET, region: 'us-east-1', amzDate });
    rejects(() => checkRequest(received({}, { 'x-amz-target': 'secretsmanager.DeleteSecret' }), parseAuthorization(noTarget), now), 'InvalidSignatureException', /'X-Amz-Target' must be a 'SignedHeader'/);
    const otherDay = authorization.replace('/20260101/', '/20251231/');
    rejects(() => checkRequest(received(), parseAuthorization(otherDay), now), 'InvalidSignatureException', /Date in Credential scope/);
  });

  it('checks a declared x-amz-content-sha256 against the body', () => {
    const auth = parseAuthorization(authorization);
    assert.doesNotThrow(() => checkRequest(received({}, { 'x-amz-content-sha256': sha256Hex(body) }), auth, now));
    rejects(() => checkRequest(received({}, { 'x-amz-content-sha256': sha256Hex('other') }), auth, now), 'InvalidSignatureException', /x-amz-content-sha256/);
    rejects(() => checkRequest(received({}, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), auth, now), 'InvalidSignatureException');
  });
});

describe('parsing the Authorization header', () => {
  const good = 'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + 'a'.repeat(64);

  it('reports a missing header as a missing authentication token', () => {
    rejects(() => parseAuthorization(undefined), 'MissingAuthenticationTokenException');
    rejects(() => parseAuthorization('  '), 'MissingAuthenticationTokenException');
  });

  it('refuses other algorithms, services, terminators and malformed parts', () => {
    assert.equal(parseAuthorization(good).service, 'secretsmanager');
    rejects(() => parseAuthorization(good.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')), 'IncompleteSignatureException');
    rejects(() => parseAuthorization(good.replace('/secretsmanager/', '/s3/')), 'InvalidSignatureException', /secretsmanager/);
    rejects(() => parseAuthorization(good.replace('aws4_request', 'aws5_request')), 'InvalidSignatureException');
    rejects(() => parseAuthorization(good.replace('Signature=', 'Sig=')), 'IncompleteSignatureException', /Signature/);
    rejects(() => parseAuthorization(good.replace('AKIAEXAMPLE/', '')), 'IncompleteSignatureException');
    rejects(() => parseAuthorization(good.replace('a'.repeat(64), 'A'.repeat(64))), 'IncompleteSignatureException');
    rejects(() => parseAuthorization(good.replace('us-east-1', 'us east')), 'IncompleteSignatureException');
  });
});
