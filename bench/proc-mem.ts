/**
 * Resident memory of another process, from Linux `/proc/<pid>/status` (VmRSS).
 *
 * Must never throw on a platform without /proc; it reports undefined instead.
 */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes, or undefined when it cannot be read. */
export function residentBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}
