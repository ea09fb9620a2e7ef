/**
 * A dynamic PostgreSQL credential rendered by the agent, across a Coffer outage longer than its
 * lease: once Coffer (SQLite, so its data survives) is back, the agent replaces the credential
 * that ended at once, paced by its own retry settings, rather than at the SDK's next retry
 * (up to 30 s later), and the file holds a credential that logs in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/core/logger.js';
import { mountPostgres } from '../helpers/database-mount.js';
import { createScratchDatabase, startPgCluster, tryLogin, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { pause, read, waitFor } from '../helpers/polling.js';

const parseEnv = (text: string): Record<string, string> =>
  Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));


describe('coffer agent: a lease that ended during an outage', () => {
  const dataDir = tempDir('coffer-agent-lease-outage-');
  let dir: string;
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let server: TestServer | undefined;
  let port = 0;
  let root: string;
  let agent: Agent | undefined;
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => void logs.push(line) });

  const start = async (): Promise<TestServer> => {
    server = await startTestServer({ dev: true, storage: 'sqlite', dataDir, keepDataDir: true, ...(port ? { listen: `127.0.0.1:${port}` } : {}) });
    return server;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    const first = await start();
    port = Number(new URL(first.url).port);
    root = first.rootToken as string;
    await mountPostgres(first, root, {
      mount: 'database',
      cluster,
      db,
      roles: { dyn: { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`], default_ttl: '2s', max_ttl: '1h' } },
    });
    writeFileSync(join(dir, 'token'), root);
  });

  after(async () => {
    await agent?.stop().catch(() => undefined);
    await server?.destroy();
    await db?.cleanup(['v-%']).catch(() => undefined);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders a fresh credential as soon as Coffer is back', async () => {
    const file = join(dir, 'out', 'db.env');
    agent = await startAgent(
      {
        address: `http://127.0.0.1:${port}`,
        auto_auth: { method: 'token_file', token_file: join(dir, 'token') },
        templates: [{ contents: 'USER={{ secret "database/creds/dyn" "username" }}\nPASS={{ secret "database/creds/dyn" "password" }}\n', destination: file }],
        retry: { initial_backoff: '100ms', max_backoff: '1s' },
        render_interval: '1h',
      },
      { logger },
    );
    await agent.ready;
    const before = parseEnv(read(file));
    assert.equal(await tryLogin(cluster, db.name, before['USER'] ?? '', before['PASS'] ?? ''), undefined);

    await server?.close();
    server = undefined;
    // Longer than the 2 s lease: it ends while Coffer is away, and renewing it fails meanwhile.
    const failures = (): number => logs.filter((l) => JSON.parse(l).message === 'lease renewal failed; retrying').length;
    await waitFor(() => failures() >= 3, 10_000, 'failed renewals');
    await pause(3000);

    await start();
    // The watch reconnects within max_backoff (1 s) and replaces the ended lease then. Before,
    // the lease handle waited for its own retry at the SDK's fixed backoff, by now 24-36 s
    // after its last failure: this wait is far from both.
    await waitFor(() => parseEnv(read(file))['USER'] !== before['USER'], 10_000, 'a fresh credential after the outage');
    const after = parseEnv(read(file));
    assert.equal(await tryLogin(cluster, db.name, after['USER'] ?? '', after['PASS'] ?? ''), undefined, 'the new credential logs in');
    for (const line of logs) assert.ok(!line.includes(after['PASS'] ?? '-') && !line.includes(before['PASS'] ?? '-') && !line.includes(root));
  });
});
