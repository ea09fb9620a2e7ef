/**
 * The Secrets Manager operations Coffer serves, by the name in `X-Amz-Target`, and the
 * dispatcher that runs one for an authenticated access key.
 *
 * Owns: the operation table and the per-request context (the key's pipeline gateway, the
 * region of its credential scope). Resource policies and replication are AWS features with no
 * Coffer meaning: their read operations answer as for a secret without them, their write
 * operations are refused with a message saying what to use instead.
 * Must never: run an operation for a request that did not pass SigV4 verification.
 */
import type { Clock } from '../../core/clock.js';
import type { RequestHandler } from '../../core/request-handler.js';
import { createKeyedMutex } from '../../core/keyed-mutex.js';
import { AwsError, invalidRequest } from './errors.js';
import { createKvGateway } from './kv-gateway.js';
import { dataPath, metadataPath, parseSecretId } from './names.js';
import { deleteSecret, restoreSecret } from './ops-delete.js';
import { batchGetSecretValue, listSecrets } from './ops-list.js';
import { describeSecret, getSecretValue, listSecretVersionIds } from './ops-read.js';
import { cancelRotateSecret, rotateSecret } from './ops-rotate.js';
import { tagResource, untagResource } from './ops-tags.js';
import { createSecret, putSecretValue, updateSecret, updateSecretVersionStage } from './ops-write.js';
import { getRandomPassword } from './random-password.js';
import { noRotators, type AwsRotationDeps } from './rotation.js';
import { createRotationGateway } from './rotation-gateway.js';
import { loadSecret, toAwsError, type Operation } from './secret-state.js';

const NO_RESOURCE_POLICIES = `Coffer does not use resource policies: access is governed by Coffer ACL policies on ${dataPath('<name>')} and ${metadataPath('<name>')}.`;
const NO_REPLICATION = 'Coffer does not replicate secrets to other regions.';

const secretOnly: Operation = async (ctx, body) => {
  const state = await loadSecret(ctx, parseSecretId(body['SecretId']));
  return { ARN: state.arn, Name: state.name };
};

const refuse = (message: string): Operation => async () => {
  throw invalidRequest(message);
};

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  CreateSecret: createSecret,
  GetSecretValue: getSecretValue,
  BatchGetSecretValue: batchGetSecretValue,
  PutSecretValue: putSecretValue,
  UpdateSecret: updateSecret,
  DescribeSecret: describeSecret,
  ListSecrets: listSecrets,
  ListSecretVersionIds: listSecretVersionIds,
  UpdateSecretVersionStage: updateSecretVersionStage,
  DeleteSecret: deleteSecret,
  RestoreSecret: restoreSecret,
  TagResource: tagResource,
  UntagResource: untagResource,
  GetRandomPassword: getRandomPassword,
  RotateSecret: rotateSecret,
  CancelRotateSecret: cancelRotateSecret,
  GetResourcePolicy: secretOnly,
  DeleteResourcePolicy: secretOnly,
  PutResourcePolicy: refuse(NO_RESOURCE_POLICIES),
  ValidateResourcePolicy: refuse(NO_RESOURCE_POLICIES),
  ReplicateSecretToRegions: refuse(NO_REPLICATION),
  RemoveRegionsFromReplication: refuse(NO_REPLICATION),
  StopReplicationToReplica: refuse(NO_REPLICATION),
};

export interface AwsCaller {
  readonly accessKeyId: string;
  /** The key's child token: the clientToken of every pipeline request this call makes. */
  readonly token: string;
  readonly region: string;
  readonly remoteAddress: string;
}

export interface AwsServiceDeps {
  handler: RequestHandler;
  clock: Clock;
  rotators?: AwsRotationDeps;
}

export interface AwsService {
  /** Runs `operation`; throws AwsError for every failure a client should see. */
  execute(operation: string, body: Readonly<Record<string, unknown>>, caller: AwsCaller, awsRequestId: string): Promise<Record<string, unknown>>;
}

export function createAwsService(deps: AwsServiceDeps): AwsService {
  // Serialises read-modify-write of one secret's record across all requests of this process
  // (and, when the composition root shares the table, across rotations too).
  const locks = deps.rotators?.locks ?? createKeyedMutex();
  const rotators = deps.rotators?.lookup ?? noRotators;
  const webhookRotatorExists = deps.rotators?.webhookExists ?? (async () => false);

  return {
    async execute(operation, body, caller, awsRequestId) {
      const run = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
      if (!run) throw new AwsError('UnknownOperationException', `Unknown operation: ${operation.slice(0, 64)}`);
      const identity = { token: caller.token, remoteAddress: caller.remoteAddress, operation, awsRequestId };
      const ctx = {
        operation,
        region: caller.region,
        accessKeyId: caller.accessKeyId,
        clock: deps.clock,
        kv: createKvGateway(deps.handler, identity, deps.clock),
        locks,
        rotators,
        webhookRotatorExists,
        rotation: createRotationGateway(deps.handler, identity),
      };
      try {
        return await run(ctx, body);
      } catch (error) {
        const secretId = body['SecretId'] ?? body['Name'];
        throw toAwsError(ctx, error, typeof secretId === 'string' ? secretId.slice(0, 2048) : '*');
      }
    },
  };
}
