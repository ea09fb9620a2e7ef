/**
 * RotateSecret and CancelRotateSecret.
 *
 * RotateSecret stores RotationEnabled, RotationRules and RotationLambdaARN, which must name a
 * rotator configured in Coffer (rotation.ts); with RotateImmediately (the default) it runs the
 * `createSecret` step: the rotator's next value becomes a new version labelled AWSPENDING,
 * whose id is the ClientRequestToken. Coffer's rotation machinery drives the later steps.
 * With no such rotator the call is refused and nothing is stored: Coffer never pretends to
 * rotate.
 */
import { invalidParameter, invalidRequest } from './errors.js';
import { clientRequestToken, optionalBool, optionalString } from './input.js';
import { parseSecretId } from './names.js';
import { putVersion } from './ops-write.js';
import type { RotationRules } from './record.js';
import { fromKvData } from './secret-value.js';
import { loadSecret, saveRecord, settled, type Operation } from './secret-state.js';
import { AWSCURRENT, AWSPENDING, findByStage } from './versions.js';

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

export const rotateSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const token = clientRequestToken(body);
  const lambdaArn = optionalString(body, 'RotationLambdaARN', 1, 2048);
  const rules = rotationRules(body['RotationRules']);
  const immediately = optionalBool(body, 'RotateImmediately') ?? true;
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const rotatorName = lambdaArn ?? state.record.rotation?.lambdaArn;
    if (rotatorName === undefined) {
      throw invalidRequest('No rotator is associated with this secret: set RotationLambdaARN to the name of a rotator configured in Coffer.');
    }
    const rotator = ctx.rotators(rotatorName);
    if (!rotator) {
      throw invalidRequest(
        'RotationLambdaARN does not name a rotator configured in Coffer. Coffer rotates secrets through its own rotators (a database static role, a webhook), not Lambda functions.',
      );
    }
    const current = findByStage(state.versions, AWSCURRENT);
    const pending = findByStage(state.versions, AWSPENDING);
    if (immediately && pending && pending !== current && pending.id !== token) {
      throw invalidRequest("A previous rotation isn't complete. That rotation will be reattempted.");
    }
    const record = settled(state);
    const rotation = {
      ...record.rotation,
      enabled: true,
      lambdaArn: rotatorName,
      ...(rules === undefined ? {} : { rules }),
    };
    if (!immediately) {
      await saveRecord(ctx, state, { ...record, rotation, lastChanged: ctx.clock.now() });
      return { ARN: state.arn, Name: state.name };
    }
    const currentRead = current ? await ctx.kv.readData(state.name, current.kv) : undefined;
    const next = await rotator.nextValue({
      secretName: state.name,
      current: currentRead?.data ? fromKvData(currentRead.data) : undefined,
    });
    const put = await putVersion(ctx, state, token, next, [AWSPENDING], (r) => ({ ...r, rotation }));
    return { ARN: state.arn, Name: state.name, VersionId: put.id };
  });
};

export const cancelRotateSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const record = settled(state);
    if (!record.rotation) throw invalidRequest('Rotation is not configured for this secret.');
    await saveRecord(ctx, state, { ...record, rotation: { ...record.rotation, enabled: false }, lastChanged: ctx.clock.now() });
    // As AWS: the version a cancelled rotation left behind keeps AWSPENDING; the caller cleans it up.
    const pending = findByStage(state.versions, AWSPENDING);
    const current = findByStage(state.versions, AWSCURRENT);
    return { ARN: state.arn, Name: state.name, ...(pending && pending !== current ? { VersionId: pending.id } : {}) };
  });
};
