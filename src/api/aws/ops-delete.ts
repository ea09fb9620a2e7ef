/**
 * DeleteSecret and RestoreSecret.
 *
 * With a recovery window, DeleteSecret marks the record (DeletedDate, window); every operation
 * but Describe, ListSecretVersionIds, Restore and Delete then refuses the secret, and past the
 * window it reads as missing. It needs `delete` on `aws/metadata/N` (checked through
 * sys/capabilities-self) besides `update` for the mark. The KV secret is removed (purged) by
 * ForceDeleteWithoutRecovery, by the sweep after the window (purge.ts), when CreateSecret reuses
 * the name after the window, or by `coffer kv metadata delete aws/N`; until then its data stays
 * readable through the Vault API to whoever may read it there.
 */
import { AwsError, invalidParameter, invalidRequest } from './errors.js';
import { optionalBool, optionalInt } from './input.js';
import { derivedSuffix, formatArn, metadataPath, parseSecretId } from './names.js';
import { decodeRecord } from './record.js';
import { deletionDate, epochSeconds, inCallerRegion, loadSecret, requireCapabilities, saveRecord, settled, type Operation } from './secret-state.js';

export const deleteSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const windowDays = optionalInt(body, 'RecoveryWindowInDays', 7, 30);
  const force = optionalBool(body, 'ForceDeleteWithoutRecovery') ?? false;
  if (force && windowDays !== undefined) {
    throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  }
  return ctx.locks.run(ref.name, async () => {
    const now = ctx.clock.now();
    if (force) {
      // As AWS: forcing the deletion of a missing or already deleted secret is not an error.
      // An ARN of another region names a secret that is not here: nothing to delete, and the
      // answer names that ARN, not the secret of the same name here.
      if (!inCallerRegion(ctx, ref)) return { ARN: body['SecretId'], Name: ref.name, DeletionDate: epochSeconds(now) };
      const meta = await ctx.kv.readMetadata(ref.name);
      const record = meta ? decodeRecord(meta.customMetadata) : undefined;
      const suffix = record?.suffix ?? derivedSuffix(ref.name);
      if (meta && ref.suffix !== undefined && ref.suffix !== suffix) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      if (meta) await ctx.kv.deleteMetadata(ref.name);
      return { ARN: formatArn(ctx.region, ref.name, suffix), Name: ref.name, DeletionDate: epochSeconds(now) };
    }
    const state = await loadSecret(ctx, ref, { allowDeleted: true });
    if (state.deletion === 'scheduled') {
      throw invalidRequest("You tried to perform the operation on a secret that's currently marked deleted.");
    }
    // No request below needs `delete`, so it is asked for explicitly and fails closed.
    await requireCapabilities(ctx, { [metadataPath(state.name)]: ['delete', 'update'] }, { failClosed: true });
    const record = { ...settled(state), deletedAt: now, recoveryDays: windowDays ?? 30 };
    await saveRecord(ctx, state, record);
    return { ARN: state.arn, Name: state.name, DeletionDate: epochSeconds(deletionDate(record) as number) };
  });
};

export const restoreSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref, { allowDeleted: true });
    if (state.deletion === 'scheduled') {
      const { deletedAt: _deleted, recoveryDays: _window, ...rest } = settled(state);
      await saveRecord(ctx, state, { ...rest, lastChanged: ctx.clock.now() });
    }
    return { ARN: state.arn, Name: state.name };
  });
};
