import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { copyValue, createHasher, hmacString, MAX_AUDIT_DEPTH, redactData, redactValue, TRUNCATED_MARKER } from './hmac.js';

const key = Buffer.alloc(32, 7);
const hash = createHasher(key);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

test('renders an HMAC-SHA256 of the string under the key as hmac-sha256:<hex>', () => {
  const expected = createHmac('sha256', key).update('s3cret', 'utf8').digest('hex');
  assert.equal(hmacString(key, 's3cret'), `hmac-sha256:${expected}`);
  assert.match(hash('x'), /^hmac-sha256:[0-9a-f]{64}$/);
});

test('gives different HMACs for the same value under different keys', () => {
  assert.notEqual(hmacString(randomBytes(32), 'same'), hmacString(randomBytes(32), 'same'));
});

test('hashes numbers as their JSON text where asked, everywhere or under one top-level key, and never booleans', () => {
  const input = { n: 42, list: [1.5, true], under: { pin: 1234 } };
  assert.deepEqual(redactData(input, hash, [], { hashNumbersUnder: 'all' }), { n: hash('42'), list: [hash('1.5'), true], under: { pin: hash('1234') } });
  assert.deepEqual(redactData(input, hash, [], { hashNumbersUnder: 'under' }), { n: 42, list: [1.5, true], under: { pin: hash('1234') } });
  assert.deepEqual(redactData(input, hash, ['n'], { hashNumbersUnder: 'all' }), { n: 42, list: [hash('1.5'), true], under: { pin: hash('1234') } }, 'non-HMAC keys stay clear');
});

test('hashes every string at any depth in objects and arrays and keeps numbers, booleans and null', () => {
  const input = { a: 'one', n: 42, f: 1.5, t: true, z: null, list: ['two', 3, false, { deep: ['three'] }], obj: { b: 'four', c: { d: 'five' } } };
  const out = redactData(input, hash);
  assert.deepEqual(out, {
    a: hash('one'),
    n: 42,
    f: 1.5,
    t: true,
    z: null,
    list: [hash('two'), 3, false, { deep: [hash('three')] }],
    obj: { b: hash('four'), c: { d: hash('five') } },
  });
});

test('never mutates or aliases its input', () => {
  const input = deepFreeze({ a: 'one', nested: { b: ['two', { c: 'three' }] } });
  const before = structuredClone(input);
  const out = redactData(input, hash, ['nested']) as { nested: { b: unknown[] } };
  assert.deepEqual(input, before);
  assert.notEqual(out.nested, input.nested);
  assert.notEqual(out.nested.b, input.nested.b);
  assert.deepEqual(out.nested, input.nested);
});

test('leaves clear only the values of listed top-level keys, not nested keys of the same name', () => {
  const input = { ttl: '1h', name: 'n', inner: { ttl: '2h' }, tree: { leaf: 'clear-too' } };
  const out = redactData(input, hash, ['ttl', 'tree']);
  assert.deepEqual(out, { ttl: '1h', name: hash('n'), inner: { ttl: hash('2h') }, tree: { leaf: 'clear-too' } });
});

test('passes null and undefined data through', () => {
  assert.equal(redactData(null, hash), null);
  assert.equal(redactData(undefined, hash), undefined);
});

test('hashes binary values as base64 instead of rendering their bytes as numbers', () => {
  const bytes = Buffer.from('binary-secret');
  const out = redactData({ raw: bytes, view: new Uint8Array(bytes) }, hash) as Record<string, unknown>;
  assert.equal(out['raw'], hash(bytes.toString('base64')));
  assert.equal(out['view'], hash(bytes.toString('base64')));
  assert.ok(!JSON.stringify(out).includes('binary-secret'));
});

test('redacts what JSON would print for values with toJSON, bigints and dropped types', () => {
  const date = new Date(Date.UTC(2026, 0, 2));
  const out = redactData({ when: date, big: 12345678901234567890n, fn: () => 1, list: [undefined, Symbol('s')] }, hash);
  assert.deepEqual(out, { when: hash(date.toISOString()), big: hash('12345678901234567890'), list: [null, null] });
});

test('keeps an own __proto__ key as data without changing the prototype', () => {
  const input = JSON.parse('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>;
  const out = redactData(input, hash) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal((out as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: hash('yes') });
});

test('does not overflow the stack on deeply nested data and truncates below the depth bound', () => {
  const depth = 200_000;
  let nested: unknown = 'bottom-secret';
  for (let i = 0; i < depth; i += 1) nested = i % 2 === 0 ? { k: nested } : [nested];
  const out = redactData({ top: nested }, hash);
  const json = JSON.stringify(out);
  assert.ok(json.includes(TRUNCATED_MARKER));
  assert.ok(!json.includes('bottom-secret'));
  // Walk down to the marker: it sits exactly at the depth bound.
  let cursor: unknown = out;
  let levels = 0;
  while (typeof cursor === 'object' && cursor !== null) {
    cursor = Array.isArray(cursor) ? cursor[0] : Object.values(cursor)[0];
    levels += 1;
  }
  assert.equal(cursor, TRUNCATED_MARKER);
  assert.equal(levels, MAX_AUDIT_DEPTH);
});

test('keeps data shallower than the bound intact', () => {
  let nested: unknown = 'leaf';
  for (let i = 0; i < MAX_AUDIT_DEPTH - 1; i += 1) nested = [nested];
  const out = redactValue(nested, hash);
  assert.ok(!JSON.stringify(out).includes(TRUNCATED_MARKER));
  assert.ok(JSON.stringify(out).includes(hash('leaf')));
});

test('terminates on a cyclic structure', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic['self'] = cyclic;
  const json = JSON.stringify(redactData(cyclic, hash));
  assert.ok(json.includes(TRUNCATED_MARKER));
  assert.ok(!json.includes('loop'));
});

test('copies clear values without hashing them', () => {
  const input = { policies: ['default'], meta: { role: 'web' } };
  const out = copyValue(input);
  assert.deepEqual(out, input);
  assert.notEqual(out, input);
});
