import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COFFER_VERSION, REPORTED_VERSION, VAULT_API_VERSION } from './version.js';

// hashicorp/go-version's pattern (what terraform-provider-vault parses `version` with), anchored.
const GO_VERSION = /^v?([0-9]+(\.[0-9]+)*?)(-([0-9]+[0-9A-Za-z\-~]*(\.[0-9A-Za-z\-~]+)*)|(-?([A-Za-z\-~]+[0-9A-Za-z\-~]*(\.[0-9A-Za-z\-~]+)*)))?(\+([0-9A-Za-z\-~]+(\.[0-9A-Za-z\-~]+)*))?$/;

test('reports a Vault release with the Coffer release as build metadata', () => {
  assert.equal(REPORTED_VERSION, '1.17.0+coffer.0.1.0');
  const match = GO_VERSION.exec(REPORTED_VERSION);
  assert.ok(match, 'go-version parses it');
  assert.equal(match[1], VAULT_API_VERSION, 'the core version clients compare is the Vault one');
  assert.equal(match[10], `coffer.${COFFER_VERSION}`);
});

test('the Coffer release is the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(COFFER_VERSION, pkg.version);
});
