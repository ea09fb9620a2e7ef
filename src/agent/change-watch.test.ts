import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Coffer } from '../sdk/coffer.js';
import type { Subscription, WatchOptions } from '../sdk/watch.js';
import { createChangeWatch } from './change-watch.js';

test('tells the agent each time the stream (re)connects, so leases that ended meanwhile are replaced', () => {
  const opened: WatchOptions[] = [];
  const coffer: Pick<Coffer, 'watch'> = {
    watch: (_prefix, _handler, options = {}) => {
      opened.push(options);
      return Object.assign(() => undefined, { ready: Promise.resolve(), mode: 'sse' as const }) as Subscription;
    },
  };
  let connected = 0;
  const changes = createChangeWatch({
    coffer,
    paths: ['database/creds/app'],
    onChange: () => undefined,
    onReset: () => undefined,
    onUnavailable: () => undefined,
    onInterrupted: () => undefined,
    onConnected: () => void (connected += 1),
  });
  changes.restart();
  assert.equal(opened.length, 1);
  opened[0]?.onOpen?.();
  opened[0]?.onOpen?.();
  assert.equal(connected, 2);
  changes.stop();
});

test('a restart resumes where the old stream stood, even when it delivered no event', () => {
  const opened: WatchOptions[] = [];
  const positions = [17, undefined];
  const coffer: Pick<Coffer, 'watch'> = {
    watch: (_prefix, _handler, options = {}) => {
      opened.push(options);
      return Object.assign(() => undefined, { ready: Promise.resolve(), mode: 'sse' as const, position: positions.shift() }) as Subscription;
    },
  };
  const changes = createChangeWatch({
    coffer,
    paths: ['secret/data/app'],
    onChange: () => undefined,
    onReset: () => undefined,
    onUnavailable: () => undefined,
    onInterrupted: () => undefined,
  });
  changes.restart();
  changes.restart();
  assert.equal(opened[0]?.after, undefined);
  assert.equal(opened[1]?.after, 17, 'the server said the first stream began at 17');
  changes.stop();
});
