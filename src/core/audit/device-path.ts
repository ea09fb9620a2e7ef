/**
 * The path an audit device is enabled at ('file/'), as sys/audit and the config file give it.
 *
 * Owns: its one normal form, and the rule that no two devices' paths nest. It must never
 * normalise a strange path into an ordinary one: it refuses instead.
 */
import { badRequest } from '../errors.js';

const PATH_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** 'file' → 'file/'; refuses empty, '.', '..' and odd characters rather than normalising them. */
export function normaliseAuditPath(raw: string): string {
  const trimmed = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw badRequest('audit device path must not be empty');
  for (const segment of trimmed.split('/')) {
    if (!PATH_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw badRequest('audit device path may contain only letters, digits, ".", "_", "-" and "/" between names');
    }
  }
  return trimmed + '/';
}

/** Whether two normalised paths are the same or one lies under the other ('file/', 'file/a/'). */
export function auditPathsOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}
