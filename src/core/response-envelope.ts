/**
 * Vault's response envelope: the JSON body of every enveloped answer. Built here, in the core,
 * because a wrapped response is stored as exactly the body its request would have received, and
 * the HTTP layer sends the same shape.
 *
 * Owns: the field order and the defaults of empty fields. Must never: add the legacy top-level
 * copy of `data` (an HTTP-layer quirk of some sys/ paths, api/vault/request-listener.ts).
 */
import type { EngineResponse } from './router/engine.js';

export function responseEnvelope(requestId: string, response: EngineResponse, mountType: string | undefined): Record<string, unknown> {
  const wrapped = response.wrapInfo !== undefined;
  return {
    request_id: requestId,
    lease_id: wrapped ? '' : (response.lease?.id ?? ''),
    renewable: wrapped ? false : (response.lease?.renewable ?? false),
    lease_duration: wrapped ? 0 : (response.lease?.duration ?? 0),
    data: wrapped ? null : (response.data ?? null),
    wrap_info: response.wrapInfo ?? null,
    warnings: response.warnings && response.warnings.length > 0 ? response.warnings : null,
    auth: wrapped ? null : (response.auth ?? null),
    mount_type: mountType ?? '',
  };
}
