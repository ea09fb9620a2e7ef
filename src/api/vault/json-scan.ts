/**
 * A cheap early refusal for JSON bodies past the shape limits, run over the raw text before
 * JSON.parse. Parsing first and counting after (CVE-2025-6203) lets a body of 3 million keys,
 * sent without a token, hold the single-threaded server for seconds and hundreds of megabytes
 * before the 400. This pass allocates nothing that grows with the body and stops as soon as a
 * limit is crossed.
 *
 * It is not the authority: json-body.ts still checks the parsed value, which also bounds string
 * lengths and numbers. The scan must never refuse a body that check accepts, with one
 * deliberate exception: it counts entries as written, so an object that repeats a key is
 * counted once per repetition (Vault's streaming check counts them the same way). It never
 * judges syntax: broken JSON within the limits passes through to the parser.
 */
import { badRequest } from '../../core/errors.js';
import type { JsonLimits } from './json-body.js';

/** The refusals shared with the check on the parsed value, so both say the same thing. */
export const JSON_LIMIT_MESSAGES = {
  depth: 'JSON input exceeds the allowed nesting depth',
  objectEntries: 'JSON object exceeds the allowed number of entries',
  arrayElements: 'JSON array exceeds the allowed number of elements',
  values: 'JSON input holds more values than allowed',
} as const;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

const isJsonWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Throws the same `bad_request` the parsed-value check would as soon as the text holds a
 * container nested deeper than `maxDepth`, an object or array with more entries than allowed,
 * or more than `maxValues` values in all. Entries are counted from the commas outside strings,
 * plus one for a container that is not empty; every value but the root is one entry of its
 * container.
 */
export function scanJsonShape(text: string, limits: JsonLimits): void {
  // One slot per open container; depth is bounded by maxDepth, so these stay small.
  const isObject: boolean[] = [];
  const entries: number[] = [];
  let depth = 0;
  let values = 1;
  let inString = false;
  // Set on opening a container: its next significant character says whether it is empty.
  let awaitingFirst = false;

  const addEntry = (): void => {
    const count = (entries[depth - 1] as number) + 1;
    entries[depth - 1] = count;
    if (isObject[depth - 1]) {
      if (count > limits.maxObjectEntries) throw badRequest(JSON_LIMIT_MESSAGES.objectEntries);
    } else if (count > limits.maxArrayElements) {
      throw badRequest(JSON_LIMIT_MESSAGES.arrayElements);
    }
    values += 1;
    if (values > limits.maxValues) throw badRequest(JSON_LIMIT_MESSAGES.values);
  };

  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      // An escape's second character is skipped, so `\"` never ends the string and `\\"` does.
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (isJsonWhitespace(c)) continue;
    if (awaitingFirst) {
      awaitingFirst = false;
      if (c !== CLOSE_OBJECT && c !== CLOSE_ARRAY) addEntry();
    }
    if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth += 1;
      if (depth > limits.maxDepth) throw badRequest(JSON_LIMIT_MESSAGES.depth);
      isObject[depth - 1] = c === OPEN_OBJECT;
      entries[depth - 1] = 0;
      awaitingFirst = true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      // An unbalanced close is broken JSON; leave the verdict to the parser.
      if (depth > 0) depth -= 1;
    } else if (c === COMMA && depth > 0) {
      addEntry();
    }
  }
}
