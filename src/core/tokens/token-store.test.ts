import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../clock.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { PhysicalStorage } from '../storage/storage.js';
import { createTokenStore, type TokenStore } from './token-store.js';

async function setup(): Promise<{ tokens: TokenStore; clock: ReturnType<typeof createManualClock>; physical: PhysicalStorage }> {
  const clock = createManualClock();
  const physical = createMemoryStorage();
  const tokens = createTokenStore({ storage: physical, clock, defaultTtl: 3600, maxTtl: 7200 });
  await tokens.setup();
  return { tokens, clock, physical };
}

async function allBytes(physical: PhysicalStorage, prefix = ''): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const child of await physical.list(prefix)) {
    if (child.endsWith('/')) parts.push(await allBytes(physical, prefix + child));
    else parts.push(Buffer.from(prefix + child), (await physical.get(prefix + child)) ?? Buffer.alloc(0));
  }
  return Buffer.concat(parts);
}

describe('token store', () => {
  it('stores only an HMAC of the token, never the token or the accessor in a key', async () => {
    const { tokens, physical } = await setup();
    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'auth/token/create' });
    assert.match(token, /^hvs\.[0-9A-Za-z]{24}$/);
    assert.notEqual(entry.id, token);
    const bytes = await allBytes(physical);
    assert.equal(bytes.includes(Buffer.from(token)), false);
    const keys = (await physical.list('accessor/')).join(',');
    assert.equal(keys.includes(entry.accessor), false);
    assert.equal((await tokens.lookup(token))?.id, entry.id);
    assert.equal((await tokens.lookupByAccessor(entry.accessor))?.id, entry.id);
  });

  it('finds each token under its own id when lookups alternate, and finds nothing after a reset', async () => {
    const { tokens, clock } = await setup();
    const a = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'a', path: 'auth/token/create' });
    const b = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'b', path: 'auth/token/create' });
    for (const [token, id] of [[a.token, a.entry.id], [a.token, a.entry.id], [b.token, b.entry.id], [a.token, a.entry.id], [b.token, b.entry.id]]) {
      assert.equal((await tokens.lookup(token as string))?.id, id);
    }
    // Same length as a real token, one character changed: never the remembered token's id.
    const near = `${a.token.slice(0, -1)}${a.token.endsWith('x') ? 'y' : 'x'}`;
    assert.equal(await tokens.lookup(a.token).then((e) => e?.id), a.entry.id);
    assert.equal(await tokens.lookup(near), undefined);
    assert.equal(await tokens.lookup(`${a.token}x`), undefined);
    // A sealed store forgets the salt and the last token with it: lookups fail until setup.
    tokens.reset();
    await assert.rejects(tokens.lookup(a.token), /sealed/);
    // Another store (another salt) on other storage: the same token value is unknown there.
    const other = createTokenStore({ storage: createMemoryStorage(), clock, defaultTtl: 3600, maxTtl: 7200 });
    await other.setup();
    assert.equal(await other.lookup(a.token), undefined);
    await tokens.setup();
    assert.equal((await tokens.lookup(a.token))?.id, a.entry.id);
  });

  it('stops accepting a token the moment its TTL passes', async () => {
    const { tokens, clock } = await setup();
    const { token } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'p', ttl: 60 });
    clock.advance(59_999);
    assert.ok(await tokens.lookup(token));
    clock.advance(1);
    assert.equal(await tokens.lookup(token), undefined);
  });

  it('never creates a non-root token that lives forever, even with ttl 0', async () => {
    const { tokens } = await setup();
    const { entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'p', ttl: 0 });
    assert.ok(entry.expireAt > 0);
    assert.equal(tokens.ttlSeconds(entry), 3600);
  });

  it('caps the TTL at the maximum and at explicit_max_ttl', async () => {
    const { tokens } = await setup();
    const big = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 100_000 });
    assert.equal(tokens.ttlSeconds(big.entry), 7200);
    const explicit = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 3000, explicitMaxTtl: 600 });
    assert.equal(tokens.ttlSeconds(explicit.entry), 600);
  });

  it('keeps the own TTL of a child while its parent lives, and ends it the moment an ancestor expires', async () => {
    const { tokens, clock } = await setup();
    const parent = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 100, period: 100 });
    const child = await tokens.create({ parent: parent.entry, policies: ['default'], displayName: 't', path: 'p', ttl: 3000 });
    const grandchild = await tokens.create({ parent: child.entry, policies: ['default'], displayName: 't', path: 'p', ttl: 3000 });
    assert.equal(child.entry.expireAt, parent.entry.expireAt - 100_000 + 3_000_000, 'as Vault: not capped by the parent');
    // The parent is renewed (periodic): its children outlive its first expiry.
    clock.advance(90_000);
    await tokens.renew(parent.entry, undefined);
    clock.advance(90_000);
    assert.ok(await tokens.lookup(child.token));
    assert.ok(await tokens.lookup(grandchild.token));
    // Not renewed again: once it expires, its whole tree stops working at once.
    clock.advance(11_000);
    assert.equal(await tokens.lookup(grandchild.token), undefined);
    assert.equal(await tokens.lookup(child.token), undefined);
    assert.equal(await tokens.lookup(parent.token), undefined);
  });

  it('revokes every descendant with the parent, and only them', async () => {
    const { tokens } = await setup();
    const root = await tokens.create({ parent: undefined, policies: ['root'], displayName: 'root', path: 'p', allowNoExpiry: true });
    const a = await tokens.create({ parent: root.entry, policies: ['default'], displayName: 'a', path: 'p' });
    const b = await tokens.create({ parent: a.entry, policies: ['default'], displayName: 'b', path: 'p' });
    const c = await tokens.create({ parent: b.entry, policies: ['default'], displayName: 'c', path: 'p' });
    const sibling = await tokens.create({ parent: root.entry, policies: ['default'], displayName: 's', path: 'p' });
    const revoked: string[] = [];
    tokens.onRevoke(async (entry) => {
      revoked.push(entry.displayName);
    });
    await tokens.revokeTree(a.entry.id);
    for (const gone of [a, b, c]) assert.equal(await tokens.lookup(gone.token), undefined);
    assert.ok(await tokens.lookup(root.token));
    assert.ok(await tokens.lookup(sibling.token));
    assert.deepEqual(revoked, ['c', 'b', 'a']);
  });

  it('keeps a tree whose revocation a crash cut short dead after the restart, and finishes revoking it', async () => {
    const { tokens, clock, physical } = await setup();
    const parent = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'parent', path: 'p' });
    const kids = [];
    for (let i = 0; i < 3; i += 1) kids.push(await tokens.create({ parent: parent.entry, policies: ['default'], displayName: `kid${i}`, path: 'p' }));
    const bystander = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'other', path: 'p' });
    // The first child's revocation (its leases, say) never ends: the process dies during it.
    let stuck = false;
    tokens.onRevoke(async () => {
      if (stuck) return;
      stuck = true;
      await new Promise<void>(() => undefined);
    });
    void tokens.revokeTree(parent.entry.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(stuck);

    const restarted = createTokenStore({ storage: physical, clock, defaultTtl: 3600, maxTtl: 7200 });
    await restarted.setup();
    for (const t of [parent, ...kids]) assert.equal(await restarted.lookup(t.token), undefined, `${t.entry.displayName} stays dead`);
    assert.ok(await restarted.lookup(bystander.token));
    const revoked: string[] = [];
    restarted.onRevoke(async (entry) => {
      revoked.push(entry.displayName);
    });
    restarted.resumeRevocations();
    for (let i = 0; i < 100 && revoked.length < 4; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(revoked.sort(), ['kid0', 'kid1', 'kid2', 'parent']);
    assert.deepEqual(await physical.list('revoking/'), [], 'the record of the revocation goes with it');
    assert.ok(await restarted.lookup(bystander.token));
  });

  it('does not let a lookup during the revocation commit bring the token back', async () => {
    const clock = createManualClock();
    const physical = createMemoryStorage();
    // A storage whose batches wait until released, like a commit waiting for its fsync.
    let hold: Promise<void> | undefined;
    const slow: PhysicalStorage = { ...physical, batch: async (ops) => { await hold; return physical.batch(ops); } };
    const tokens = createTokenStore({ storage: slow, clock, defaultTtl: 3600, maxTtl: 7200 });
    await tokens.setup();
    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'auth/token/create' });
    let release = (): void => undefined;
    hold = new Promise((resolve) => { release = resolve; });
    const revoking = tokens.revokeTree(entry.id);
    await new Promise((resolve) => setImmediate(resolve));
    // The deletion is not committed yet and the stored entry is still there to be read, but
    // a token being revoked is already dead to lookups.
    assert.equal(await tokens.lookup(token), undefined);
    assert.ok(await physical.get(`id/${entry.id}`), 'the record is still stored while its deletion waits');
    release();
    await revoking;
    assert.equal(await tokens.lookup(token), undefined, 'the token stays revoked once revokeTree returned');
  });

  it('lets concurrent uses spend exactly num_uses, and a stale renewal not bring back a revoked token', async () => {
    const { tokens } = await setup();
    const limited = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'auth/token/create', numUses: 2 });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => tokens.use(limited.entry)));
    const spent = outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<boolean>).value);
    assert.deepEqual(spent.sort(), [false, true], 'two of five concurrent uses get through, the second being the last');
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 3);
    assert.equal(await tokens.lookup(limited.token), undefined, 'a spent token is dead before anyone revoked it');

    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'auth/token/create' });
    await tokens.revokeTree(entry.id);
    await assert.rejects(tokens.renew(entry, 60), /permission denied/);
    assert.equal(await tokens.lookup(token), undefined, 'the renewal did not write the revoked token back');
  });

  it('orphans the children when revoking with revoke-orphan', async () => {
    const { tokens } = await setup();
    const parent = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'p', path: 'p' });
    const child = await tokens.create({ parent: parent.entry, policies: ['default'], displayName: 'c', path: 'p' });
    await tokens.revokeOrphan(parent.entry.id);
    assert.equal(await tokens.lookup(parent.token), undefined);
    const orphan = await tokens.lookup(child.token);
    assert.equal(orphan?.orphan, true);
    assert.equal(orphan?.parent, '');
  });

  it('counts down num_uses and reports the last use', async () => {
    const { tokens } = await setup();
    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', numUses: 2 });
    assert.equal(await tokens.use(entry), false);
    const after = await tokens.lookup(token);
    assert.equal(after?.numUses, 1);
    assert.equal(await tokens.use(after!), true);
  });

  it('renews up to the max TTL and no further', async () => {
    const { tokens, clock } = await setup();
    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 3600 });
    clock.advance(3000_000);
    const renewed = await tokens.renew(entry, 3600);
    assert.equal(tokens.ttlSeconds(renewed.entry), 3600);
    assert.deepEqual(renewed.warnings, []);
    clock.advance(3500_000);
    const capped = await tokens.renew((await tokens.lookup(token))!, 3600);
    // Created at t0 with max 7200 s: at t0+6500 s only 700 s remain.
    assert.equal(tokens.ttlSeconds(capped.entry), 700);
    assert.deepEqual(capped.warnings, ['TTL of "1h0m0s" exceeded the effective max_ttl of "11m40s"; TTL value is capped accordingly']);
    clock.advance(700_000);
    assert.equal(await tokens.lookup(token), undefined);
  });

  it('refuses to renew a token created non-renewable', async () => {
    const { tokens } = await setup();
    const { entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', renewable: false });
    await assert.rejects(tokens.renew(entry, 60), /not renewable/);
  });

  it('sweeps expired tokens (and their children) out of storage', async () => {
    const { tokens, clock, physical } = await setup();
    const short = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 60 });
    const child = await tokens.create({ parent: short.entry, policies: ['default'], displayName: 'c', path: 'p', ttl: 30 });
    const long = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 3600 });
    clock.advance(120_000);
    assert.equal(await tokens.sweepExpired(), 2);
    assert.equal(await physical.get(`id/${short.entry.id}`), undefined);
    assert.equal(await physical.get(`id/${child.entry.id}`), undefined);
    assert.ok(await tokens.lookup(long.token));
  });

  it('keeps tokens across a restart of the store over the same storage', async () => {
    const { tokens, clock, physical } = await setup();
    const { token } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p' });
    const again = createTokenStore({ storage: physical, clock });
    await again.setup();
    assert.ok(await again.lookup(token));
  });

  it('refuses every lookup once reset (sealed)', async () => {
    const { tokens } = await setup();
    const { token } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p' });
    tokens.reset();
    await assert.rejects(tokens.lookup(token), /sealed/);
  });
  it('revokes every child, even one created while its parent was being revoked', async () => {
    const { tokens } = await setup();
    const { entry: parent } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'parent', path: 'auth/token/create' });
    for (let i = 0; i < 50; i++) await tokens.create({ parent, policies: ['default'], displayName: 'child', path: 'auth/token/create' });
    let done = false;
    const minted: string[] = [];
    let refused = 0;
    const revocation = tokens.revokeTree(parent.id).finally(() => { done = true; });
    const creator = async (): Promise<void> => {
      while (!done) {
        try {
          minted.push((await tokens.create({ parent, policies: ['default'], displayName: 'late', path: 'auth/token/create' })).token);
        } catch {
          refused += 1;
        }
      }
    };
    await Promise.all([revocation, creator(), creator(), creator()]);
    assert.ok(refused > 0, 'creations after the revocation started are refused');
    for (const token of minted) assert.equal(await tokens.lookup(token), undefined, 'a child outlived its revoked parent');
    assert.equal(await tokens.lookupById(parent.id), undefined);
  });

  it('lets explicit_max_ttl lower the system maximum but never raise it', async () => {
    const { tokens } = await setup();
    const high = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 360_000_000, explicitMaxTtl: 360_000_000 });
    assert.equal(high.entry.creationTtl, 7200);
    assert.equal(tokens.ttlSeconds(high.entry), 7200);
    const renewed = await tokens.renew(high.entry, 360_000_000);
    assert.ok(tokens.ttlSeconds(renewed.entry) <= 7200);
    const low = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 5000, explicitMaxTtl: 60 });
    assert.equal(low.entry.creationTtl, 60);
    const periodic = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', period: 360_000_000 });
    assert.equal(periodic.entry.creationTtl, 7200, 'a period is capped to the system maximum');
  });

  it('warns as Vault does when a TTL or period is capped at creation, and only then', async () => {
    const { tokens } = await setup();
    const capped = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 36_000_000 });
    assert.equal(capped.entry.creationTtl, 7200);
    assert.deepEqual(capped.warnings, ['TTL of "10000h0m0s" exceeded the effective max_ttl of "2h0m0s"; TTL value is capped accordingly']);
    const explicit = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 5000, explicitMaxTtl: 60 });
    assert.deepEqual(explicit.warnings, ['TTL of "1h23m20s" exceeded the effective max_ttl of "1m0s"; TTL value is capped accordingly']);
    // No TTL asked for: the default is what is capped, as Vault's CalculateTTL does.
    const byDefault = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', explicitMaxTtl: 60 });
    assert.deepEqual(byDefault.warnings, ['TTL of "1h0m0s" exceeded the effective max_ttl of "1m0s"; TTL value is capped accordingly']);
    const periodic = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', period: 36_000 });
    assert.deepEqual(periodic.warnings, ['period of "10h0m0s" exceeded the effective max_ttl of "2h0m0s"; period value is capped accordingly']);
    for (const input of [{ ttl: 7200 }, { ttl: 60, explicitMaxTtl: 60 }, { period: 7200 }, {}]) {
      const fine = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ...input });
      assert.deepEqual(fine.warnings, [], JSON.stringify(input));
    }
    const root = await tokens.create({ parent: undefined, policies: ['root'], displayName: 'root', path: 'auth/token/root', allowNoExpiry: true });
    assert.deepEqual(root.warnings, []);
  });

  it('warns when a renewal is cut short by an explicit max TTL', async () => {
    const { tokens, clock } = await setup();
    const { entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 600, explicitMaxTtl: 1800 });
    clock.advance(500_000);
    const renewed = await tokens.renew(entry, 3600);
    assert.equal(tokens.ttlSeconds(renewed.entry), 1300);
    assert.deepEqual(renewed.warnings, ['TTL of "1h0m0s" exceeded the effective max_ttl of "21m40s"; TTL value is capped accordingly']);
    const within = await tokens.renew(renewed.entry, 600);
    assert.deepEqual(within.warnings, [], 'a renewal inside the limit warns of nothing');
  });
  it('sweeps by the expiry in each entry name, reading only tokens that are due, and still sweeps old-style names', async () => {
    const { tokens, clock, physical } = await setup();
    const soon = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 10 });
    const later = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 50 });
    // A data directory from before: the entry named bucket/id, without its expiry.
    const legacy = await tokens.create({ parent: undefined, policies: ['default'], displayName: 't', path: 'p', ttl: 20 });
    const bucket = String(Math.floor(legacy.entry.expireAt / 60_000)).padStart(13, '0');
    await physical.batch([
      { type: 'delete', key: `expire/${bucket}/${String(legacy.entry.expireAt).padStart(15, '0')}-${legacy.entry.id}` },
      { type: 'put', key: `expire/${bucket}/${legacy.entry.id}`, value: Buffer.alloc(0) },
    ]);
    clock.advance(30_000);
    assert.equal(await tokens.sweepExpired(), 2);
    assert.equal(await tokens.lookup(soon.token), undefined);
    assert.equal(await physical.get(`id/${legacy.entry.id}`), undefined);
    assert.equal(await physical.get(`expire/${bucket}/${legacy.entry.id}`), undefined, 'the old-style name is deleted too');
    assert.ok(await tokens.lookup(later.token));
    assert.equal(await tokens.sweepExpired(), 0);
  });
  it('keeps the children of a token revoked alone working throughout, and lets it gain none meanwhile', async () => {
    const { tokens } = await setup();
    const { entry: parent } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'parent', path: 'p' });
    const children: string[] = [];
    for (let i = 0; i < 50; i++) children.push((await tokens.create({ parent, policies: ['default'], displayName: 'child', path: 'p' })).token);
    let done = false;
    let refusedLookups = 0;
    const late: string[] = [];
    const revocation = tokens.revokeOrphan(parent.id).finally(() => { done = true; });
    const watcher = async (): Promise<void> => {
      while (!done) {
        for (const token of children.slice(0, 5)) if ((await tokens.lookup(token)) === undefined) refusedLookups += 1;
        await tokens.create({ parent, policies: ['default'], displayName: 'late', path: 'p' }).then((t) => late.push(t.token), () => undefined);
      }
    };
    await Promise.all([revocation, watcher()]);
    assert.equal(refusedLookups, 0, 'a child was refused while its parent was revoked alone');
    for (const token of children) assert.equal((await tokens.lookup(token))?.orphan, true);
    for (const token of late) assert.equal((await tokens.lookup(token))?.orphan, true, 'a child created meanwhile became an orphan too');
    assert.equal(await tokens.lookupById(parent.id), undefined);
  });

  it('forgetCached drops an entry changed behind the store, and a lookup in flight across it caches nothing', async () => {
    const clock = createManualClock();
    const physical = createMemoryStorage();
    const tokens = createTokenStore({ storage: physical, clock, defaultTtl: 3600, maxTtl: 7200 });
    await tokens.setup();
    const { token, entry } = await tokens.create({ parent: undefined, policies: ['default'], displayName: 'token', path: 'auth/token/create' });
    assert.equal((await tokens.lookup(token))?.id, entry.id);
    const stored = await physical.get(`id/${entry.id}`);
    // Another process deletes the entry; this store's cache still has it until told.
    await physical.delete(`id/${entry.id}`);
    assert.equal((await tokens.lookup(token))?.id, entry.id, 'served from the cache');
    tokens.forgetCached(entry.id);
    assert.equal(await tokens.lookup(token), undefined);

    // A lookup that read the entry before another process deleted it must not cache it.
    await physical.put(`id/${entry.id}`, stored as Buffer);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const realGet = physical.get.bind(physical);
    physical.get = async (key) => {
      const value = await realGet(key);
      if (key === `id/${entry.id}`) await held;
      return value;
    };
    const inFlight = tokens.lookup(token);
    await new Promise((resolve) => setImmediate(resolve));
    await physical.delete(`id/${entry.id}`);
    tokens.forgetCached(entry.id);
    release();
    assert.equal((await inFlight)?.id, entry.id, 'the lookup itself answers with what it read');
    physical.get = realGet;
    assert.equal(await tokens.lookup(token), undefined, 'but did not cache it');
  });
});
