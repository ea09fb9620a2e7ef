/**
 * Turns whatever a plugin threw into the CofferError a caller sees.
 *
 * Owns: the status of database failures: a statement the database refused is the caller's to
 * fix (400), an unreachable database is 502, except while a config is being verified, where it
 * is the config that is wrong (400). Anything else is a 500 that still carries the message,
 * since plugins promise messages free of secrets.
 * Must never: let a password through. Every message is scrubbed again here with the secrets the
 * engine holds (admin password, new credential password), whatever the plugin did.
 */
import { CofferError, isCofferError } from '../../core/errors.js';
import { DatabasePluginError } from './plugin.js';
import { scrubSecrets } from './plugin-secret-scrub.js';

export type FailureContext = 'verify' | 'operation';

export function databaseFailure(err: unknown, secrets: readonly string[], prefix: string, context: FailureContext = 'operation'): CofferError {
  const known = secrets.filter((s) => s !== '');
  // The prefix is Coffer's own words; only the message may hold what the database said back.
  const scrub = (text: string): string => `${prefix}${scrubSecrets(text, [...known, ...known.map(encodeURIComponent)])}`;
  if (isCofferError(err)) {
    return new CofferError(err.code, scrub(err.message), { data: err.data, outcomeUnknown: err.outcomeUnknown });
  }
  if (err instanceof DatabasePluginError) {
    const code = err.kind === 'connection' && context === 'operation' ? 'upstream' : 'bad_request';
    // Carried over: the lease manager keeps the lease of a user that may exist (lease-manager.ts).
    return new CofferError(code, scrub(err.message), { outcomeUnknown: err.outcomeUnknown });
  }
  const message = err instanceof Error && err.message !== '' ? err.message : 'database error';
  return new CofferError('internal', scrub(message));
}
