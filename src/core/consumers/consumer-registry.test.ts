import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../clock.js';
import { createMemoryStorage } from '../storage/memory.js';
import { createConsumerRegistry, MAX_CONSUMERS_PER_PATH, MAX_CONSUMERS_PER_TOKEN, UNKNOWN_CONSUMER_MESSAGE } from './consumer-registry.js';

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

  it('counts silence only while the server takes check-ins: after an unseal each consumer gets one TTL', async () => {
    const clock = createManualClock();
    let servingSince: number | undefined = clock.now();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock, servingSince: () => servingSince });
    const consumer = await registry.register({ path: 'p', ttl: 10, version: 1 });
    // Sealed (or down) for five minutes: nobody could check in, so nobody has expired.
    servingSince = undefined;
    clock.advance(300_000);
    assert.deepEqual((await registry.list('p')).map((v) => [v.id, v.live]), [[consumer.id, true]]);
    // Serving again: the TTL starts now, not at the last check-in.
    servingSince = clock.now();
    clock.advance(9_000);
    assert.equal((await registry.list('p'))[0]?.live, true);
    clock.advance(2_000);
    assert.equal((await registry.list('p'))[0]?.live, false, 'silent for a whole TTL while it could have checked in');
    // Forgotten after ten TTLs of silence counted the same way, not ten TTLs of downtime.
    clock.advance(90_000);
    assert.deepEqual(await registry.list('p'), []);
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

  it('answers a consumer it does not have with exactly the message the SDK registers anew on, and nothing else with it', async () => {
    // The SDK matches this text exactly (src/sdk/consumer.ts): it is a wire contract.
    const unknown = { name: 'CofferError', code: 'bad_request', message: 'unknown consumer: register again' };
    assert.equal(UNKNOWN_CONSUMER_MESSAGE, unknown.message);
    const clock = createManualClock();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock });
    await assert.rejects(registry.checkIn('neverRegistered', 'p', 1, 'owner-a'), unknown);
    const consumer = await registry.register({ path: 'p', owner: 'owner-a' });
    await assert.rejects(registry.checkIn(consumer.id, 'p', 1, 'owner-b'), unknown, 'another token');
    await assert.rejects(registry.deregister(consumer.id, 'p', 'owner-b'), unknown, 'another token');
    await assert.rejects(registry.checkIn(consumer.id, 'other/path', 1, 'owner-a'), unknown, 'another path');
    await registry.deregister(consumer.id, 'p', 'owner-a');
    await assert.rejects(registry.checkIn(consumer.id, 'p', 1, 'owner-a'), unknown, 'deregistered');
    const quiet = await registry.register({ path: 'p', ttl: 1, owner: 'owner-a' });
    clock.advance(11_000);
    assert.deepEqual(await registry.list('p'), [], 'forgotten after 10 x TTL');
    await assert.rejects(registry.checkIn(quiet.id, 'p', 1, 'owner-a'), unknown, 'expired and forgotten');

    const live = await registry.register({ path: 'p', owner: 'owner-a' });
    for (const refused of [registry.checkIn(live.id, 'p', -1, 'owner-a'), registry.checkIn('not-an-id!', 'p', 1, 'owner-a'), registry.checkIn(live.id, '', 1, 'owner-a')]) {
      await assert.rejects(refused, (err: Error & { code?: string }) => err.name === 'CofferError' && err.code === 'bad_request' && err.message !== unknown.message);
    }
  });
  it('does not count as live a consumer whose owner token is gone: it can never check in again, so it holds no rotation up', async () => {
    const clock = createManualClock();
    const alive = new Set(['owner-a', 'owner-b']);
    let asked = 0;
    const registry = createConsumerRegistry({
      storage: createMemoryStorage(),
      clock,
      ownerAlive: async (owner) => {
        asked += 1;
        return alive.has(owner);
      },
    });
    const first = await registry.register({ path: 'p', owner: 'owner-a' });
    const second = await registry.register({ path: 'p', owner: 'owner-a' });
    const other = await registry.register({ path: 'p', owner: 'owner-b' });
    const legacy = await registry.register({ path: 'p' });
    alive.delete('owner-a'); // revoked, or expired after its client logged in again
    asked = 0;
    const live = new Map((await registry.list('p')).map((v) => [v.id, v.live]));
    assert.deepEqual(live, new Map([[first.id, false], [second.id, false], [other.id, true], [legacy.id, true]]));
    assert.equal(asked, 2, 'each owner is looked up once per listing');
  });
  it('caps the registrations of one token for one path, making room from its own silent ones first', async () => {
    const clock = createManualClock();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock });
    for (let i = 0; i < MAX_CONSUMERS_PER_TOKEN; i += 1) await registry.register({ path: 'p', owner: 'flooder', ttl: 60 });
    await assert.rejects(registry.register({ path: 'p', owner: 'flooder' }), /this token already has 100 live consumers registered for this path/);
    // Other tokens and other paths are not affected.
    await registry.register({ path: 'p', owner: 'someone-else' });
    await registry.register({ path: 'q', owner: 'flooder' });
    // Once its registrations stopped checking in, they make room.
    clock.advance(61_000);
    await registry.register({ path: 'p', owner: 'flooder' });
    const listed = await registry.list('p');
    assert.equal(listed.filter((c) => c.owner === 'flooder').length, 1, 'the silent ones were removed');
    assert.equal(listed.filter((c) => c.owner === 'someone-else').length, 1);
  });

  it('caps the registrations of one path in all', async () => {
    const clock = createManualClock();
    assert.equal(MAX_CONSUMERS_PER_PATH, 5_000);
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock, limits: { perToken: MAX_CONSUMERS_PER_TOKEN, perPath: 50 } });
    for (let i = 0; i < 50; i += 1) await registry.register({ path: 'p', owner: `pod-${i}`, ttl: 60 });
    await assert.rejects(registry.register({ path: 'p', owner: 'one-more' }), /this path already has 50 consumers registered/);
    clock.advance(601_000); // past 10 TTLs: listing forgets them
    await registry.register({ path: 'p', owner: 'one-more' });
  });
  it('makes room on a full path from registrations whose token is gone, swept at most every 10 s', async () => {
    const clock = createManualClock();
    const alive = new Set<string>();
    const registry = createConsumerRegistry({ storage: createMemoryStorage(), clock, ownerAlive: async (o) => alive.has(o), limits: { perToken: MAX_CONSUMERS_PER_TOKEN, perPath: 20 } });
    for (let i = 0; i < 20; i += 1) {
      alive.add(`t${i}`);
      await registry.register({ path: 'p', owner: `t${i}`, ttl: 86_400 });
    }
    await assert.rejects(registry.register({ path: 'p', owner: 'new' }), /this path already has 20 consumers registered/);
    for (let i = 0; i < 5; i += 1) alive.delete(`t${i}`); // revoked: they can never check in again
    await assert.rejects(registry.register({ path: 'p', owner: 'new' }), /already has 20/, 'swept 0 s ago: refused without reading every registration again');
    clock.advance(10_000);
    alive.add('new');
    await registry.register({ path: 'p', owner: 'new' });
    assert.equal((await registry.list('p')).length, 16, 'the five dead ones made room');
  });

  it('counts and writes each registration under the path lock, so concurrent ones cannot pass the cap together', async () => {
    const clock = createManualClock();
    const memory = createMemoryStorage();
    // A listing answered a turn after it was taken, so registrations interleave as they can on SQLite.
    const storage = { ...memory, list: async (prefix: string) => { const listed = await memory.list(prefix); await new Promise((resolve) => setImmediate(resolve)); return listed; } } as typeof memory;
    const registry = createConsumerRegistry({ storage, clock });
    const outcomes = await Promise.allSettled(Array.from({ length: 150 }, () => registry.register({ path: 'p', owner: 'one-token' })));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, MAX_CONSUMERS_PER_TOKEN);
  });
});
