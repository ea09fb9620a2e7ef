/**
 * KV v2 `config`: mount-wide max_versions, cas_required and delete_version_after.
 *
 * A negative delete_version_after disables automatic deletion for every key; 0 clears it.
 * Must never: change existing versions; the settings apply to versions written afterwards.
 */
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { has, parseBool, parseCount, parseMountDeleteVersionAfter } from './input.js';
import { configView } from './metadata.js';
import type { VersionedStore } from './versioned-store.js';

/** What a config write reads; others are ignored with Vault's warning. */
const CONFIG_FIELDS: ReadonlySet<string> = new Set(['max_versions', 'cas_required', 'delete_version_after']);

export function configPath(store: VersionedStore): PathSpec {
  const read = async (): Promise<EngineResponse> => ({ data: configView(await store.readConfig()) });

  const update = async (req: EngineRequest): Promise<null> => {
    const maxVersions = has(req.data, 'max_versions') ? parseCount(req.data['max_versions'], 'max_versions') : undefined;
    const casRequired = has(req.data, 'cas_required') ? parseBool(req.data['cas_required'], 'cas_required') : undefined;
    const deleteVersionAfter = has(req.data, 'delete_version_after')
      ? parseMountDeleteVersionAfter(req.data['delete_version_after'])
      : undefined;
    if (maxVersions === undefined && casRequired === undefined && deleteVersionAfter === undefined) return null;
    return store.lockedConfig(async () => {
      const config = await store.readConfig();
      await store.writeConfig({
        ...config,
        ...(maxVersions === undefined ? {} : { maxVersions }),
        ...(casRequired === undefined ? {} : { casRequired }),
        ...(deleteVersionAfter === undefined ? {} : { deleteVersionAfter }),
      });
      return null;
    });
  };

  return {
    pattern: 'config',
    fields: CONFIG_FIELDS,
    description: 'Read and set mount-wide KV v2 settings.',
    operations: { read, update },
  };
}
