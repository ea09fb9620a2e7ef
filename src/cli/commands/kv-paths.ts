/**
 * Where a `coffer kv` path lives: which mount, which KV version, and the API path for an
 * operation (`secret/foo` → `secret/data/foo` on v2, unchanged on v1). Like Vault's CLI, it asks
 * the server (`GET sys/internal/ui/mounts/<path>`) instead of guessing from the path.
 *
 * Owns: the preflight request and the path mapping. Must never: send secret data.
 */
import type { ApiClient } from '../client.js';
import { ApiError, CliError } from '../errors.js';
import { asEnvelope } from '../output.js';

export type KvVersion = 1 | 2;

export interface KvMount {
  /** The mount with a trailing slash, e.g. `secret/`; empty if the server has no preflight route. */
  mountPath: string;
  version: KvVersion;
}

/** `-mount=secret foo` means `secret/foo`; otherwise the path as given, without outer slashes. */
export function kvFullPath(path: string, mount: string | undefined): string {
  const clean = trimSlashes(path);
  if (mount === undefined || mount === '') return clean;
  const m = trimSlashes(mount);
  return clean === '' ? m : `${m}/${clean}`;
}

export function trimSlashes(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Asks the server which mount holds `path` and its KV version. */
export async function resolveKvMount(client: ApiClient, path: string): Promise<KvMount> {
  try {
    const res = await client.request('GET', `sys/internal/ui/mounts/${trimSlashes(path)}`, { wrap: false });
    const data = asEnvelope(res.body).data ?? {};
    const mountPath = typeof data['path'] === 'string' ? ensureSlash(data['path']) : '';
    const options = data['options'] as Record<string, unknown> | null | undefined;
    const version = String(options?.['version'] ?? '1') === '2' ? 2 : 1;
    return { mountPath, version };
  } catch (err) {
    // Like Vault's CLI: a server without the preflight route is treated as plain KV v1.
    if (err instanceof ApiError && err.status === 404) return { mountPath: '', version: 1 };
    if (err instanceof ApiError && err.status === 403) {
      // The server answers the same 403 for a mount that does not exist (so as not to reveal
      // which do): name both causes, since on a fresh server the missing mount is the usual one.
      const first = trimSlashes(path).split('/')[0] ?? '';
      throw new CliError(
        `preflight capability check returned 403, please ensure the token's policies grant access to path "${ensureSlash(trimSlashes(path))}"` +
          ` (or no KV engine is mounted there: "coffer secrets list" shows the mounts, "coffer secrets enable -path=${first} kv-v2" adds one)`,
        2,
      );
    }
    throw err;
  }
}

/**
 * The API path for a KV v2 operation: `(secret/, secret/a/b, data)` → `secret/data/a/b`.
 * A path equal to the mount gives the prefix alone (`secret/metadata` for listing the root).
 */
export function kvV2Path(mountPath: string, fullPath: string, prefix: 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy'): string {
  const mount = trimSlashes(mountPath);
  const full = trimSlashes(fullPath);
  let rest = full;
  if (full === mount) rest = '';
  else if (full.startsWith(`${mount}/`)) rest = full.slice(mount.length + 1);
  return [mount, prefix, rest].filter((p) => p !== '').join('/');
}

/** Parses `-versions=1,2,3` into version numbers. */
export function parseVersions(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((part) => {
    const t = part.trim();
    if (!/^\d+$/.test(t)) throw new CliError('invalid -versions: expected a comma-separated list of version numbers, e.g. 1,2');
    return Number(t);
  });
}

function ensureSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}
