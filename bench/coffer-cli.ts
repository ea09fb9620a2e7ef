/**
 * Which `coffer` executable a benchmark runs: the repository's `bin/coffer.js` when the CLI it
 * loads (dist/src/cli/main.js) is the one compiled beside this benchmark — an `npm run bench`
 * — else `coffer-bin.js`, its twin for a private build under `.build/`. Also tells whether a
 * CLI command has been built at all, so a scenario can say "not available" instead of failing.
 *
 * Must never run anything: it only resolves paths.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiledMain = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const shim = fileURLToPath(new URL('./coffer-bin.js', import.meta.url));

export interface CofferCli {
  /** The script to run with `node`. */
  entry: string;
  /** true: the repository's bin/coffer.js; false: bench/coffer-bin.js of a private build. */
  viaBin: boolean;
}

export function cofferCli(): CofferCli {
  for (let dir = dirname(compiledMain); dir !== dirname(dir); dir = dirname(dir)) {
    const bin = join(dir, 'bin', 'coffer.js');
    if (existsSync(bin) && existsSync(join(dir, 'package.json'))) {
      if (resolve(dir, 'dist', 'src', 'cli', 'main.js') === compiledMain) return { entry: bin, viaBin: true };
      break;
    }
  }
  return { entry: shim, viaBin: false };
}

/** Whether `src/<relative>.js` was compiled beside this benchmark, e.g. 'cli/commands/run'. */
export function built(relative: string): boolean {
  return existsSync(fileURLToPath(new URL(`../src/${relative}`, import.meta.url)));
}

/** How the method sections name the executable. */
export function describeCli(cli: CofferCli): string {
  return cli.viaBin
    ? '`node bin/coffer.js`'
    : '`node bench/coffer-bin.js` (this run used a private build: the same two lines as `bin/coffer.js`, importing that build\'s CLI)';
}
