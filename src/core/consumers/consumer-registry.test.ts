import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../clock.js';
import { createMemoryStorage } from '../storage/memory.js';
import { createConsumerRegistry } from './consumer-registry.js';

describe('consumer registry', () => {
  it('marks a consumer dead once it stops checking in for its TTL, and forgets it later', async () => {
    const clock = createManualClock();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock });
    const a = await registry.register({ path: 'db/static-creds/app', ttl: 10 });
    const b = await registry.register({ path: 'db/static-creds/app', ttl: 10 });
    clock.advance(8_000);
    await registry.checkIn(a.id, 'db/static-creds/app', 3);
    clock.advance(5_000);
    const views = await registry.list('db/static-creds/app');
    const byId = new Map(views.map((v) => [v.id, [v.version, v.live]]));
    assert.deepEqual(byId, new Map([[a.id, [3, true]], [b.id, [0, false]]]));
    clock.advance(200_000);
    assert.deepEqual(await registry.list('db/static-creds/app'), []);
  });

  it('remembers since when a consumer holds its version', async () => {
    const clock = createManualClock();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock });
    const consumer = await registry.register({ path: 'p', version: 1 });
    clock.advance(1000);
    const same = await registry.checkIn(consumer.id, 'p', 1);
    assert.equal(same.versionSince, consumer.versionSince);
    clock.advance(1000);
    const moved = await registry.checkIn(consumer.id, 'p', 2);
    assert.equal(moved.versionSince, clock.now());
  });

  it('refuses unknown consumers and bad input', async () => {
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock: createManualClock() });
    await assert.rejects(registry.checkIn('nope', 'p', 1), /unknown consumer/);
    await assert.rejects(registry.register({ path: '', ttl: 5 }), /path/);
    await assert.rejects(registry.register({ path: 'p', ttl: 0 }), /ttl/);
    const consumer = await registry.register({ path: 'p' });
    await assert.rejects(registry.checkIn(consumer.id, 'p', -1), /version/);
    await assert.rejects(registry.checkIn(consumer.id, 'other', 1), /unknown consumer/);
  });
});
