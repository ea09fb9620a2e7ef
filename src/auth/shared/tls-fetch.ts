/**
 * Fetching a JSON document (an OpenID discovery document) over http or https with an optional
 * CA bundle, which Node's fetch cannot take without a dispatcher from undici: a provider behind
 * a private CA (a cluster's API server, an internal IdP) is verified against the configured
 * certificates instead of failing TLS. Redirects are not followed, the time is bounded, and the
 * body is read as a stream and dropped once it passes the limit, so a provider that sends
 * gigabytes costs at most that much memory.
 *
 * Must never: put a fetched body into an error; skip certificate verification.
 */
import { X509Certificate } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { badRequest } from '../../core/errors.js';

/** Why a fetch gave no document; the caller words it for its own field. */
export type FetchFailure = 'unreachable' | 'status' | 'too_large';

export class FetchError extends Error {
  constructor(readonly reason: FetchFailure, readonly status?: number) {
    super(reason);
  }
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A PEM bundle of CA certificates, checked: each must parse as an X.509 certificate. Returns it
 * trimmed; '' stays '' (no bundle: the system's trust store).
 */
export function parseCaBundle(raw: string, field: string): string {
  const pem = raw.trim();
  if (pem === '') return '';
  const certificates = pem.match(CERTIFICATE) ?? [];
  if (certificates.length === 0) throw badRequest(`invalid ${field}: expected one or more PEM certificates`);
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch {
      throw badRequest(`invalid ${field}: a certificate in it cannot be parsed`);
    }
  }
  return pem;
}

/** An https agent that trusts `ca` (instead of the system store) for https URLs; undefined otherwise. */
export function agentFor(url: string, ca: string): HttpsAgent | undefined {
  return ca !== '' && url.startsWith('https:') ? new HttpsAgent({ ca, keepAlive: false }) : undefined;
}

/** GETs `url` and returns its body as text; throws FetchError. */
export async function fetchText(url: string, options: { ca: string; timeoutMs: number; maxBytes: number }): Promise<string> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  const agent = agentFor(url, options.ca);
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    // A whole-request deadline: the socket `timeout` alone fires only while it is idle, and a
    // provider can trickle bytes forever.
    const deadline = setTimeout(() => fail(new FetchError('unreachable')), options.timeoutMs);
    deadline.unref();
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(deadline);
      return true;
    };
    const fail = (error: FetchError): void => {
      if (!settle()) return;
      request.destroy();
      reject(error);
    };
    const request = get(url, { headers: { accept: 'application/json' }, timeout: options.timeoutMs, ...(agent ? { agent } : {}) }, (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        response.resume();
        return fail(new FetchError('status', response.statusCode));
      }
      const declared = Number(response.headers['content-length'] ?? '0');
      if (declared > options.maxBytes) return fail(new FetchError('too_large'));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) return fail(new FetchError('too_large'));
        chunks.push(chunk);
      });
      response.on('end', () => {
        if (settle()) resolve(Buffer.concat(chunks).toString('utf8'));
      });
      response.on('error', () => fail(new FetchError('unreachable')));
    });
    request.on('timeout', () => fail(new FetchError('unreachable')));
    request.on('error', () => fail(new FetchError('unreachable')));
  });
}
