/**
 * Scenario "kv": one Coffer server (dev mode, SQLite, no audit) measured on KV v2 read, KV v2
 * write and token create. Offers its KV read reply as the baseline's body.
 *
 * The write cell spreads writes over 256 keys so one secret's per-key lock cannot serialise
 * the whole run, and changes the value bytes on every request so each write is a real commit.
 */
import { startCofferServer } from '../coffer-server.js';
import { httpReplicasSetting } from '../env-settings.js';
import { createLoadCell } from '../load.js';
import type { BenchContext, PreparedScenario, Scenario } from '../scenario.js';
import { p99Below, ratioToBaselineAtLeast } from '../targets.js';
import { createKvReadCell, secretValue, seedReadKeys, READ_KEYS, SECRET_JSON_BYTES } from './kv-common.js';

const WRITE_KEYS = 256;
const TOKEN_CREATE_BODY = JSON.stringify({ policies: ['default'], ttl: '1h' });

export const kvScenario: Scenario = {
  id: 'kv',
  async prepare(ctx: BenchContext): Promise<PreparedScenario> {
    const httpReplicas = httpReplicasSetting(process.env);
    const server = await startCofferServer(ctx, 'coffer-kv', { httpReplicas });
    ctx.log(`  coffer-kv: pid ${server.child.pid} at ${server.url}`);
    const readBody = await seedReadKeys(ctx, server);

    const read = createKvReadCell({
      id: 'kv-read',
      label: 'KV v2 read',
      describe: `\`GET /v1/secret/data/bench/read-N\` with \`X-Vault-Token\` (root), N cycling over ${READ_KEYS} pre-written ${SECRET_JSON_BYTES}-byte secrets`,
      server,
      ctx,
      targets: [ratioToBaselineAtLeast(0.5), p99Below(10)],
    });

    // A fixed filler keeps request building cheap; the counter prefix makes every value unique.
    const filler = secretValue('w').value;
    let writes = 0;
    const write = createLoadCell({
      id: 'kv-write',
      label: 'KV v2 write (durable)',
      describe: `\`POST /v1/secret/data/bench/write-(i mod ${WRITE_KEYS})\` with a ${SECRET_JSON_BYTES}-byte \`data\` whose bytes change on every request (SQLite synchronous=FULL, group commit)`,
      targets: [ratioToBaselineAtLeast(0.25)],
      connections: ctx.config.connections,
      server: server.child,
      load: {
        url: server.url,
        method: 'POST',
        headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
        next: () => {
          writes += 1;
          const value = `${writes.toString(36)}-${filler}`.slice(0, filler.length);
          return { path: `/v1/secret/data/bench/write-${writes % WRITE_KEYS}`, body: JSON.stringify({ data: { value } }) };
        },
      },
    });

    const tokenCreate = createLoadCell({
      id: 'token-create',
      label: 'Token create',
      describe: `\`POST /v1/auth/token/create\` \`${TOKEN_CREATE_BODY}\` with the root token`,
      targets: [],
      connections: ctx.config.connections,
      server: server.child,
      load: {
        url: server.url,
        method: 'POST',
        headers: { 'x-vault-token': server.rootToken, 'content-type': 'application/json' },
        fixed: [{ path: '/v1/auth/token/create', body: TOKEN_CREATE_BODY }],
      },
    });

    return {
      cells: [read, write, tokenCreate],
      baselineBody: readBody,
      method: [
        `KV v2 read, KV v2 write and Token create share one Coffer server (\`coffer-child.js\`: \`startServer\` in dev mode — initialised, unsealed, KV v2 at \`secret/\` — with \`storage: 'sqlite'\` in a fresh temp dir, no audit device, root token); state accumulates across rounds (versions of the ${WRITE_KEYS} write keys, created tokens).`,
        httpReplicas > 0
          ? `That server runs with \`httpReplicas: ${httpReplicas}\` (\`--http-replicas\`, BENCH_HTTP_REPLICAS): new connections are shared round robin between the primary and ${httpReplicas === 1 ? 'one replica process' : `${httpReplicas} replica processes`}; a replica answers KV reads itself and forwards writes and token creation to the primary. "server cores" and "req per server CPU-s" count the primary and its replicas.`
          : 'That server is one process (BENCH_HTTP_REPLICAS=0).',
      ],
    };
  },
};
