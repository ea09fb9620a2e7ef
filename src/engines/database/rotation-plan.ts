/**
 * What the next rotation of a static role does: which user gets the new password, which one it
 * replaces, and the versions. A pure function of the role and its account.
 *
 *   no credential yet (import)   username becomes version 1; in dual mode the alternate is the
 *                                "replaced" user, so revoke gives it its unknown password
 *   dual mode, A current at N    the other user becomes N+1, A is replaced
 *   single mode, at N            the same user, re-keyed, becomes N+1
 */
import { newRotationRecord, type RotationRecord, type RotationTrigger } from './rotation-record.js';
import type { StaticAccount, StaticRole } from './static-store.js';

export function planRotation(input: {
  role: StaticRole;
  account: StaticAccount;
  trigger: RotationTrigger;
  id: string;
  password: string;
  now: number;
}): RotationRecord {
  const { role, account } = input;
  const dual = role.alternateUsername !== '';
  const current = account.current;
  const standby = (username: string): string => (username === role.username ? role.alternateUsername : role.username);
  const from = current
    ? { username: current.username, version: current.version }
    : { username: dual ? role.alternateUsername : '', version: 0 };
  const to = current
    ? { username: dual ? standby(current.username) : role.username, version: current.version + 1 }
    : { username: role.username, version: 1 };
  return newRotationRecord({
    id: input.id,
    trigger: current ? input.trigger : 'import',
    mode: dual ? 'dual' : 'single',
    from,
    to,
    pendingPassword: input.password,
    now: input.now,
  });
}
