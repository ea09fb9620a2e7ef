/**
 * The seam between RotateSecret and Coffer's rotation machinery. RotateSecret never runs a
 * Lambda function: `RotationLambdaARN` names a rotator configured in Coffer (a database static
 * role, a webhook), and the rotator produces the AWSPENDING value (the `createSecret` step).
 * The later steps (setSecret, testSecret, finishSecret) belong to the rotation machinery,
 * which moves AWSCURRENT with the same staging-label rules as UpdateSecretVersionStage.
 *
 * Must never: pretend a rotation happened when no rotator is configured.
 */
import type { SecretValue } from './secret-value.js';

export interface AwsRotator {
  /** The `createSecret` step: the next value for `secretName`, given its current one. */
  nextValue(input: { secretName: string; current: SecretValue | undefined }): Promise<SecretValue>;
}

/** Finds the rotator a RotationLambdaARN (or bare rotator name) designates; undefined when none. */
export type AwsRotatorLookup = (rotationLambdaArn: string) => AwsRotator | undefined;

export const noRotators: AwsRotatorLookup = () => undefined;
