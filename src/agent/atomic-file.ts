/**
 * Atomic replacement of a file: the new content goes to a temporary file in the same directory
 * (created with the final mode, so it is never readable more widely), is fsync'ed, renamed over
 * the destination, and the directory is fsync'ed so the rename itself survives a crash. A
 * reader opening the path sees the whole old file or the whole new one, never a part.
 *
 * Owns: the temporary file's name and its removal when anything fails.
 * Must never: write the destination in place, leave a temporary file behind on failure, or put
 * the content into an error.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Replaces `destination` with `content`, readable as `mode` (e.g. 0o600). */
export async function writeFileAtomic(destination: string, content: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(destination);
  // Hidden and unique, in the same directory: rename() is atomic only within one file system.
  const temp = join(dir, `.${basename(destination)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', mode);
  let renamed = false;
  try {
    try {
      // The umask may have narrowed the mode at creation; the operator asked for this one.
      await file.chmod(mode);
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, destination);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/**
 * writeFileAtomic, creating the destination's directory (mode 0700) first when it is gone: an
 * output directory removed while the agent runs must not stop every later write.
 */
export async function writeFileAtomicMakingDirectory(destination: string, content: string | Uint8Array, mode: number): Promise<void> {
  try {
    await writeFileAtomic(destination, content, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(destination), { recursive: true, mode: 0o700 });
    await writeFileAtomic(destination, content, mode);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems cannot fsync a directory (EINVAL); the rename has happened either way.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await handle.close();
  }
}
