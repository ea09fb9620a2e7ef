/**
 * Child-process entry for the lease-scale restart: starts the real server (`startServer`, dev
 * mode, SQLite) on an EXISTING data dir (argv[2]) at a fixed loopback address (argv[3], e.g.
 * 127.0.0.1:41234), so the harness can poll `GET /v1/sys/health` from the moment it spawns the
 * process, before any ready line. Dev mode unseals itself with the share in the data dir.
 * Prints `{"url": …, "rootToken": …}` as ONE JSON line on stdout once listening.
 *
 * Must never print anything else on stdout, and must never outlive its parent: it stops when
 * its stdin closes, on SIGTERM and on SIGINT.
 */
import { startServer } from '../src/main.js';

async function main(): Promise<void> {
  const [dataDir, listen] = process.argv.slice(2);
  if (dataDir === undefined || listen === undefined || !listen.startsWith('127.0.0.1:')) {
    throw new Error('usage: coffer-restart-child.js DATA_DIR 127.0.0.1:PORT');
  }
  const server = await startServer({ listen, dataDir, dev: true, storage: 'sqlite', logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn' });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 3_000).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`coffer-restart-child: close failed: ${(error as Error).message}\n`);
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
  process.stderr.write(`coffer-restart-child: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
