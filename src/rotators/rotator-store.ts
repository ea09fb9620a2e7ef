/**
 * What the rotators engine keeps in its mount's storage (behind the barrier, so HMAC keys are
 * encrypted at rest): rotator configurations, per-secret schedules, and rotation records.
 *
 * Keys: `config/<rotator>`, `schedule/<b64url(secret)>`, `rotation/<b64url(secret)>/<b64url(id)>`.
 * Secret names contain '/', so they are encoded into one key segment; listing `schedule/`
 * then yields every scheduled secret, flat.
 * Must never: spell a storage key outside the functions below.
 */
import { getJson, putJson, type Storage } from '../core/storage/storage.js';
import type { RotationRecord } from './rotation-record.js';
import type { RotationRules } from './schedule-rules.js';

export interface RotatorConfig {
  name: string;
  type: 'webhook';
  url: string;
  /** Secret: never returned by a read, never logged. */
  hmacKey?: string;
  timeoutSeconds: number;
  createdAt: number;
  updatedAt: number;
}

export type OnTimeout = 'revoke' | 'hold';

export interface Schedule {
  secret: string;
  rotator: string;
  /** How RotateSecret named the rotator (an ARN or the bare name), shown as RotationLambdaARN. */
  lambdaArn: string;
  rules?: RotationRules;
  enabled: boolean;
  verifyTimeoutSeconds: number;
  onTimeout: OnTimeout;
  /** The region ARNs sent to the webhook are shown in. */
  region: string;
  /** The per-secret policy of the rotation's own tokens. */
  policy: string;
  configuredAt: number;
  updatedAt: number;
  lastRotated?: number;
  /** When the scheduler starts the next rotation; absent for on-demand rotation. */
  nextRun?: number;
  /** The rotation that has not reached a final state, if any. */
  active?: string;
  /** Ids of recent rotations, oldest first. */
  history: string[];
}

export const HISTORY_LIMIT = 20;

const encode = (secret: string): string => Buffer.from(secret, 'utf8').toString('base64url');
const decode = (segment: string): string => Buffer.from(segment, 'base64url').toString('utf8');

const configKey = (name: string): string => `config/${name}`;
const scheduleKey = (secret: string): string => `schedule/${encode(secret)}`;
const rotationKey = (secret: string, id: string): string => `rotation/${encode(secret)}/${encode(id)}`;

export interface RotatorStore {
  getConfig(name: string): Promise<RotatorConfig | undefined>;
  putConfig(config: RotatorConfig): Promise<void>;
  deleteConfig(name: string): Promise<void>;
  listConfigs(): Promise<string[]>;
  getSchedule(secret: string): Promise<Schedule | undefined>;
  putSchedule(schedule: Schedule): Promise<void>;
  deleteSchedule(secret: string): Promise<void>;
  /** Secret names that have a schedule, sorted. */
  listSchedules(): Promise<string[]>;
  getRotation(secret: string, id: string): Promise<RotationRecord | undefined>;
  putRotation(record: RotationRecord): Promise<void>;
  deleteRotation(secret: string, id: string): Promise<void>;
}

export function createRotatorStore(storage: Storage): RotatorStore {
  return {
    getConfig: (name) => getJson<RotatorConfig>(storage, configKey(name)),
    putConfig: (config) => putJson(storage, configKey(config.name), config),
    deleteConfig: (name) => storage.delete(configKey(name)),
    listConfigs: async () => (await storage.list('config/')).filter((k) => !k.endsWith('/')),
    getSchedule: (secret) => getJson<Schedule>(storage, scheduleKey(secret)),
    putSchedule: (schedule) => putJson(storage, scheduleKey(schedule.secret), schedule),
    deleteSchedule: (secret) => storage.delete(scheduleKey(secret)),
    listSchedules: async () =>
      (await storage.list('schedule/'))
        .filter((k) => !k.endsWith('/'))
        .map(decode)
        .sort(),
    getRotation: (secret, id) => getJson<RotationRecord>(storage, rotationKey(secret, id)),
    putRotation: (record) => putJson(storage, rotationKey(record.secret, record.id), record),
    deleteRotation: (secret, id) => storage.delete(rotationKey(secret, id)),
  };
}
