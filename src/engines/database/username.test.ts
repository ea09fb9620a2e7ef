/**
 * Tests: generated usernames (shape, limits, charset, uniqueness) and username_template.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { defaultUsername, parseUsernameTemplate, sanitizeSegment, USERNAME_CHARSET } from './username.js';

const NOW = Date.UTC(2026, 10, 26, 10, 0, 0);

test('the default username is v-<display>-<role>-<20 random>-<unix> within 63 characters', () => {
  const name = defaultUsername({ displayName: 'approle', roleName: 'readonly', now: NOW, maxLength: 63 });
  assert.match(name, /^v-approle-readonly-[a-z0-9]{20}-1795687200$/);
  assert.ok(name.length <= 63);
});

test('display and role are sanitised to [a-z0-9-] and shortened, never the random part', () => {
  const name = defaultUsername({ displayName: 'LDAP Alice@Corp"; DROP', roleName: 'My_Role.Name*', now: NOW, maxLength: 63 });
  assert.match(name, USERNAME_CHARSET);
  assert.match(name, /^v-ldap-ali-my-role-[a-z0-9]{20}-\d{10}$/);
  assert.equal(sanitizeSegment('--A__b--'), 'a-b');
});

test('shorter limits drop the timestamp and the display name before the random part', () => {
  const mysql = defaultUsername({ displayName: 'token', roleName: 'readonly', now: NOW, maxLength: 32 });
  assert.ok(mysql.length <= 32, mysql);
  assert.match(mysql, /^v-readonly-[a-z0-9]{20}$/);
  const legacy = defaultUsername({ displayName: 'token', roleName: 'readonly', now: NOW, maxLength: 16 });
  assert.ok(legacy.length <= 16, legacy);
  assert.match(legacy, /^v-reado-[a-z0-9]{8}$/);
});

test('an empty display name leaves no empty segment', () => {
  assert.match(defaultUsername({ displayName: '', roleName: 'r', now: NOW, maxLength: 63 }), /^v-r-[a-z0-9]{20}-\d+$/);
});

test('a thousand usernames for the same role and second are all different', () => {
  const names = new Set<string>();
  for (let i = 0; i < 1000; i += 1) names.add(defaultUsername({ displayName: 'token', roleName: 'ro', now: NOW, maxLength: 63 }));
  assert.equal(names.size, 1000);
});

test('username_template renders Vault-style fields and filters, forced into the safe charset', () => {
  const template = parseUsernameTemplate('{{.RoleName | uppercase}}_{{.DisplayName | truncate 3}}_{{random 6}}_{{unix_time}}');
  const name = template.render({ displayName: 'approle', roleName: 'ro', now: NOW, maxLength: 63 });
  assert.match(name, /^ro-app-[a-z0-9]{6}-1795687200$/);
  const replaced = parseUsernameTemplate('{{ .RoleName | replace "o" "0" }}-{{uuid}}').render({ displayName: '', roleName: 'foo', now: NOW, maxLength: 16 });
  assert.equal(replaced.length, 16);
  assert.match(replaced, /^f00-[0-9a-f-]{12}$/);
});

test('username_template refuses constructs it does not support', () => {
  for (const bad of ['{{ printf "%s" .RoleName }}', '{{.Secret}}', '{{random}}', '{{random 0}}', '{{.RoleName | sha256}}', 'a}}b', '{{.RoleName | truncate x}}']) {
    assert.throws(() => parseUsernameTemplate(bad), /invalid username_template/, bad);
  }
});
