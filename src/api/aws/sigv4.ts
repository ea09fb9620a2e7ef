/**
 * AWS Signature Version 4 verification for the Secrets Manager protocol, with node:crypto only
 * (HMAC-SHA256 and SHA-256 are all SigV4 needs; a signing library would add a runtime
 * dependency to verify what twenty lines compute).
 *
 * Owns: parsing the `Authorization` header, rebuilding the canonical request from what was
 * actually received (method, path, query, the signed headers, the exact body bytes), the
 * string to sign, the signing key, the constant-time comparison and the clock-skew window.
 * Must never: put a secret access key, a signing key or a computed signature into an error, a
 * log line or a return value other than the boolean verdict.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsError } from './errors.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SIGNING_SERVICE = 'secretsmanager';
/** AWS refuses a request whose X-Amz-Date is more than five minutes from its clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** The request as it arrived, before any parsing changed it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The request target as on the wire: path and query, still percent-encoded. */
  readonly url: string;
  /** Node's rawHeaders: name, value, name, value, ... in arrival order. */
  readonly rawHeaders: readonly string[];
  /** The exact body bytes. */
  readonly body: Buffer;
}

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  /** Lowercase header names, as listed (SigV4 requires them sorted). */
  readonly signedHeaders: readonly string[];
  /** Lowercase hex. */
  readonly signature: string;
}

const incomplete = (message: string): AwsError => new AwsError('IncompleteSignatureException', message);
const invalidSignature = (message: string): AwsError => new AwsError('InvalidSignatureException', message);

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex`. Checks the shape only; the service and dates are checked
 * by the caller, the signature by verifySignature.
 */
export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (header === undefined || header.trim() === '') throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const text = header.trim();
  const space = text.indexOf(' ');
  const algorithm = space === -1 ? text : text.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': use ${SIGV4_ALGORITHM}.`);
  const params = new Map<string, string>();
  for (const part of text.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!params.get(name)) throw incomplete(`Authorization header requires '${name}' parameter.`);
  }
  const credential = (params.get('Credential') as string).split('/');
  if (credential.length !== 5 || credential.some((piece) => piece === '')) {
    throw incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.");
  }
  const [accessKeyId, scopeDate, region, service, terminator] = credential as [string, string, string, string, string];
  if (terminator !== 'aws4_request') throw invalidSignature("Credential should be scoped with a valid terminator: 'aws4_request'.");
  if (service !== SIGNING_SERVICE) throw invalidSignature(`Credential should be scoped to correct service: '${SIGNING_SERVICE}'.`);
  if (!/^\d{8}$/.test(scopeDate)) throw invalidSignature('Credential scope date must be in the form YYYYMMDD.');
  // The region appears in ARNs of the response; any region name is accepted, any text is not.
  if (!/^[A-Za-z0-9-]{1,64}$/.test(region)) throw incomplete('Credential region must be a region name such as us-east-1.');
  const signedHeaders = (params.get('SignedHeaders') as string).split(';');
  if (signedHeaders.some((name) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))) {
    throw incomplete('SignedHeaders must be a semicolon-separated list of lowercase header names.');
  }
  const signature = params.get('Signature') as string;
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete('Signature must be 64 lowercase hexadecimal characters.');
  return { accessKeyId, scopeDate, region, service, signedHeaders, signature };
}

/** Header values by lowercase name; repeated headers are joined with ',' as SigV4 specifies. */
export function headerMap(rawHeaders: readonly string[]): Map<string, string> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim().replace(/\s+/g, ' ');
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return new Map([...out].map(([name, values]) => [name, values.join(',')]));
}

/** RFC 3986 escaping as the AWS SDK does it (encodeURIComponent plus !'()*). */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical URI for every service but S3: dot segments removed, empty segments dropped,
 * then the (already percent-encoded) path escaped once more, '/' kept.
 */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const leading = rawPath.startsWith('/') ? '/' : '';
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return escapeUri(`${leading}${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Query parameters decoded, re-escaped, sorted by name then value. */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = escapeUri(safeDecode(eq === -1 ? part : part.slice(0, eq)));
    const value = eq === -1 ? '' : escapeUri(safeDecode(part.slice(eq + 1)));
    pairs.push([key, value]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The canonical request; every signed header must be present (absence is a mismatch). */
export function canonicalRequest(request: ReceivedRequest, signedHeaders: readonly string[], payloadHash: string): string | undefined {
  const headers = headerMap(request.rawHeaders);
  const query = request.url.indexOf('?');
  const rawPath = query === -1 ? request.url : request.url.slice(0, query);
  const rawQuery = query === -1 ? '' : request.url.slice(query + 1);
  const lines: string[] = [];
  for (const name of signedHeaders) {
    const value = headers.get(name);
    if (value === undefined) return undefined;
    lines.push(`${name}:${value}\n`);
  }
  return [request.method.toUpperCase(), canonicalUri(rawPath), canonicalQuery(rawQuery), lines.join(''), signedHeaders.join(';'), payloadHash].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export function signingKey(secretAccessKey: string, scopeDate: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, scopeDate), region), service), 'aws4_request');
}

/** Parses YYYYMMDDTHHMMSSZ into epoch milliseconds; undefined when malformed. */
export function parseAmzDate(text: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 20260231 over into March; a date that does not round-trip is malformed.
  return formatAmzDate(ms) === text ? ms : undefined;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * The request-level checks that need no key: host and x-amz-date are signed, the date is
 * well formed, matches the credential scope and lies within five minutes of `now`, and a
 * declared payload hash matches the body. Returns the X-Amz-Date and the payload hash.
 */
export function checkRequest(request: ReceivedRequest, auth: ParsedAuthorization, now: number): { amzDate: string; payloadHash: string } {
  if (!auth.signedHeaders.includes('host')) throw invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  if (!auth.signedHeaders.includes('x-amz-date')) throw invalidSignature("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  const headers = headerMap(request.rawHeaders);
  // The operation is chosen by X-Amz-Target: unsigned, one signed request could be replayed as
  // another operation on the same body (a GetSecretValue sent again as DeleteSecret).
  if (headers.has('x-amz-target') && !auth.signedHeaders.includes('x-amz-target')) {
    throw invalidSignature("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const amzDate = headers.get('x-amz-date');
  if (amzDate === undefined) throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw incomplete("X-Amz-Date must be in the ISO 8601 basic format 'YYYYMMDDTHHMMSSZ'.");
  if (amzDate.slice(0, 8) !== auth.scopeDate) {
    throw invalidSignature(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`);
  }
  if (signedAt < now - MAX_CLOCK_SKEW_MS) {
    throw invalidSignature(`Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} - 5 min.)`);
  }
  if (signedAt > now + MAX_CLOCK_SKEW_MS) {
    throw invalidSignature(`Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + MAX_CLOCK_SKEW_MS)} (${formatAmzDate(now)} + 5 min.)`);
  }
  const payloadHash = sha256Hex(request.body);
  const declared = headers.get('x-amz-content-sha256');
  if (declared !== undefined && declared !== payloadHash) {
    throw invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return { amzDate, payloadHash };
}

/**
 * True when `auth.signature` is the SigV4 signature of `request` under `secretAccessKey`.
 * Both signatures are hashed to equal length and compared in constant time.
 */
export function verifySignature(request: ReceivedRequest, auth: ParsedAuthorization, secretAccessKey: string, amzDate: string, payloadHash: string): boolean {
  const canonical = canonicalRequest(request, auth.signedHeaders, payloadHash);
  if (canonical === undefined) return false;
  const scope = `${auth.scopeDate}/${auth.region}/${auth.service}/aws4_request`;
  const key = signingKey(secretAccessKey, auth.scopeDate, auth.region, auth.service);
  const expected = createHmac('sha256', key).update(stringToSign(amzDate, scope, canonical), 'utf8').digest('hex');
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(auth.signature).digest();
  return timingSafeEqual(a, b);
}

/** Signs a request the way a client does; for tests and the CLI's own checks. */
export function signRequest(input: {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  amzDate: string;
}): string {
  const headers = { ...input.headers, 'x-amz-date': input.amzDate };
  const rawHeaders = Object.entries(headers).flat();
  const signedHeaders = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const request: ReceivedRequest = { method: input.method, url: input.url, rawHeaders, body: input.body };
  const canonical = canonicalRequest(request, signedHeaders, sha256Hex(input.body)) as string;
  const scopeDate = input.amzDate.slice(0, 8);
  const scope = `${scopeDate}/${input.region}/${SIGNING_SERVICE}/aws4_request`;
  const key = signingKey(input.secretAccessKey, scopeDate, input.region, SIGNING_SERVICE);
  const signature = createHmac('sha256', key).update(stringToSign(input.amzDate, scope, canonical), 'utf8').digest('hex');
  return `${SIGV4_ALGORITHM} Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
}
