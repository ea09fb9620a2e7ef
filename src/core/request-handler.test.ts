/**
 * The request pipeline's audit trail, with real token, policy and router components over memory
 * storage and a recording audit broker: every audited request gets its response entry, including
 * one that fails after its engine answered (a login whose token the core refuses to issue).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditBroker } from './audit/broker.js';
import type { AuditEvent } from './audit/entry.js';
import { systemClock } from './clock.js';
import { isCofferError } from './errors.js';
import { silentLogger } from './logger.js';
import { createPolicyStore } from './policy/store.js';
import { createRequestHandler } from './request-handler.js';
import type { Engine } from './router/engine.js';
import type { MountEntry } from './router/mount-table.js';
import { createRouter } from './router/router.js';
import { createMemoryStorage } from './storage/memory.js';
import { scope } from './storage/view.js';
import { createTokenStore } from './tokens/token-store.js';

/** An auth method whose login names the root policy: the core must refuse the token. */
const rootLogin: Engine = {
  type: 'fake-auth',
  paths: [
    {
      pattern: 'login',
      unauthenticated: true,
      description: 'logs in',
      operations: {
        update: async () => ({ login: { policies: ['root'], displayName: 'intruder', metadata: {}, ttl: 0, maxTtl: 0 } }),
      },
    },
  ],
};

const mount: MountEntry = {
  path: 'auth/fake/',
  type: 'fake-auth',
  description: '',
  uuid: '00000000-0000-4000-8000-000000000001',
  accessor: 'auth_fake_1',
  config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
  options: {},
  local: false,
  seal_wrap: false,
  table: 'auth',
};

test('a login refused after its engine answered is audited with a response entry carrying the error', async () => {
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock: systemClock, defaultTtl: 3600, maxTtl: 7200 });
  await tokens.setup();
  const router = createRouter<MountEntry>();
  router.add(mount, rootLogin);
  const logged: Array<{ type: 'request' | 'response'; event: AuditEvent }> = [];
  const audit = {
    enabled: true,
    logRequest: (event: AuditEvent) => logged.push({ type: 'request', event }),
    logResponse: (event: AuditEvent) => logged.push({ type: 'response', event }),
  } as unknown as AuditBroker;
  const handler = createRequestHandler({
    router,
    leases: { register: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')) },
    events: { publish: () => { throw new Error('unused'); } },
    systemTtl: { defaultSeconds: 3600, maxSeconds: 7200 },
    tokens,
    policies: createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger }),
    audit,
    clock: systemClock,
    logger: silentLogger,
    isSealed: () => false,
  });
  await assert.rejects(
    handler({ requestId: 'req-1', verb: 'write', path: 'auth/fake/login', data: {}, clientToken: undefined, remoteAddress: '127.0.0.1' }),
    (error: unknown) => isCofferError(error) && error.code === 'permission_denied',
  );
  assert.deepEqual(logged.map((entry) => entry.type), ['request', 'response']);
  assert.equal(logged[1]?.event.error, 'permission denied');
  assert.equal(logged[1]?.event.request, logged[0]?.event.request, 'the response entry describes the same request');
});
