#!/usr/bin/env node
// The `coffer` executable: a thin shim over the compiled CLI in dist/ (build with `npm run build`).
// It imports nothing else, so start-up costs only what the chosen command loads.
// It sets process.exitCode instead of calling process.exit(): `coffer server` keeps running after
// main() returns, and exit() could cut off output still queued for a pipe.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
