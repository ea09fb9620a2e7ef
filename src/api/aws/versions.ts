/**
 * How AWS versions and staging labels map onto KV versions: the pure rules, no I/O.
 *
 * - A version written through the AWS API has an entry in the record (its VersionId and
 *   labels). A write records its intent (`pending`) before the KV write, and the KV write is
 *   the commit point: the intent counts once KV holds that version, and is void otherwise.
 *   A failed write takes its intent out again (ops-write.ts withdrawIntent); only one cut off
 *   by a stop between the two requests can be mistaken for a later Vault write's.
 * - KV versions after `seen` were written through the Vault API: the newest becomes
 *   AWSCURRENT (the old AWSCURRENT becomes AWSPREVIOUS), the ones between are unlabeled. Their
 *   version ids are derived from the secret's suffix and the version number, so they are
 *   stable, and the next AWS write stores them.
 * - A label is on at most one version. Moving AWSCURRENT moves AWSPREVIOUS to the version it
 *   left, exactly as Secrets Manager does.
 * - Versions KV no longer holds (pruned past max_versions, or entries whose KV version is
 *   gone), and unlabeled versions past the newest MAX_UNLABELED_VERSIONS, are not shown: that is
 *   Coffer's form of AWS's garbage collection of old versions.
 */
import { derivedVersionId } from './names.js';
import type { AwsRecord, VersionEntry } from './record.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** How far back a data read looks for Vault-written versions by id (KV keeps far fewer). */
const FOREIGN_LOOKBACK = 1000;

export interface AwsVersion {
  readonly kv: number;
  readonly id: string;
  stages: string[];
}

/** What the caller knows of the KV secret. */
export interface KvFacts {
  readonly current: number;
  /** The version numbers KV holds (from a metadata read); undefined when only `current` is known. */
  readonly versions: ReadonlySet<number> | undefined;
}

const holds = (facts: KvFacts, n: number): boolean => n >= 1 && n <= facts.current && (facts.versions === undefined || facts.versions.has(n));

/** Gives `target` each of `stages`, taking each from whichever version held it (AWSCURRENT leaves AWSPREVIOUS behind). */
export function moveStages(versions: AwsVersion[], target: AwsVersion, stages: readonly string[]): void {
  for (const stage of stages) {
    const holder = versions.find((v) => v !== target && v.stages.includes(stage));
    if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
    if (stage === AWSCURRENT && holder) {
      for (const v of versions) v.stages = v.stages.filter((s) => s !== AWSPREVIOUS);
      holder.stages.push(AWSPREVIOUS);
    }
    if (!target.stages.includes(stage)) target.stages.push(stage);
  }
}

/** Takes `stage` off `version` (UpdateSecretVersionStage without MoveToVersionId). */
export function removeStage(version: AwsVersion, stage: string): void {
  version.stages = version.stages.filter((s) => s !== stage);
}

/** The AWS versions of a secret, newest first. */
export function resolveVersions(record: AwsRecord, facts: KvFacts): AwsVersion[] {
  const byNumber = new Map<number, AwsVersion>();
  for (const [key, entry] of Object.entries(record.versions)) {
    const n = Number(key);
    if (Number.isSafeInteger(n) && holds(facts, n)) byNumber.set(n, { kv: n, id: entry.id, stages: [...entry.stages] });
  }
  let seen = record.seen;
  const pending = record.pending;
  if (pending && facts.current >= pending.kv) {
    seen = Math.max(seen, pending.kv);
    if (holds(facts, pending.kv)) {
      const target: AwsVersion = { kv: pending.kv, id: pending.id, stages: [] };
      byNumber.set(pending.kv, target);
      moveStages([...byNumber.values()], target, pending.stages);
    }
  }
  if (facts.current > seen) {
    // Unlabeled Vault-written versions are listed only when KV said which it holds (a metadata
    // read); a data read finds one by id with findForeignById instead of deriving them all.
    if (facts.versions !== undefined) {
      for (let n = Math.max(seen + 1, facts.current - FOREIGN_LOOKBACK); n < facts.current; n++) {
        if (holds(facts, n)) byNumber.set(n, { kv: n, id: derivedVersionId(record.suffix, n), stages: [] });
      }
    }
    // Each Vault write is a PutSecretValue to AWS eyes: after two or more of them, AWSPREVIOUS
    // is on the one before the latest, not on the last version the record labelled.
    const before = facts.current - 1;
    if (before > seen && holds(facts, before) && holds(facts, facts.current)) {
      const version = byNumber.get(before) ?? { kv: before, id: derivedVersionId(record.suffix, before), stages: [] };
      byNumber.set(before, version);
      moveStages([...byNumber.values()], version, [AWSCURRENT]);
    }
    if (holds(facts, facts.current)) {
      const latest: AwsVersion = { kv: facts.current, id: derivedVersionId(record.suffix, facts.current), stages: [] };
      byNumber.set(facts.current, latest);
      moveStages([...byNumber.values()], latest, [AWSCURRENT]);
    }
  }
  return [...byNumber.values()].sort((a, b) => b.kv - a.kv);
}

/**
 * Unlabeled versions the record names, newest first; older ones leave the AWS view. AWS removes
 * versions without a label past about 100; the record must also stay small, since it lives in
 * custom_metadata (about 32 KiB, some 500 entries), while KV may keep many more versions (a
 * mount's max_versions, or one raised to keep an old labelled version).
 */
export const MAX_UNLABELED_VERSIONS = 100;

/** The record with the resolved view written into it: pending applied, Vault-written versions adopted. */
export function materialize(record: AwsRecord, versions: readonly AwsVersion[], current: number): AwsRecord {
  const entries: Record<string, VersionEntry> = {};
  let unlabeled = 0;
  for (const v of [...versions].sort((a, b) => b.kv - a.kv)) {
    if (v.stages.length === 0 && ++unlabeled > MAX_UNLABELED_VERSIONS) continue;
    entries[String(v.kv)] = { id: v.id, stages: [...v.stages] };
  }
  const { pending: _applied, ...rest } = record;
  // A pending write KV never committed (current < pending.kv) is void and dropped here.
  return { ...rest, versions: entries, seen: Math.max(record.seen, current) };
}

/**
 * The unlabeled Vault-written version with this id, when only the latest version number is
 * known (the versions between the record's `seen` and the latest, newest first).
 */
export function findForeignById(record: AwsRecord, current: number, id: string): AwsVersion | undefined {
  const seen = Math.max(record.seen, record.pending && current >= record.pending.kv ? record.pending.kv : 0);
  for (let n = current - 1; n > Math.max(seen, current - 1 - FOREIGN_LOOKBACK); n--) {
    if (derivedVersionId(record.suffix, n) === id) return { kv: n, id, stages: [] };
  }
  return undefined;
}

export const findById = (versions: readonly AwsVersion[], id: string): AwsVersion | undefined => versions.find((v) => v.id === id);
export const findByStage = (versions: readonly AwsVersion[], stage: string): AwsVersion | undefined => versions.find((v) => v.stages.includes(stage));

/** VersionIdsToStages as DescribeSecret shows it: only versions that carry a label. */
export function versionIdsToStages(versions: readonly AwsVersion[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of versions) if (v.stages.length > 0) out[v.id] = [...v.stages];
  return out;
}
