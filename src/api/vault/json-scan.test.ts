import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../../core/errors.js';
import { checkShape, DEFAULT_JSON_LIMITS, parseJsonBody, type JsonLimits } from './json-body.js';
import { JSON_LIMIT_MESSAGES, scanJsonShape } from './json-scan.js';

/** Small limits, so documents on both sides of every limit are quick to build. */
const LIMITS: JsonLimits = { maxDepth: 6, maxObjectEntries: 5, maxArrayElements: 4, maxStringLength: 1 << 20, maxValues: 40 };

/** A seeded generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters that would fool a scan that ignored strings or escapes.
const TRICKY = [',', '{', '}', '[', ']', '"', '\\', ':', ' ', '\n', '\u0000', 'é', '😀', 'a', '\\"', '",'];

function randomString(next: () => number): string {
  let s = '';
  const length = Math.floor(next() * 6);
  for (let i = 0; i < length; i += 1) s += TRICKY[Math.floor(next() * TRICKY.length)];
  return s;
}

function randomValue(next: () => number, depth: number): unknown {
  const pick = next();
  if (depth >= 8 || pick < 0.35) {
    const scalars = [randomString(next), Math.floor(next() * 1000) - 500, next() * 1e6, true, false, null];
    return scalars[Math.floor(next() * scalars.length)];
  }
  const size = Math.floor(next() * 7);
  if (pick < 0.65) return Array.from({ length: size }, () => randomValue(next, depth + 1));
  const object: Record<string, unknown> = {};
  // Keys are distinct: JSON.stringify never repeats one, and the scan counts repeats (see json-scan.ts).
  for (let i = 0; i < size; i += 1) object[`${randomString(next)}#${i}`] = randomValue(next, depth + 1);
  return object;
}

/** The message a check refuses with, or undefined when it accepts. */
function verdict(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof CofferError && err.code === 'bad_request', String(err));
    return err.message;
  }
}

/** Pretty-printed half the time, so whitespace between tokens is covered too. */
const render = (value: unknown, seed: number): string => JSON.stringify(value, null, seed % 2 === 0 ? undefined : 1);

describe('scanJsonShape', () => {
  it('accepts every random document the parsed-value check accepts, and refuses every one it refuses', () => {
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 3000; seed += 1) {
      const next = random(seed);
      const text = render({ data: randomValue(next, 1) }, seed);
      const byCheck = verdict(() => checkShape(JSON.parse(text), LIMITS));
      const byScan = verdict(() => scanJsonShape(text, LIMITS));
      assert.equal(byScan === undefined, byCheck === undefined, `seed ${seed}: scan ${String(byScan)}, check ${String(byCheck)}: ${text}`);
      if (byCheck === undefined) accepted += 1;
      else refused += 1;
    }
    // Both sides of the limits were exercised, not just one.
    assert.ok(accepted > 300 && refused > 300, `${accepted} accepted, ${refused} refused`);
  });

  /** Documents exactly at one limit and one past it, the rest well within, with tricky strings. */
  const atAndPast = (seed: number): Array<[string, (over: boolean) => unknown, string]> => {
    const next = random(seed);
    const s = (): string => randomString(next);
    return [
      ['object entries', (over) => ({ data: Object.fromEntries(Array.from({ length: LIMITS.maxObjectEntries + (over ? 1 : 0) }, (_, i) => [`${s()}${i}`, s()])) }), JSON_LIMIT_MESSAGES.objectEntries],
      ['array elements', (over) => ({ data: Array.from({ length: LIMITS.maxArrayElements + (over ? 1 : 0) }, s) }), JSON_LIMIT_MESSAGES.arrayElements],
      [
        'depth',
        (over) => {
          let value: unknown = s();
          // One container per level, the root being level 1; objects and arrays alternate.
          for (let level = LIMITS.maxDepth + (over ? 1 : 0); level >= 1; level -= 1) value = level % 2 === 0 ? { [s()]: value } : [s(), value];
          return value;
        },
        JSON_LIMIT_MESSAGES.depth,
      ],
      [
        'total values',
        (over) => {
          // The root, 4 arrays of 4 arrays (20 containers) and strings spread over the inner
          // arrays, 4 at most each: every container is within its bounds, the total is not.
          const strings = LIMITS.maxValues - 21 + (over ? 1 : 0);
          const inner = (k: number): string[] => Array.from({ length: Math.min(4, Math.max(0, strings - 4 * k)) }, s);
          const rows = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => inner(i * 4 + j)));
          return { a: rows[0], b: rows[1], c: rows[2], d: rows[3] };
        },
        JSON_LIMIT_MESSAGES.values,
      ],
    ];
  };

  it('refuses documents one past each limit with the same message as the parsed-value check, and accepts them at the limit', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      for (const [name, build, message] of atAndPast(seed)) {
        const at = render(build(false), seed);
        const past = render(build(true), seed);
        assert.equal(verdict(() => checkShape(JSON.parse(at), LIMITS)), undefined, `${name} at the limit, seed ${seed}: ${at}`);
        assert.equal(verdict(() => scanJsonShape(at, LIMITS)), undefined, `${name} at the limit, seed ${seed}: ${at}`);
        assert.equal(verdict(() => checkShape(JSON.parse(past), LIMITS)), message, `${name} past the limit, seed ${seed}: ${past}`);
        assert.equal(verdict(() => scanJsonShape(past, LIMITS)), message, `${name} past the limit, seed ${seed}: ${past}`);
      }
    }
  });

  it('counts a key written twice twice, as Vault does', () => {
    const text = `{${Array.from({ length: LIMITS.maxObjectEntries + 1 }, () => '"a":1').join(',')}}`;
    assert.equal(verdict(() => scanJsonShape(text, LIMITS)), JSON_LIMIT_MESSAGES.objectEntries);
  });

  it('leaves broken JSON within the limits to the parser', () => {
    for (const text of ['{"a":', '}}]]', '{"a":"unterminated', '[1,,2]', ',,,', '{"a\\']) {
      assert.equal(verdict(() => scanJsonShape(text, LIMITS)), undefined, text);
      assert.equal(verdict(() => parseJsonBody(text, LIMITS)), 'failed to parse JSON input: the request body is not valid JSON', text);
    }
  });

  it('refuses a body of 3 million keys under the default limits with the entries message', () => {
    const body = `{"data":{${Array.from({ length: 3_000_000 }, (_, i) => `"${i}":0`).join(',')}}}`;
    assert.equal(verdict(() => parseJsonBody(body, DEFAULT_JSON_LIMITS)), JSON_LIMIT_MESSAGES.objectEntries);
  });
});
