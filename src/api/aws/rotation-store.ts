/**
 * Staged versions for the rotators engine (src/rotators/staged-secrets.ts): reads a secret's
 * AWSCURRENT / AWSPENDING / AWSPREVIOUS versions and moves those labels, with the same rules and
 * the same per-secret lock table as the Secrets Manager operations, so a rotation and an API
 * call never interleave their record writes.
 *
 * Every read and write is a KV request through the core pipeline, with the rotation's own
 * short-lived token (audit request ids `aws:Rotation:rotation:<id>:<n>`).
 * Owns: turning this layer's AwsErrors into CofferErrors, so the engine records one error kind.
 * Must never: return or log a value anywhere but to its caller; never take a label off
 * AWSCURRENT's version without putting AWSCURRENT somewhere else in the same write.
 */
import type { Clock } from '../../core/clock.js';
import { badRequest, CofferError } from '../../core/errors.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import type { RequestHandler } from '../../core/request-handler.js';
import { AwsError } from './errors.js';
import { createKvGateway } from './kv-gateway.js';
import { dataPath, metadataPath, validateName } from './names.js';
import { putVersion } from './ops-write.js';
import type { RotationRules, RotationSettings } from './record.js';
import { createRotationGateway } from './rotation-gateway.js';
import { noRotators } from './rotation.js';
import { fromKvData, type SecretValue } from './secret-value.js';
import { loadSecret, saveRecord, settled, type OperationContext, type SecretState } from './secret-state.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS, findById, findByStage, moveStages, removeStage, type AwsVersion } from './versions.js';

export interface RotationAccess {
  readonly token: string;
  readonly requestPrefix: string;
}

export interface RotationVersion {
  readonly id: string;
  readonly kv: number;
  readonly value: SecretValue | undefined;
}

export interface RotationSnapshot {
  readonly arn: string;
  readonly current: RotationVersion | undefined;
  readonly pending: RotationVersion | undefined;
  readonly previous: RotationVersion | undefined;
  readonly byId: RotationVersion | undefined;
}

export interface RotationSettingsPatch {
  enabled?: boolean;
  lambdaArn?: string;
  rules?: RotationRules | null;
  lastRotated?: number;
  nextRotation?: number | null;
}

export interface AwsRotationStore {
  validateName(name: string): string;
  readPath(name: string): string;
  grants(name: string): Array<{ path: string; capabilities: string[] }>;
  snapshot(name: string, access: RotationAccess, region: string, versionId?: string): Promise<RotationSnapshot>;
  putPending(name: string, access: RotationAccess, versionId: string, value: SecretValue): Promise<RotationVersion>;
  promote(name: string, access: RotationAccess, versionId: string, settings: RotationSettingsPatch): Promise<{ kv: number }>;
  dropPending(name: string, access: RotationAccess, versionId: string): Promise<void>;
  updateSettings(name: string, access: RotationAccess, patch: RotationSettingsPatch): Promise<void>;
}

export interface AwsRotationStoreDeps {
  /** Late-bound: the pipeline is built after the mounts that use this store. */
  handler: () => RequestHandler;
  clock: Clock;
  locks: KeyedMutex;
}

const OPERATION = 'Rotation';

function applyPatch(rotation: RotationSettings | undefined, patch: RotationSettingsPatch): RotationSettings {
  const out: RotationSettings = { ...(rotation ?? { enabled: false }) };
  if (patch.enabled !== undefined) out.enabled = patch.enabled;
  if (patch.lambdaArn !== undefined) out.lambdaArn = patch.lambdaArn;
  if (patch.rules === null) delete out.rules;
  else if (patch.rules !== undefined) out.rules = { ...patch.rules };
  if (patch.lastRotated !== undefined) out.lastRotated = patch.lastRotated;
  if (patch.nextRotation === null) delete out.nextRotation;
  else if (patch.nextRotation !== undefined) out.nextRotation = patch.nextRotation;
  return out;
}

/** One error vocabulary for the engine: this layer's AWS errors become the matching CofferErrors. */
function asCofferError(error: unknown): unknown {
  if (!(error instanceof AwsError)) return error;
  switch (error.type) {
    case 'ResourceNotFoundException':
      return new CofferError('not_found', 'the secret does not exist');
    case 'AccessDeniedException':
      return new CofferError('permission_denied', 'permission denied');
    case 'ResourceExistsException':
      return new CofferError('conflict', error.message);
    case 'InvalidParameterException':
    case 'InvalidRequestException':
    case 'LimitExceededException':
      return badRequest(error.message);
    default:
      return new CofferError('internal', 'internal error');
  }
}

export function createAwsRotationStore(deps: AwsRotationStoreDeps): AwsRotationStore {
  const { clock, locks } = deps;

  const contextFor = (access: RotationAccess, region = 'us-east-1'): OperationContext => {
    const identity = { token: access.token, remoteAddress: 'internal', operation: OPERATION, awsRequestId: access.requestPrefix };
    return {
      operation: OPERATION,
      region,
      accessKeyId: 'coffer-rotator',
      clock,
      kv: createKvGateway(deps.handler(), identity, clock),
      locks,
      rotators: noRotators,
      webhookRotatorExists: async () => false,
      rotation: createRotationGateway(deps.handler(), identity),
    };
  };

  const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw asCofferError(error);
    }
  };

  const versionOf = async (ctx: OperationContext, state: SecretState, version: AwsVersion | undefined): Promise<RotationVersion | undefined> => {
    if (!version) return undefined;
    const read = await ctx.kv.readData(state.name, version.kv);
    return { id: version.id, kv: version.kv, value: read?.data ? fromKvData(read.data) : undefined };
  };

  const ref = (name: string) => ({ name, suffix: undefined });

  return {
    validateName(name) {
      try {
        return validateName(name, 'secret name');
      } catch (error) {
        throw asCofferError(error);
      }
    },
    readPath: dataPath,
    grants: (name) => [
      { path: dataPath(name), capabilities: ['create', 'read', 'update'] },
      { path: metadataPath(name), capabilities: ['read', 'update'] },
    ],

    snapshot: (name, access, region, versionId) =>
      guarded(async () => {
        const ctx = contextFor(access, region);
        const state = await loadSecret(ctx, ref(name));
        const current = findByStage(state.versions, AWSCURRENT);
        const pending = findByStage(state.versions, AWSPENDING);
        const previous = findByStage(state.versions, AWSPREVIOUS);
        const byId = versionId === undefined ? undefined : findById(state.versions, versionId);
        const [c, p, v, b] = await Promise.all([versionOf(ctx, state, current), versionOf(ctx, state, pending), versionOf(ctx, state, previous), versionOf(ctx, state, byId)]);
        return { arn: state.arn, current: c, pending: p, previous: v, byId: b };
      }),

    putPending: (name, access, versionId, value) =>
      guarded(() =>
        locks.run(name, async () => {
          const ctx = contextFor(access);
          // AWSCURRENT moves only at promote, after the tests passed, even onto a first version.
          const put = await putVersion(ctx, await loadSecret(ctx, ref(name)), versionId, value, [AWSPENDING], { firstVersionCurrent: false });
          return { id: put.id, kv: put.kv, value };
        }),
      ),

    promote: (name, access, versionId, settings) =>
      guarded(() =>
        locks.run(name, async () => {
          const ctx = contextFor(access);
          const state = await loadSecret(ctx, ref(name));
          const versions = state.versions.map((v) => ({ ...v, stages: [...v.stages] }));
          const target = findById(versions, versionId);
          if (!target) throw new CofferError('not_found', 'the version to promote is gone');
          moveStages(versions, target, [AWSCURRENT]);
          removeStage(target, AWSPENDING);
          const record = settled({ ...state, versions });
          await saveRecord(ctx, state, { ...record, rotation: applyPatch(record.rotation, settings), lastChanged: clock.now() });
          return { kv: target.kv };
        }),
      ),

    dropPending: (name, access, versionId) =>
      guarded(() =>
        locks.run(name, async () => {
          const ctx = contextFor(access);
          const state = await loadSecret(ctx, ref(name));
          const versions = state.versions.map((v) => ({ ...v, stages: [...v.stages] }));
          const target = findById(versions, versionId);
          if (!target || !target.stages.includes(AWSPENDING)) return;
          removeStage(target, AWSPENDING);
          await saveRecord(ctx, state, { ...settled({ ...state, versions }), lastChanged: clock.now() });
        }),
      ),

    updateSettings: (name, access, patch) =>
      guarded(() =>
        locks.run(name, async () => {
          const ctx = contextFor(access);
          const state = await loadSecret(ctx, ref(name));
          const record = settled(state);
          await saveRecord(ctx, state, { ...record, rotation: applyPatch(record.rotation, patch), lastChanged: clock.now() });
        }),
      ),
  };
}
