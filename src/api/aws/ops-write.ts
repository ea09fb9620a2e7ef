/**
 * CreateSecret, PutSecretValue, UpdateSecret and UpdateSecretVersionStage.
 *
 * A new version is written in two pipeline requests under the secret's lock: the record with
 * the version's intent (`pending`: its id and labels) into `aws/metadata/N`, then the value
 * into `aws/data/N` with check-and-set. The KV write is the commit point (versions.ts), so a
 * failure between the two leaves no label moved and no value visible, and a failed value write
 * takes its intent back out (withdrawIntent), so that the next Vault write is not taken for it.
 * Must never: change an existing version's value (versions are immutable), or write anything
 * before the caller's capabilities for the whole operation are known to suffice.
 */
import { isCofferError } from '../../core/errors.js';
import { AwsError, invalidParameter, invalidRequest, secretNotFound } from './errors.js';
import { clientRequestToken, optionalString, parseTags, versionStages } from './input.js';
import { dataPath, formatArn, metadataPath, newSuffix, parseSecretId, validateName } from './names.js';
import { decodeRecord, encodeRecord, type AwsRecord } from './record.js';
import { fromKvData, sameValue, toKvData, valueFromRequest, type SecretValue } from './secret-value.js';
import {
  AWS_MAX_VERSIONS,
  deletionState,
  loadSecret,
  requireCapabilities,
  saveRecord,
  settled,
  stateOf,
  type Operation,
  type OperationContext,
  type SecretState,
} from './secret-state.js';
import { AWSCURRENT, findById, moveStages, removeStage, type AwsVersion } from './versions.js';

const IMMUTABLE_VERSION = "You can't modify an existing version, you can only create a new version.";
const CAS_ATTEMPTS = 3;

/** A version with this id already exists: the same value is an idempotent retry, another value an error. */
async function existingVersion(ctx: OperationContext, name: string, version: AwsVersion, value: SecretValue): Promise<AwsVersion> {
  const read = await ctx.kv.readData(name, version.kv);
  if (!read || read.data === null || !sameValue(fromKvData(read.data), value)) throw new AwsError('ResourceExistsException', IMMUTABLE_VERSION);
  return version;
}

export interface PutVersionOptions {
  /** Applied to the record in the same metadata write as the version's intent. */
  change?: (record: AwsRecord) => AwsRecord;
  /**
   * Whether the secret's first version also gets AWSCURRENT, whatever `stages` says (default
   * true). AWS does so for PutSecretValue: "If this operation creates the first version for the
   * secret, then Secrets Manager automatically attaches the staging label AWSCURRENT to it."
   * A webhook rotation turns it off: its rollback takes only AWSPENDING off the new version, so
   * a value that failed its tests must never have been made current.
   */
  firstVersionCurrent?: boolean;
}

/**
 * After a failed value write, takes the call's intent back out of the record, restoring
 * `before`, when KV certainly does not hold the version the intent names: the write lost its
 * check-and-set (a Vault write took that number), or KV holds no version that high. Left in,
 * the intent would give the next Vault write the failed call's id and labels. When neither
 * holds, the write may have committed before the error (an audit failure after the engine
 * ran), and the intent stays, to count if it did.
 * Best effort: the client sees the write's own error either way. An intent left behind (this
 * clean-up failing too, or the server stopping between the two requests) is dropped by the
 * next AWS write, but a Vault write that comes first still takes its id and labels: closing
 * that needs the intent bound to the KV write itself, which KV v2 has no field for.
 */
async function withdrawIntent(ctx: OperationContext, name: string, intent: { kv: number; id: string }, error: unknown, before: AwsRecord): Promise<void> {
  try {
    const meta = await ctx.kv.readMetadata(name);
    if (!meta) return;
    const lostCas = isCofferError(error) && error.code === 'cas_mismatch';
    if (!lostCas && meta.current >= intent.kv) return;
    const pending = decodeRecord(meta.customMetadata)?.pending;
    if (pending?.kv !== intent.kv || pending.id !== intent.id) return;
    await ctx.kv.writeMetadata(name, encodeRecord(before, meta.customMetadata));
  } catch {
    // Nothing to add to the caller's error: the write failed, and that is what it reports.
  }
}

/** The labels a new version gets: `stages`, plus AWSCURRENT when KV holds no version of the secret yet. */
function labelsFor(state: SecretState, stages: readonly string[], firstVersionCurrent: boolean): string[] {
  const labels = [...stages];
  if (firstVersionCurrent && state.meta.current === 0 && !labels.includes(AWSCURRENT)) labels.push(AWSCURRENT);
  return labels;
}

/**
 * Adds a version with `stages` to a loaded secret (the caller holds its lock). Returns the
 * version's id, labels and KV version.
 */
/** Past this many versions kept for one secret, a write is refused rather than keep growing. */
const MAX_KEPT_VERSIONS = 10_000;

/**
 * KV keeps the newest max_versions versions and prunes older ones whatever their labels, while
 * AWS never removes a version that has a staging label. So before a write, the secret's own
 * max_versions is raised, in the same metadata write as the version's intent, until it keeps
 * every version that will still hold a label (a rotation that keeps failing leaves AWSCURRENT
 * ever further behind its AWSPENDING puts). A secret that follows the mount's setting (0) gets
 * at least AWS_MAX_VERSIONS, as one the AWS API created. Raising the secret's setting never
 * lowers what KV keeps (it takes the larger of the secret's and the mount's). Once the labels
 * let go, a value this code set (record.maxVersionsSet) comes down again, to what the labels
 * still need but never below what the secret had before the first raise (the operator's own
 * value, record.maxVersionsBefore) nor AWS_MAX_VERSIONS, and KV prunes the rest with the write
 * that follows; a value an operator set since is left alone. Only past MAX_KEPT_VERSIONS is the write
 * refused, as AWS refuses one past its version quota.
 */
function keptVersions(state: SecretState, next: number, token: string, labels: readonly string[]): { setMaxVersions?: number; before?: number } {
  const target: AwsVersion = { kv: next, id: token, stages: [] };
  const after = [...state.versions.map((v) => ({ ...v, stages: [...v.stages] })), target];
  moveStages(after, target, labels);
  const needed = Math.max(1, ...after.filter((v) => v.stages.length > 0).map((v) => next - v.kv + 1));
  const own = state.meta.maxVersions;
  const raisedByUs = own !== 0 && own === state.record.maxVersionsSet;
  // What the secret kept before this code first raised it: the operator's own value, or (0)
  // the mount's setting with AWS_MAX_VERSIONS at least. Never lowered below that.
  const floor = Math.max(raisedByUs ? state.record.maxVersionsBefore ?? 0 : 0, AWS_MAX_VERSIONS);
  let wanted: number | undefined;
  if (own === 0) wanted = Math.max(needed, AWS_MAX_VERSIONS);
  else if (needed > own) wanted = needed;
  else if (raisedByUs && Math.max(needed, floor) < own) wanted = Math.max(needed, floor);
  if (wanted !== undefined && wanted > MAX_KEPT_VERSIONS) {
    const oldest = after.filter((v) => v.stages.length > 0).sort((a, b) => a.kv - b.kv)[0];
    throw new AwsError(
      'LimitExceededException',
      `This version would exceed the quota of ${MAX_KEPT_VERSIONS} versions for the secret: version ${oldest?.id} still has the staging label(s) ${oldest?.stages.join(', ')}. Move or remove those labels (UpdateSecretVersionStage) first.`,
    );
  }
  if (wanted === undefined) return {};
  // The value to come back to: kept from the first raise for as long as the raised value stands.
  return { setMaxVersions: wanted, before: raisedByUs ? state.record.maxVersionsBefore ?? 0 : own };
}

export async function putVersion(
  ctx: OperationContext,
  initial: SecretState,
  token: string,
  value: SecretValue,
  stages: readonly string[],
  options: PutVersionOptions = {},
): Promise<{ id: string; stages: string[]; kv: number }> {
  const { change = (r: AwsRecord) => r, firstVersionCurrent = true } = options;
  const known = findById(initial.versions, token);
  if (known) return { id: known.id, stages: [...(await existingVersion(ctx, initial.name, known, value)).stages], kv: known.kv };
  await requireCapabilities(ctx, { [metadataPath(initial.name)]: ['update'], [dataPath(initial.name)]: ['update'] });
  let state = initial;
  for (let attempt = 1; ; attempt++) {
    const next = state.meta.current + 1;
    // Decided per attempt: after a lost check-and-set, a Vault write made the first version.
    const labels = labelsFor(state, stages, firstVersionCurrent);
    const keep = keptVersions(state, next, token, labels);
    const record: AwsRecord = {
      ...change(settled(state)),
      lastChanged: ctx.clock.now(),
      pending: { kv: next, id: token, stages: labels },
      ...(keep.setMaxVersions === undefined ? {} : { maxVersionsSet: keep.setMaxVersions, maxVersionsBefore: keep.before ?? 0 }),
    };
    await saveRecord(ctx, state, record, keep.setMaxVersions);
    try {
      await ctx.kv.writeData(state.name, toKvData(value), state.meta.current);
    } catch (error) {
      if (!(isCofferError(error) && error.code === 'cas_mismatch') || attempt >= CAS_ATTEMPTS) {
        // The record as it was before this call: a failed write changes nothing (`change` included).
        await withdrawIntent(ctx, state.name, { kv: next, id: token }, error, settled(state));
        throw error;
      }
      // A Vault write took the version number first. Our intent names that version, so it is
      // void: reload without it (the Vault write becomes AWSCURRENT) and try again.
      const meta = await ctx.kv.readMetadata(state.name);
      if (!meta) throw secretNotFound();
      state = stateOf(ctx, state.name, meta, { dropPending: true });
      continue;
    }
    const target: AwsVersion = { kv: next, id: token, stages: [] };
    const versions = [...state.versions.map((v) => ({ ...v, stages: [...v.stages] })), target];
    moveStages(versions, target, labels);
    return { id: token, stages: target.stages, kv: next };
  }
}

export const createSecret: Operation = async (ctx, body) => {
  const name = validateName(body['Name']);
  const token = clientRequestToken(body);
  const description = optionalString(body, 'Description', 0, 2048);
  const kmsKeyId = optionalString(body, 'KmsKeyId', 0, 2048);
  const type = optionalString(body, 'Type', 1, 256);
  const tags = parseTags(body['Tags']);
  const value = valueFromRequest(body);
  const replicas = body['AddReplicaRegions'];
  if (Array.isArray(replicas) && replicas.length > 0) throw invalidRequest('Coffer does not replicate secrets to other regions.');

  return ctx.locks.run(name, async () => {
    const existing = await ctx.kv.readMetadata(name);
    if (existing) {
      const record = decodeRecord(existing.customMetadata);
      const deletion = record ? deletionState(record, ctx.clock.now()) : 'live';
      if (deletion === 'scheduled') {
        throw invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      if (deletion === 'purge-due') {
        // Past its recovery window: the old secret goes now, under the caller's own policy.
        await ctx.kv.deleteMetadata(name);
      } else {
        const state = stateOf(ctx, name, existing);
        const retried = value ? findById(state.versions, token) : undefined;
        // The SDK retries with the same token: the same value is the same, successful call.
        if (retried && value) {
          await existingVersion(ctx, name, retried, value);
          return { ARN: state.arn, Name: name, VersionId: retried.id };
        }
        throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      }
    }
    await requireCapabilities(ctx, { [metadataPath(name)]: ['create'], ...(value ? { [dataPath(name)]: ['update'] } : {}) });
    const now = ctx.clock.now();
    const record: AwsRecord = {
      format: 1,
      suffix: newSuffix(),
      created: now,
      lastChanged: now,
      ...(description === undefined ? {} : { description }),
      ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
      ...(type === undefined ? {} : { type }),
      tags,
      seen: 0,
      versions: {},
      ...(value ? { pending: { kv: 1, id: token, stages: [AWSCURRENT] } } : {}),
    };
    await ctx.kv.writeMetadata(name, encodeRecord(record, null), AWS_MAX_VERSIONS);
    if (value) {
      try {
        await ctx.kv.writeData(name, toKvData(value), 0);
      } catch (error) {
        // Leave no half-created secret behind if the caller may remove it; if not, at least no intent.
        const deleted = await ctx.kv.deleteMetadata(name).then(() => true, () => false);
        if (!deleted) {
          const { pending: _failed, ...created } = record;
          await withdrawIntent(ctx, name, { kv: 1, id: token }, error, created);
        }
        throw error;
      }
    }
    return { ARN: formatArn(ctx.region, name, record.suffix), Name: name, ...(value ? { VersionId: token } : {}) };
  });
};

export const putSecretValue: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const token = clientRequestToken(body);
  const value = valueFromRequest(body);
  if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
  const stages = versionStages(body) ?? [AWSCURRENT];
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const put = await putVersion(ctx, state, token, value, stages);
    return { ARN: state.arn, Name: state.name, VersionId: put.id, VersionStages: put.stages };
  });
};

export const updateSecret: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const token = clientRequestToken(body);
  const description = optionalString(body, 'Description', 0, 2048);
  const kmsKeyId = optionalString(body, 'KmsKeyId', 0, 2048);
  const type = optionalString(body, 'Type', 1, 256);
  const value = valueFromRequest(body);
  const change = (record: AwsRecord): AwsRecord => ({
    ...record,
    ...(description === undefined ? {} : { description }),
    ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
    ...(type === undefined ? {} : { type }),
  });
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    if (value) {
      const put = await putVersion(ctx, state, token, value, [AWSCURRENT], { change });
      return { ARN: state.arn, Name: state.name, VersionId: put.id };
    }
    await saveRecord(ctx, state, { ...change(settled(state)), lastChanged: ctx.clock.now() });
    return { ARN: state.arn, Name: state.name };
  });
};

export const updateSecretVersionStage: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const stage = optionalString(body, 'VersionStage', 1, 256);
  if (stage === undefined) throw invalidParameter('You must provide a VersionStage.');
  const removeFrom = optionalString(body, 'RemoveFromVersionId', 32, 64);
  const moveTo = optionalString(body, 'MoveToVersionId', 32, 64);
  if (removeFrom === undefined && moveTo === undefined) throw invalidParameter('You must provide RemoveFromVersionId, MoveToVersionId or both.');
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const versions = state.versions.map((v) => ({ ...v, stages: [...v.stages] }));
    const holder = versions.find((v) => v.stages.includes(stage));
    const target = moveTo === undefined ? undefined : findById(versions, moveTo);
    if (moveTo !== undefined && !target) throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${moveTo}`);
    if (removeFrom !== undefined) {
      const source = findById(versions, removeFrom);
      if (!source) throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${removeFrom}`);
      if (!source.stages.includes(stage)) {
        throw invalidParameter(`The staging label ${stage} is currently not attached to the version specified by RemoveFromVersionId.`);
      }
    }
    if (target) {
      if (holder && holder !== target && holder.id !== removeFrom) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      if (!target.stages.includes(stage) && target.stages.length >= 20) {
        throw new AwsError('LimitExceededException', 'A version can have at most 20 staging labels.');
      }
      moveStages(versions, target, [stage]);
    } else {
      if (stage === AWSCURRENT) throw invalidParameter('You can only move staging label AWSCURRENT to a different secret version. It can\'t be completely removed.');
      removeStage(findById(versions, removeFrom as string) as AwsVersion, stage);
    }
    const record = { ...settled({ ...state, versions }), lastChanged: ctx.clock.now() };
    await saveRecord(ctx, state, record);
    return { ARN: state.arn, Name: state.name };
  });
};
