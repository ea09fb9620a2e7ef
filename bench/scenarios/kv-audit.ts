/**
 * Scenario "kv-audit": the KV v2 read again, on a second Coffer server that has a file audit
 * device enabled for its whole life, so audit cost is its own row and never leaks into the
 * audit-off cells (no enabling/disabling between rounds).
 *
 * The audit log lives in a temp dir of its own (never the server's data directory, which the
 * file audit device refuses) and is removed with it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startCofferServer } from '../coffer-server.js';
import { httpReplicasSetting } from '../env-settings.js';
import type { BenchContext, PreparedScenario, Scenario } from '../scenario.js';
import { ratioToCellAtLeast } from '../targets.js';
import { createKvReadCell, seedReadKeys, READ_KEYS } from './kv-common.js';

export const kvAuditScenario: Scenario = {
  id: 'kv-audit',
  async prepare(ctx: BenchContext): Promise<PreparedScenario> {
    const server = await startCofferServer(ctx, 'coffer-audit', { httpReplicas: httpReplicasSetting(process.env) });
    ctx.log(`  coffer-audit: pid ${server.child.pid} at ${server.url}`);
    await seedReadKeys(ctx, server);
    const auditFile = join(ctx.cleanup.tempDir('coffer-audit-log'), 'audit.log');
    await server.api.ok('PUT', '/v1/sys/audit/file', { type: 'file', options: { file_path: auditFile } });
    // Prove the device writes before measuring it.
    await server.api.ok('GET', '/v1/secret/data/bench/read-0');
    if ((statSync(auditFile, { throwIfNoEntry: false })?.size ?? 0) === 0) {
      throw new Error('coffer-audit: the file audit device was enabled but wrote nothing');
    }

    const read = createKvReadCell({
      id: 'kv-read-audit',
      label: 'KV v2 read + file audit',
      describe: `as KV v2 read (${READ_KEYS} keys), on a second server with \`PUT /v1/sys/audit/file\` \`{"type":"file","options":{"file_path":"<tmp>/audit.log"}}\` enabled`,
      server,
      ctx,
      targets: [ratioToCellAtLeast('kv-read', 'KV v2 read', 0.8)],
    });
    return {
      cells: [read],
      method: [`KV v2 read + file audit runs on a second Coffer server, set up like the first (the same ${READ_KEYS} seeded secrets), whose file audit device stays enabled for the whole run.`],
    };
  },
};
