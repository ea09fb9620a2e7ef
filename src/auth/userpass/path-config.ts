/**
 * userpass `config`: the mount's lockout settings, named after Vault's user_lockout_config
 * fields — `lockout_threshold` (failures, default 5), `lockout_duration` (default 15m),
 * `lockout_counter_reset` (default 15m) and `lockout_disable` (default false).
 *
 * Must never: accept a threshold below 1 (that would lock every user on sight).
 */
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { has, parseBool, parseDuration, parseInteger } from '../shared/input.js';
import type { LockoutConfig, LockoutStore } from './lockout.js';

function configView(config: LockoutConfig): Record<string, unknown> {
  return {
    lockout_threshold: config.threshold,
    lockout_duration: config.durationSeconds,
    lockout_counter_reset: config.counterResetSeconds,
    lockout_disable: config.disabled,
  };
}

/** What a config write reads. */
const CONFIG_FIELDS: ReadonlySet<string> = new Set(['lockout_threshold', 'lockout_duration', 'lockout_counter_reset', 'lockout_disable']);

export function configPath(lockouts: LockoutStore): PathSpec {
  const read = async (): Promise<EngineResponse> => ({ data: configView(await lockouts.config()) });

  const update = async (req: EngineRequest): Promise<null> => {
    const config = { ...(await lockouts.config()) };
    if (has(req.data, 'lockout_threshold')) config.threshold = parseInteger(req.data['lockout_threshold'], 'lockout_threshold', 1, 1_000_000);
    if (has(req.data, 'lockout_duration')) config.durationSeconds = parseDuration(req.data['lockout_duration'], 'lockout_duration');
    if (has(req.data, 'lockout_counter_reset')) config.counterResetSeconds = parseDuration(req.data['lockout_counter_reset'], 'lockout_counter_reset');
    if (has(req.data, 'lockout_disable')) config.disabled = parseBool(req.data['lockout_disable'], 'lockout_disable');
    if (!config.disabled && (config.durationSeconds === 0 || config.counterResetSeconds === 0)) {
      throw badRequest('lockout_duration and lockout_counter_reset must be positive; use lockout_disable to turn lockout off');
    }
    await lockouts.setConfig(config);
    return null;
  };

  return { pattern: 'config', description: 'Read or set the lockout settings of this userpass mount.', fields: CONFIG_FIELDS, operations: { read, update } };
}
