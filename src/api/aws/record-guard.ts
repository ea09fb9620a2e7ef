/**
 * Keeps the AWS bookkeeping (record.ts) out of reach of the Vault API: a KV metadata write or
 * patch sent to the aws/ mount through the Vault API may remove the reserved `aws:*`
 * custom_metadata keys, never set them.
 *
 * Why: the record holds the DeleteSecret mark, and the purge sweep (purge.ts) deletes, with its
 * own identity, every secret whose mark is past its window. Were the record writable with
 * `update` on aws/metadata/N, a token without `delete` could forge a mark dated in the past and
 * have every version destroyed. The AWS protocol layer sends its KV requests to the pipeline
 * itself, never through the Vault listener, and DeleteSecret asks for `delete` before it marks;
 * with this guard on the Vault listener, only a request authorised to delete marks a secret.
 * Removing keys stays allowed (README: `kv metadata put` drops the bookkeeping): a record with
 * a chunk missing does not parse, and a secret without a record reads as live.
 * Must never: echo a custom_metadata key or value in its error.
 */
import { badRequest } from '../../core/errors.js';
import type { ApiRequest } from '../../core/request-handler.js';
import { AWS_KV_MOUNT } from './names.js';
import { RECORD_KEY_PREFIX } from './record.js';

/** Every path the router sends to the aws/ mount's metadata handler starts with this (paths arrive normalised). */
const METADATA_PATH_PREFIX = `${AWS_KV_MOUNT}metadata`;

/** Throws bad_request when a Vault API request would set a reserved `aws:*` key on an aws/ secret. */
export function refuseRecordWrite(request: Pick<ApiRequest, 'verb' | 'path' | 'data'>): void {
  if (request.verb !== 'write' && request.verb !== 'patch') return;
  if (!request.path.startsWith(METADATA_PATH_PREFIX)) return;
  const custom = request.data['custom_metadata'];
  // KV refuses anything but an object here; null (a patch dropping the whole map) sets nothing.
  if (custom === null || typeof custom !== 'object') return;
  // A null value (in a patch) removes the key, which is allowed.
  const sets = Object.entries(custom).some(([key, value]) => key.startsWith(RECORD_KEY_PREFIX) && value !== null);
  if (sets) {
    throw badRequest(
      `custom_metadata keys starting with "${RECORD_KEY_PREFIX}" are reserved on the ${AWS_KV_MOUNT} mount for the Secrets Manager API; the Vault API may only remove them`,
    );
  }
}
