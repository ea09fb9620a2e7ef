/**
 * KV v2 `data/:path`: read a version, write a new version, patch the latest version with a JSON
 * merge patch, and soft-delete the latest version.
 *
 * Must never: return or log version data of a deleted or destroyed version, or put any secret
 * value into an error message.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { assertJsonDepth, isJsonObject, mergePatch, type JsonObject } from './json.js';
import { checkCas, parseCasOption, parseVersionParam } from './input.js';
import { addVersion, isGone, newMetadata, scheduledDeletion, versionRecord, versionView } from './metadata.js';
import { isValidSecretPath, validateReadPath, validateSecretPath } from './secret-path.js';
import type { VersionedStore } from './versioned-store.js';

/** What a write or patch reads (`version` is a read's); others are ignored with Vault's warning. */
const DATA_FIELDS: ReadonlySet<string> = new Set(['data', 'options', 'version']);

/** The `data` field of a write or patch: a JSON object, or 400 'no data provided'. */
function requireData(req: EngineRequest): JsonObject {
  const data = req.data['data'];
  if (!isJsonObject(data)) throw badRequest('no data provided');
  assertJsonDepth(data, 'data');
  return data;
}

export function dataPath(store: VersionedStore): PathSpec {
  const { clock } = store;

  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateReadPath(req.params['path']);
    const found = await store.readVersion(path, parseVersionParam(req.data['version']));
    if (found.kind === 'missing') throw notFound();
    const metadata = versionView(found.meta, found.version, found.record);
    // Vault answers a deleted or destroyed version with 404 and still returns its metadata.
    if (found.kind === 'gone') return { statusCode: 404, data: { data: null, metadata } };
    // `data` is what a client stored: the audit log hashes its numbers too, not the metadata's.
    return { data: { data: found.data, metadata }, auditStoredData: 'data' };
  };

  const write = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateSecretPath(req.params['path']);
    const data = requireData(req);
    const cas = parseCasOption(req.data['options']);
    return store.locked(path, async () => {
      const config = await store.readConfig();
      const meta = (await store.readMetadata(path)) ?? newMetadata(null);
      checkCas(cas, meta.currentVersion, config.casRequired || meta.casRequired);
      const now = clock.now();
      const { version, pruned } = addVersion(meta, now, scheduledDeletion(now, config, meta), config.maxVersions);
      await store.commitVersion(path, meta, version, data, pruned);
      return { data: versionView(meta, version, meta.versions[String(version)]!) };
    });
  };

  const patch = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateSecretPath(req.params['path']);
    const changes = requireData(req);
    const cas = parseCasOption(req.data['options']);
    return store.locked(path, async () => {
      const meta = await store.readMetadata(path);
      if (meta === undefined) throw notFound();
      const config = await store.readConfig();
      checkCas(cas, meta.currentVersion, config.casRequired || meta.casRequired);
      const found = await store.readVersion(path, meta.currentVersion);
      if (found.kind === 'missing') throw notFound();
      // Vault's patch puts the latest version's metadata directly in `data` with the 404.
      if (found.kind === 'gone') return { statusCode: 404, data: versionView(found.meta, found.version, found.record) };
      const patched = mergePatch(found.data, changes) as JsonObject;
      const now = clock.now();
      const { version, pruned } = addVersion(meta, now, scheduledDeletion(now, config, meta), config.maxVersions);
      await store.commitVersion(path, meta, version, patched, pruned);
      return { data: versionView(meta, version, meta.versions[String(version)]!) };
    });
  };

  const softDeleteLatest = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const path = validateSecretPath(req.params['path']);
    return store.locked(path, async () => {
      const meta = await store.readMetadata(path);
      // 204 either way, as in Vault; only a real deletion is announced to watchers.
      if (meta === undefined) return { unchanged: true };
      const latest = versionRecord(meta, meta.currentVersion);
      const now = clock.now();
      if (latest === undefined || isGone(latest, now)) return { unchanged: true };
      latest.deletionTime = now;
      await store.writeMetadata(path, meta);
      return null;
    });
  };

  return {
    pattern: 'data/(?<path>.*)',
    fields: DATA_FIELDS,
    description: 'Read, write, patch and soft-delete versions of a secret.',
    existenceCheck: async (req) => isValidSecretPath(req.params['path']) && (await store.readMetadata(req.params['path'])) !== undefined,
    operations: { read, create: write, update: write, patch, delete: softDeleteLatest },
  };
}
