/**
 * `static-creds/:name`: the current credential of a static role. Not leased (Vault returns
 * `lease_id: ""`): the password changes on the role's schedule, and `ttl` says when.
 *
 * Fields as in Vault: username, password, last_vault_rotation, rotation_period (or
 * rotation_schedule and rotation_window), ttl. Coffer adds `version` (one more at each rotation;
 * consumers check in with it) and, in dual mode while the replaced credential still works,
 * `previous: { username, password, version }`, so a reader that has not switched yet can still
 * find what it holds. `previous` disappears when the rotation starts revoking it.
 * Must never: return a credential other than the stored current one (and that previous one).
 */
import { rfc3339 } from '../../core/clock.js';
import { badRequest } from '../../core/errors.js';
import type { EngineContext, EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { timingView } from './static-role-input.js';
import { secondsUntilRotation } from './static-schedule.js';
import type { StaticStore } from './static-store.js';
import { NAME_PATTERN } from './storage-keys.js';

export function staticCredsPath(ctx: Pick<EngineContext, 'clock'>, statics: StaticStore): PathSpec {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const name = req.params['name'] as string;
    const role = await statics.getRole(name);
    if (!role) throw badRequest(`unknown role: ${name}`);
    const account = await statics.getAccount(name);
    const current = account?.current;
    if (!account || !current) throw badRequest(`static role "${name}" has no credential yet: its first rotation has not finished`);
    const previous = account.previous;
    return {
      data: {
        username: current.username,
        password: current.password,
        last_vault_rotation: rfc3339(account.lastRotation),
        ...timingView(role.timing),
        ttl: secondsUntilRotation(role.timing, account.lastRotation, ctx.clock.now()),
        version: current.version,
        ...(previous ? { previous: { username: previous.username, password: previous.password, version: previous.version } } : {}),
      },
      auditNonHmacKeys: ['last_vault_rotation', 'rotation_period', 'rotation_schedule', 'rotation_window', 'ttl', 'version'],
    };
  };

  return {
    pattern: `static-creds/(?<name>${NAME_PATTERN})`,
    description: 'Read the current credential of a static role (and, mid-rotation, the previous one).',
    operations: { read },
  };
}

const STATIC_CREDS_PATH = new RegExp(`^static-creds/(?<name>${NAME_PATTERN})$`);

/**
 * Which versions of a static role's credential a consumer may say it uses (sys/consumers): any
 * up to the current one (a consumer still on an older one is a straggler, and says so), never
 * one above it, which no rotation has made yet: reporting it early would confirm a rotation the
 * consumer has not followed.
 */
export function staticCredsConsumerVersionCheck(statics: Pick<StaticStore, 'getAccount'>): (path: string, version: number) => Promise<string | undefined> {
  return async (path, version) => {
    const name = STATIC_CREDS_PATH.exec(path)?.groups?.name;
    if (name === undefined) return undefined;
    const current = (await statics.getAccount(name))?.current?.version ?? 0;
    return version > current ? `version ${version} does not exist: the current version is ${current}` : undefined;
  };
}
