/**
 * The KV v2 mount that holds AWS secrets (`aws/`, names.ts): created with the server's first
 * mount table (AWS_KV_INITIAL_MOUNT), so the API works on a fresh server with no setup, and
 * otherwise only through sys/mounts, with one exception: a data directory made by a build that
 * created it lazily, at the first AWS request, and that never had it, gets it once, at its
 * first AWS request (logged). A marker in system storage says `aws/` is the operator's from
 * then on; it is also set when `aws/` is seen, and when it is disabled.
 *
 * Must never: create, or take over, a mount behind the operator's back once that marker is
 * set. An `aws/` the operator disabled stays disabled (any access key could otherwise bring it
 * back, unaudited), and one of another type stays as it is: the API answers that it cannot work
 * until the path holds a KV version 2 mount.
 */
import { CofferError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MountManager } from '../../core/router/mount-manager.js';
import type { Storage } from '../../core/storage/storage.js';
import { AWS_KV_MOUNT } from './names.js';

export type EnsureAwsMount = () => Promise<void>;

export const AWS_KV_INITIAL_MOUNT = {
  path: AWS_KV_MOUNT,
  type: 'kv',
  options: { version: '2' },
  description: 'secrets of the AWS Secrets Manager API',
};

const MANAGED_KEY = 'aws-mount-managed';

export interface AwsMountMarker {
  /** Records that `aws/` is the operator's: it is never created again by an AWS request. */
  set(): Promise<void>;
  isSet(): Promise<boolean>;
}

/** The marker in `storage` (system storage, behind the barrier). */
export function createAwsMountMarker(storage: Storage): AwsMountMarker {
  let known = false;
  return {
    async set() {
      if (known) return;
      await storage.put(MANAGED_KEY, Buffer.from([1]));
      known = true;
    },
    async isSet() {
      if (known) return true;
      known = (await storage.get(MANAGED_KEY)) !== undefined;
      return known;
    },
  };
}

/** Throws unless `aws/` is a KV version 2 mount (making it once on an older data directory). */
export function createAwsMountEnsurer(mounts: Pick<MountManager, 'get' | 'enable'>, marker: AwsMountMarker, logger: Logger): EnsureAwsMount {
  let creating: Promise<unknown> | undefined;
  return async () => {
    const existing = mounts.get('secrets', AWS_KV_MOUNT);
    if (!existing) {
      if (await marker.isSet()) {
        throw new CofferError('unsupported_path', `the Secrets Manager API keeps its secrets in a KV version 2 mount at ${AWS_KV_MOUNT}, which is not enabled; enable it with: coffer secrets enable -path=${AWS_KV_MOUNT.replace(/\/$/, '')} kv-v2`);
      }
      // Concurrent first requests share one enable call.
      creating ??= (async () => {
        await mounts.enable('secrets', AWS_KV_MOUNT, AWS_KV_INITIAL_MOUNT);
        await marker.set();
        logger.warn(`created the ${AWS_KV_MOUNT} mount for the Secrets Manager API once, for a data directory made before it came with the first start; it is the operator's from now on`);
      })().finally(() => {
        creating = undefined;
      });
      await creating;
      return;
    }
    if (existing.type !== 'kv' || existing.options['version'] !== '2') {
      throw new CofferError('unsupported_path', `the ${AWS_KV_MOUNT} mount must be a KV version 2 mount for the Secrets Manager API`);
    }
    await marker.set();
  };
}
