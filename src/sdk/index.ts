/**
 * The public surface of Coffer's TypeScript SDK: `import { Coffer } from 'coffer/sdk'`.
 *
 * Dependency-free (the global fetch and node: modules only) and independent of the server's and
 * the CLI's code, so an application loads only this directory.
 */
export { Coffer, type CofferOptions, type CloseOptions } from './coffer.js';
export {
  CofferError,
  CofferHttpError,
  CofferBadRequestError,
  CofferPermissionDeniedError,
  CofferNotFoundError,
  CofferRateLimitedError,
  CofferSealedError,
  CofferServerError,
  CofferConnectionError,
  CofferConfigError,
  CofferClosedError,
  CofferResponseError,
  CofferRedirectError,
} from './errors.js';
export { isAuthError } from './auth-errors.js';
export { createNodeHttpFetch, nodeHttpFetch, type TlsTrust } from './node-http.js';
export type { FetchLike, HttpResponseLike } from './transport.js';
export type { AuthInfo } from './token-manager.js';
export type { AppRoleLoginOptions, JwtLoginOptions, JwtSource, KubernetesLoginOptions, UserpassLoginOptions } from './login.js';
export type { KvClient, KvSecret, KvMetadata, KvMountOption } from './kv.js';
export type { DatabaseClient, DatabaseCredential, DatabaseOptions, StaticCredential } from './database.js';
export type { LeasedSecret, LeasedSecretOptions, LeaseInfo, RenewalEndReason } from './leased-secret.js';
export type { WatchEvent, WatchEventKind, WatchHandler, WatchOptions, Subscription } from './watch.js';
export type { ConsumerHandle, ConsumerOptions } from './consumer.js';
export type { WithRotationOptions } from './rotation.js';
export type { Envelope, WireAuth } from './wire.js';
export { parseReference, parseEnvTemplate, type SecretReference, type EnvEntry } from './references.js';
