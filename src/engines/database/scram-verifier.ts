/**
 * PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802, RFC 7677), for the
 * `password_authentication: scram-sha-256` config option: Coffer sends
 * `PASSWORD 'SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>'` instead of the password, so the
 * password itself never reaches the database server, its statement log or pg_stat_activity.
 * PostgreSQL 10 and later store such a string as it is.
 *
 * Written here because no well-kept npm package builds the server-side verifier (pg implements
 * only the client side of the exchange); it is four standard primitives from node:crypto put
 * together as the RFC defines, and a test checks it against PostgreSQL's own result.
 *
 * Owns: the derivation, off the main thread (PBKDF2 runs on libuv's pool).
 * Must never: accept a password PostgreSQL would prepare differently. PostgreSQL runs SASLprep
 * on the password at login; for printable ASCII that changes nothing, so only such passwords are
 * taken (Coffer's generated passwords are [A-Za-z0-9-]).
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { badRequest } from '../../core/errors.js';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's default (scram_iterations, PostgreSQL 16; fixed before). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** A verifier as PostgreSQL stores it, and as scramVerifier produces it. */
export const SCRAM_VERIFIER = /^SCRAM-SHA-256\$[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all base64. */
export async function scramVerifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = SCRAM_ITERATIONS): Promise<string> {
  if (!PRINTABLE_ASCII.test(password)) throw badRequest('password_authentication=scram-sha-256 takes only printable ASCII passwords');
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, KEY_BYTES, 'sha256');
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
