/**
 * The seam between RotateSecret and Coffer's rotation machinery. RotateSecret never runs a
 * Lambda function: `RotationLambdaARN` names a rotator configured in Coffer, either
 *
 * - a webhook rotator configured at `rotators/config/<name>` (src/rotators/): RotateSecret
 *   becomes a write of `rotators/schedule/<secret>` through the pipeline with the caller's own
 *   token, so the caller needs `update` there as well as on the secret, and the rotators
 *   engine runs the four steps (createSecret, setSecret, testSecret, finishSecret), moves the
 *   labels and verifies consumers; or
 * - an in-process rotator injected by whoever embeds Coffer (`AwsRotatorLookup`, consulted
 *   first): it only produces the AWSPENDING value (the `createSecret` step); nothing moves
 *   AWSCURRENT afterwards unless the caller does (UpdateSecretVersionStage).
 *
 * Owns: reading a rotator name out of a Lambda ARN, and the rotators mount's path.
 * Must never: pretend a rotation happened when no rotator is configured.
 */
import type { KeyedMutex } from '../../core/keyed-mutex.js';
import type { SecretValue } from './secret-value.js';

export interface AwsRotator {
  /** The `createSecret` step: the next value for `secretName`, given its current one. */
  nextValue(input: { secretName: string; current: SecretValue | undefined }): Promise<SecretValue>;
}

/** Finds the rotator a RotationLambdaARN (or bare rotator name) designates; undefined when none. */
export type AwsRotatorLookup = (rotationLambdaArn: string) => AwsRotator | undefined;

export const noRotators: AwsRotatorLookup = () => undefined;

/** Where the rotators engine is mounted by default; the one place its path is spelled here. */
export const ROTATORS_MOUNT = 'rotators/';

/** What the AWS layer is given about rotation (composition root). */
export interface AwsRotationDeps {
  /** In-process rotators, consulted before webhook rotators. */
  lookup?: AwsRotatorLookup;
  /** Whether a webhook rotator of this name is configured, so an unknown one is refused before anything is written. */
  webhookExists?: (name: string) => Promise<boolean>;
  /**
   * The per-secret lock table, shared with the rotation store (rotation-store.ts) so a
   * rotation's label moves and API writes to one secret's record never interleave.
   */
  locks?: KeyedMutex;
}

const ROTATOR_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The rotator a RotationLambdaARN names: `arn:aws:lambda:<region>:<account>:function:<name>`
 * (a `:<qualifier>` after it is ignored) or just `<name>`; undefined when it is neither.
 */
export function rotatorNameFromArn(value: string): string | undefined {
  if (ROTATOR_NAME.test(value)) return value;
  const match = /^arn:aws[a-z-]*:lambda:[a-z0-9-]*:[0-9]*:function:([A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9$_-]+)?$/.exec(value);
  return match?.[1];
}
