/**
 * A Coffer dev server in its own process, for crash tests: with PAUSE_PHASE/PAUSE_WHEN set, the
 * first static-role rotation stops at that point of its state machine, prints
 * `PAUSED <rotation id>` and waits forever, so the parent can kill -9 it there. Prints
 * `READY <url> <root token>` once listening. Test support only; never part of the product.
 */
import { startServer } from '../../src/main.js';
import { silentLogger } from '../../src/core/logger.js';
import { setRotationTestOptions } from '../../src/engines/database/rotation-hooks.js';

// The test runner treats every file under test/ as a test file and runs this one too: do nothing
// unless the kill -9 test launched it.
if (process.env.COFFER_PAUSED_CHILD === '1') await main();

async function main(): Promise<void> {
  const phase = process.env.PAUSE_PHASE;
  const when = process.env.PAUSE_WHEN;
  setRotationTestOptions({
    tickIntervalMs: 50,
    pauseAt: async (point) => {
      if (phase === undefined || point.phase !== phase || point.when !== when) return undefined;
      process.stdout.write(`PAUSED ${point.rotationId}\n`);
      return new Promise<void>(() => undefined);
    },
  });

  const server = await startServer({ listen: '127.0.0.1:0', dev: true, storage: 'sqlite', dataDir: process.env.DATA_DIR as string, logger: silentLogger });
  process.stdout.write(`READY ${server.url} ${server.rootToken ?? ''}\n`);
}
