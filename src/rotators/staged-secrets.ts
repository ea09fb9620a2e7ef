/**
 * The port through which rotation reads and moves a secret's staged versions (AWSCURRENT,
 * AWSPENDING, AWSPREVIOUS). The AWS Secrets Manager layer implements it over the `aws/` KV v2
 * mount (src/api/aws/rotation-store.ts); the composition root wires the two together, so this
 * directory never imports the API layer.
 *
 * Every method acts through the core request pipeline with the token it is given, so ACL
 * checks and audit apply to each read and write a rotation makes.
 * Must never: be given a client's token; rotation passes only the short-lived token it mints
 * for itself (rotation-identity.ts).
 */
import type { RotationRules } from './schedule-rules.js';
import type { SecretValue } from './webhook.js';

/** Who is acting: the rotation's own token, and a prefix for the audit request ids. */
export interface StagedAccess {
  readonly token: string;
  /** e.g. `rotation:<rotation id>`; the store appends its own sequence number. */
  readonly requestPrefix: string;
}

export interface StagedVersion {
  readonly id: string;
  /** The KV version number: what consumers report and watch events carry. */
  readonly kv: number;
  /** undefined when the version's data was deleted or destroyed. */
  readonly value: SecretValue | undefined;
}

export interface StagedSnapshot {
  readonly arn: string;
  readonly current: StagedVersion | undefined;
  readonly pending: StagedVersion | undefined;
  readonly previous: StagedVersion | undefined;
  /** The version with this id, when asked for one. */
  readonly byId: StagedVersion | undefined;
}

/** What the secret's own record shows about rotation (DescribeSecret). `null` clears a field. */
export interface RotationSettingsPatch {
  enabled?: boolean;
  lambdaArn?: string;
  rules?: RotationRules | null;
  lastRotated?: number;
  nextRotation?: number | null;
}

export interface PathGrant {
  readonly path: string;
  readonly capabilities: readonly string[];
}

export interface StagedSecrets {
  /** Checks a secret name; throws bad_request when the store cannot hold it. */
  validateName(name: string): string;
  /** The API path readers read and consumers register for (`aws/data/<name>`). */
  readPath(name: string): string;
  /** The capabilities a rotation of `name` needs, path by path. */
  grants(name: string): PathGrant[];
  /** Throws not_found when the secret does not exist (or is deleted). */
  snapshot(name: string, access: StagedAccess, region: string, versionId?: string): Promise<StagedSnapshot>;
  /** Stores `value` as a new version `versionId` labelled AWSPENDING; the same id and value again is a no-op. */
  putPending(name: string, access: StagedAccess, versionId: string, value: SecretValue): Promise<StagedVersion>;
  /**
   * Moves AWSCURRENT to `versionId` (the old current becomes AWSPREVIOUS) and takes AWSPENDING
   * off it, with `settings` in the same record write. Idempotent.
   */
  promote(name: string, access: StagedAccess, versionId: string, settings: RotationSettingsPatch): Promise<{ kv: number }>;
  /** Takes AWSPENDING off `versionId` if it still has it; AWSCURRENT is untouched. */
  dropPending(name: string, access: StagedAccess, versionId: string): Promise<void>;
  updateSettings(name: string, access: StagedAccess, patch: RotationSettingsPatch): Promise<void>;
}
