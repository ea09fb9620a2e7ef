/**
 * How a secret value (SecretString or SecretBinary) is stored as a KV v2 version's data, so a
 * Vault client reading `GET /v1/aws/data/N` sees the same value, and a Vault write is
 * something GetSecretValue can return:
 *
 * - a SecretString that is a JSON object in canonical form (JSON.stringify of its own parse)
 *   is stored as that object, so `data.data.password` works through the Vault API;
 * - any other SecretString is stored as `{ "SecretString": "<text>" }`, SecretBinary as
 *   `{ "SecretBinary": "<base64>" }`;
 * - reading back, data that is exactly one of those two wrappers gives the wrapped value, and
 *   any other data gives its JSON serialisation as SecretString.
 * A JSON object that itself looks like a wrapper is stored wrapped, so every SecretString
 * round-trips byte for byte.
 * Must never: put a value, or anything derived from one, into an error message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { invalidParameter } from './errors.js';

export type SecretValue = { readonly kind: 'string'; readonly text: string } | { readonly kind: 'binary'; readonly bytes: Buffer };

/** AWS's quota on a secret value, in bytes. */
export const MAX_SECRET_BYTES = 65_536;
const MAX_OBJECT_DEPTH = 32;
const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** True when `value` is shallow enough and free of keys that JavaScript treats specially. */
function plainEnough(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_OBJECT_DEPTH) return false;
    for (const key of Object.keys(node)) {
      if (UNSAFE_KEYS.has(key)) return false;
      stack.push([(node as JsonObject)[key], depth + 1]);
    }
  }
  return true;
}

function isWrapper(data: JsonObject): boolean {
  const keys = Object.keys(data);
  return keys.length === 1 && (keys[0] === 'SecretString' || keys[0] === 'SecretBinary') && typeof data[keys[0]] === 'string';
}

export function toKvData(value: SecretValue): JsonObject {
  if (value.kind === 'binary') return { SecretBinary: value.bytes.toString('base64') };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.text);
  } catch {
    return { SecretString: value.text };
  }
  if (isObject(parsed) && !isWrapper(parsed) && plainEnough(parsed) && JSON.stringify(parsed) === value.text) return parsed;
  return { SecretString: value.text };
}

export function fromKvData(data: JsonObject): SecretValue {
  if (isWrapper(data)) {
    if (Object.hasOwn(data, 'SecretBinary')) return { kind: 'binary', bytes: Buffer.from(data['SecretBinary'] as string, 'base64') };
    return { kind: 'string', text: data['SecretString'] as string };
  }
  return { kind: 'string', text: JSON.stringify(data) };
}

const digest = (value: SecretValue): Buffer =>
  createHash('sha256')
    .update(value.kind)
    .update(value.kind === 'binary' ? value.bytes : Buffer.from(value.text, 'utf8'))
    .digest();

/** Compares two values in constant time (they are secrets). */
export const sameValue = (a: SecretValue, b: SecretValue): boolean => timingSafeEqual(digest(a), digest(b));

/**
 * The value of a request: SecretString or SecretBinary (base64 on the wire), never both.
 * Undefined when neither is present; a JSON null counts as absent, as in the other fields.
 */
export function valueFromRequest(body: Readonly<Record<string, unknown>>): SecretValue | undefined {
  const text = body['SecretString'] ?? undefined;
  const binary = body['SecretBinary'] ?? undefined;
  if (text !== undefined && binary !== undefined) throw invalidParameter('You can\'t specify both a binary secret value and a string secret value in the same secret.');
  if (text !== undefined) {
    if (typeof text !== 'string' || text.length === 0 || Buffer.byteLength(text, 'utf8') > MAX_SECRET_BYTES) {
      throw invalidParameter(`SecretString must be a string of 1 to ${MAX_SECRET_BYTES} bytes.`);
    }
    return { kind: 'string', text };
  }
  if (binary !== undefined) {
    if (typeof binary !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(binary) || binary.length % 4 !== 0) {
      throw invalidParameter('SecretBinary must be base64-encoded.');
    }
    const bytes = Buffer.from(binary, 'base64');
    if (bytes.length === 0 || bytes.length > MAX_SECRET_BYTES) throw invalidParameter(`SecretBinary must hold 1 to ${MAX_SECRET_BYTES} bytes.`);
    return { kind: 'binary', bytes };
  }
  return undefined;
}

/** The response fields for a value. */
export function valueFields(value: SecretValue): { SecretString: string } | { SecretBinary: string } {
  return value.kind === 'binary' ? { SecretBinary: value.bytes.toString('base64') } : { SecretString: value.text };
}
