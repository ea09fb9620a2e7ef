/**
 * What every operation shares: the operation context, and loading one secret's AWS view (KV
 * metadata + the record in its custom_metadata + the resolved versions) and saving its record.
 *
 * Owns: the deletion states (live, scheduled for deletion, past its recovery window) and the
 * record of a secret that was created through the Vault API and has none yet.
 * Must never: write a record without holding the secret's lock (see `ctx.locks`).
 */
import type { Clock } from '../../core/clock.js';
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import { isCofferError } from '../../core/errors.js';
import { AwsError, fromCofferError, invalidRequest, MARKED_FOR_DELETION, secretNotFound } from './errors.js';
import type { KvGateway, MetadataRead } from './kv-gateway.js';
import { derivedSuffix, formatArn, type SecretRef } from './names.js';
import { decodeRecord, encodeRecord, type AwsRecord } from './record.js';
import type { AwsRotatorLookup } from './rotation.js';
import type { RotationGateway } from './rotation-gateway.js';
import { materialize, resolveVersions, type AwsVersion } from './versions.js';

export interface OperationContext {
  readonly operation: string;
  /** The region of the request's credential scope; ARNs are shown in it. */
  readonly region: string;
  readonly accessKeyId: string;
  readonly clock: Clock;
  readonly kv: KvGateway;
  readonly locks: KeyedMutex;
  /** In-process rotators (rotation.ts). */
  readonly rotators: AwsRotatorLookup;
  /** Whether a webhook rotator of this name is configured at rotators/. */
  readonly webhookRotatorExists: (name: string) => Promise<boolean>;
  /** Schedules rotation at rotators/ through the pipeline, with the caller's token. */
  readonly rotation: RotationGateway;
}

export type Operation = (ctx: OperationContext, body: Readonly<Record<string, unknown>>) => Promise<Record<string, unknown>>;

/** Versions KV keeps of a secret created through the AWS API (AWS keeps up to 100 unlabeled ones). */
export const AWS_MAX_VERSIONS = 100;

const DAY_MS = 86_400_000;

export type DeletionState = 'live' | 'scheduled' | 'purge-due';

export function deletionState(record: AwsRecord, now: number): DeletionState {
  if (record.deletedAt === undefined) return 'live';
  return record.deletedAt + (record.recoveryDays ?? 30) * DAY_MS <= now ? 'purge-due' : 'scheduled';
}

export const deletionDate = (record: AwsRecord): number | undefined =>
  record.deletedAt === undefined ? undefined : record.deletedAt + (record.recoveryDays ?? 30) * DAY_MS;

/** The record of a secret with no AWS bookkeeping yet (written only through the Vault API). */
export function implicitRecord(name: string, created: number, updated: number): AwsRecord {
  return { format: 1, suffix: derivedSuffix(name), created, lastChanged: updated, tags: [], seen: 0, versions: {} };
}

export function recordOf(name: string, custom: Readonly<Record<string, string>> | null, created: number, updated: number): AwsRecord {
  return decodeRecord(custom) ?? implicitRecord(name, created, updated);
}

export interface SecretState {
  readonly name: string;
  readonly arn: string;
  readonly meta: MetadataRead;
  readonly record: AwsRecord;
  readonly versions: AwsVersion[];
  readonly deletion: DeletionState;
}

export function stateOf(ctx: OperationContext, name: string, meta: MetadataRead, options: { dropPending?: boolean } = {}): SecretState {
  const stored = recordOf(name, meta.customMetadata, meta.created, meta.updated);
  const { pending, ...rest } = stored;
  const record: AwsRecord = options.dropPending || pending === undefined ? rest : { ...rest, pending };
  const versions = resolveVersions(record, { current: meta.current, versions: new Set(meta.versions.keys()) });
  return { name, arn: formatArn(ctx.region, name, record.suffix), meta, record, versions, deletion: deletionState(record, ctx.clock.now()) };
}

/**
 * Loads a secret by SecretId. Missing, a wrong ARN suffix, or past its recovery window is
 * ResourceNotFoundException; `allowDeleted` lets Describe, Restore and Delete see a secret
 * scheduled for deletion, which every other operation refuses.
 */
/** Secrets are regional at AWS: an ARN of another region than the caller's names a secret that is not here. */
export function inCallerRegion(ctx: OperationContext, ref: SecretRef): boolean {
  return ref.region === undefined || ref.region === ctx.region;
}

export async function loadSecret(ctx: OperationContext, ref: SecretRef, options: { allowDeleted?: boolean } = {}): Promise<SecretState> {
  if (!inCallerRegion(ctx, ref)) throw secretNotFound();
  const meta = await ctx.kv.readMetadata(ref.name);
  if (!meta) throw secretNotFound();
  const state = stateOf(ctx, ref.name, meta);
  if (ref.suffix !== undefined && ref.suffix !== state.record.suffix) throw secretNotFound();
  if (state.deletion === 'purge-due') throw secretNotFound();
  if (state.deletion === 'scheduled' && !options.allowDeleted) throw invalidRequest(MARKED_FOR_DELETION);
  return state;
}

/** The record with the current view written in (pending applied, Vault-written versions adopted). */
export const settled = (state: SecretState): AwsRecord => materialize(state.record, state.versions, state.meta.current);

/** Writes `record` into the secret's custom_metadata, keeping the user's own keys. */
/** `maxVersions`: also sets the KV secret's max_versions, in the same metadata write. */
export async function saveRecord(ctx: OperationContext, state: SecretState, record: AwsRecord, maxVersions?: number): Promise<void> {
  await ctx.kv.writeMetadata(state.name, encodeRecord(record, state.meta.customMetadata), maxVersions);
}

/**
 * Refuses early, before anything changes, when the caller's policies lack a capability a
 * multi-step write needs. When the caller may not ask (its policies do not grant
 * sys/capabilities-self), the check is skipped, since every write is still checked by the
 * pipeline, unless `failClosed`: for a capability no request of the operation exercises
 * (DeleteSecret's `delete`), not knowing means no.
 */
export async function requireCapabilities(ctx: OperationContext, needs: Record<string, readonly string[]>, options: { failClosed?: boolean } = {}): Promise<void> {
  const granted = await ctx.kv.capabilities(Object.keys(needs));
  if (!granted) {
    if (options.failClosed) throw new AwsError('AccessDeniedException', accessDeniedMessage(ctx, Object.keys(needs).join(', ')));
    return;
  }
  for (const [path, wanted] of Object.entries(needs)) {
    const have = granted[path] ?? [];
    if (have.includes('root')) continue;
    if (have.includes('deny') || wanted.some((c) => !have.includes(c))) {
      throw new AwsError('AccessDeniedException', accessDeniedMessage(ctx, path));
    }
  }
}

export function accessDeniedMessage(ctx: OperationContext, resource: string): string {
  return `User: ${ctx.accessKeyId} is not authorized to perform: secretsmanager:${ctx.operation} on resource: ${resource} because no Coffer policy of the access key allows it`;
}

/** Epoch seconds, as the JSON 1.1 protocol carries timestamps. */
export const epochSeconds = (ms: number): number => Math.round(ms) / 1000;

/**
 * Any failure as the AWS error the client sees: AwsErrors as they are, Coffer's through the
 * one mapping table (a policy denial names the operation and resource), anything else rethrown.
 */
export function toAwsError(ctx: OperationContext, error: unknown, resource: string): AwsError {
  if (error instanceof AwsError) return error;
  if (isCofferError(error)) {
    if (error.code === 'permission_denied') return new AwsError('AccessDeniedException', accessDeniedMessage(ctx, resource));
    return fromCofferError(error);
  }
  throw error;
}
