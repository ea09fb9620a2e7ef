/**
 * CPU time of another process (and its children), from Linux `/proc/<pid>/stat` (utime +
 * stime, all threads).
 *
 * performance.md asks for requests per server CPU-second because this machine's 2 cores are
 * shared: wall-clock req/s moves with other load, CPU per request much less. Must never throw
 * on a platform without /proc; it reports undefined instead.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in seconds, or undefined when /proc is not readable. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so fields 14 (utime) and 15 (stime) are rest[11] and rest[12].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicks();
}

/**
 * CPU seconds of `pid` and of its live child processes (a Coffer server's HTTP replicas), so a
 * server that spreads its work over processes is charged for all of it. Children are found
 * through /proc/<pid>/task/<tid>/children; undefined when /proc is not readable.
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const own = processCpuSeconds(pid);
  if (own === undefined) return undefined;
  let total = own;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (children === '') continue;
      for (const child of children.split(/\s+/)) total += processCpuSeconds(Number(child)) ?? 0;
    }
  } catch {
    // A thread or child that ended while being read: what was read still counts.
  }
  return total;
}

/** This process's own CPU time in seconds (the load generator's cost). */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}
