/**
 * Settings of the one-shot scenarios added for issues 3–5 (PostgreSQL credentials, rotations,
 * watch fan-out, `coffer run`, agent), read from the environment and validated when the harness
 * starts, so a typo fails before minutes of load rather than after.
 *
 * Must never start a process or send traffic: it only turns env vars into plain values.
 */

/** BENCH_QUICK=1 (or true): every scenario shortens itself to a smoke run. */
export function isQuick(env: NodeJS.ProcessEnv): boolean {
  return env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
}

/** A `BENCH_SKIP_*` style switch: set to 1 or true. */
export function isOn(env: NodeJS.ProcessEnv, name: string): boolean {
  return env[name] === '1' || env[name] === 'true';
}

/** A number in [min, max] from `name` (underscores allowed as separators), else `fallback`. */
export function numberSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, range: { min: number; max: number; integer?: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  const valid = Number.isFinite(value) && value >= range.min && value <= range.max && (range.integer !== true || Number.isInteger(value));
  if (!valid) {
    const kind = range.integer === true ? 'an integer' : 'a number';
    throw new Error(`${name}=${JSON.stringify(raw)} must be ${kind} from ${range.min} to ${range.max}; unset it to use ${fallback}`);
  }
  return value;
}

/**
 * BENCH_HTTP_REPLICAS: extra HTTP processes of the KV load cells' Coffer servers
 * (`--http-replicas`). Default 0, the server's own default: on a 2-core machine the load
 * generator takes most of the second core, and a replica then costs reads more than it gives
 * (README, "When replicas pay"); 1 measures one replica.
 */
export function httpReplicasSetting(env: NodeJS.ProcessEnv): number {
  return numberSetting(env, 'BENCH_HTTP_REPLICAS', 0, { min: 0, max: 8, integer: true });
}
