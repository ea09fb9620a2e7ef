/**
 * How mount entries look on the wire (sys/mounts, sys/auth, sys/internal/ui/mounts).
 */
import type { MountEntry } from '../router/mount-table.js';

export function mountView(entry: MountEntry): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    config: {
      default_lease_ttl: entry.config.default_lease_ttl,
      max_lease_ttl: entry.config.max_lease_ttl,
      force_no_cache: entry.config.force_no_cache,
      ...(entry.config.audit_non_hmac_request_keys?.length ? { audit_non_hmac_request_keys: [...entry.config.audit_non_hmac_request_keys] } : {}),
      ...(entry.config.audit_non_hmac_response_keys?.length ? { audit_non_hmac_response_keys: [...entry.config.audit_non_hmac_response_keys] } : {}),
      ...(entry.config.listing_visibility ? { listing_visibility: entry.config.listing_visibility } : {}),
    },
    description: entry.description,
    external_entropy_access: false,
    local: entry.local,
    options: Object.keys(entry.options).length > 0 ? { ...entry.options } : null,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
    seal_wrap: entry.seal_wrap,
    type: entry.type,
    uuid: entry.uuid,
  };
}

/** The key a mount is listed under: 'secret/', or 'approle/' for 'auth/approle/'. */
export function listedPath(entry: MountEntry): string {
  return entry.table === 'auth' ? entry.path.slice('auth/'.length) : entry.path;
}
