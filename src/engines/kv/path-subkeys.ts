/**
 * KV v2 `subkeys/:path`: the structure of a version with every value replaced by null, so a
 * caller can learn which fields exist without being able to read them.
 *
 * Must never: copy a leaf value into the response, at any depth.
 */
import { notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { subkeys } from './json.js';
import { parseCount, parseVersionParam } from './input.js';
import { versionView } from './metadata.js';
import { validateReadPath } from './secret-path.js';
import type { VersionedStore } from './versioned-store.js';

export function subkeysPath(store: VersionedStore): PathSpec {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const path = validateReadPath(req.params['path']);
    const version = parseVersionParam(req.data['version']);
    const rawDepth = req.data['depth'];
    // depth 0 (the default) imposes no limit; n > 0 shows keys down to level n only.
    const depth = rawDepth === undefined || rawDepth === '' ? 0 : parseCount(rawDepth, 'depth');
    const found = await store.readVersion(path, version);
    if (found.kind === 'missing') throw notFound();
    const metadata = versionView(found.meta, found.version, found.record);
    if (found.kind === 'gone') return { statusCode: 404, data: { subkeys: null, metadata } };
    return { data: { subkeys: subkeys(found.data, depth), metadata } };
  };
  return {
    pattern: 'subkeys/(?<path>.*)',
    description: 'Read the key structure of a secret version without its values.',
    operations: { read },
  };
}
