/**
 * KV version 2 for applications: get, put, patch, delete, list. The mount is found the way
 * Vault's CLI finds it (`GET sys/internal/ui/mounts/<path>`) and remembered, or given.
 *
 * Owns: mapping `secret/app/db` to `secret/data/app/db` (and metadata/, delete/) and the mount cache.
 * Must never: put secret data into an error message.
 */
import { CofferConfigError, CofferNotFoundError, CofferResponseError } from './errors.js';
import type { Requester } from './token-manager.js';
import { asEnvelope, isObject } from './wire.js';

export interface KvMetadata {
  version: number;
  createdTime: string;
  /** Empty unless the version is deleted. */
  deletionTime: string;
  destroyed: boolean;
  customMetadata: Record<string, string> | null;
}

export interface KvSecret<T> {
  data: T;
  metadata: KvMetadata;
}

export interface KvMountOption {
  /** The KV v2 mount (e.g. `secret`); the path is then relative to it. Detected when omitted. */
  mount?: string;
}

export interface KvClient {
  /** The latest version, or `version`. A missing, deleted or destroyed version throws CofferNotFoundError. */
  get<T = Record<string, unknown>>(path: string, options?: KvMountOption & { version?: number }): Promise<KvSecret<T>>;
  /** Writes a new version; `cas: 0` writes only if the secret does not exist, `cas: n` only over version n. */
  put(path: string, data: Record<string, unknown>, options?: KvMountOption & { cas?: number }): Promise<KvMetadata>;
  /** Merges `data` into the latest version (JSON merge patch: a null value removes a key). */
  patch(path: string, data: Record<string, unknown>, options?: KvMountOption & { cas?: number }): Promise<KvMetadata>;
  /** Soft-deletes the latest version, or the given versions. */
  delete(path: string, options?: KvMountOption & { versions?: number[] }): Promise<void>;
  /** Keys under a folder (folders end with `/`); empty when there are none. */
  list(path: string, options?: KvMountOption): Promise<string[]>;
}

interface Target {
  mount: string;
  rel: string;
}

const trim = (p: string): string => p.replace(/^\/+/, '').replace(/\/+$/, '');

export function metadataOf(value: unknown): KvMetadata {
  const m = isObject(value) ? value : {};
  return {
    version: typeof m['version'] === 'number' ? m['version'] : 0,
    createdTime: typeof m['created_time'] === 'string' ? m['created_time'] : '',
    deletionTime: typeof m['deletion_time'] === 'string' ? m['deletion_time'] : '',
    destroyed: m['destroyed'] === true,
    customMetadata: isObject(m['custom_metadata']) ? (m['custom_metadata'] as Record<string, string>) : null,
  };
}

export function createKvClient(request: Requester): KvClient {
  /** Known KV v2 mounts, without slashes. */
  const mounts = new Set<string>();

  const target = async (path: string, explicit: string | undefined): Promise<Target> => {
    const clean = trim(path);
    if (explicit !== undefined) {
      const mount = trim(explicit);
      if (mount === '') throw new CofferConfigError('mount must not be empty');
      return { mount, rel: clean };
    }
    if (clean === '') throw new CofferConfigError('a path is required');
    let best = '';
    for (const m of mounts) if ((clean === m || clean.startsWith(`${m}/`)) && m.length > best.length) best = m;
    if (best === '') {
      const data = asEnvelope((await request('GET', `sys/internal/ui/mounts/${clean}`)).body).data ?? {};
      const mountPath = typeof data['path'] === 'string' ? trim(data['path']) : '';
      const options = isObject(data['options']) ? data['options'] : {};
      if (mountPath === '' || data['type'] !== 'kv' || String(options['version'] ?? '1') !== '2') {
        throw new CofferConfigError(`${clean} is not on a KV version 2 mount`);
      }
      mounts.add(mountPath);
      best = mountPath;
    }
    return { mount: best, rel: clean === best ? '' : clean.slice(best.length + 1) };
  };

  const api = (t: Target, prefix: 'data' | 'metadata' | 'delete'): string => [t.mount, prefix, t.rel].filter((p) => p !== '').join('/');

  const requireKey = (t: Target): void => {
    if (t.rel === '') throw new CofferConfigError('a secret path below the mount is required');
  };

  const write = async (verb: 'POST' | 'PATCH', path: string, data: Record<string, unknown>, options: KvMountOption & { cas?: number }): Promise<KvMetadata> => {
    if (!isObject(data)) throw new CofferConfigError('data must be an object');
    const t = await target(path, options.mount);
    requireKey(t);
    const body = { data, ...(options.cas === undefined ? {} : { options: { cas: options.cas } }) };
    const res = await request(verb, api(t, 'data'), { body, ...(verb === 'PATCH' ? { contentType: 'application/merge-patch+json' } : {}) });
    return metadataOf(asEnvelope(res.body).data);
  };

  return {
    async get<T>(path: string, options: KvMountOption & { version?: number } = {}) {
      const t = await target(path, options.mount);
      requireKey(t);
      const res = await request('GET', api(t, 'data'), { query: { version: options.version } });
      const data = asEnvelope(res.body).data;
      if (!isObject(data)) throw new CofferResponseError(`GET ${api(t, 'data')}: the answer has no data`);
      if (data['data'] === null) throw new CofferNotFoundError(`GET ${api(t, 'data')}: version deleted or destroyed (HTTP 404)`, { status: 404, errors: [], method: 'GET', path: api(t, 'data') });
      return { data: data['data'] as T, metadata: metadataOf(data['metadata']) };
    },
    put: (path, data, options = {}) => write('POST', path, data, options),
    patch: (path, data, options = {}) => write('PATCH', path, data, options),
    async delete(path, options = {}) {
      const t = await target(path, options.mount);
      requireKey(t);
      if (options.versions && options.versions.length > 0) await request('POST', api(t, 'delete'), { body: { versions: options.versions } });
      else await request('DELETE', api(t, 'data'));
    },
    async list(path, options = {}) {
      const t = await target(path, options.mount);
      try {
        const data = asEnvelope((await request('LIST', `${api(t, 'metadata')}/`)).body).data ?? {};
        return Array.isArray(data['keys']) ? data['keys'].map(String) : [];
      } catch (err) {
        if (err instanceof CofferNotFoundError) return [];
        throw err;
      }
    },
  };
}
