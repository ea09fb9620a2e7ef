import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferBadRequestError, CofferConnectionError, createRedactor } from './errors.js';
import { appRoleLogin } from './login.js';
import { createManualTimers } from './manual-timers.js';
import { createScheduler } from './scheduler.js';
import { createTokenManager, type Requester } from './token-manager.js';
import type { RawResponse } from './transport.js';

interface Call {
  method: string;
  path: string;
  body: unknown;
  token: string | null | undefined;
}

/** A server stand-in: logins hand out t1, t2...; renewals answer from `renewals` in turn. */
function fakeServer(options: { ttl: number; renewals: Array<number | Error>; loginTtl?: number; renewable?: boolean; loginFailsAfter?: number }) {
  const calls: Call[] = [];
  let logins = 0;
  const request: Requester = async (method, path, req = {}): Promise<RawResponse> => {
    calls.push({ method, path, body: req.body, token: req.token });
    const auth = (token: string, ttl: number) => ({
      status: 200,
      body: { auth: { client_token: token, accessor: `acc-${token}`, policies: ['default', 'app'], metadata: { role_name: 'app' }, lease_duration: ttl, renewable: options.renewable ?? true } },
    });
    if (path.endsWith('/login')) {
      logins += 1;
      if (options.loginFailsAfter !== undefined && logins > options.loginFailsAfter) throw new Error('503 service unavailable');
      return auth(`token-number-${logins}`, options.loginTtl ?? options.ttl);
    }
    if (path === 'auth/token/lookup-self') {
      return { status: 200, body: { data: { accessor: 'acc-given', policies: ['default'], ttl: 20, creation_ttl: 30, renewable: true, meta: null } } };
    }
    if (path === 'auth/token/renew-self') {
      const next = options.renewals.shift();
      if (next === undefined) throw new Error('unexpected renewal');
      if (next instanceof Error) throw next;
      return auth(req.token as string, next);
    }
    throw new Error(`unexpected ${method} ${path}`);
  };
  return { calls, request };
}

const setup = (server: ReturnType<typeof fakeServer>) => {
  const timers = createManualTimers();
  const errors: unknown[] = [];
  const scheduler = createScheduler((err) => errors.push(err), timers);
  const renewed: number[] = [];
  const manager = createTokenManager(undefined, {
    request: server.request,
    scheduler,
    redactor: createRedactor(),
    onError: (err) => errors.push(err),
    onRenew: (info) => renewed.push(info.leaseDuration),
  });
  return { timers, errors, manager, renewed, scheduler };
};

const method = appRoleLogin({ roleId: 'role-id-1', secretId: 'secret-id-value-1' });

describe('token manager', () => {
  it('renews a login token at about two thirds of its TTL, asking for the original TTL each time', async () => {
    const server = fakeServer({ ttl: 30, renewals: [30, 30] });
    const { timers, manager, renewed } = setup(server);
    const info = await manager.login(method);
    assert.deepEqual(info, { accessor: 'acc-token-number-1', policies: ['default', 'app'], leaseDuration: 30, renewable: true, metadata: { role_name: 'app' }, method: 'approle' });
    assert.equal(manager.current(), 'token-number-1');
    await timers.advance(17_000);
    assert.equal(renewed.length, 0, 'not before 60 % of the TTL');
    await timers.advance(4_500);
    assert.deepEqual(renewed, [30]);
    const renewal = server.calls.find((c) => c.path === 'auth/token/renew-self');
    assert.deepEqual(renewal?.body, { increment: 30 });
    assert.equal(renewal?.token, 'token-number-1');
    await timers.advance(21_000);
    assert.deepEqual(renewed, [30, 30]);
  });

  it('logs in again, before the token ends, once renewal is capped by the max TTL', async () => {
    const server = fakeServer({ ttl: 30, renewals: [12] });
    const { timers, manager, renewed } = setup(server);
    let relogins = 0;
    manager.onRelogin(() => relogins++);
    await manager.login(method);
    await timers.advance(21_000);
    assert.deepEqual(renewed, [12], 'the capped renewal is reported');
    assert.equal(manager.current(), 'token-number-1');
    // 12 s were left after the capped renewal: the re-login comes within them (at about 8 s).
    await timers.advance(11_000);
    assert.equal(manager.current(), 'token-number-2');
    assert.equal(relogins, 1);
    assert.equal(server.calls.filter((c) => c.path === 'auth/token/renew-self').length, 1, 'no second renewal of the capped token');
    const login = server.calls.filter((c) => c.path === 'auth/approle/login');
    assert.equal(login.length, 2);
    assert.equal(login[1]?.token, null, 'a login sends no token');
  });

  it('logs in again when the server refuses to renew the token', async () => {
    const refused = new CofferBadRequestError('refused', { status: 400, errors: ['past the max TTL, cannot renew'], method: 'POST', path: 'auth/token/renew-self' });
    const server = fakeServer({ ttl: 30, renewals: [refused] });
    const { timers, manager, errors } = setup(server);
    await manager.login(method);
    await timers.advance(21_000);
    assert.equal(manager.current(), 'token-number-2');
    assert.deepEqual(errors, [refused]);
  });

  it('retries a renewal that failed for a network reason, within the remaining TTL', async () => {
    const down = new CofferConnectionError('cannot reach the server at http://x: ECONNREFUSED', 'ECONNREFUSED');
    const server = fakeServer({ ttl: 30, renewals: [down, 30] });
    const { timers, manager, renewed, errors } = setup(server);
    await manager.login(method);
    // The renewal fails at 18–21 s; its first retry comes 2 s ± 20 % later, by 23.4 s.
    await timers.advance(24_000);
    assert.equal(errors.length, 1);
    assert.equal(server.calls.filter((c) => c.path === 'auth/token/renew-self').length, 2, 'one failed renewal, one retry');
    assert.deepEqual(renewed, [30], 'the retry renewed it');
    assert.equal(manager.current(), 'token-number-1', 'no re-login was needed');
  });

  it('stops when the token is not renewable and the method may not log in again', async () => {
    const server = fakeServer({ ttl: 30, renewals: [], renewable: false });
    const { timers, manager } = setup(server);
    await manager.login(appRoleLogin({ roleId: 'r', secretId: 'single-use-secret', relogin: false }));
    await timers.advance(60_000);
    assert.deepEqual(timers.pending(), []);
    assert.equal(server.calls.length, 1, 'only the first login');
  });

  it('logs in again before a request when the held token has expired', async () => {
    const server = fakeServer({ ttl: 10, renewals: [] });
    const { timers, manager, scheduler } = setup(server);
    await manager.login(method);
    // Simulate a process that slept through its timers (a suspended laptop, a paused container).
    scheduler.stop();
    await timers.advance(11_000);
    assert.equal(await manager.forRequest(), 'token-number-2');
  });

  it('backs off re-logins once the token has expired and the server refuses them, in the background and per request', async () => {
    const server = fakeServer({ ttl: 10, renewals: [], renewable: false, loginFailsAfter: 1 });
    const { timers, manager } = setup(server);
    await manager.login(method);
    await timers.advance(12_000);
    const loginsAtExpiry = server.calls.filter((c) => c.path.endsWith('/login')).length;
    for (let i = 0; i < 20; i += 1) {
      await manager.forRequest();
      await timers.advance(50);
    }
    await timers.advance(120_000);
    const logins = server.calls.filter((c) => c.path.endsWith('/login')).length - loginsAtExpiry;
    // Backoff doubling to 30 s (±20 %): a handful in two minutes, not one every 250 ms (480).
    // Two minutes, not one: the retries before expiry may already have reached the 24-36 s cap.
    assert.ok(logins <= 12, `${logins} logins in the two minutes after expiry`);
    assert.ok(logins >= 2, `it keeps trying (${logins} logins in two minutes)`);
  });

  it('renews a supplied token from its remaining TTL, asking for its creation TTL', async () => {
    const server = fakeServer({ ttl: 30, renewals: [30] });
    const { timers, manager, renewed } = setup(server);
    manager.set('given-token-value');
    const info = await manager.manage();
    assert.equal(info.leaseDuration, 20);
    assert.equal(info.method, 'token');
    await timers.advance(14_500);
    assert.deepEqual(renewed, [30], 'renewed within 2/3 of the 20 s left');
    const renewal = server.calls.find((c) => c.path === 'auth/token/renew-self');
    assert.deepEqual(renewal?.body, { increment: 30 });
    assert.equal(renewal?.token, 'given-token-value');
  });
});
