/**
 * KV v2 `metadata/:path`: read a key's version table and settings, set or patch its settings
 * (max_versions, cas_required, delete_version_after, custom_metadata), delete the key with all
 * its versions, and list keys and folders.
 *
 * Must never: return version data; metadata responses describe versions, never their content.
 */
import { notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { parseCustomMetadata, patchCustomMetadata, validateCustomMetadata } from './custom-metadata.js';
import { has, parseBool, parseCount, parseKeyDeleteVersionAfter } from './input.js';
import { metadataView, newMetadata, type KeyMetadata, type KvConfig } from './metadata.js';
import { isValidSecretPath, validateListPath, validateReadPath, validateSecretPath } from './secret-path.js';
import type { VersionedStore } from './versioned-store.js';

const SETTINGS = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'] as const;

const CAS_IGNORED_WARNING = '"cas_required" set to false, but is mandated by backend config. This value will be ignored.';

/** Settings parsed from a request; a field is present only when the request set it. */
interface SettingsChange {
  maxVersions?: number;
  casRequired?: boolean;
  deleteVersionAfter?: number;
  customMetadata?: Record<string, string | null> | null;
}

/**
 * Parses the settings of a metadata write (POST/PUT) or patch. In a patch, null resets a field
 * to its default and removes a custom_metadata key; in a write, null counts as absent.
 */
/** What a metadata write or patch reads; others are ignored with Vault's warning. */
const METADATA_FIELDS: ReadonlySet<string> = new Set(['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata']);

function parseSettings(data: Readonly<Record<string, unknown>>, isPatch: boolean): SettingsChange {
  const change: SettingsChange = {};
  const nulled = (field: string): boolean => isPatch && Object.hasOwn(data, field) && data[field] === null;
  if (has(data, 'max_versions')) change.maxVersions = parseCount(data['max_versions'], 'max_versions');
  else if (nulled('max_versions')) change.maxVersions = 0;
  if (has(data, 'cas_required')) change.casRequired = parseBool(data['cas_required'], 'cas_required');
  else if (nulled('cas_required')) change.casRequired = false;
  if (has(data, 'delete_version_after')) change.deleteVersionAfter = parseKeyDeleteVersionAfter(data['delete_version_after']);
  else if (nulled('delete_version_after')) change.deleteVersionAfter = 0;
  if (has(data, 'custom_metadata')) {
    change.customMetadata = parseCustomMetadata(data['custom_metadata'], isPatch);
    validateCustomMetadata(change.customMetadata);
  } else if (nulled('custom_metadata')) {
    change.customMetadata = null;
  }
  return change;
}

function applySettings(meta: KeyMetadata, change: SettingsChange, isPatch: boolean): void {
  if (change.maxVersions !== undefined) meta.maxVersions = change.maxVersions;
  if (change.casRequired !== undefined) meta.casRequired = change.casRequired;
  if (change.deleteVersionAfter !== undefined) meta.deleteVersionAfter = change.deleteVersionAfter;
  if (change.customMetadata === null) meta.customMetadata = null;
  else if (change.customMetadata !== undefined) {
    // A write replaces the whole map; a patch merges into it (null removes a key).
    meta.customMetadata = isPatch
      ? patchCustomMetadata(meta.customMetadata, change.customMetadata)
      : (change.customMetadata as Record<string, string>);
  }
}

function casWarning(change: SettingsChange, config: KvConfig): EngineResponse | null {
  return change.casRequired === false && config.casRequired ? { warnings: [CAS_IGNORED_WARNING] } : null;
}

export function metadataPath(store: VersionedStore): PathSpec {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateReadPath(req.params['path']);
    const meta = await store.readMetadata(path);
    if (meta === undefined) throw notFound();
    return { data: metadataView(meta) };
  };

  const write = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const path = validateSecretPath(req.params['path']);
    const change = parseSettings(req.data, false);
    // As in Vault, a write that sets nothing does not create the key.
    if (!SETTINGS.some((field) => has(req.data, field))) return null;
    const config = await store.readConfig();
    return store.locked(path, async () => {
      const meta = (await store.readMetadata(path)) ?? newMetadata(store.clock.now());
      applySettings(meta, change, false);
      await store.writeMetadata(path, meta);
      return casWarning(change, config);
    });
  };

  const patch = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const path = validateSecretPath(req.params['path']);
    const change = parseSettings(req.data, true);
    const config = await store.readConfig();
    return store.locked(path, async () => {
      const meta = await store.readMetadata(path);
      if (meta === undefined) throw notFound();
      applySettings(meta, change, true);
      await store.writeMetadata(path, meta);
      return casWarning(change, config);
    });
  };

  const remove = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const path = validateSecretPath(req.params['path']);
    return store.locked(path, async () => {
      const meta = await store.readMetadata(path);
      // 204 either way; only a key that existed is announced as deleted.
      if (meta === undefined) return { unchanged: true };
      await store.deleteAll(path, meta);
      return null;
    });
  };

  const list = async (req: EngineRequest): Promise<EngineResponse> => {
    const keys = await store.listKeys(validateListPath(req.params['path']));
    // Vault answers an empty listing with 404.
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return {
    // 'metadata' alone and 'metadata/' both list the mount root.
    pattern: 'metadata(?:/(?<path>.*))?',
    fields: METADATA_FIELDS,
    description: "Read and set a secret's settings and version table; delete a secret entirely; list secrets.",
    existenceCheck: async (req) => isValidSecretPath(req.params['path']) && (await store.readMetadata(req.params['path'])) !== undefined,
    operations: { read, create: write, update: write, patch, delete: remove, list },
  };
}
