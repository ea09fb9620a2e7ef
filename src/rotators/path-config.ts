/**
 * `rotators/config/:name`: webhook rotators as configuration (create, read, update, delete,
 * list), all sudo, stored behind the barrier.
 *
 *   { "type": "webhook", "url": "http://127.0.0.1:PORT/rotate", "hmac_key"?: "...", "timeout": "10s" }
 *
 * Owns: validation (the URL policy of url-policy.ts, a timeout of 1s..5m), merging an update
 * into the stored config, and refusing to delete a rotator a schedule still uses.
 * Must never: return or log `hmac_key`; a read says only whether one is set.
 */
import { parseDurationSeconds } from '../core/duration.js';
import { badRequest, notFound } from '../core/errors.js';
import type { PathSpec } from '../core/router/engine.js';
import type { Clock } from '../core/clock.js';
import type { RotatorConfig, RotatorStore } from './rotator-store.js';
import { checkWebhookUrl, type UrlPolicy } from './url-policy.js';

export const ROTATOR_NAME_PATTERN = '[A-Za-z0-9_-]{1,64}';
const DEFAULT_TIMEOUT_SECONDS = 10;
const MAX_TIMEOUT_SECONDS = 300;
const MAX_HMAC_KEY_BYTES = 512;

export function configView(config: RotatorConfig): Record<string, unknown> {
  return {
    name: config.name,
    type: config.type,
    url: config.url,
    timeout: config.timeoutSeconds,
    hmac_key_set: config.hmacKey !== undefined,
    created_time: new Date(config.createdAt).toISOString(),
    updated_time: new Date(config.updatedAt).toISOString(),
  };
}

export interface ConfigPathDeps {
  store: RotatorStore;
  clock: Clock;
  urlPolicy: () => UrlPolicy;
}

export function configPaths(deps: ConfigPathDeps): PathSpec[] {
  const { store, clock } = deps;

  const write = async (name: string, data: Readonly<Record<string, unknown>>): Promise<null> => {
    const existing = await store.getConfig(name);
    const type = data['type'] ?? existing?.type;
    if (type !== 'webhook') throw badRequest('type must be "webhook"');
    const rawUrl = data['url'] ?? existing?.url;
    if (rawUrl === undefined) throw badRequest('url is required');
    const url = checkWebhookUrl(rawUrl, deps.urlPolicy()).toString();
    const timeout = parseDurationSeconds(data['timeout'], 'timeout') ?? existing?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    if (timeout < 1 || timeout > MAX_TIMEOUT_SECONDS) throw badRequest(`timeout must be between 1s and ${MAX_TIMEOUT_SECONDS}s`);
    let hmacKey = existing?.hmacKey;
    const rawKey = data['hmac_key'];
    if (rawKey !== undefined && rawKey !== null) {
      if (typeof rawKey !== 'string' || Buffer.byteLength(rawKey, 'utf8') > MAX_HMAC_KEY_BYTES) throw badRequest(`hmac_key must be a string of at most ${MAX_HMAC_KEY_BYTES} bytes`);
      // An empty string removes the key: the rotator then receives unsigned requests.
      hmacKey = rawKey === '' ? undefined : rawKey;
    }
    const now = clock.now();
    await store.putConfig({
      name,
      type,
      url,
      ...(hmacKey === undefined ? {} : { hmacKey }),
      timeoutSeconds: timeout,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
    return null;
  };

  return [
    {
      pattern: 'config/?',
      sudo: true,
      description: 'List the configured rotators.',
      operations: {
        list: async () => ({ data: { keys: await store.listConfigs() } }),
      },
    },
    {
      pattern: `config/(?<name>${ROTATOR_NAME_PATTERN})`,
      sudo: true,
      description: 'Configure a webhook rotator: type, url, hmac_key, timeout.',
      existenceCheck: async (req) => (await store.getConfig(req.params['name'] as string)) !== undefined,
      operations: {
        read: async (req) => {
          const config = await store.getConfig(req.params['name'] as string);
          if (!config) throw notFound();
          return { data: configView(config) };
        },
        create: (req) => write(req.params['name'] as string, req.data),
        update: (req) => write(req.params['name'] as string, req.data),
        delete: async (req) => {
          const name = req.params['name'] as string;
          const users: string[] = [];
          for (const secret of await store.listSchedules()) {
            if ((await store.getSchedule(secret))?.rotator === name) users.push(secret);
          }
          if (users.length > 0) {
            throw badRequest(`rotator ${name} is used by the rotation schedule of ${users.length} secret(s), e.g. ${users[0]}; delete or change those schedules first`);
          }
          await store.deleteConfig(name);
          return null;
        },
      },
    },
  ];
}
