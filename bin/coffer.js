#!/usr/bin/env node
// The `coffer` executable: a thin shim over the compiled CLI in dist/ (build with `npm run build`).
// It imports nothing else, so start-up costs only what the chosen command loads.
// It sets process.exitCode instead of calling process.exit(): `coffer server` keeps running after
// main() returns, and exit() could cut off output still queued for a pipe.
import { main } from '../dist/src/cli/main.js';

const longRunning = new Set(['server', 'agent']);
if (!longRunning.has(process.argv[2] ?? '')) {
  // A reader that went away (`coffer kv get … | head -1`) is not a failure of the command: stop
  // quietly, as a program killed by SIGPIPE does, instead of printing Node's EPIPE stack trace.
  // (Not for the server and the agent, which must shut down properly whatever their stdout does.)
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));

if (longRunning.has(process.argv[2] ?? '')) {
  // main() returns once the server (or the agent) has stopped, within its grace period. Work
  // that did not end with it (a database call still waiting on a lock keeps its pool's
  // connection open) must not keep the process alive, past the grace period and without its
  // data-directory lock: whatever is left ends with the process a second later.
  setTimeout(() => process.exit(), 1_000).unref();
}
