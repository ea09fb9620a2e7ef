import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumerHandle, ConsumerOptions } from '../sdk/consumer.js';
import { createCheckIns } from './check-ins.js';
import { commonPrefix } from './change-watch.js';

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fakeCoffer(failures: { register: number; checkIn: number }) {
  const calls: string[] = [];
  return {
    calls,
    consumer: async (path: string, options: ConsumerOptions = {}): Promise<ConsumerHandle> => {
      if (failures.register > 0) {
        failures.register -= 1;
        calls.push(`register-failed ${options.version}`);
        throw new Error('connect ECONNREFUSED');
      }
      calls.push(`register ${path} ${options.version} ${options.name}`);
      let version = options.version ?? 0;
      return {
        id: 'c1', path,
        get version() { return version; },
        checkIn: async (v: number) => {
          if (failures.checkIn > 0) {
            failures.checkIn -= 1;
            calls.push(`checkin-failed ${v}`);
            throw new Error('connect ECONNREFUSED');
          }
          version = v;
          calls.push(`checkin ${v}`);
        },
        close: async () => undefined,
      };
    },
  };
}

test('registers once with the first version, then checks in only with higher ones', async () => {
  const coffer = fakeCoffer({ register: 0, checkIn: 0 });
  const errors: unknown[] = [];
  const checkIns = createCheckIns({ coffer, name: 'agent', ttl: 60, backoff: () => 5, onError: (_p, e) => errors.push(e) });
  checkIns.report('database/static-creds/app', 3);
  await settle();
  checkIns.report('database/static-creds/app', 3);
  checkIns.report('database/static-creds/app', 2);
  checkIns.report('database/static-creds/app', 4);
  await settle();
  assert.deepEqual(coffer.calls, ['register database/static-creds/app 3 agent', 'checkin 4']);
  assert.deepEqual([...checkIns.ids()], [['database/static-creds/app', 'c1']]);
  assert.deepEqual([...checkIns.versions()], [['database/static-creds/app', 4]]);
  assert.deepEqual(errors, []);
  checkIns.stop();
});

test('retries a failed registration and check-in with backoff, reporting the newest version', async () => {
  const coffer = fakeCoffer({ register: 2, checkIn: 1 });
  const errors: string[] = [];
  const checkIns = createCheckIns({ coffer, name: 'agent', ttl: 60, backoff: () => 5, onError: (path) => errors.push(path) });
  checkIns.report('p', 1);
  checkIns.report('p', 2);
  await settle(100);
  assert.deepEqual(coffer.calls.slice(0, 3), ['register-failed 1', 'register-failed 2', 'register p 2 agent']);
  checkIns.report('p', 5);
  await settle(100);
  assert.deepEqual(coffer.calls.slice(3), ['checkin-failed 5', 'checkin 5']);
  assert.equal(errors.length, 3);
  assert.equal(checkIns.versions().get('p'), 5);
  checkIns.stop();
});

test('one watch covers every path: the longest common prefix', () => {
  assert.equal(commonPrefix(['secret/data/app/a', 'secret/data/app/b']), 'secret/data/app/');
  assert.equal(commonPrefix(['secret/data/app', 'database/static-creds/app']), '');
  assert.equal(commonPrefix(['one/path']), 'one/path');
  assert.equal(commonPrefix([]), '');
});
