/**
 * rotator_allowed_hosts: a host listed in the server's config file may be named by a webhook
 * rotator's URL; any other non-loopback host is refused, with a message naming the setting.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile } from '../../src/config.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;
let configDir: string;

before(async () => {
  configDir = tempDir('coffer-config-');
  const configPath = join(configDir, 'coffer.json');
  writeFileSync(configPath, JSON.stringify({ rotator_allowed_hosts: ['rotator.internal'] }));
  server = await startTestServer({ dev: true, ...readConfigFile(configPath) });
  root = server.rootToken as string;
});

after(async () => {
  await server?.destroy();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

test('a webhook rotator may point at a host listed in rotator_allowed_hosts', async () => {
  const written = await api(server, 'POST', 'rotators/config/internal', { token: root, body: { type: 'webhook', url: 'https://rotator.internal/rotate' } });
  assert.equal(written.status, 204, JSON.stringify(written.body));
  const read = await api(server, 'GET', 'rotators/config/internal', { token: root });
  assert.equal(read.body.data.url, 'https://rotator.internal/rotate');
});

test('a host not in rotator_allowed_hosts is refused with a message naming the config key', async () => {
  const refused = await api(server, 'POST', 'rotators/config/other', { token: root, body: { type: 'webhook', url: 'https://other.internal/rotate' } });
  assert.equal(refused.status, 400);
  assert.match(refused.body.errors[0], /url host other\.internal is not allowed: .*rotator_allowed_hosts in the server's config file/);
});
