/**
 * Which change event a successful write to a secrets mount announces. KV v2 spreads one secret
 * over several paths (data/, delete/, undelete/, destroy/, metadata/); watchers read `data/`, so
 * every one of them is announced under the `data/` path a reader would watch.
 */
import type { EngineResponse, Operation } from '../router/engine.js';
import type { MountEntry } from '../router/mount-table.js';
import type { ChangeEvent, ChangeKind } from './event-bus.js';

const KV2_ACTIONS: Record<string, ChangeKind> = { delete: 'delete', undelete: 'undelete', destroy: 'destroy', metadata: 'metadata' };

export function changeEventFor(
  mount: Pick<MountEntry, 'path' | 'type' | 'options'>,
  relativePath: string,
  operation: Operation,
  response: EngineResponse | null,
): Omit<ChangeEvent, 'seq' | 'time'> | undefined {
  const rel = relativePath.replace(/\/$/, '');
  const rawVersion = response?.data?.version;
  const version = typeof rawVersion === 'number' ? rawVersion : null;
  if (mount.type === 'kv' && mount.options.version === '2') {
    const slash = rel.indexOf('/');
    if (slash === -1) return undefined;
    const head = rel.slice(0, slash);
    const secret = rel.slice(slash + 1);
    if (head === 'data') return { path: `${mount.path}data/${secret}`, version, event: operation === 'delete' ? 'delete' : 'write' };
    const kind = KV2_ACTIONS[head];
    if (!kind) return undefined;
    return { path: `${mount.path}data/${secret}`, version, event: head === 'metadata' && operation === 'delete' ? 'delete' : kind };
  }
  if (mount.type === 'kv') return { path: mount.path + rel, version, event: operation === 'delete' ? 'delete' : 'write' };
  return undefined;
}
