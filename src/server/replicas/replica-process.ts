/**
 * Entry point of an HTTP replica process (forked by replica-set.ts). It serves the connections
 * the primary hands it: KV reads it answers itself from a read-only core (replica-core.ts);
 * everything else, and every read it cannot answer with certainty, it forwards to the primary.
 *
 * Why: one Node.js process serves from one core. KV reads are most of a secrets manager's
 * traffic and need no coordination, so a second process can answer them in parallel; writes,
 * leases, audit and the system backend stay in the single primary, which keeps the one writer
 * every invariant in the core relies on.
 *
 * A read is answered here only when all of these hold: the process is unsealed; the core is
 * current with the SQLite file (after a commit it forgets the changed keys from the primary's
 * change log; when it cannot, it is rebuilt in the background and the primary answers meanwhile,
 * so no cache can serve a revoked token or a deleted secret); no audit device
 * is enabled; it is a GET (or LIST) of a path on a KV mount; and handling it raised no error
 * (a denied or failed read is retried by the primary, which audits and answers with authority;
 * a token with limited uses fails here on its write and goes there too).
 *
 * A seal (the primary's `seal` message) refuses new reads at once (they go to the primary, which
 * is sealing and answers 503), lets the reads in progress finish, then drops the key. When the
 * primary goes (the channel closes: it is shutting down), the replica stops the same way and
 * lets every request it holds finish, forwarded ones included, before it exits.
 *
 * Must never: write to storage; keep a key after it confirmed a seal; answer from a core older
 * than the file.
 */
import type { Socket } from 'node:net';
import { createVaultRequestListener } from '../../api/vault/request-listener.js';
import type { RequestVerb } from '../../core/request-handler.js';
import { systemClock } from '../../core/clock.js';
import { CofferError } from '../../core/errors.js';
import { createEventBus } from '../../core/events/event-bus.js';
import type { WatchAccess } from '../../core/events/watch-access.js';
import type { Lifecycle } from '../../core/lifecycle.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { createRequestGate } from '../../core/request-gate.js';
import { openSqliteReader, type SqliteReader } from '../../core/storage/sqlite-reader.js';
import { REPORTED_VERSION } from '../../version.js';
import { adoptConnections, createApiServer } from '../http.js';
import { inArrivalOrder } from '../in-arrival-order.js';
import { withForwardedFor } from '../forwarded-for.js';
import { createForwarder, SERVED_BY_HEADER, type Forward } from './forward.js';
import type { FromReplica, ReplicaSettings, ToReplica } from './messages.js';
import { buildReplicaCore, type ReplicaCore } from './replica-core.js';

/** At most one rebuild per this many ms: under a stream of writes the primary answers reads. */
const REBUILD_INTERVAL_MS = 100;
const FAILURE_LOG_INTERVAL_MS = 10_000;
/**
 * How long a seal waits for the reads in progress: a KV read takes milliseconds, and the primary
 * kills a replica that has not confirmed within 2 s (replica-set.ts).
 */
const REPLICA_SEAL_DRAIN_MS = 1_000;

function notHere(): never {
  throw new CofferError('internal', 'not served by a replica');
}

/** The lifecycle and watch parts of the listener are reached only by sys/ paths, which a replica forwards. */
const FORWARDED_ONLY = new Proxy({}, { get: () => notHere }) as Lifecycle & WatchAccess;

interface Replica {
  adopt(socket: Socket): void;
  unseal(rootKey: Buffer): void;
  /** Resolves once the reads in progress have finished (or their time is up) and the key is gone. */
  seal(): Promise<void>;
  /** Shutdown: lets every request finish within `graceMs`, then closes everything. */
  close(graceMs: number): Promise<void>;
}

function startReplica(settings: ReplicaSettings, logger: Logger): Replica {
  const reader: SqliteReader = openSqliteReader(settings.sqlitePath);
  const forwarder = createForwarder({ socketPath: settings.socketPath, hopKey: settings.hopKey, maxRequestBytes: settings.maxRequestBytes, logger });
  const forward: Forward = forwarder.forward;

  let rootKey: Buffer | undefined;
  let core: ReplicaCore | undefined;
  // Reads this process answers itself are admitted here: open from an unseal to a seal.
  const gate = createRequestGate();
  // Bumped by every seal, so a build that started before it never installs its core.
  let epoch = 0;
  let building = false;
  let lastBuildStart = 0;
  let lastFailureReportAt = 0;

  const build = async (): Promise<void> => {
    const startEpoch = epoch;
    const key = rootKey;
    if (key === undefined) return;
    try {
      const next = await buildReplicaCore({
        reader,
        rootKey: key,
        clock: systemClock,
        logger,
        systemTtl: settings.systemTtl,
        ...(settings.cacheEntries === undefined ? {} : { cacheEntries: settings.cacheEntries }),
      });
      if (epoch !== startEpoch) {
        next.close();
        return;
      }
      const previous = core;
      core = next;
      previous?.close();
    } catch (error) {
      // Retried at the next stale request; reported once per interval, not once per retry.
      const now = Date.now();
      if (now - lastFailureReportAt >= FAILURE_LOG_INTERVAL_MS) {
        lastFailureReportAt = now;
        logger.warn('replica could not load the core; the primary answers meanwhile', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  };

  const rebuildSoon = (): void => {
    if (building || rootKey === undefined) return;
    building = true;
    const wait = Math.max(0, lastBuildStart + REBUILD_INTERVAL_MS - Date.now());
    setTimeout(() => {
      lastBuildStart = Date.now();
      build().finally(() => {
        building = false;
      });
    }, wait).unref();
  };

  // PRAGMA data_version costs a few µs and a request asks twice (accepts, then the handler)
  // in one synchronous stretch, with no I/O between them. So the answer is kept until the
  // stretch ends (the next microtask checkpoint): nothing a client did can become visible to
  // this process in between, so this is exactly as fresh as asking each time.
  let versionNow: number | undefined;
  const forgetVersion = (): void => {
    versionNow = undefined;
  };
  const currentDataVersion = (): number => {
    if (versionNow === undefined) {
      versionNow = reader.dataVersion();
      queueMicrotask(forgetVersion);
    }
    return versionNow;
  };

  /** The core, if it may answer now: current with the file as it is (caught up if need be). */
  const fresh = (): ReplicaCore | undefined => {
    if (core === undefined) {
      rebuildSoon();
      return undefined;
    }
    const version = currentDataVersion();
    if (version !== core.dataVersion && !core.catchUp(version)) {
      rebuildSoon();
      return undefined;
    }
    return core;
  };

  const accepts = (method: string, verb: RequestVerb, path: string): boolean => {
    if (!gate.isOpen) return false;
    if (method !== 'GET' || (verb !== 'read' && verb !== 'list')) return false;
    if (path.startsWith('sys/') || path.startsWith('auth/')) return false;
    const current = fresh();
    return current !== undefined && !current.primaryOnly && current.router.route(path) !== undefined;
  };

  const vaultListener = createVaultRequestListener({
    handler: (request) => {
      const current = fresh();
      return current === undefined ? Promise.reject(new CofferError('sealed', 'Vault is sealed')) : current.handler(request);
    },
    // Refused (so forwarded) once a seal has begun; a seal waits for the ones admitted.
    admit: () => gate.enter(),
    lifecycle: FORWARDED_ONLY,
    watchAccess: FORWARDED_ONLY,
    events: createEventBus({ clock: systemClock }),
    logger,
    clock: systemClock,
    version: REPORTED_VERSION,
    delegate: { accepts, forward },
  });

  const { server, graceful } = createApiServer(
    settings.httpTimeouts,
    // The client address is settled before anything else: what this process answers and what
    // it forwards (forward.ts names the client to the primary) both use it.
    inArrivalOrder(withForwardedFor(settings.forwardedFor, (req, res) => {
      if (!(req.url ?? '').startsWith('/v1/')) return forward(req, res);
      // Says who answered, for operators checking a deployment; forward() removes it.
      res.setHeader(SERVED_BY_HEADER, 'replica');
      vaultListener(req, res);
    })),
  );
  const adopt = adoptConnections(server);

  const dropKey = (): void => {
    epoch += 1;
    core?.close();
    core = undefined;
    rootKey?.fill(0);
    rootKey = undefined;
  };

  const seal = async (): Promise<void> => {
    gate.close();
    // No core built from now on is installed; the one in use serves the reads in progress.
    epoch += 1;
    if (!(await gate.drained(REPLICA_SEAL_DRAIN_MS))) {
      logger.warn('replica sealing with reads still in progress', { in_flight: gate.inFlight });
    }
    dropKey();
  };

  return {
    adopt,
    unseal(key) {
      rootKey?.fill(0);
      rootKey = key;
      gate.open();
      rebuildSoon();
    },
    seal,
    async close(graceMs) {
      gate.close();
      // Forwarded requests are answered by the primary, whose internal listener stays open
      // until this process has exited (or its grace is over).
      await graceful.finish(graceMs);
      dropKey();
      forwarder.close();
      void reader.close();
    },
  };
}

function send(message: FromReplica): void {
  process.send?.(message);
}

function main(): void {
  let replica: Replica | undefined;
  let shutdownGraceSeconds: number | undefined;
  let logger: Logger = createLogger({ base: { component: 'replica', pid: process.pid } });
  process.on('message', (message: ToReplica, handle?: unknown) => {
    switch (message.type) {
      case 'init':
        logger = createLogger({ level: message.settings.logLevel, base: { component: 'replica', pid: process.pid } });
        replica = startReplica(message.settings, logger);
        shutdownGraceSeconds = message.settings.shutdownGraceSeconds;
        send({ type: 'ready' });
        return;
      case 'connection':
        if (replica && handle) replica.adopt(handle as Socket);
        else (handle as Socket | undefined)?.destroy();
        return;
      case 'unseal':
        replica?.unseal(Buffer.from(message.rootKey));
        // The structured clone is this process's own copy; do not leave it behind.
        message.rootKey.fill(0);
        return;
      case 'seal':
        // Confirmed only once the key is gone.
        void (replica?.seal() ?? Promise.resolve()).then(() => send({ type: 'sealed', id: message.id }));
        return;
      case 'ping':
        send({ type: 'pong' });
        return;
    }
  });
  // A replica lives and dies with its primary (the channel below), never by a signal of its
  // own: a ^C or SIGHUP to the whole process group (`kill -HUP -PGID`, a terminal closing) is
  // the primary's to act on, and would otherwise drop this replica's clients mid-request.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(signal, () => undefined);
  // The primary is gone (or closed the channel: it is shutting down): so is the reason to run,
  // once the requests this process holds have been answered.
  process.on('disconnect', () => {
    const grace = (shutdownGraceSeconds ?? 0) * 1000;
    void (replica?.close(grace) ?? Promise.resolve()).finally(() => process.exit(0));
  });
}

main();
