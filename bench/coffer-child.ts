/**
 * Child-process entry for the benchmark: starts one Coffer server in dev mode (SQLite in the
 * data dir given as argv[2], no audit device) and prints `{"url": …, "rootToken": …}` as ONE
 * JSON line on stdout for the parent harness.
 *
 * Must never print anything else on stdout, and must never outlive its parent: it stops when
 * its stdin closes, on SIGTERM and on SIGINT.
 */
import { startServer } from '../src/main.js';

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (dataDir === undefined) throw new Error('usage: coffer-child.js DATA_DIR [HTTP_REPLICAS]');
  const server = await startServer({
    listen: '127.0.0.1:0',
    dataDir,
    dev: true,
    storage: 'sqlite',
    logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    // KV reads served by this many extra processes beside the primary (README: --http-replicas).
    httpReplicas: Number(process.argv[3] ?? '0'),
  });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A close that waits on lingering connections must not keep the child alive forever.
    setTimeout(() => process.exit(1), 3_000).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`coffer-child: close failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();

  // The parent reads this one line; it goes through a private pipe, never to a log.
  process.stdout.write(`${JSON.stringify({ url: server.url, rootToken: server.rootToken })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`coffer-child: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
