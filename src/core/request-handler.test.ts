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
import { CofferError, isCofferError } from './errors.js';
import { silentLogger } from './logger.js';
import { createPolicyStore } from './policy/store.js';
import { createRequestHandler, type RequestHandlerDeps } from './request-handler.js';
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

/** A pipeline over these parts; leases are never used here and events only counted. */
function pipeline(parts: Pick<RequestHandlerDeps, 'router' | 'tokens' | 'policies' | 'audit'> & Partial<Pick<RequestHandlerDeps, 'wrapping'>>) {
  return createRequestHandler({
    leases: { register: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')) },
    events: { publish: () => ({ delivered: 0 }) } as unknown as RequestHandlerDeps['events'],
    systemTtl: { defaultSeconds: 3600, maxSeconds: 7200 },
    clock: systemClock,
    logger: silentLogger,
    isSealed: () => false,
    ...parts,
  });
}

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
  const handler = pipeline({ router, tokens, policies: createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger }), audit });
  await assert.rejects(
    handler({ requestId: 'req-1', verb: 'write', path: 'auth/fake/login', data: {}, clientToken: undefined, remoteAddress: '127.0.0.1' }),
    (error: unknown) => isCofferError(error) && error.code === 'permission_denied',
  );
  assert.deepEqual(logged.map((entry) => entry.type), ['request', 'response']);
  assert.equal(logged[1]?.event.error, 'permission denied');
  assert.equal(logged[1]?.event.request, logged[0]?.event.request, 'the response entry describes the same request');
});

/**
 * A secrets engine whose `item/:name` path counts its existence checks; `split/:name` runs
 * different handlers for create and update.
 */
function existenceFixture(options: { auditEnabled: boolean }) {
  const stored = new Set<string>(['present']);
  let checks = 0;
  const store = async () => null;
  const engine: Engine = {
    type: 'fake-kv',
    paths: [
      {
        pattern: 'item/(?<name>[a-z]+)',
        description: 'items',
        existenceCheck: async (req) => {
          checks += 1;
          return stored.has(req.params['name'] ?? '');
        },
        operations: { create: store, update: store },
      },
      {
        pattern: 'split/(?<name>[a-z]+)',
        description: 'items with a create of their own',
        existenceCheck: async (req) => {
          checks += 1;
          return stored.has(req.params['name'] ?? '');
        },
        operations: { create: async () => ({ data: { ran: 'create' } }), update: async () => ({ data: { ran: 'update' } }) },
      },
    ],
  };
  const secretsMount: MountEntry = { ...mount, path: 'fake/', type: 'fake-kv', uuid: '00000000-0000-4000-8000-000000000002', accessor: 'fake_2', table: 'secrets' };
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock: systemClock, defaultTtl: 3600, maxTtl: 7200 });
  const policies = createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger });
  const router = createRouter<MountEntry>();
  router.add(secretsMount, engine);
  const logged: AuditEvent[] = [];
  const audit = {
    enabled: options.auditEnabled,
    logRequest: (event: AuditEvent) => logged.push(event),
    logResponse: () => undefined,
  } as unknown as AuditBroker;
  const handler = pipeline({ router, tokens, policies, audit });
  const tokenWith = async (capabilities: string[]): Promise<string> => {
    await tokens.setup();
    await policies.setup();
    const name = `p-${capabilities.join('-')}`;
    await policies.put(name, `path "fake/*" { capabilities = ${JSON.stringify(capabilities)} }`);
    return (await tokens.create({ parent: undefined, policies: [name], displayName: 't', path: 'auth/token/create' })).token;
  };
  const write = async (token: string, path: string) =>
    handler({ requestId: `req-${Math.random()}`, verb: 'write', path, data: {}, clientToken: token, remoteAddress: '127.0.0.1' });
  return { tokenWith, write, checks: () => checks, logged };
}

const denied = (error: unknown): boolean => isCofferError(error) && error.code === 'permission_denied';

test('a write under a create-only or update-only policy still asks whether the secret exists', async () => {
  const fixture = existenceFixture({ auditEnabled: false });
  const createOnly = await fixture.tokenWith(['create']);
  await fixture.write(createOnly, 'fake/item/absent');
  await assert.rejects(fixture.write(createOnly, 'fake/item/present'), denied);
  const updateOnly = await fixture.tokenWith(['update']);
  await fixture.write(updateOnly, 'fake/item/present');
  await assert.rejects(fixture.write(updateOnly, 'fake/item/absent'), denied);
  assert.equal(fixture.checks(), 4);
});

test('the existence check is skipped when its answer could change nothing, and asked when it could', async () => {
  const fixture = existenceFixture({ auditEnabled: false });
  const both = await fixture.tokenWith(['create', 'update']);
  await fixture.write(both, 'fake/item/absent');
  await fixture.write(both, 'fake/item/present');
  const neither = await fixture.tokenWith(['read']);
  await assert.rejects(fixture.write(neither, 'fake/item/absent'), denied);
  assert.equal(fixture.checks(), 0, 'the policy answers create and update alike, and one handler serves both');

  // Different handlers: the answer picks which one runs.
  const created = await fixture.write(both, 'fake/split/absent');
  const updated = await fixture.write(both, 'fake/split/present');
  assert.deepEqual([created.response?.data, updated.response?.data], [{ ran: 'create' }, { ran: 'update' }]);
  assert.equal(fixture.checks(), 2);
});

test('with an audit device the existence check runs, so the entry records create or update', async () => {
  const fixture = existenceFixture({ auditEnabled: true });
  const both = await fixture.tokenWith(['create', 'update']);
  await fixture.write(both, 'fake/item/absent');
  await fixture.write(both, 'fake/item/present');
  assert.deepEqual(fixture.logged.map((event) => event.request.operation), ['create', 'update']);
  assert.equal(fixture.checks(), 2);
});

test('a login whose answer cannot be wrapped leaves no token behind: nobody would ever see it', async () => {
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock: systemClock, defaultTtl: 3600, maxTtl: 7200 });
  await tokens.setup();
  const router = createRouter<MountEntry>();
  const userLogin: Engine = {
    type: 'fake-auth',
    paths: [
      {
        pattern: 'login',
        unauthenticated: true,
        description: 'logs in',
        operations: { update: async () => ({ login: { policies: ['default'], displayName: 'user', metadata: {}, ttl: 600, maxTtl: 0 } }) },
      },
    ],
  };
  router.add(mount, userLogin);
  // The wrapping store fails as a full disk would.
  const failingWrapping = { wrap: () => Promise.reject(new Error('storage write failed')) } as unknown as NonNullable<RequestHandlerDeps['wrapping']>;
  const handler = pipeline({
    router,
    tokens,
    policies: createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger }),
    audit: { enabled: false } as unknown as AuditBroker,
    wrapping: failingWrapping,
  });
  const login = { requestId: 'req-w', verb: 'write' as const, path: 'auth/fake/login', data: {}, clientToken: undefined, remoteAddress: '127.0.0.1' };
  const plain = await handler(login);
  assert.ok(plain.response?.auth?.accessor, 'without wrapping the login makes a token');
  await assert.rejects(handler({ ...login, wrapTtl: 60 }), /storage write failed/);
  const live = await tokens.listAccessors();
  assert.deepEqual(live, [plain.response?.auth?.accessor], 'only the unwrapped login token is left');
});

test('an answer whose wrapping fails is withdrawn (the AppRole secret ID it made), and one wrapped is not', async () => {
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock: systemClock, defaultTtl: 3600, maxTtl: 7200 });
  await tokens.setup();
  const router = createRouter<MountEntry>();
  const made: string[] = [];
  const withdrawn: string[] = [];
  const issuer: Engine = {
    type: 'fake-issuer',
    paths: [
      {
        pattern: 'issue',
        description: 'makes something only its answer names',
        operations: {
          update: async () => {
            const id = `thing-${made.length + 1}`;
            made.push(id);
            return { data: { id }, withdraw: async () => void withdrawn.push(id) };
          },
        },
      },
    ],
  };
  router.add({ ...mount, path: 'issuer/', type: 'fake-issuer', uuid: '00000000-0000-4000-8000-000000000002', accessor: 'fake_2', table: 'secrets' }, issuer);
  let wrapFails = true;
  // The wrapping store fails as a full disk would, then recovers.
  const wrapping = {
    wrap: () => (wrapFails ? Promise.reject(new Error('storage write failed')) : Promise.resolve({ info: { token: 'w', accessor: 'a', ttl: 60, creation_time: '', creation_path: 'issuer/issue' }, warnings: [] })),
  } as unknown as NonNullable<RequestHandlerDeps['wrapping']>;
  const handler = pipeline({
    router,
    tokens,
    policies: createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger }),
    audit: { enabled: false } as unknown as AuditBroker,
    wrapping,
  });
  const { token } = await tokens.create({ parent: undefined, policies: ['root'], displayName: 'root', path: 'auth/token/root' });
  const request = { requestId: 'req-i', verb: 'write' as const, path: 'issuer/issue', data: {}, clientToken: token, remoteAddress: '127.0.0.1', wrapTtl: 60 };
  await assert.rejects(handler(request), /storage write failed/);
  assert.deepEqual(withdrawn, ['thing-1']);
  wrapFails = false;
  const wrapped = await handler(request);
  assert.equal(wrapped.response?.wrapInfo?.token, 'w');
  const plain = await handler({ ...request, wrapTtl: undefined });
  assert.deepEqual(plain.response?.data, { id: 'thing-3' });
  assert.deepEqual(withdrawn, ['thing-1'], 'only the answer nobody can ever see is withdrawn');
});

test('a response no audit device can record is withheld, and the token its login made is revoked', async () => {
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock: systemClock, defaultTtl: 3600, maxTtl: 7200 });
  await tokens.setup();
  const login: Engine = {
    type: 'fake-auth',
    paths: [{
      pattern: 'login',
      unauthenticated: true,
      description: 'logs in',
      operations: { update: async () => ({ login: { policies: ['default'], displayName: 'app', metadata: {}, ttl: 600, maxTtl: 600 } }) },
    }],
  };
  const router = createRouter<MountEntry>();
  router.add(mount, login);
  const made: string[] = [];
  const audit = {
    enabled: true,
    logRequest: () => undefined,
    logResponse: (event: AuditEvent) => {
      const accessor = event.response?.auth?.accessor;
      if (typeof accessor === 'string') made.push(accessor);
      // The request line went out; the response line does not (a disk that filled up in between).
      if (event.error === undefined) throw new CofferError('audit_failed', 'no audit backend succeeded in logging the request');
    },
  } as unknown as AuditBroker;
  const handler = pipeline({ router, tokens, policies: createPolicyStore({ storage: scope(storage, 'policy/'), logger: silentLogger }), audit });
  await assert.rejects(
    handler({ requestId: 'req-2', verb: 'write', path: 'auth/fake/login', data: {}, clientToken: undefined, remoteAddress: '127.0.0.1' }),
    (error: unknown) => isCofferError(error) && error.code === 'audit_failed' && /withheld; what the request issued has been revoked/.test(error.message),
  );
  assert.equal(made.length, 1, 'the login made a token');
  assert.equal(await tokens.lookupByAccessor(made[0] as string).catch(() => undefined), undefined, 'which no longer exists');
});
