/**
 * Request bodies: JSON with prototype-poisoning protection (secure-json-parse) and bounds on
 * shape, so a body under the size cap still cannot burn CPU or memory downstream
 * (CVE-2025-6203). Vault parses the body as JSON whatever the Content-Type says (curl -d sends
 * form encoding with a JSON body), except a form-encoded body that does not start like JSON,
 * which form-body.ts reads.
 */
import secureJson from 'secure-json-parse';
import { badRequest } from '../../core/errors.js';
import { inexactNumberLiteral, inexactNumberMessage, numberScanNeeded } from '../../core/json-numbers.js';
import { JSON_LIMIT_MESSAGES, scanJsonShape } from './json-scan.js';

export interface JsonLimits {
  maxDepth: number;
  maxObjectEntries: number;
  maxArrayElements: number;
  maxStringLength: number;
  /**
   * Values of every kind in the whole body (strings, numbers, objects, arrays...). The limits
   * above bound one container; a body of many containers just under them (1,300 arrays of 6,000
   * strings in 30 MB) would otherwise reach the audit log, which HMACs every string of every
   * request, refused ones included, and stall the server for seconds (OpenBao bounds the
   * strings of a request body for the same reason).
   */
  maxValues: number;
}

/** Vault's defaults for the per-container limits; OpenBao's idea for the total. */
export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 300,
  maxObjectEntries: 10_000,
  maxArrayElements: 10_000,
  maxStringLength: 1024 * 1024,
  maxValues: 100_000,
};

/**
 * The authority on shape, after parsing (scanJsonShape only refuses early, from the raw text).
 * Walks the parsed value without recursion (depth is attacker-controlled). Returns true when it
 * holds any number, whose literals may then need checking (json-numbers.ts).
 */
export function checkShape(value: unknown, limits: JsonLimits): boolean {
  let sawNumber = false;
  let values = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    values += 1;
    if (values > limits.maxValues) throw badRequest(JSON_LIMIT_MESSAGES.values);
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) throw badRequest('JSON string value exceeds the allowed length');
      continue;
    }
    // 1e400 parses as Infinity, which would be stored as null: refuse it rather than lose it.
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) throw badRequest('JSON number is out of range');
      sawNumber = true;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth > limits.maxDepth) throw badRequest(JSON_LIMIT_MESSAGES.depth);
    if (Array.isArray(current)) {
      if (current.length > limits.maxArrayElements) throw badRequest(JSON_LIMIT_MESSAGES.arrayElements);
      for (const item of current) stack.push({ value: item, depth: depth + 1 });
    } else {
      const keys = Object.keys(current);
      if (keys.length > limits.maxObjectEntries) throw badRequest(JSON_LIMIT_MESSAGES.objectEntries);
      for (const key of keys) {
        if (key.length > limits.maxStringLength) throw badRequest('JSON string value exceeds the allowed length');
        stack.push({ value: (current as Record<string, unknown>)[key], depth: depth + 1 });
      }
    }
  }
  return sawNumber;
}

/** Parses a request body into the request data object. An empty body is `{}`. */
export function parseJsonBody(raw: Buffer | string, limits: JsonLimits = DEFAULT_JSON_LIMITS): Record<string, unknown> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim() === '') return {};
  // Refuse a body past the limits before the parser builds it in full (CVE-2025-6203: a 32 MB
  // body of 3 million keys, no token needed, otherwise costs seconds and hundreds of MB first).
  // checkShape below stays the authority; the scan only refuses early.
  scanJsonShape(text, limits);
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    // The parser's message can quote the input, which may be a secret: say nothing of it. The
    // prototype refusal is a fixed sentence, and worth telling apart from broken JSON.
    if (err instanceof SyntaxError && /forbidden prototype property/.test(err.message)) {
      throw badRequest('failed to parse JSON input: keys named "__proto__", or "constructor" holding "prototype", are refused');
    }
    throw badRequest('failed to parse JSON input: the request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('failed to parse JSON input: the request body must be a JSON object');
  }
  if (checkShape(parsed, limits) && numberScanNeeded(parsed, text)) {
    const inexact = inexactNumberLiteral(text);
    if (inexact !== undefined) throw badRequest(inexactNumberMessage(inexact));
  }
  return parsed as Record<string, unknown>;
}
