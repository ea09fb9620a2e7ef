/**
 * Builds the HTTP listener for a core: the Vault API on `/v1`, and, when `aws` is given, the
 * AWS Secrets Manager protocol (`POST /`) on the same fastify instance and listener.
 */
import { createVaultHttpApi, type VaultHttpApi } from '../api/vault/http-server.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { RequestHandler } from '../core/request-handler.js';
import { COFFER_VERSION } from '../version.js';
import type { EventBus } from '../core/events/event-bus.js';
import type { WatchAccess } from '../core/events/watch-access.js';
// AWS Secrets Manager protocol (issue 6): `POST /` on the same fastify instance and listener.
import { registerAwsProtocol, type AwsProtocolDeps } from '../api/aws/protocol.js';

export function createHttpApiForCore(deps: {
  handler: RequestHandler;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  maxRequestBytes: number;
  events: EventBus;
  watchAccess: WatchAccess;
  /** AWS Secrets Manager protocol; absent = the listener speaks only the Vault API. */
  aws?: Pick<AwsProtocolDeps, 'keys' | 'isSealed' | 'ensureMount' | 'rotators'>;
}): VaultHttpApi {
  const { aws, ...vault } = deps;
  const api = createVaultHttpApi({ ...vault, version: COFFER_VERSION });
  // AWS protocol: registered before listen() so it loads with the Vault routes.
  if (aws) registerAwsProtocol(api.fastify, { ...aws, handler: deps.handler, clock: deps.clock, logger: deps.logger, maxRequestBytes: deps.maxRequestBytes });
  return api;
}
