/**
 * The KV v2 mount that holds AWS secrets (`aws/`, names.ts): created with the server's first
 * mount table (AWS_KV_INITIAL_MOUNT), so the API works on a fresh server with no setup, and
 * otherwise only through sys/mounts.
 *
 * Must never: create, or take over, a mount behind the operator's back. An `aws/` the operator
 * disabled stays disabled (any access key could otherwise bring it back, unaudited), and one of
 * another type stays as it is: the API answers that it cannot work until the path holds a KV
 * version 2 mount.
 */
import { CofferError } from '../../core/errors.js';
import type { MountManager } from '../../core/router/mount-manager.js';
import { AWS_KV_MOUNT } from './names.js';

export type EnsureAwsMount = () => Promise<void>;

export const AWS_KV_INITIAL_MOUNT = {
  path: AWS_KV_MOUNT,
  type: 'kv',
  options: { version: '2' },
  description: 'secrets of the AWS Secrets Manager API',
};

/** Throws unless `aws/` is a KV version 2 mount. */
export function createAwsMountEnsurer(mounts: Pick<MountManager, 'get'>): EnsureAwsMount {
  return async () => {
    const existing = mounts.get('secrets', AWS_KV_MOUNT);
    if (!existing) {
      throw new CofferError('unsupported_path', `the Secrets Manager API keeps its secrets in a KV version 2 mount at ${AWS_KV_MOUNT}, which is not enabled; enable it with: coffer secrets enable -path=${AWS_KV_MOUNT.replace(/\/$/, '')} kv-v2`);
    }
    if (existing.type !== 'kv' || existing.options['version'] !== '2') {
      throw new CofferError('unsupported_path', `the ${AWS_KV_MOUNT} mount must be a KV version 2 mount for the Secrets Manager API`);
    }
  };
}
