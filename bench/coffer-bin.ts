/**
 * The `coffer` executable for a benchmark run from a private build (`.build/<name>/`): the same
 * two lines as `bin/coffer.js`, importing the CLI compiled next to this file instead of `dist/`,
 * so start-up is measured on the code being benchmarked. Used only when that CLI is not the one
 * `bin/coffer.js` loads.
 *
 * Must never do anything else: its cost is part of what is measured.
 */
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
