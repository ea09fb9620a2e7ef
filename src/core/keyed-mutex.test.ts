/**
 * Tests: The per-key mutex: ordering, independence of keys, release on error, no leaked keys.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createKeyedMutex } from './keyed-mutex.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('holders of one key run one at a time, in arrival order', async () => {
  const mutex = createKeyedMutex();
  const events: string[] = [];
  const job = (name: string) => mutex.run('k', async () => {
    events.push(`start ${name}`);
    await tick();
    events.push(`end ${name}`);
    return name;
  });
  assert.deepEqual(await Promise.all([job('a'), job('b'), job('c')]), ['a', 'b', 'c']);
  assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('different keys do not wait for each other', async () => {
  const mutex = createKeyedMutex();
  let releaseA!: () => void;
  const a = mutex.run('a', () => new Promise<void>((resolve) => { releaseA = resolve; }));
  await tick();
  let bRan = false;
  await mutex.run('b', async () => { bRan = true; });
  assert.equal(bRan, true);
  releaseA();
  await a;
});

test('a holder that throws releases the key and the error reaches its caller', async () => {
  const mutex = createKeyedMutex();
  await assert.rejects(mutex.run('k', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await mutex.run('k', async () => 'next'), 'next');
});

test('the mutex forgets keys once their queue drains', async () => {
  const mutex = createKeyedMutex();
  await Promise.all(Array.from({ length: 20 }, (_, i) => mutex.run(`k${i % 4}`, tick)));
  assert.equal(mutex.activeKeys, 0);
});
