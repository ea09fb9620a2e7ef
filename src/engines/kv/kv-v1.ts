/**
 * KV version 1: one unversioned JSON object per path, stored as given. Read, write (create or
 * update), delete and list.
 *
 * Must never: put a stored value into an error message or log line.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import { parseDurationSeconds } from '../../core/duration.js';
import { assertJsonDepth, isJsonObject } from './json.js';
import { isValidSecretPath, validateListPath, validateReadPath, validateSecretPath } from './secret-path.js';
import { entryFolder, entryKey } from './storage-keys.js';

/** Seconds from the secret's `ttl` or `lease` key, or 0 (the mount's default) when absent or not a duration. */
function refreshHint(value: Record<string, unknown>): number {
  const raw = value['ttl'] ?? value['lease'];
  if (raw === undefined) return 0;
  try {
    return parseDurationSeconds(raw, 'ttl') ?? 0;
  } catch {
    return 0;
  }
}

export function kvV1Paths(storage: Storage): PathSpec[] {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateReadPath(req.params['path']);
    const value = await getJson<unknown>(storage, entryKey(path));
    if (!isJsonObject(value)) throw notFound();
    // All of it is what a client stored: the audit log hashes its numbers too. As Vault, a `ttl`
    // (or `lease`) key is the refresh hint clients see as lease_duration; unparsable is ignored.
    return { data: value, auditStoredData: 'all', refreshInterval: refreshHint(value) };
  };

  const write = async (req: EngineRequest): Promise<null> => {
    const path = validateSecretPath(req.params['path']);
    if (!isJsonObject(req.data) || Object.keys(req.data).length === 0) throw badRequest('missing data fields');
    assertJsonDepth(req.data, 'data');
    // A single put replaces the whole value, so concurrent writers need no lock: the last wins.
    await putJson(storage, entryKey(path), req.data);
    return null;
  };

  const remove = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const key = entryKey(validateSecretPath(req.params['path']));
    // 204 either way; only a key that existed is announced as deleted (change events).
    if ((await storage.get(key)) === undefined) return { unchanged: true };
    await storage.delete(key);
    return null;
  };

  const list = async (req: EngineRequest): Promise<EngineResponse> => {
    const keys = await storage.list(entryFolder(validateListPath(req.params['path'])));
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: '(?<path>.*)',
      description: 'Read, write, delete and list unversioned secrets.',
      existenceCheck: async (req) => isValidSecretPath(req.params['path']) && (await storage.get(entryKey(req.params['path']))) !== undefined,
      operations: { read, create: write, update: write, delete: remove, list },
    },
  ];
}
