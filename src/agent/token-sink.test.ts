import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTokenSink, type TokenSink } from './token-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'hvs.agent-token-0123456789';

function sinkAt(path: string) {
  const errors: string[] = [];
  const retries: number[] = [];
  let restored = 0;
  const sink: TokenSink = createTokenSink({
    sink: { path, mode: 0o600 },
    backoff: (attempt) => {
      retries.push(attempt);
      return 5;
    },
    onError: (err) => void errors.push(String(err)),
    onRestored: () => void (restored += 1),
  });
  return { sink, errors, retries, restored: () => restored };
}

const waitFor = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 1000 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(check(), `waited for ${what}`);
};

test('creates the sink directory 0700 when it is missing', async () => {
  const path = join(dir, 'a', 'nested', 'token');
  const { sink } = sinkAt(path);
  await sink.prepare();
  assert.equal(statSync(join(dir, 'a', 'nested')).mode & 0o777, 0o700);
  await sink.write(TOKEN);
  assert.equal(readFileSync(path, 'utf8'), TOKEN);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  sink.stop();
});

test('retries a failed write with the backoff until it succeeds, without the token in any error', async () => {
  const path = join(dir, 'b', 'token');
  const { sink, errors, retries } = sinkAt(path);
  // A file where the directory should be: every write fails until it goes (a missing
  // directory is made again, so that is not a failure).
  writeFileSync(join(dir, 'b'), 'in the way');
  await sink.write(TOKEN);
  await waitFor(() => retries.length >= 3, 'three failed attempts');
  assert.deepEqual(retries.slice(0, 3), [1, 2, 3], 'the backoff grows with each failure');
  rmSync(join(dir, 'b'));
  await waitFor(() => existsSync(path), 'the retried write');
  assert.equal(readFileSync(path, 'utf8'), TOKEN);
  assert.ok(errors.length >= 3 && errors.every((e) => !e.includes(TOKEN)));
  sink.stop();
});

test('check() writes a deleted or edited sink again, and leaves an intact one alone', async () => {
  const path = join(dir, 'c', 'token');
  const { sink, restored } = sinkAt(path);
  await sink.prepare();
  await sink.write(TOKEN);
  await sink.check();
  assert.equal(restored(), 0, 'an intact file is not rewritten');
  unlinkSync(path);
  await sink.check();
  assert.equal(readFileSync(path, 'utf8'), TOKEN);
  writeFileSync(path, 'edited');
  await sink.check();
  assert.equal(readFileSync(path, 'utf8'), TOKEN);
  assert.equal(restored(), 2);
  sink.stop();
});
