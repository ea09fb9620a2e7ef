/** Unit tests of KEY=VALUE argument parsing: files, stdin, repeats, and errors that never echo values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors.js';
import { parseDataArgs, parseStringMap } from './kv-pairs.js';

const noStdin = { readStdin: async (): Promise<string> => assert.fail('stdin should not be read') };

test('parses key=value pairs, keeping "=" inside values', async () => {
  assert.deepEqual(await parseDataArgs(['a=1', 'b=x=y', 'c='], noStdin), { a: '1', b: 'x=y', c: '' });
});

test('reads a value from a file with @path, byte for byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  try {
    const file = path.join(dir, 'cert.pem');
    fs.writeFileSync(file, 'line1\nline2\n');
    assert.deepEqual(await parseDataArgs([`cert=@${file}`], noStdin), { cert: 'line1\nline2\n' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing @file is an error naming the key and file but not any value', async () => {
  await assert.rejects(parseDataArgs(['k=@/nonexistent/coffer-x', 'pw=hunter22'], noStdin), (err: Error) => {
    assert.ok(err instanceof CliError);
    assert.match(err.message, /"k"/);
    assert.match(err.message, /ENOENT/);
    assert.ok(!err.message.includes('hunter22'));
    return true;
  });
});

test('reads a value from stdin with "-", and only once', async () => {
  let reads = 0;
  const stdin = { readStdin: async () => { reads++; return 'from-stdin'; } };
  assert.deepEqual(await parseDataArgs(['k=-'], stdin), { k: 'from-stdin' });
  assert.equal(reads, 1);
  await assert.rejects(parseDataArgs(['a=-', 'b=-'], stdin), /only be read once/);
});

test('a lone "-" reads a JSON object from stdin', async () => {
  const stdin = { readStdin: async () => '{"a":1,"b":{"c":true}}' };
  assert.deepEqual(await parseDataArgs(['-'], stdin), { a: 1, b: { c: true } });
  await assert.rejects(parseDataArgs(['-'], { readStdin: async () => '[1,2]' }), /JSON object/);
  await assert.rejects(parseDataArgs(['-'], { readStdin: async () => 'nope' }), /not valid JSON/);
});

test('a bare @file or "-" is a JSON object merged with the other arguments, in order (as Vault)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  try {
    const file = path.join(dir, 'data.json');
    fs.writeFileSync(file, '{"a":"from-file","b":{"n":1},"__proto__":"plain"}');
    const parsed = await parseDataArgs(['a=first', `@${file}`, 'c=3'], noStdin);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed)), JSON.parse('{"a":"from-file","b":{"n":1},"__proto__":"plain","c":"3"}'));
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype, 'a "__proto__" key stays a plain key');
    const stdin = { readStdin: async () => '{"x":"y"}' };
    assert.deepEqual(await parseDataArgs(['-', 'z=1'], stdin), { x: 'y', z: '1' });
    fs.writeFileSync(file, '["not","an","object"] hunter22');
    await assert.rejects(parseDataArgs([`@${file}`], noStdin), (err: Error) => /is not valid JSON/.test(err.message) && !err.message.includes('hunter22'));
    await assert.rejects(parseDataArgs(['@/nonexistent/coffer-x'], noStdin), (err: Error) => /argument 1 starts with "@".*\(ENOENT\)/.test(err.message) && !err.message.includes('coffer-x'));
    // A secret that happens to start with "@" is not echoed when it names no file.
    await assert.rejects(parseDataArgs(['password=@x9!Kq7#pLm2'], noStdin), (err: Error) =>
      /the value of key "password" starts with "@".*\(ENOENT\); write \\@ for a value/.test(err.message) && !err.message.includes('x9!Kq7'));
    assert.deepEqual(await parseDataArgs(['password=\\@x9!Kq7'], noStdin), { password: '@x9!Kq7' });
    fs.writeFileSync(file, '{"a":{"b":[1,1e400]}}');
    await assert.rejects(parseDataArgs([`@${file}`], noStdin), /holds a number out of range/);
    fs.writeFileSync(file, '{"id":12345678901234567890}');
    await assert.rejects(parseDataArgs([`@${file}`], noStdin), (err: Error) => /cannot be stored exactly; send it as a string/.test(err.message) && !err.message.includes('1234567890'));
    fs.writeFileSync(file, '{"id":9007199254740992}');
    assert.deepEqual(await parseDataArgs([`@${file}`], noStdin), { id: 9007199254740992 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('"\\@" gives a literal leading "@"', async () => {
  assert.deepEqual(await parseDataArgs(['handle=\\@coffer'], noStdin), { handle: '@coffer' });
});

test('repeated keys become a list', async () => {
  assert.deepEqual(await parseDataArgs(['k=a', 'k=b', 'k=c'], noStdin), { k: ['a', 'b', 'c'] });
});

test('an argument without "=" is rejected without echoing it', async () => {
  await assert.rejects(parseDataArgs(['ok=1', 'topsecretvalue'], noStdin), (err: Error) => {
    assert.match(err.message, /argument 2: expected key=value/);
    assert.ok(!err.message.includes('topsecretvalue'));
    return true;
  });
  await assert.rejects(parseDataArgs(['=v'], noStdin), /expected key=value/);
});

test('parseStringMap splits repeatable k=v flag values at the first "="', () => {
  assert.deepEqual(parseStringMap(['team=a', 'url=http://x?a=b'], 'metadata'), { team: 'a', url: 'http://x?a=b' });
  assert.throws(() => parseStringMap(['novalue'], 'metadata'), /invalid -metadata/);
});

test('keys named after Object.prototype members are plain keys, and "__proto__" is sent, not swallowed', async () => {
  const data = await parseDataArgs(['constructor=foo', 'toString=bar', 'valueOf=baz', 'hasOwnProperty=q', '__proto__=p', 'normal=x'], noStdin);
  assert.equal(JSON.stringify(data), '{"constructor":"foo","toString":"bar","valueOf":"baz","hasOwnProperty":"q","__proto__":"p","normal":"x"}');
  assert.equal(Object.getPrototypeOf(data), Object.prototype);
  assert.deepEqual(await parseDataArgs(['constructor=a', 'constructor=b'], noStdin), { constructor: ['a', 'b'] });
  const map = parseStringMap(['__proto__=x', 'owner=me', 'toString=y'], 'custom-metadata');
  assert.equal(JSON.stringify(map), '{"__proto__":"x","owner":"me","toString":"y"}');
});
