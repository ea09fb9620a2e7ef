/**
 * What the primary and its HTTP replica processes say to each other over the IPC channel (with
 * Node's 'advanced' serialization, so Buffers cross as bytes). Connections cross with a
 * `connection` message carrying the socket handle.
 */
import type { HttpTimeouts } from '../../config.js';
import type { LogLevel } from '../../core/logger.js';
import type { ForwardedForSettings } from '../forwarded-for-settings.js';

export interface ReplicaSettings {
  /** The primary's SQLite file, opened read-only. */
  readonly sqlitePath: string;
  /** The primary's private listener for forwarded requests. */
  readonly socketPath: string;
  /** Sent with every forwarded request (forward.ts HOP_KEY_HEADER); the primary refuses any request without it. */
  readonly hopKey: string;
  readonly systemTtl: { readonly defaultSeconds: number; readonly maxSeconds: number };
  readonly cacheEntries?: number;
  /** The primary's request body limit, applied before forwarding (forward.ts). */
  readonly maxRequestBytes: number;
  /** The primary's read and idle deadlines: a client meets the same limits whichever process it reaches. */
  readonly httpTimeouts: HttpTimeouts;
  /** The primary's shutdown grace period: how long a replica lets its requests finish once the primary goes. */
  readonly shutdownGraceSeconds: number;
  /** The primary's trusted proxies: a replica takes a client's address from them as it would. */
  readonly forwardedFor?: ForwardedForSettings;
  readonly logLevel: LogLevel;
}

export type ToReplica =
  | { readonly type: 'init'; readonly settings: ReplicaSettings }
  | { readonly type: 'connection' }
  | { readonly type: 'unseal'; readonly rootKey: Uint8Array }
  | { readonly type: 'seal'; readonly id: number }
  /** Liveness: the replica answers `pong` at once. */
  | { readonly type: 'ping' };

export type FromReplica = { readonly type: 'ready' } | { readonly type: 'sealed'; readonly id: number } | { readonly type: 'pong' };
