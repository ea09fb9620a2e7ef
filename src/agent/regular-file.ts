/**
 * Reading what is at an output path (a rendered file, the token sink) without trusting it. The
 * agent often runs as root, and whoever can write the output directory can put a symlink there
 * (to /etc/shadow, say), a hard link to another file, or a FIFO. The last path component is never
 * followed, and anything but a regular file with one link reads as absent, so the agent simply
 * replaces it: atomic-file.ts renames over the link itself, never its target.
 *
 * Must never: follow a symlink at `path`, block on a FIFO, or change the mode of anything but the
 * regular file it opened (fchmod on that descriptor, never chmod by name).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

// ELOOP: a symlink refused by O_NOFOLLOW; ENXIO: a socket or a FIFO's other end.
const NOT_A_FILE = new Set(['ENOENT', 'ELOOP', 'ENXIO', 'ENOTDIR']);

/**
 * The content of the regular file at `path`, or undefined when there is none (missing, a link,
 * a FIFO, a directory). With `ensureMode`, that file is first given this mode if it has another.
 */
export async function readRegularFile(path: string, ensureMode?: number): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (NOT_A_FILE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
  try {
    const info = await handle.stat();
    // A second hard link: the same inode is some other file too, which must keep its mode.
    if (!info.isFile() || info.nlink !== 1) return undefined;
    if (ensureMode !== undefined && (info.mode & 0o777) !== ensureMode) await handle.chmod(ensureMode);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
