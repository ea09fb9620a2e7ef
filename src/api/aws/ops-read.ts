/**
 * GetSecretValue, DescribeSecret and ListSecretVersionIds.
 *
 * GetSecretValue needs only `read` on `aws/data/N`: KV's data response carries the version
 * number and the secret's custom_metadata (the AWS record), which is enough to resolve a
 * staging label or version id. DescribeSecret and ListSecretVersionIds read `aws/metadata/N`.
 * Must never: return the value of a version KV reports as deleted or destroyed.
 */
import { isCofferError } from '../../core/errors.js';
import { AwsError, invalidRequest, MARKED_FOR_DELETION, secretNotFound } from './errors.js';
import { decodeNextToken, encodeNextToken, optionalBool, optionalInt, optionalString, tagList } from './input.js';
import { formatArn, parseSecretId, type SecretRef } from './names.js';
import { fromKvData, valueFields } from './secret-value.js';
import {
  deletionState,
  epochSeconds,
  inCallerRegion,
  loadSecret,
  recordOf,
  type Operation,
  type OperationContext,
  type SecretState,
} from './secret-state.js';
import { AWSCURRENT, findById, findByStage, findForeignById, resolveVersions, versionIdsToStages } from './versions.js';

const valueNotFound = (what: string): AwsError =>
  new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for ${what}`);

/** The value of one version of a secret: the core of GetSecretValue and BatchGetSecretValue. */
export async function readSecretValue(
  ctx: OperationContext,
  ref: SecretRef,
  versionId: string | undefined,
  versionStage: string | undefined,
): Promise<Record<string, unknown>> {
  if (!inCallerRegion(ctx, ref)) throw secretNotFound();
  const latest = await ctx.kv.readData(ref.name);
  if (!latest) {
    // A secret can exist with no version at all (CreateSecret without a value); tell that apart
    // when the caller may read metadata, to refuse a deleted one as AWS does.
    const meta = await ctx.kv.readMetadata(ref.name).catch((error: unknown) => {
      if (isCofferError(error) && error.code === 'permission_denied') return undefined;
      throw error;
    });
    if (!meta) throw secretNotFound();
    const record = recordOf(ref.name, meta.customMetadata, meta.created, meta.updated);
    if (ref.suffix !== undefined && ref.suffix !== record.suffix) throw secretNotFound();
    const state = deletionState(record, ctx.clock.now());
    if (state === 'purge-due') throw secretNotFound();
    if (state === 'scheduled') throw invalidRequest(MARKED_FOR_DELETION);
    throw valueNotFound(versionId !== undefined ? `VersionId: ${versionId}` : `staging label: ${versionStage ?? AWSCURRENT}`);
  }
  const record = recordOf(ref.name, latest.customMetadata, 0, 0);
  if (ref.suffix !== undefined && ref.suffix !== record.suffix) throw secretNotFound();
  const state = deletionState(record, ctx.clock.now());
  if (state === 'purge-due') throw secretNotFound();
  if (state === 'scheduled') throw invalidRequest(MARKED_FOR_DELETION);

  const versions = resolveVersions(record, { current: latest.version, versions: undefined });
  const target =
    versionId !== undefined
      ? (findById(versions, versionId) ?? findForeignById(record, latest.version, versionId))
      : findByStage(versions, versionStage ?? AWSCURRENT);
  if (!target) throw valueNotFound(versionId !== undefined ? `VersionId: ${versionId}` : `staging label: ${versionStage ?? AWSCURRENT}`);
  if (versionId !== undefined && versionStage !== undefined && !target.stages.includes(versionStage)) {
    throw invalidRequest('You provided a VersionStage that is not associated to the provided VersionId.');
  }
  const read = target.kv === latest.version ? latest : await ctx.kv.readData(ref.name, target.kv);
  if (!read || read.data === null) {
    throw valueNotFound(versionId !== undefined ? `VersionId: ${versionId}` : `staging label: ${versionStage ?? AWSCURRENT}`);
  }
  return {
    ARN: formatArn(ctx.region, ref.name, record.suffix),
    Name: ref.name,
    VersionId: target.id,
    ...valueFields(fromKvData(read.data)),
    VersionStages: [...target.stages],
    CreatedDate: epochSeconds(read.created),
  };
}

export const getSecretValue: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const versionId = optionalString(body, 'VersionId', 32, 64);
  const versionStage = optionalString(body, 'VersionStage', 1, 256);
  return readSecretValue(ctx, ref, versionId, versionStage);
};

/** The fields DescribeSecret and a ListSecrets entry share. */
export function describeFields(state: SecretState): Record<string, unknown> {
  const { record, meta } = state;
  const out: Record<string, unknown> = { ARN: state.arn, Name: state.name };
  if (record.type !== undefined) out['Type'] = record.type;
  if (record.description !== undefined) out['Description'] = record.description;
  if (record.kmsKeyId !== undefined) out['KmsKeyId'] = record.kmsKeyId;
  if (record.rotation) {
    out['RotationEnabled'] = record.rotation.enabled;
    if (record.rotation.lambdaArn !== undefined) out['RotationLambdaARN'] = record.rotation.lambdaArn;
    if (record.rotation.rules) out['RotationRules'] = { ...record.rotation.rules };
    if (record.rotation.lastRotated !== undefined) out['LastRotatedDate'] = epochSeconds(record.rotation.lastRotated);
    const days = record.rotation.rules?.AutomaticallyAfterDays;
    if (record.rotation.enabled && record.rotation.nextRotation !== undefined) {
      // Set by the rotators engine, which knows every rule kind (rate, cron) and failed-attempt back-off.
      out['NextRotationDate'] = epochSeconds(record.rotation.nextRotation);
    } else if (record.rotation.enabled && days !== undefined) {
      out['NextRotationDate'] = epochSeconds((record.rotation.lastRotated ?? record.created) + days * 86_400_000);
    }
  }
  out['LastChangedDate'] = epochSeconds(Math.max(record.lastChanged, meta.updated));
  const deleted = record.deletedAt;
  if (deleted !== undefined) out['DeletedDate'] = epochSeconds(deleted);
  if (record.tags.length > 0) out['Tags'] = tagList(record.tags);
  out['CreatedDate'] = epochSeconds(record.created || meta.created);
  return out;
}

export const describeSecret: Operation = async (ctx, body) => {
  const state = await loadSecret(ctx, parseSecretId(body['SecretId']), { allowDeleted: true });
  return { ...describeFields(state), VersionIdsToStages: versionIdsToStages(state.versions) };
};

export const listSecretVersionIds: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const maxResults = optionalInt(body, 'MaxResults', 1, 100) ?? 100;
  const includeDeprecated = optionalBool(body, 'IncludeDeprecated') ?? false;
  const cursor = decodeNextToken(body, 'versions', includeDeprecated ? 'all' : 'labelled');
  const state = await loadSecret(ctx, ref, { allowDeleted: true });
  // Newest first; the cursor names the last version shown by its KV number.
  const shown = state.versions.filter((v) => (includeDeprecated || v.stages.length > 0) && (cursor === undefined || v.kv < Number(cursor.key)));
  const page = shown.slice(0, maxResults);
  const last = page[page.length - 1];
  const out: Record<string, unknown> = {
    Versions: page.map((v) => ({
      VersionId: v.id,
      VersionStages: [...v.stages],
      CreatedDate: epochSeconds(state.meta.versions.get(v.kv)?.created ?? 0),
    })),
    ARN: state.arn,
    Name: state.name,
  };
  if (maxResults < shown.length && last !== undefined) out['NextToken'] = encodeNextToken('versions', includeDeprecated ? 'all' : 'labelled', { key: last.kv, name: last.id });
  return out;
};
