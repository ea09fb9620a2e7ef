/**
 * Audit redaction: the per-device HMAC of sensitive strings and the walk that applies it to
 * request and response data.
 *
 * Owns: the `hmac-sha256:<hex>` rendering and the rules for what is hashed. It must never mutate
 * its input, never return a structure that aliases it, and never let a string reach an audit line
 * in clear unless its top-level key was explicitly listed as non-HMAC.
 */
import { createHmac } from 'node:crypto';

/** Hashes one sensitive string with a device's key; the result is safe to write to an audit log. */
export type Hasher = (value: string) => string;

export const HMAC_PREFIX = 'hmac-sha256:';

/**
 * Containers nested deeper than this are replaced by TRUNCATED_MARKER. The walk itself is
 * iterative and has no depth limit, but the entry is later serialised by JSON.stringify, which
 * recurses; the bound keeps a hostile body from turning into a stack overflow (and therefore a
 * failed audit write) and keeps the line size proportional to what an investigator can use.
 */
export const MAX_AUDIT_DEPTH = 128;

/**
 * Values beyond this many nodes are replaced by TRUNCATED_MARKER. JSON bodies are bounded by the
 * HTTP size cap, but in-process data can share sub-objects, and a DAG of shared arrays expands
 * exponentially when copied (CVE-2025-6203 stalled Vault's audit with merely complex JSON).
 */
export const MAX_AUDIT_NODES = 1_000_000;

export const TRUNCATED_MARKER = '[coffer: value not logged: nesting or size limit reached]';

/** HMAC-SHA256 of `value` under `key`, as `hmac-sha256:<hex>`. */
export function hmacString(key: Buffer, value: string): string {
  return HMAC_PREFIX + createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** A Hasher bound to `key`. The key is not copied: zeroing it later disables the hasher. */
export function createHasher(key: Buffer): Hasher {
  return (value) => hmacString(key, value);
}

interface Task {
  readonly value: unknown;
  readonly depth: number;
  /** True inside the value of a top-level non-HMAC key: strings are copied, not hashed. */
  readonly clear: boolean;
  /** True where numbers are hashed as well (RedactOptions.hashNumbersUnder). */
  readonly numbers: boolean;
  /** Whether `value` came from a toJSON() call (JSON.stringify calls it only once per value). */
  readonly converted: boolean;
  readonly parent: Record<string, unknown> | unknown[];
  readonly key: string | number;
}

function assign(parent: Record<string, unknown> | unknown[], key: string | number, value: unknown): void {
  if (Array.isArray(parent)) {
    parent[key as number] = value;
  } else if (key === '__proto__') {
    // A JSON body may carry an own "__proto__" key; plain assignment would set the prototype.
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    parent[key as string] = value;
  }
}

function isBytes(value: object): value is Uint8Array | ArrayBuffer {
  return value instanceof Uint8Array || value instanceof ArrayBuffer;
}

export interface RedactOptions {
  /**
   * Where numbers are hashed too, as their JSON text: everywhere ('all'), or only under one
   * top-level key. For data a client wrote (a request body, a KV secret read back): a PIN or an
   * account number is a secret like any string. Vault does the same by decoding such JSON
   * numbers as json.Number, a string type its audit HMACs; the numbers its own handlers produce
   * (a TTL in a token lookup, a KV version) stay readable, and so do Coffer's.
   */
  readonly hashNumbersUnder?: 'all' | string;
}

/**
 * A redacted copy of `value`: every string (object values and array items at any depth) becomes
 * its HMAC; numbers too where `hashNumbersUnder` says; booleans and null are kept. Binary values are HMAC'd
 * as base64, never rendered as byte arrays (CVE-2025-62513). Anything JSON would drop
 * (functions, symbols) is dropped. Map and Set render as `{}` as in JSON. Nothing is ever
 * returned by reference.
 *
 * `clearKeys` lists keys of the top-level object whose whole value is copied without hashing.
 */
export function redactValue(value: unknown, hash: Hasher, clearKeys: readonly string[] = [], options: RedactOptions = {}): unknown {
  return walk(value, hash, clearKeys, false, options.hashNumbersUnder);
}

/**
 * A copy of a value that carries no secret (policies, metadata, warnings), with the same
 * bounds and JSON rendering as redactValue but no hashing, so an entry never aliases its input.
 */
export function copyValue(value: unknown): unknown {
  return walk(value, (s) => s, [], true, undefined);
}

function walk(value: unknown, hash: Hasher, clearKeys: readonly string[], rootClear: boolean, numbersUnder: 'all' | string | undefined): unknown {
  const holder: unknown[] = [];
  const clearSet = new Set(clearKeys);
  const stack: Task[] = [{ value, depth: 0, clear: rootClear, numbers: numbersUnder === 'all', converted: false, parent: holder, key: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const task = stack.pop() as Task;
    const { value: v, depth, clear, numbers, parent, key } = task;
    nodes += 1;
    if (nodes > MAX_AUDIT_NODES) {
      assign(parent, key, TRUNCATED_MARKER);
      continue;
    }
    switch (typeof v) {
      case 'string':
        assign(parent, key, clear ? v : hash(v));
        continue;
      case 'number':
        assign(parent, key, clear || !numbers ? v : hash(JSON.stringify(v)));
        continue;
      case 'boolean':
        assign(parent, key, v);
        continue;
      case 'bigint':
        // JSON cannot render a bigint; its digits are data like any string.
        assign(parent, key, clear ? v.toString() : hash(v.toString()));
        continue;
      case 'undefined':
      case 'function':
      case 'symbol':
        // Dropped from objects by JSON; in arrays JSON writes null, which we mirror.
        if (Array.isArray(parent)) assign(parent, key, null);
        continue;
      default:
        break;
    }
    if (v === null) {
      assign(parent, key, null);
      continue;
    }
    const obj = v as object;
    if (isBytes(obj)) {
      const bytes = obj instanceof Uint8Array ? Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength) : Buffer.from(obj);
      const text = bytes.toString('base64');
      assign(parent, key, clear ? text : hash(text));
      continue;
    }
    if (!task.converted && !Array.isArray(obj) && typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      // Dates and similar render through toJSON; redact what JSON would actually print.
      const converted: unknown = (obj as { toJSON: () => unknown }).toJSON();
      stack.push({ value: converted, depth, clear, numbers, converted: true, parent, key });
      nodes -= 1;
      continue;
    }
    if (depth >= MAX_AUDIT_DEPTH) {
      assign(parent, key, TRUNCATED_MARKER);
      continue;
    }
    if (Array.isArray(obj)) {
      const copy: unknown[] = new Array<unknown>(obj.length);
      assign(parent, key, copy);
      for (let i = obj.length - 1; i >= 0; i -= 1) {
        stack.push({ value: obj[i], depth: depth + 1, clear, numbers, converted: false, parent: copy, key: i });
      }
      continue;
    }
    const copy: Record<string, unknown> = {};
    assign(parent, key, copy);
    const keys = Object.keys(obj);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const k = keys[i] as string;
      const childClear = clear || (depth === 0 && clearSet.has(k));
      const childNumbers = numbers || (depth === 0 && numbersUnder === k);
      stack.push({ value: (obj as Record<string, unknown>)[k], depth: depth + 1, clear: childClear, numbers: childNumbers, converted: false, parent: copy, key: k });
    }
  }
  return holder[0];
}

/**
 * Redacts request or response `data` (see redactValue). `nonHmacKeys` applies to the top level
 * only: a nested key with the same name is still hashed.
 */
export function redactData(
  data: Record<string, unknown> | null | undefined,
  hash: Hasher,
  nonHmacKeys: readonly string[] = [],
  options: RedactOptions = {},
): Record<string, unknown> | null | undefined {
  if (data === null || data === undefined) return data;
  return redactValue(data, hash, nonHmacKeys, options) as Record<string, unknown>;
}
