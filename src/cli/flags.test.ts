/** Unit tests of the Vault-style flag parser: forms of flags, booleans, lists, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFlags, FlagError, parseFlags } from './flags.js';

const specs = {
  address: { kind: 'string' },
  'key-shares': { kind: 'int' },
  orphan: { kind: 'boolean' },
  renewable: { kind: 'boolean', default: true },
  policy: { kind: 'list' },
} as const;

test('accepts single-dash and double-dash flags, with = or a separate value', () => {
  const a = parseFlags(['-address=http://a:1', '--key-shares', '7'], specs);
  assert.equal(a.flags.address, 'http://a:1');
  assert.equal(a.flags['key-shares'], 7);
  const b = parseFlags(['--address=http://b:2', '-key-shares=3'], specs);
  assert.equal(b.flags.address, 'http://b:2');
  assert.equal(b.flags['key-shares'], 3);
});

test('keeps everything after the first "=" as the value', () => {
  const r = parseFlags(['-policy=a=b=c'], specs);
  assert.deepEqual(r.flags.policy, ['a=b=c']);
});

test('a boolean flag alone is true and does not consume the next argument', () => {
  const r = parseFlags(['-orphan', 'secret/foo'], specs);
  assert.equal(r.flags.orphan, true);
  assert.deepEqual(r.positionals, ['secret/foo']);
});

test('booleans accept =true and =false and keep their default when absent', () => {
  assert.equal(parseFlags([], specs).flags.renewable, true);
  assert.equal(parseFlags(['-renewable=false'], specs).flags.renewable, false);
  assert.equal(parseFlags(['-orphan=true'], specs).flags.orphan, true);
  assert.equal(parseFlags([], specs).flags.orphan, false);
  assert.throws(() => parseFlags(['-orphan=maybe'], specs), FlagError);
});

test('records which flags were given so defaults can be told apart', () => {
  const r = parseFlags(['-renewable=true'], specs);
  assert.ok(r.given.has('renewable'));
  assert.ok(!parseFlags([], specs).given.has('renewable'));
});

test('collects repeatable list flags in order', () => {
  const r = parseFlags(['-policy=a', '-policy', 'b', '--policy=c'], specs);
  assert.deepEqual(r.flags.policy, ['a', 'b', 'c']);
});

test('flags may come before, between and after positional arguments', () => {
  const r = parseFlags(['-orphan', 'one', '-key-shares=2', 'two', '-address', 'x'], specs);
  assert.deepEqual(r.positionals, ['one', 'two']);
  assert.equal(r.flags['key-shares'], 2);
  assert.equal(r.flags.address, 'x');
});

test('a lone "-" is a positional (standard input), and "--" ends flag parsing', () => {
  const r = parseFlags(['-', '--', '-orphan', '-x'], specs);
  assert.deepEqual(r.positionals, ['-', '-orphan', '-x']);
  assert.equal(r.flags.orphan, false);
});

test('stopAtFirstPositional leaves later dash arguments to the positional list', () => {
  const r = parseFlags(['-orphan', 'env', '-i', '--foo'], specs, { stopAtFirstPositional: true });
  assert.equal(r.flags.orphan, true);
  assert.deepEqual(r.positionals, ['env', '-i', '--foo']);
});

test('rejects unknown flags, missing values and non-integers without echoing the value', () => {
  assert.throws(() => parseFlags(['-nope'], specs), /flag provided but not defined: -nope/);
  assert.throws(() => parseFlags(['-address'], specs), /flag needs an argument: -address/);
  assert.throws(
    () => parseFlags(['-key-shares=s3cr3t-value'], specs),
    (err: Error) => err instanceof FlagError && /must be an integer/.test(err.message) && !err.message.includes('s3cr3t'),
  );
});

test('recognises -h, -help and --help', () => {
  assert.equal(parseFlags(['-h'], specs).help, true);
  assert.equal(parseFlags(['--help'], specs).help, true);
  assert.equal(parseFlags(['x'], specs).help, false);
});

test('describes flags for usage text', () => {
  const text = describeFlags({ 'key-shares': { kind: 'int', usage: 'Shares.' }, orphan: { kind: 'boolean', usage: 'No parent.' } });
  assert.match(text, /-key-shares=<int>\s+Shares\./);
  assert.match(text, /-orphan\s+No parent\./);
});
