/**
 * Test support for JWT-based auth methods: key pairs generated per test run, signing helpers,
 * and a hand-made `alg: none` token.
 *
 * Used only by tests; never imported by production code.
 */
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';

export interface TestKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  privateKey: KeyLike;
  publicPem: string;
  publicJwk: JWK;
}

export async function testKey(alg: 'RS256' | 'ES256', kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicPem: await exportSPKI(publicKey), publicJwk };
}

/** Signs `claims` as given: no claim is added, so tests control exp, nbf, iat, aud exactly. */
export async function sign(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (RFC 7519 §6): header alg "none" and an empty signature. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** The same token with its payload replaced and the original signature kept. */
export function withPayload(token: string, claims: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64url(claims)}.${signature}`;
}
