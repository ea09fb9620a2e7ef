/**
 * How RotateSecret and CancelRotateSecret reach the rotators engine: a write of
 * `rotators/schedule/<secret>` sent through the core request pipeline with the token bound to
 * the calling access key, so ACL and audit apply exactly as for the Vault API call.
 *
 * Must never: use any token but the caller's.
 */
import type { ApiRequest, RequestHandler } from '../../core/request-handler.js';
import type { GatewayIdentity } from './kv-gateway.js';
import { ROTATORS_MOUNT } from './rotation.js';

export interface RotationGateway {
  /** Writes the secret's rotation schedule; returns the response data. */
  schedule(name: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export function createRotationGateway(handler: RequestHandler, identity: GatewayIdentity): RotationGateway {
  let sequence = 0;
  return {
    async schedule(name, body) {
      sequence += 1;
      const request: ApiRequest = {
        // 'r' keeps these ids apart from the KV gateway's numbering of the same operation.
        requestId: `aws:${identity.operation}:${identity.awsRequestId}:r${sequence}`,
        verb: 'write',
        path: `${ROTATORS_MOUNT}schedule/${name}`,
        data: body,
        clientToken: identity.token,
        remoteAddress: identity.remoteAddress,
      };
      return (await handler(request)).response?.data ?? {};
    },
  };
}
