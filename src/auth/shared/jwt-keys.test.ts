/**
 * Tests: the remote JWKS key set against a real local HTTP server — caching, the refetch of an
 * unknown kid after the cool-down, the cache's age, and the bounds on a hostile or absent
 * provider (size cap, unreachable).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { remoteKeySet } from './jwt-keys.js';
import { sign, testKey, type TestKey } from '../jwt/jwt-test-keys.js';

let first: TestKey;
let second: TestKey;
let server: Server;
let base: string;
/** What the provider answers at /jwks; a function so a test can stream a huge body. */
let answer: (res: import('node:http').ServerResponse) => void;

before(async () => {
  first = await testKey('RS256', 'k1');
  second = await testKey('ES256', 'k2');
  server = createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const serve = (...keys: TestKey[]) => (res: import('node:http').ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));

const ALGS = ['RS256', 'ES256'];
const CLAIMS = { sub: 'someone' };

function keySetWithClock() {
  const clock = { t: 1_000_000 };
  let fetches = 0;
  const keys = remoteKeySet(`${base}/jwks`, '', { now: () => clock.t, onFetch: () => { fetches += 1; } });
  return { keys, clock, fetches: () => fetches };
}

const code = (error: unknown): string => String((error as { code?: unknown }).code);

test('a token signed by a published key verifies; the set is fetched once and then cached', async () => {
  answer = serve(first);
  const { keys, fetches } = keySetWithClock();
  const token = await sign(first, CLAIMS);
  for (let i = 0; i < 3; i += 1) assert.deepEqual(JSON.parse(Buffer.from(await keys.verify(token, ALGS)).toString()), CLAIMS);
  assert.equal(fetches(), 1);
});

test('a kid the cache lacks is refetched only after the 5 s cool-down, so a rotation costs seconds and a flood one fetch', async () => {
  answer = serve(first);
  const { keys, clock, fetches } = keySetWithClock();
  await keys.verify(await sign(first, CLAIMS), ALGS);
  answer = serve(first, second); // the provider publishes a new key
  const rotated = await sign(second, CLAIMS);
  for (let i = 0; i < 20; i += 1) {
    await assert.rejects(keys.verify(rotated, ALGS), (e) => code(e) === 'ERR_JWKS_NO_MATCHING_KEY');
  }
  assert.equal(fetches(), 1, 'no refetch inside the cool-down, however many unknown kids arrive');
  clock.t += 5_000;
  await keys.verify(rotated, ALGS);
  assert.equal(fetches(), 2);
  await keys.verify(await sign(first, CLAIMS), ALGS);
  assert.equal(fetches(), 2);
});

test('a set older than 10 minutes is fetched again, and a key the provider removed stops verifying', async () => {
  answer = serve(first, second);
  const { keys, clock, fetches } = keySetWithClock();
  const old = await sign(first, CLAIMS);
  await keys.verify(old, ALGS);
  answer = serve(second);
  clock.t += 10 * 60_000 + 1;
  // The stale set answers at once while the fresh one is fetched in the background.
  await keys.verify(old, ALGS);
  assert.equal(fetches(), 2);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await assert.rejects(keys.verify(old, ALGS), (e) => code(e) === 'ERR_JWKS_NO_MATCHING_KEY');
  assert.equal(fetches(), 2);
});

test('a provider that hangs does not stall logins while a stale set is at hand', async () => {
  answer = serve(first);
  const { keys, clock } = keySetWithClock();
  const token = await sign(first, CLAIMS);
  await keys.verify(token, ALGS);
  const hung: Array<import('node:http').ServerResponse> = [];
  answer = (res) => { hung.push(res); res.writeHead(200); res.write('{"keys":['); };
  clock.t += 10 * 60_000 + 1;
  try {
    for (let i = 0; i < 3; i += 1) {
      const started = performance.now();
      await keys.verify(token, ALGS);
      assert.ok(performance.now() - started < 1_000, 'answered from the stale set, not after the fetch');
      clock.t += 6_000;
    }
  } finally {
    for (const res of hung) res.destroy();
  }
});

test('a JWKS larger than 1 MiB, sent without a length, is refused after reading 1 MiB of it', async () => {
  let sent = 0;
  answer = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      while (sent < 8 * 1024 * 1024 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end(']}');
    };
    res.on('close', () => { sent = Infinity; });
    pump();
  };
  const { keys } = keySetWithClock();
  await assert.rejects(keys.verify(await sign(first, CLAIMS), ALGS), (e) => code(e) === 'ERR_JWKS_TOO_LARGE');
});

test('a body that is not a JWKS is refused with its own code, and never echoed', async () => {
  answer = (res) => res.writeHead(200).end('{"keys": "secret-looking-text"}');
  const { keys } = keySetWithClock();
  await assert.rejects(keys.verify(await sign(first, CLAIMS), ALGS), (e) => {
    assert.equal(code(e), 'ERR_JWKS_INVALID');
    assert.doesNotMatch(String((e as Error).message), /secret-looking-text/);
    return true;
  });
});

test('an unreachable provider refuses logins, and is asked again at most once per cool-down', async () => {
  answer = (res) => res.writeHead(503).end();
  const { keys, clock, fetches } = keySetWithClock();
  const token = await sign(first, CLAIMS);
  for (let i = 0; i < 5; i += 1) await assert.rejects(keys.verify(token, ALGS), (e) => code(e) === 'ERR_JWKS_UNREACHABLE');
  assert.equal(fetches(), 1);
  answer = serve(first);
  clock.t += 5_000;
  await keys.verify(token, ALGS);
  assert.equal(fetches(), 2);
});

test('concurrent first logins share one fetch', async () => {
  answer = serve(first);
  const { keys, fetches } = keySetWithClock();
  const token = await sign(first, CLAIMS);
  await Promise.all(Array.from({ length: 10 }, () => keys.verify(token, ALGS)));
  assert.equal(fetches(), 1);
});

test('a stale set is kept while the provider is down (as Vault keeps its keys), and asked again at most once per cool-down', async () => {
  answer = serve(first);
  const { keys, clock, fetches } = keySetWithClock();
  const token = await sign(first, CLAIMS);
  await keys.verify(token, ALGS);
  answer = (res) => res.writeHead(503).end();
  clock.t += 10 * 60_000 + 1;
  for (let i = 0; i < 5; i += 1) await keys.verify(token, ALGS);
  assert.equal(fetches(), 2, 'one failed refresh, then the cool-down');
  clock.t += 5_000;
  await keys.verify(token, ALGS);
  assert.equal(fetches(), 3);
});

test('a token without a kid is tried against each key of its type, as Vault does', async () => {
  const other = await testKey('RS256', 'k3');
  answer = serve(other, first);
  const { keys } = keySetWithClock();
  const noKid = await new SignJWT(CLAIMS).setProtectedHeader({ alg: 'RS256' }).sign(first.privateKey);
  assert.deepEqual(JSON.parse(Buffer.from(await keys.verify(noKid, ALGS)).toString()), CLAIMS);
  const stranger = await testKey('RS256', 'k4');
  const unknown = await new SignJWT(CLAIMS).setProtectedHeader({ alg: 'RS256' }).sign(stranger.privateKey);
  await assert.rejects(keys.verify(unknown, ALGS), (e) => code(e) === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});
