/**
 * The KV v2 mount that holds AWS secrets (`aws/`, names.ts): created on the first Secrets
 * Manager request if absent, so the API works on a fresh server with no setup.
 *
 * Must never: take over a mount of another type at that path; the operator's choice stands
 * and the API answers that it cannot work until the path holds a KV version 2 mount.
 */
import { CofferError } from '../../core/errors.js';
import type { MountManager } from '../../core/router/mount-manager.js';
import { AWS_KV_MOUNT } from './names.js';

export type EnsureAwsMount = () => Promise<void>;

export function createAwsMountEnsurer(mounts: Pick<MountManager, 'get' | 'enable'>): EnsureAwsMount {
  let creating: Promise<unknown> | undefined;
  return async () => {
    const existing = mounts.get('secrets', AWS_KV_MOUNT);
    if (existing) {
      if (existing.type !== 'kv' || existing.options['version'] !== '2') {
        throw new CofferError('unsupported_path', `the ${AWS_KV_MOUNT} mount must be a KV version 2 mount for the Secrets Manager API`);
      }
      return;
    }
    // Concurrent first requests share one enable call.
    creating ??= mounts
      .enable('secrets', AWS_KV_MOUNT, { type: 'kv', options: { version: '2' }, description: 'secrets of the AWS Secrets Manager API' })
      .finally(() => {
        creating = undefined;
      });
    await creating;
  };
}
