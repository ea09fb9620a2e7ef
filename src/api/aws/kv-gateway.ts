/**
 * The only way the AWS protocol touches secrets: KV v2 requests on the `aws/` mount sent
 * through the core request pipeline with the token bound to the calling access key, so the
 * ACL check, audit and every engine rule apply exactly as for a Vault API call.
 *
 * Owns: building ApiRequests (each with its own request id, `aws:<Operation>:<AWS request
 * id>:<n>`, so the audit log names the AWS operation), and reading KV's responses into typed
 * facts. Errors from the pipeline propagate as CofferErrors; not-found reads become undefined.
 * Must never: use any token but the caller's, or log what it reads.
 */
import type { Clock } from '../../core/clock.js';
import { CofferError, isCofferError } from '../../core/errors.js';
import type { ApiRequest, RequestHandler, RequestVerb } from '../../core/request-handler.js';
import { dataPath, metadataFolderPath, metadataPath } from './names.js';

export interface KvVersionFacts {
  readonly created: number;
  /** Soft-deleted or destroyed: its data cannot be read. */
  readonly gone: boolean;
}

export interface DataRead {
  readonly version: number;
  readonly created: number;
  /** null when the version is deleted or destroyed. */
  readonly data: Record<string, unknown> | null;
  readonly customMetadata: Record<string, string> | null;
}

export interface MetadataRead {
  readonly current: number;
  readonly created: number;
  readonly updated: number;
  readonly customMetadata: Record<string, string> | null;
  readonly versions: ReadonlyMap<number, KvVersionFacts>;
  /** The secret's own max_versions; 0 = the mount's setting. */
  readonly maxVersions: number;
}

export interface KvGateway {
  /** Version `version` (0: the latest); undefined when the secret or version does not exist. */
  readData(name: string, version?: number): Promise<DataRead | undefined>;
  readMetadata(name: string): Promise<MetadataRead | undefined>;
  /** Writes a new version with check-and-set `cas`; returns its number. */
  writeData(name: string, data: Record<string, unknown>, cas: number): Promise<number>;
  /** Replaces custom_metadata (and sets max_versions when given). */
  writeMetadata(name: string, customMetadata: Record<string, string>, maxVersions?: number): Promise<void>;
  deleteMetadata(name: string): Promise<void>;
  /** Children of a folder ('' for the root), folders ending in '/'; [] when empty. */
  list(folder: string): Promise<string[]>;
  /** The caller's capabilities on each path, or undefined when it may not ask. */
  capabilities(paths: readonly string[]): Promise<Record<string, string[]> | undefined>;
}

export interface GatewayIdentity {
  readonly token: string;
  readonly remoteAddress: string;
  readonly operation: string;
  readonly awsRequestId: string;
}

const time = (value: unknown): number => {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
};

const stringMap = (value: unknown): Record<string, string> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, string>) : null;

export function createKvGateway(handler: RequestHandler, identity: GatewayIdentity, clock: Clock): KvGateway {
  let sequence = 0;

  const call = async (verb: RequestVerb, path: string, data: Record<string, unknown> = {}) => {
    sequence += 1;
    const request: ApiRequest = {
      requestId: `aws:${identity.operation}:${identity.awsRequestId}:${sequence}`,
      verb,
      path,
      data,
      clientToken: identity.token,
      remoteAddress: identity.remoteAddress,
    };
    return (await handler(request)).response;
  };

  const notFoundAsUndefined = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      if (isCofferError(error) && error.code === 'not_found') return undefined;
      throw error;
    }
  };

  return {
    readData: (name, version = 0) =>
      notFoundAsUndefined(async () => {
        const response = await call('read', dataPath(name), version > 0 ? { version: String(version) } : {});
        const body = response?.data as { data?: unknown; metadata?: Record<string, unknown> } | null | undefined;
        const meta = body?.metadata;
        if (!meta) return undefined;
        const data = response?.statusCode === 404 ? null : (stringMapOrObject(body?.data));
        return {
          version: Number(meta['version']) || 0,
          created: time(meta['created_time']),
          data,
          customMetadata: stringMap(meta['custom_metadata']),
        };
      }),

    readMetadata: (name) =>
      notFoundAsUndefined(async () => {
        const response = await call('read', metadataPath(name));
        const meta = response?.data;
        if (!meta) return undefined;
        const versions = new Map<number, KvVersionFacts>();
        for (const [key, raw] of Object.entries((meta['versions'] as Record<string, Record<string, unknown>> | undefined) ?? {})) {
          const deletion = time(raw['deletion_time']);
          versions.set(Number(key), { created: time(raw['created_time']), gone: raw['destroyed'] === true || (deletion !== 0 && deletion <= clock.now()) });
        }
        return {
          current: Number(meta['current_version']) || 0,
          created: time(meta['created_time']),
          updated: time(meta['updated_time']),
          customMetadata: stringMap(meta['custom_metadata']),
          versions,
          maxVersions: Number(meta['max_versions']) || 0,
        };
      }),

    async writeData(name, data, cas) {
      const response = await call('write', dataPath(name), { data, options: { cas } });
      const version = Number(response?.data?.['version']);
      if (!Number.isSafeInteger(version) || version < 1) throw new CofferError('internal', 'KV write returned no version');
      return version;
    },

    async writeMetadata(name, customMetadata, maxVersions) {
      await call('write', metadataPath(name), { custom_metadata: customMetadata, ...(maxVersions === undefined ? {} : { max_versions: maxVersions }) });
    },

    async deleteMetadata(name) {
      await call('delete', metadataPath(name));
    },

    async list(folder) {
      const keys = await notFoundAsUndefined(async () => (await call('list', metadataFolderPath(folder)))?.data?.['keys']);
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
    },

    async capabilities(paths) {
      try {
        const response = await call('write', 'sys/capabilities-self', { paths: [...paths] });
        const out: Record<string, string[]> = {};
        for (const path of paths) {
          const caps = response?.data?.[path];
          out[path] = Array.isArray(caps) ? caps.filter((c): c is string => typeof c === 'string') : [];
        }
        return out;
      } catch (error) {
        if (isCofferError(error) && error.code === 'permission_denied') return undefined;
        throw error;
      }
    },
  };
}

function stringMapOrObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
