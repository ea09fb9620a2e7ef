/**
 * Small JSON helpers for secret values: type guards, a depth guard, prototype-safe object
 * building, RFC 7386 merge patch, and the subkeys projection.
 *
 * Values may be any JSON. Keys such as '__proto__' arrive from JSON.parse as ordinary own
 * properties and must stay that way, so objects are built with defineProperty, never with
 * `obj[key] = value` on a key taken from input.
 * Must never: put a value into an error message.
 */
import { badRequest } from '../../core/errors.js';

export type JsonObject = Record<string, unknown>;

/** Deeper values are refused: serialising them recursively could exhaust the stack. */
export const MAX_JSON_DEPTH = 500;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own, enumerable property even when `key` is '__proto__' or 'constructor'. */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The own property `key`, never an inherited one. */
export function getOwn(target: JsonObject, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** Throws bad_request naming `field` when `value` nests objects or arrays deeper than `max`. */
export function assertJsonDepth(value: unknown, field: string, max = MAX_JSON_DEPTH): void {
  // Iterative, so that the check itself cannot overflow the stack on a hostile body.
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) throw badRequest(`${field} is nested more than ${max} levels deep`);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
}

/**
 * RFC 7386 JSON merge patch: objects merge key by key, null removes a key, anything else
 * (including arrays) replaces. Returns a new value; neither input is modified.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = {};
  if (isJsonObject(target)) {
    for (const [key, value] of Object.entries(target)) setOwn(result, key, value);
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, mergePatch(getOwn(result, key), value));
  }
  return result;
}

/**
 * The shape of a secret with every value replaced by null, as Vault's subkeys endpoint shows it.
 * Non-empty objects are descended into; empty objects and everything else are leaves. With
 * `maxDepth` > 0, objects at that depth become leaves too, so no value deeper is ever copied.
 */
export function subkeys(data: JsonObject, maxDepth: number): JsonObject {
  const walk = (node: JsonObject, depth: number): JsonObject => {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      const descend = isJsonObject(value) && Object.keys(value).length > 0 && (maxDepth === 0 || depth < maxDepth);
      setOwn(out, key, descend ? walk(value as JsonObject, depth + 1) : null);
    }
    return out;
  };
  return walk(data, 1);
}
