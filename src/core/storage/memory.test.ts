/**
 * Memory storage: the shared conformance suite, plus what is particular to memory.
 * Must never share state between cases: each gets a fresh store.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createMemoryStorage } from './memory.js';
import { runStorageConformance } from './conformance.js';

runStorageConformance('memory', async () => {
  const storage = createMemoryStorage();
  return { storage, cleanup: () => storage.close() };
});

describe('memory storage', () => {
  it('reports its kind as inmem', () => {
    assert.equal(createMemoryStorage().kind, 'inmem');
  });

  it('forgets everything when closed', async () => {
    const storage = createMemoryStorage();
    await storage.put('k', Buffer.from('v'));
    await storage.close();
    assert.equal(await storage.get('k'), undefined);
  });
});
