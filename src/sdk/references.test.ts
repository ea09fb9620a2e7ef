import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvAssignment, parseEnvTemplate, parseReference, referencedPaths, referenceValue, renderEnv } from './references.js';

describe('secret references and environment templates', () => {
  it('splits PATH#FIELD at the last # and cleans the path', () => {
    assert.deepEqual(parseReference(' /secret/data/app#api_key '), { path: 'secret/data/app', field: 'api_key' });
    assert.deepEqual(parseReference('v1/database/creds/app'), { path: 'database/creds/app', field: undefined });
    assert.throws(() => parseReference('secret/data/app#'), /field after "#" is empty/);
    assert.throws(() => parseReference('secret/../sys/raw#x'), /invalid secret reference/);
  });

  it('parses -env assignments and refuses names that are not variable names', () => {
    assert.deepEqual(parseEnvAssignment('DB_PASSWORD=database/static-creds/app#password'), {
      name: 'DB_PASSWORD',
      parts: [{ ref: { path: 'database/static-creds/app', field: 'password' } }],
    });
    assert.throws(() => parseEnvAssignment('1BAD=secret/data/x#y'), /invalid -env/);
    assert.throws(() => parseEnvAssignment('secret/data/x#y'), /invalid -env/);
  });

  it('renders a template mixing text and placeholders, with comments, export and quotes', () => {
    const entries = parseEnvTemplate([
      '# database',
      '',
      'export DB_USER={{ database/creds/app#username }}',
      'DATABASE_URL="postgres://{{database/creds/app#username}}:{{ database/creds/app#password }}@db:5432/app"',
      "LOG_LEVEL='info'",
      'API_KEY={{ secret/data/app#key }}',
    ].join('\n'));
    assert.deepEqual(referencedPaths(entries), ['database/creds/app', 'secret/data/app']);
    const secrets: Record<string, Record<string, unknown>> = {
      'database/creds/app': { username: 'v-app-1', password: 'p@ss' },
      'secret/data/app': { key: 42 },
    };
    const env = renderEnv(entries, (ref) => referenceValue(secrets[ref.path] ?? {}, ref));
    assert.deepEqual(env, {
      DB_USER: 'v-app-1',
      DATABASE_URL: 'postgres://v-app-1:p@ss@db:5432/app',
      LOG_LEVEL: 'info',
      API_KEY: '42',
    });
  });

  it('reports template mistakes by line number without quoting the line', () => {
    assert.throws(() => parseEnvTemplate('A=ok\nB={{ secret/data/x#y\n'), (err: Error) => err.message === 'template line 2: "{{" without a closing "}}"');
    assert.throws(() => parseEnvTemplate('A={{ ../x#y }} literal-value-s3cret\n'), (err: Error) => /line 1/.test(err.message) && !err.message.includes('s3cret'));
    assert.throws(() => parseEnvTemplate('no equals sign here'), /template line 1: expected NAME=VALUE/);
  });

  it('keeps a }} outside a placeholder as text, so JSON values with nested objects work', () => {
    const entries = parseEnvTemplate('CONFIG={"db":{"user":"{{ database/creds/app#username }}"}}\nPLAIN=a }} b\n');
    const env = renderEnv(entries, (ref) => referenceValue({ username: 'v-app-1' }, ref));
    assert.deepEqual(env, { CONFIG: '{"db":{"user":"v-app-1"}}', PLAIN: 'a }} b' });
  });

  it('takes the only field when a reference names none, and refuses to guess among several', () => {
    assert.equal(referenceValue({ token: 'abc' }, { path: 'p', field: undefined }), 'abc');
    assert.throws(() => referenceValue({ a: '1', b: '2' }, { path: 'p', field: undefined }), /has 2 fields/);
    assert.throws(() => referenceValue({ a: 'value-not-shown' }, { path: 'p', field: 'b' }), (err: Error) => /field "b" not present/.test(err.message) && !err.message.includes('value-not-shown'));
  });
});
