import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCofferError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { MountEntry } from '../../core/router/mount-table.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import { createAwsMountEnsurer, createAwsMountMarker } from './mount.js';

/** A mount table with or without aws/, counting the enable calls. */
function table(hasAws: boolean) {
  let aws: Partial<MountEntry> | undefined = hasAws ? { path: 'aws/', type: 'kv', options: { version: '2' } } : undefined;
  let enables = 0;
  const mounts = {
    get: (_kind: string, path: string) => (path === 'aws/' ? (aws as MountEntry | undefined) : undefined),
    enable: async () => {
      enables += 1;
      aws = { path: 'aws/', type: 'kv', options: { version: '2' } };
      return aws as MountEntry;
    },
  };
  return { mounts, enables: () => enables, drop: () => void (aws = undefined) };
}

test('a data directory from before aws/ came with the first start gets it once, at its first AWS request', async () => {
  const storage = createMemoryStorage();
  const t = table(false);
  const ensure = createAwsMountEnsurer(t.mounts as never, createAwsMountMarker(storage), silentLogger);
  await Promise.all([ensure(), ensure()]);
  assert.equal(t.enables(), 1, 'concurrent first requests share one enable');
  // Disabled later: it stays disabled, for this process and the next.
  t.drop();
  await assert.rejects(ensure(), (e: unknown) => isCofferError(e) && /not enabled/.test(e.message));
  const restarted = createAwsMountEnsurer(t.mounts as never, createAwsMountMarker(storage), silentLogger);
  await assert.rejects(restarted(), /not enabled/);
  assert.equal(t.enables(), 1);
});

test('an aws/ seen once, or disabled before any AWS request, is never made again', async () => {
  const seen = createMemoryStorage();
  const t = table(true);
  await createAwsMountEnsurer(t.mounts as never, createAwsMountMarker(seen), silentLogger)();
  t.drop();
  await assert.rejects(createAwsMountEnsurer(t.mounts as never, createAwsMountMarker(seen), silentLogger)(), /not enabled/);

  const disabled = createMemoryStorage();
  await createAwsMountMarker(disabled).set();
  const none = table(false);
  await assert.rejects(createAwsMountEnsurer(none.mounts as never, createAwsMountMarker(disabled), silentLogger)(), /not enabled/);
  assert.equal(none.enables(), 0);
});
