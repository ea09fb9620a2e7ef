// Makes `npx coffer` work inside a fresh clone after `npm install`.
//
// npm links the bins of a project's dependencies into node_modules/.bin, but never the
// project's own bin, so `npx coffer` would go looking for a package called "coffer" on the
// registry. This links bin/coffer.js there, which is where npx looks first.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binDir = join(root, 'node_modules', '.bin');
const target = join(root, 'bin', 'coffer.js');
const link = join(binDir, 'coffer');

mkdirSync(binDir, { recursive: true });
rmSync(link, { force: true });
symlinkSync(relative(binDir, target), link);
chmodSync(target, 0o755);
