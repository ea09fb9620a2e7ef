/**
 * Removes the private socket directories (`<tmp>/coffer-XXXXXX/primary.sock`) that servers
 * killed with SIGKILL left behind: a clean stop removes its own (replica-set.ts close), a
 * SIGKILL cannot.
 *
 * Must never: remove a directory another running server uses, or one this user does not own.
 * A directory is stale only when it holds nothing but `primary.sock`, belongs to this user, and
 * connecting to the socket is refused (nobody listens on it any more).
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const SOCKET_NAME = 'primary.sock';

/** Resolves true when a Unix socket at `path` refuses connections (its server is gone). */
function refused(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Sweeps `tmp` once; returns the directories removed. Errors are skipped, never thrown. */
export async function removeStaleSocketDirs(tmp: string, uid: number | undefined = process.getuid?.()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp).filter((name) => /^coffer-[A-Za-z0-9]{6}$/.test(name));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = join(tmp, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      const entries = readdirSync(dir);
      if (entries.length !== 1 || entries[0] !== SOCKET_NAME) continue;
      const socketPath = join(dir, SOCKET_NAME);
      if (!lstatSync(socketPath).isSocket() || !(await refused(socketPath))) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Gone meanwhile, or not ours to look at: leave it.
    }
  }
  return removed;
}
