/**
 * `sys/consumers/*`: application instances register as consumers of a secret and check in with
 * the version they use, so a rotation can verify every live consumer switched before it revokes
 * the old credential. Registering needs `read` on the secret's path itself, so a token cannot
 * watch over (or hold up the rotation of) a secret it may not read; checking in for a consumer
 * or deregistering it needs the token that registered it, so one reader cannot confirm another
 * application's switch. A version reported (at registration or check-in) must not be ahead of the
 * secret: the engine that holds it refuses one above the current version, so no consumer can
 * confirm a rotation ahead of it. An older version is taken, even one no longer kept: its
 * consumer is a straggler, not gone.
 */
import { parseDurationSeconds } from '../duration.js';
import { badRequest, permissionDenied } from '../errors.js';
import type { ConsumerRegistry, ConsumerView } from '../consumers/consumer-registry.js';
import type { PolicyStore } from '../policy/store.js';
import type { EngineRequest, PathSpec } from '../router/engine.js';
import { normalizeDecodedPath } from '../router/path.js';

function pathOf(req: EngineRequest): string {
  const raw = req.data.path;
  if (typeof raw !== 'string' || raw === '') throw badRequest('missing path');
  return normalizeDecodedPath(raw).replace(/\/$/, '');
}

/** A version number: a count, so never a duration. */
function intField(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw badRequest(`${field} must be a non-negative integer`);
  return n;
}

function view(consumer: ConsumerView | (Omit<ConsumerView, 'live'> & { live?: boolean })): Record<string, unknown> {
  return {
    consumer_id: consumer.id,
    path: consumer.path,
    version: consumer.version,
    name: consumer.name,
    ttl: consumer.ttl,
    live: consumer.live ?? true,
    registered_at: new Date(consumer.registeredAt).toISOString(),
    last_check_in: new Date(consumer.lastCheckIn).toISOString(),
    version_since: new Date(consumer.versionSince).toISOString(),
  };
}

/**
 * Why no consumer can be using `version` of the secret at `path` (full API path), or undefined
 * when one can; the engine of the path's mount answers (Engine.checkConsumerVersion).
 */
export type ConsumerVersionCheck = (path: string, version: number) => Promise<string | undefined>;

export function consumersPaths(deps: { consumers: ConsumerRegistry; policies: Pick<PolicyStore, 'acl'>; checkVersion: ConsumerVersionCheck }): PathSpec[] {
  const mayRead = async (req: EngineRequest, path: string): Promise<void> => {
    const acl = await deps.policies.acl(req.auth?.policies ?? []);
    if (!acl.check(path, 'read').allowed) throw permissionDenied();
  };
  /** 0 says "none yet" and is always taken. */
  const versionOf = async (req: EngineRequest, path: string): Promise<number | undefined> => {
    const version = intField(req.data.version, 'version');
    if (version === undefined || version === 0) return version;
    const problem = await deps.checkVersion(path, version);
    if (problem !== undefined) throw badRequest(problem);
    return version;
  };
  return [
    {
      pattern: 'consumers/register',
      description: 'Register a consumer of a secret, for rotations to wait on.',
      operations: {
        update: async (req) => {
          const path = pathOf(req);
          await mayRead(req, path);
          // As every other TTL of the API: "60s", "5m", "1h" or whole seconds (60 or "60").
          const ttl = parseDurationSeconds(req.data.ttl, 'ttl');
          const version = await versionOf(req, path);
          const consumer = await deps.consumers.register({
            path,
            ...(typeof req.data.name === 'string' ? { name: req.data.name } : {}),
            ...(ttl === undefined ? {} : { ttl }),
            ...(version === undefined ? {} : { version }),
            ...(req.auth ? { owner: req.auth.accessor } : {}),
          });
          return { data: view(consumer), auditNonHmacKeys: ['consumer_id', 'path', 'version'] };
        },
      },
    },
    {
      pattern: 'consumers/checkin',
      description: 'Report the version of a secret a consumer now uses.',
      operations: {
        update: async (req) => {
          const path = pathOf(req);
          await mayRead(req, path);
          const id = req.data.consumer_id;
          if (typeof id !== 'string') throw badRequest('missing consumer_id');
          const version = await versionOf(req, path);
          if (version === undefined) throw badRequest('missing version');
          return { data: view(await deps.consumers.checkIn(id, path, version, req.auth?.accessor)), auditNonHmacKeys: ['consumer_id', 'path', 'version'] };
        },
      },
    },
    {
      pattern: 'consumers/deregister',
      description: 'Remove a consumer registration.',
      operations: {
        update: async (req) => {
          const path = pathOf(req);
          await mayRead(req, path);
          const id = req.data.consumer_id;
          if (typeof id !== 'string') throw badRequest('missing consumer_id');
          // An operator (sudo here, as root has) may remove any consumer, say a dead pod's.
          const acl = await deps.policies.acl(req.auth?.policies ?? []);
          const operator = acl.check('sys/consumers/deregister', 'update').rootPrivs;
          await deps.consumers.deregister(id, path, req.auth?.accessor, operator);
          return null;
        },
      },
    },
    {
      pattern: 'consumers',
      description: 'List the consumers of a secret and the versions they use.',
      operations: {
        read: async (req) => {
          const path = pathOf(req);
          await mayRead(req, path);
          return { data: { consumers: (await deps.consumers.list(path)).map(view) } };
        },
      },
    },
  ];
}
