/**
 * `rotate-role/:name` (rotate a static role now) and `rotations/:name`, `rotations/` (what
 * rotations did: the one in flight, the last one, and a history of HISTORY_LIMIT).
 *
 * rotate-role answers when the rotation has completed, is held for consumers (on_timeout=hold),
 * or could not yet revoke the old credential; so it can take up to the role's verify_timeout.
 * Unlike Vault's 204, it answers 200 with the rotation's id, outcome, the consumers that
 * confirmed and the stragglers, all marked non-HMAC so the audit log names them in clear.
 * Must never: show a password; records and views carry none.
 */
import { notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import type { RotationMachine } from './rotation-machine.js';
import { rotationView, withoutSecret, type RotationRecord } from './rotation-record.js';
import type { RotationScheduler } from './rotation-scheduler.js';
import type { StaticStore } from './static-store.js';
import { NAME_PATTERN } from './storage-keys.js';

const ROTATE_FIELDS = ['rotation_id', 'status', 'phase', 'version', 'from_version', 'verify_outcome', 'confirmed', 'stragglers', 'expired', 'error'];

function rotateResponse(record: RotationRecord): EngineResponse {
  const view = rotationView(record);
  const warnings: string[] = [];
  if (record.status === 'waiting') {
    warnings.push(`the previous credential stays active until ${record.stragglers.length} consumer(s) switch to version ${record.toVersion}`);
  } else if (record.status === 'running') {
    warnings.push('the new credential is current, but revoking the previous one failed; Coffer retries');
  } else if (record.stragglers.length > 0) {
    warnings.push(`the previous credential was revoked although ${record.stragglers.length} consumer(s) had not switched`);
  }
  return {
    data: {
      rotation_id: record.id,
      status: record.status,
      phase: record.phase,
      version: record.toVersion,
      from_version: record.fromVersion,
      verify_outcome: view['verify_outcome'],
      confirmed: view['confirmed'],
      stragglers: view['stragglers'],
      expired: view['expired'],
      ...(record.error === undefined ? {} : { error: record.error }),
    },
    ...(warnings.length > 0 ? { warnings } : {}),
    auditNonHmacKeys: ROTATE_FIELDS,
  };
}

export function rotationPaths(deps: { statics: StaticStore; machine: RotationMachine; scheduler: Pick<RotationScheduler, 'refresh'> }): PathSpec[] {
  const { statics, machine } = deps;

  const rotate = async (req: EngineRequest): Promise<EngineResponse> => {
    const name = req.params['name'] as string;
    try {
      return rotateResponse(await machine.rotate(name, 'api'));
    } finally {
      await deps.scheduler.refresh(name, true);
    }
  };

  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const name = req.params['name'] as string;
    const role = await statics.getRole(name);
    if (!role) throw notFound();
    const account = await statics.getAccount(name);
    const history = await statics.getHistory(name);
    const current = account?.rotation ? rotationView(withoutSecret(account.rotation)) : null;
    return {
      data: {
        role: name,
        mode: role.alternateUsername === '' ? 'single' : 'dual',
        version: account?.current?.version ?? 0,
        current_username: account?.current?.username ?? null,
        current,
        last: history[0] ? rotationView(history[0]) : null,
        history: history.map(rotationView),
      },
    };
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await statics.listRoles();
    if (keys.length === 0) throw notFound();
    const info: Record<string, unknown> = {};
    for (const name of keys) {
      const account = await statics.getAccount(name);
      const last = account?.rotation ?? (await statics.getHistory(name))[0];
      info[name] = {
        version: account?.current?.version ?? 0,
        status: last?.status ?? null,
        phase: last?.phase ?? null,
        rotation_id: last?.id ?? null,
        updated_at: last ? new Date(last.updatedAt).toISOString() : null,
        stragglers: last?.stragglers.length ?? 0,
      };
    }
    return { data: { keys, key_info: info } };
  };

  return [
    {
      pattern: `rotate-role/(?<name>${NAME_PATTERN})`,
      description: 'Rotate a static role now (dual mode: all five steps, waiting for consumers to switch).',
      operations: { update: rotate, create: rotate },
    },
    {
      pattern: `rotations/(?<name>${NAME_PATTERN})`,
      description: 'The rotation in flight, the last one and the history of a static role.',
      operations: { read },
    },
    {
      pattern: 'rotations/?',
      description: 'Static roles with the state of their latest rotation.',
      operations: { list },
    },
  ];
}
