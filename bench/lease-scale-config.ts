/**
 * Settings of the lease-scale run, read once from the environment and validated before
 * anything starts.
 *
 * BENCH_LEASES (default 1,000,000; 20,000 with BENCH_QUICK=1) leases are created for the
 * restart; BENCH_STORM_LEASES (default 100,000; 20,000 quick) expire together in the storm;
 * BENCH_LEASE_ROUNDS (default 3; 1 quick) restarts of each server; BENCH_SKIP_LEASES=1 skips it
 * all. BENCH_LEASE_CPU_PROF=DIR runs the populate and storm children under `node --cpu-prof`.
 * Must never start a process: it only turns env vars into plain values.
 */

export interface LeaseScaleConfig {
  leases: number;
  stormLeases: number;
  rounds: number;
  /** Registrations in flight at once while populating (group commit batches them). */
  concurrency: number;
  /** Wait after ready before the first RSS reading. */
  settleMs: number;
  burstRequests: number;
  /** Where --cpu-prof writes, or undefined. */
  cpuProfDir: string | undefined;
}

const MAX_LEASES = 10_000_000;

function count(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)} must be an integer from 1 to ${max.toLocaleString('en-US')}; unset it to use ${fallback.toLocaleString('en-US')}`);
  }
  return value;
}

export function leaseScaleSkipped(env: NodeJS.ProcessEnv): boolean {
  return env.BENCH_SKIP_LEASES === '1' || env.BENCH_SKIP_LEASES === 'true';
}

export function readLeaseScaleConfig(env: NodeJS.ProcessEnv): LeaseScaleConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const cpuProf = env.BENCH_LEASE_CPU_PROF;
  return {
    leases: count(env, 'BENCH_LEASES', quick ? 20_000 : 1_000_000, MAX_LEASES),
    stormLeases: count(env, 'BENCH_STORM_LEASES', quick ? 20_000 : 100_000, MAX_LEASES),
    rounds: count(env, 'BENCH_LEASE_ROUNDS', quick ? 1 : 3, 20),
    concurrency: 512,
    settleMs: quick ? 1_000 : 3_000,
    burstRequests: 1_000,
    cpuProfDir: cpuProf === undefined || cpuProf === '' ? undefined : cpuProf,
  };
}
