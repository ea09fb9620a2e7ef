/**
 * RotateSecret and CancelRotateSecret.
 *
 * RotationLambdaARN (or the one stored by an earlier call) must name a rotator configured in
 * Coffer (rotation.ts); with none, the call is refused and nothing is stored: Coffer never
 * pretends to rotate.
 * - A webhook rotator: RotateSecret writes `rotators/schedule/<name>` through the pipeline with
 *   the caller's token; the rotators engine stores RotationEnabled, RotationRules and the ARN in
 *   the secret's record and, with RotateImmediately (the default), starts a rotation whose new
 *   version id is the ClientRequestToken. The call returns once the rotation is durably
 *   started, as AWS returns once the Lambda is invoked; DescribeSecret and
 *   `rotators/status/<name>` show its progress.
 * - An in-process rotator: its next value becomes a new version labelled AWSPENDING at once.
 * CancelRotateSecret turns automatic rotation off; as in AWS, a rotation already running is
 * not interrupted.
 */
import { isCofferError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import { invalidParameter, invalidRequest } from './errors.js';
import { optionalBool, optionalString } from './input.js';
import { parseSecretId } from './names.js';
import { putVersion } from './ops-write.js';
import type { RotationRules } from './record.js';
import { rotatorNameFromArn, type AwsRotator } from './rotation.js';
import { fromKvData } from './secret-value.js';
import { loadSecret, saveRecord, settled, type Operation, type OperationContext, type SecretState } from './secret-state.js';
import { AWSCURRENT, AWSPENDING, findByStage } from './versions.js';

const NO_ROTATOR = 'No rotator is associated with this secret: set RotationLambdaARN to the name of a rotator configured in Coffer.';
const NOT_A_ROTATOR =
  'RotationLambdaARN does not name a rotator configured in Coffer. Coffer rotates secrets through its own rotators (a webhook configured at rotators/config/<name>, a database static role), not Lambda functions.';

function rotationRules(raw: unknown): RotationRules | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParameter('RotationRules must be an object.');
  const rules = raw as Record<string, unknown>;
  const out: RotationRules = {};
  const days = rules['AutomaticallyAfterDays'];
  if (days !== undefined && days !== null) {
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 1000) {
      throw invalidParameter('RotationRules.AutomaticallyAfterDays must be an integer from 1 to 1000.');
    }
    out.AutomaticallyAfterDays = days;
  }
  const duration = rules['Duration'];
  if (duration !== undefined && duration !== null) {
    if (typeof duration !== 'string' || !/^[0-9h]{2,3}$/.test(duration)) throw invalidParameter('RotationRules.Duration must look like "3h".');
    out.Duration = duration;
  }
  const schedule = rules['ScheduleExpression'];
  if (schedule !== undefined && schedule !== null) {
    if (typeof schedule !== 'string' || schedule.length < 1 || schedule.length > 256) {
      throw invalidParameter('RotationRules.ScheduleExpression must be a string of 1 to 256 characters.');
    }
    out.ScheduleExpression = schedule;
  }
  if (out.AutomaticallyAfterDays !== undefined && out.ScheduleExpression !== undefined) {
    throw invalidParameter('You cannot specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.');
  }
  return out;
}

/**
 * As AWS: rotating now while another version holds AWSPENDING (a rotation that did not finish,
 * or a PutSecretValue into AWSPENDING) is refused, whichever rotator would run; a retry of the
 * same call (its ClientRequestToken names the pending version) is not.
 */
function refuseUnfinishedRotation(state: SecretState, token: string, immediately: boolean): void {
  const current = findByStage(state.versions, AWSCURRENT);
  const pending = findByStage(state.versions, AWSPENDING);
  if (immediately && pending && pending !== current && pending.id !== token) {
    throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
  }
}

/** The in-process rotator path: its value becomes AWSPENDING now, under the secret's lock. */
async function rotateInProcess(
  ctx: OperationContext,
  state: SecretState,
  rotator: AwsRotator,
  input: { token: string; rotatorName: string; rules: RotationRules | undefined; immediately: boolean },
): Promise<Record<string, unknown>> {
  refuseUnfinishedRotation(state, input.token, input.immediately);
  const record = settled(state);
  const rotation = {
    ...record.rotation,
    enabled: true,
    lambdaArn: input.rotatorName,
    ...(input.rules === undefined ? {} : { rules: input.rules }),
  };
  if (!input.immediately) {
    await saveRecord(ctx, state, { ...record, rotation, lastChanged: ctx.clock.now() });
    return { ARN: state.arn, Name: state.name };
  }
  const current = findByStage(state.versions, AWSCURRENT);
  const currentRead = current ? await ctx.kv.readData(state.name, current.kv) : undefined;
  const next = await rotator.nextValue({
    secretName: state.name,
    current: currentRead?.data ? fromKvData(currentRead.data) : undefined,
  });
  // On a secret with no value yet, this first version is AWSCURRENT too (as PutSecretValue):
  // nothing else ever moves AWSCURRENT after an in-process rotator.
  const put = await putVersion(ctx, state, input.token, next, [AWSPENDING], { change: (r) => ({ ...r, rotation }) });
  return { ARN: state.arn, Name: state.name, VersionId: put.id };
}

export const rotateSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const token = optionalString(body, 'ClientRequestToken', 32, 64) ?? uuid();
  const lambdaArn = optionalString(body, 'RotationLambdaARN', 1, 2048);
  const rules = rotationRules(body['RotationRules']);
  const immediately = optionalBool(body, 'RotateImmediately') ?? true;

  const initial = await loadSecret(ctx, ref);
  const rotatorRef = lambdaArn ?? initial.record.rotation?.lambdaArn;
  if (rotatorRef === undefined) throw invalidRequest(NO_ROTATOR);
  const inProcess = ctx.rotators(rotatorRef);
  if (inProcess) {
    return ctx.locks.run(ref.name, async () =>
      rotateInProcess(ctx, await loadSecret(ctx, ref), inProcess, { token, rotatorName: rotatorRef, rules, immediately }),
    );
  }
  const rotatorName = rotatorNameFromArn(rotatorRef);
  if (rotatorName === undefined || !(await ctx.webhookRotatorExists(rotatorName))) throw invalidRequest(NOT_A_ROTATOR);
  refuseUnfinishedRotation(initial, token, immediately);
  // No lock held here: the rotators engine writes the secret's record itself, under the same lock.
  const answer = await ctx.rotation.schedule(initial.name, {
    rotator: rotatorName,
    lambda_arn: rotatorRef,
    enabled: true,
    ...(rules === undefined ? {} : { rotation_rules: rules }),
    rotate_immediately: immediately,
    client_request_token: token,
    region: ctx.region,
  });
  const versionId = answer['version_id'];
  return { ARN: initial.arn, Name: initial.name, ...(immediately && typeof versionId === 'string' ? { VersionId: versionId } : {}) };
};

export const cancelRotateSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const initial = await loadSecret(ctx, ref);
  const configured = initial.record.rotation;
  if (!configured) throw invalidRequest('Rotation is not configured for this secret.');
  let viaSchedule = false;
  if (configured.lambdaArn === undefined || !ctx.rotators(configured.lambdaArn)) {
    try {
      await ctx.rotation.schedule(initial.name, { enabled: false });
      viaSchedule = true;
    } catch (error) {
      // No schedule at rotators/ (configured before it existed, or removed there): the record alone changes.
      if (!(isCofferError(error) && (error.code === 'not_found' || error.code === 'unsupported_path'))) throw error;
    }
  }
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const record = settled(state);
    if (!viaSchedule && record.rotation) {
      const { nextRotation: _none, ...rotation } = record.rotation;
      await saveRecord(ctx, state, { ...record, rotation: { ...rotation, enabled: false }, lastChanged: ctx.clock.now() });
    }
    // As AWS: the version a cancelled rotation left behind keeps AWSPENDING; the caller cleans it up.
    const pending = findByStage(state.versions, AWSPENDING);
    const current = findByStage(state.versions, AWSCURRENT);
    return { ARN: state.arn, Name: state.name, ...(pending && pending !== current ? { VersionId: pending.id } : {}) };
  });
};
