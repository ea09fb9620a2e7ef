/**
 * `sys/quotas/rate-limit[/:name]` and `sys/quotas/config`, Vault's rate limit quota endpoints.
 * The rules and their enforcement live in the quota store (src/core/quotas/quota-store.ts).
 */
import { notFound } from '../errors.js';
import type { QuotaStore } from '../quotas/quota-store.js';
import type { PathSpec } from '../router/engine.js';

export function quotasPaths(quotas: QuotaStore): PathSpec[] {
  // As Vault: a list with nothing in it is a 404.
  const keys = async () => {
    const names = quotas.list();
    if (names.length === 0) throw notFound();
    return { data: { keys: names } };
  };
  return [
    {
      pattern: 'quotas/config',
      description: 'Read and set the rate limit quota settings (response headers, exempt paths).',
      operations: {
        read: async () => ({ data: quotas.readConfig() }),
        update: async (req) => {
          await quotas.writeConfig(req.data);
          return null;
        },
      },
    },
    {
      pattern: 'quotas/rate-limit/?',
      description: 'List the rate limit quotas.',
      operations: { list: keys },
    },
    {
      pattern: 'quotas/rate-limit/(?<name>[^/]+)',
      description: 'Read, write and delete a rate limit quota.',
      operations: {
        read: async (req) => {
          const found = quotas.read(req.params.name as string);
          if (found === undefined) throw notFound();
          return { data: found };
        },
        update: async (req) => {
          await quotas.write(req.params.name as string, req.data);
          return null;
        },
        delete: async (req) => {
          await quotas.delete(req.params.name as string);
          return null;
        },
      },
    },
  ];
}
