/**
 * The KV secrets engine, version 1 (`options.version` '1' or absent) or version 2 ('2').
 *
 * Owns: the choice of path set per version; the paths themselves live in path-*.ts (v2) and
 * kv-v1.ts. Every KV value is secret: responses mark no data keys as safe to audit in clear.
 * Must never: read or write outside `ctx.storage`, or put a secret value into an error or log.
 */
import { badRequest } from '../../core/errors.js';
import type { Engine, EngineContext } from '../../core/router/engine.js';
import { kvV1Paths } from './kv-v1.js';
import { configPath } from './path-config.js';
import { kvConsumerVersionCheck } from './consumer-version.js';
import { dataPath } from './path-data.js';
import { metadataPath } from './path-metadata.js';
import { subkeysPath } from './path-subkeys.js';
import { versionPaths } from './path-versions.js';
import { createVersionedStore } from './versioned-store.js';

export type KvVersion = '1' | '2';

/** Reads the mount's `version` option; anything but '1', '2' or absent is refused. */
export function kvVersionOf(options: Readonly<Record<string, string>>): KvVersion {
  const version = options['version'];
  if (version === undefined || version === '' || version === '1') return '1';
  if (version === '2') return '2';
  throw badRequest('invalid kv version option: must be "1" or "2"');
}

export function createKvEngine(ctx: EngineContext): Engine {
  if (kvVersionOf(ctx.mount.options) === '1') {
    return { type: 'kv', paths: kvV1Paths(ctx.storage) };
  }
  const store = createVersionedStore(ctx.storage, ctx.clock);
  return {
    type: 'kv',
    paths: [configPath(store), dataPath(store), metadataPath(store), ...versionPaths(store), subkeysPath(store)],
    checkConsumerVersion: kvConsumerVersionCheck(store),
  };
}
