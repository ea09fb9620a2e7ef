/**
 * Builds the HTTP listener for a core: today the Vault API on `/v1`; the AWS Secrets Manager
 * protocol joins it on the same listener later.
 */
import { createVaultHttpApi, type VaultHttpApi } from '../api/vault/http-server.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { RequestHandler } from '../core/request-handler.js';
import { COFFER_VERSION } from '../version.js';
import type { EventBus } from '../core/events/event-bus.js';
import type { WatchAccess } from '../core/events/watch-access.js';

export function createHttpApiForCore(deps: {
  handler: RequestHandler;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  maxRequestBytes: number;
  events: EventBus;
  watchAccess: WatchAccess;
}): VaultHttpApi {
  return createVaultHttpApi({ ...deps, version: COFFER_VERSION });
}
