/**
 * Tests: one placeholder grammar for every plugin, and the checks that keep a role from creating
 * users that revocation cannot find.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isCofferError } from '../../core/errors.js';
import { renderStatement as renderMysql } from './plugin-mysql-statements.js';
import { renderStatement as renderPostgres } from './plugin-postgres-sql.js';
import { checkCreationStatements, checkPlaceholders, fillPlaceholders, refuseUnfilled, unknownPlaceholder } from './statement-placeholders.js';

const badRequest = (pattern: RegExp) => (err: unknown): boolean => isCofferError(err) && err.code === 'bad_request' && pattern.test(err.message);

test('fills placeholders with or without spaces inside the braces, names case-sensitive, in one pass', () => {
  const values = { name: 'v-u-1', username: 'v-u-1', password: 'pw-{{name}}' };
  assert.equal(fillPlaceholders("CREATE USER '{{ name }}' IDENTIFIED BY '{{password}}' -- {{\tusername\t}}", values), "CREATE USER 'v-u-1' IDENTIFIED BY 'pw-{{name}}' -- v-u-1");
  assert.equal(fillPlaceholders('{{Name}} {{ NAME }} {{expiration}}', values), '{{Name}} {{ NAME }} {{expiration}}', 'unknown names and missing values stay as written');
});

test('the MySQL and PostgreSQL renderers read the same grammar', () => {
  const expiration = new Date('2030-01-02T03:04:05Z');
  assert.equal(
    renderMysql("CREATE USER '{{ name }}'@'%' IDENTIFIED BY '{{ password }}' /* {{ expiration }} */", { username: 'v-a-1', password: 'Pw-1', expiration }),
    "CREATE USER 'v-a-1'@'%' IDENTIFIED BY 'Pw-1' /* 2030-01-02 03:04:05+0000 */",
  );
  assert.equal(
    renderPostgres('CREATE ROLE "{{ username }}" PASSWORD \'{{ password }}\'', { name: 'v-a-1', nameKind: 'generated', password: 'Pw-1' }),
    'CREATE ROLE "v-a-1" PASSWORD \'Pw-1\'',
  );
});

test('finds the first double-braced text that is not a placeholder', () => {
  assert.equal(unknownPlaceholder("CREATE USER '{{ name }}' IDENTIFIED BY '{{password}}'"), undefined);
  assert.equal(unknownPlaceholder('CREATE ROLE "{{Name}}"'), '{{Name}}');
  assert.equal(unknownPlaceholder('CREATE ROLE "{{ .Name }}" {{name}}'), '{{ .Name }}');
  assert.equal(unknownPlaceholder('x {{ {{name}} }}'), '{{  }}', 'nested braces are found once the placeholder is gone');
});

test('refuses creation statements that never name the user or hold an unknown placeholder', () => {
  checkCreationStatements(['CREATE ROLE "{{name}}" LOGIN', 'GRANT r TO "{{ name }}"']);
  checkCreationStatements(["CREATE USER '{{username}}'@'%'"]);
  assert.throws(() => checkCreationStatements(['SELECT 1']), badRequest(/must name the new user with \{\{name\}\} or \{\{username\}\}/));
  assert.throws(() => checkCreationStatements(['CREATE ROLE "{{Name}}" PASSWORD \'{{password}}\'']), badRequest(/creation_statements contain "\{\{Name\}\}", which is not a placeholder/));
  assert.throws(
    () => checkCreationStatements(["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{ Password }}'"]),
    badRequest(/"\{\{ Password \}\}"/),
    'a password left as its placeholder text would be guessable',
  );
  assert.throws(() => checkPlaceholders(['DROP ROLE "{{ Name }}"'], 'revocation_statements'), badRequest(/^revocation_statements contain/));
});

test('refuses rendered statements that still hold double braces, without quoting them', () => {
  refuseUnfilled(["CREATE USER 'v-1' IDENTIFIED BY 'Pw-1'"]);
  assert.throws(() => refuseUnfilled(["CREATE USER '{{ Name }}' IDENTIFIED BY 'Secret-Pw-9'"]), (err: unknown) => isCofferError(err) && !err.message.includes('Secret-Pw-9'));
});
