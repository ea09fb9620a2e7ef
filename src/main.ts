/**
 * The composition root: every component is built and wired here, and nowhere else.
 *
 * `startServer` is what the CLI's `coffer server` and the tests call; it returns once the
 * server listens (and, in dev mode, is initialised and unsealed).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHttpApiForCore, type HttpApi } from './server/http.js';
import { createReplicaSet } from './server/replicas/replica-set.js';
import { createAuditBroker } from './core/audit/broker.js';
import { createAuditFilePolicy, type AuditFilePolicy } from './core/audit/file-path-policy.js';
import { isCofferError } from './core/errors.js';
import { createBarrier } from './core/barrier/barrier.js';
import { createShamirSeal } from './core/barrier/seal.js';
import { systemClock, type Clock } from './core/clock.js';
import { createLifecycle, type Lifecycle } from './core/lifecycle.js';
import { createLogger, type Logger } from './core/logger.js';
import { createPolicyStore } from './core/policy/store.js';
import { createRequestHandler } from './core/request-handler.js';
import { createMountManager } from './core/router/mount-manager.js';
import type { MountEntry } from './core/router/mount-table.js';
import type { Engine } from './core/router/engine.js';
import { createRouter } from './core/router/router.js';
import { createMemoryStorage } from './core/storage/memory.js';
import { lockDataDir, type DataDirLock } from './core/storage/data-dir-lock.js';
import { createQuotaStore } from './core/quotas/quota-store.js';
import { createSqliteStorage } from './core/storage/sqlite.js';
import type { PhysicalStorage } from './core/storage/storage.js';
import { scope } from './core/storage/view.js';
import { createSystemEngine } from './core/system/system-engine.js';
import { createTokenEngine } from './core/tokens/token-engine.js';
import { createLoginRenewalCheck } from './core/tokens/login-renewal.js';
import { createTokenStore } from './core/tokens/token-store.js';
import { createResponseWrapping } from './core/wrapping/response-wrapping.js';
import { createCubbyholeEngine } from './engines/cubbyhole/engine.js';
import { createTokenRoleStore } from './core/tokens/token-roles.js';
import { createLeaseManager, type LeaseManagerOptions } from './core/leases/lease-manager.js';
import { createEventBus } from './core/events/event-bus.js';
import { uuid } from './core/ids.js';
import { createWatchAccess } from './core/events/watch-access.js';
import { createWatchSlots } from './core/events/watch-slots.js';
import { createConsumerRegistry } from './core/consumers/consumer-registry.js';
import { createKvEngine } from './engines/kv/engine.js';
import { createDatabaseEngine } from './engines/database/engine.js';
import { createApproleEngine } from './auth/approle/engine.js';
import { createUserpassEngine } from './auth/userpass/engine.js';
import { createJwtEngine } from './auth/jwt/engine.js';
import { createKubernetesEngine } from './auth/kubernetes/engine.js';
import { ConfigError, readConfigFile, resolveConfig, type ServerConfig, type ServerConfigInput } from './config.js';
import type { ServerFlags } from './server/flags.js';
import { REPORTED_VERSION } from './version.js';
// AWS Secrets Manager API (issue 6): access keys, the aws-keys engine, the aws/ KV mount.
import { createAccessKeyStore } from './engines/aws-keys/key-store.js';
import { AWS_KEYS_ENGINE_TYPE, AWS_KEYS_INITIAL_MOUNT, createAwsKeysEngine } from './engines/aws-keys/engine.js';
import { AWS_KV_INITIAL_MOUNT, createAwsMountEnsurer, createAwsMountMarker } from './api/aws/mount.js';
import { AWS_KV_MOUNT } from './api/aws/names.js';
import { createAwsPurger } from './api/aws/purge.js';
import type { AwsRotatorLookup } from './api/aws/rotation.js';
// Webhook rotators (issue 4 item 6): the rotators/ engine, staged versions of aws/ secrets.
import { createKeyedMutex } from './core/keyed-mutex.js';
import { createAwsRotationStore } from './api/aws/rotation-store.js';
import { createRotatorDirectory } from './rotators/directory.js';
import { createRotatorsEngine, ROTATORS_ENGINE_TYPE, ROTATORS_INITIAL_MOUNT, type RotatorsOptions } from './rotators/engine.js';

export interface StartedServer {
  /** http://HOST:PORT */
  url: string;
  /** The root token in dev mode; undefined otherwise. */
  rootToken: string | undefined;
  readonly lifecycle: Lifecycle;
  /**
   * Reopens every audit device (SIGHUP): a file device starts writing to the file now at its
   * path (after log rotation, or after the file was removed), and a device that failed to
   * open is tried again. Failures are logged, never thrown.
   */
  reopenAuditDevices(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions extends ServerConfigInput {
  clock?: Clock;
  logger?: Logger;
  /** Print the dev-mode banner to this stream (the CLI passes stdout). */
  banner?: (text: string) => void;
  /** Rotators RotateSecret may name in RotationLambdaARN (AWS API); none by default. */
  awsRotators?: AwsRotatorLookup;
  /** Webhook rotators: hosts allowed besides loopback (added to rotatorAllowedHosts), scheduler timing. */
  rotators?: RotatorsOptions;
  /** How often AWS secrets past their recovery window are deleted, ms (default: hourly). */
  awsPurgeIntervalMs?: number;
  /** Lease revocation retry timing (default: Vault's, first retry after 10 s); tests shorten it. */
  leases?: Pick<LeaseManagerOptions, 'retryBaseMs' | 'retryMaxMs'>;
}

const DEV_SHARE_FILE = 'dev-unseal-key';
const DEV_TOKEN_FILE = 'dev-root-token';

function sqlitePathOf(config: ServerConfig): string {
  return resolve(join(config.dataDir, 'coffer.db'));
}

/** Files Coffer keeps in its data directory (the SQLite file and its companions, lock, dev files). */
const COFFER_FILE = /^(coffer\.db(-wal|-shm|-journal)?|coffer\.lock(-journal)?|dev-unseal-key|dev-root-token)$/;

function holdsOnlyCofferFiles(dir: string): boolean {
  return readdirSync(dir).every((name) => COFFER_FILE.test(name));
}

function buildPhysical(config: ServerConfig): { physical: PhysicalStorage; lock: DataDirLock | undefined } {
  if (config.storage === 'memory') return { physical: createMemoryStorage(), lock: undefined };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // A directory holding only Coffer's files may have been created with a looser umask: only
  // Coffer reads it. One holding anything else (--data . or /var/lib) is the operator's and
  // keeps its mode; Coffer's own files in it are 0600 either way.
  if (holdsOnlyCofferFiles(config.dataDir)) chmodSync(config.dataDir, 0o700);
  const lock = lockDataDir(config.dataDir);
  try {
    // HTTP replicas read the file and follow its change log (src/server/replicas/replica-core.ts).
    return { physical: createSqliteStorage({ path: sqlitePathOf(config), trackChanges: config.httpReplicas > 0 }), lock };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The config file's audit devices against the file policy, at start: a file_path in the data
 * directory, or in a directory that does not exist, stops the start with the reason rather
 * than failing every unseal later (or a first init, after its keys were made).
 */
function checkDeclaredAuditFiles(config: ServerConfig, policy: AuditFilePolicy): void {
  for (const device of config.auditDevices) {
    const filePath = device.options['file_path'];
    if (filePath === undefined) continue;
    try {
      policy.check(filePath, 'config');
    } catch (err) {
      if (isCofferError(err)) throw new ConfigError(`config key "audit", device "${device.path}": ${err.message}`);
      throw err;
    }
  }
}

function writeSecretFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Dev mode: initialise with one share kept in the data directory, and unseal on every start. */
async function startDevMode(config: ServerConfig, lifecycle: Lifecycle, logger: Logger): Promise<string> {
  const shareFile = join(config.dataDir, DEV_SHARE_FILE);
  const tokenFile = join(config.dataDir, DEV_TOKEN_FILE);
  const status = await lifecycle.status();
  if (!status.initialized) {
    const outcome = await lifecycle.initialize({
      secretShares: 1,
      secretThreshold: 1,
      keepUnsealed: true,
      ...(config.devRootToken === undefined ? {} : { rootToken: config.devRootToken }),
    });
    if (config.storage === 'sqlite') {
      writeSecretFile(shareFile, (outcome.keys[0] as Buffer).toString('hex'));
      writeSecretFile(tokenFile, outcome.rootToken);
    }
    return outcome.rootToken;
  }
  if (!existsSync(shareFile)) {
    // Also the state a first --dev start leaves when it is killed between initialising and
    // saving its key: that key is gone, so say how to start over.
    throw new ConfigError(
      `${config.dataDir} holds a server that was not started with --dev (or whose first --dev start was interrupted before it saved its unseal key); ` +
        'start it without --dev and unseal it, or remove the directory to start a fresh dev server',
    );
  }
  await lifecycle.unsealWithShares([Buffer.from(readFileSync(shareFile, 'utf8').trim(), 'hex')]);
  if (config.devRootToken !== undefined) {
    await lifecycle.ensureRootToken(config.devRootToken);
    // The file names the token to use now. The one it held before stays a root token (it is
    // not revoked: scripts of this dev server may hold it); the log says so.
    if (config.storage === 'sqlite' && existsSync(tokenFile)) {
      const before = readFileSync(tokenFile, 'utf8').trim();
      if (before !== config.devRootToken) {
        writeSecretFile(tokenFile, config.devRootToken);
        logger.warn('the dev root token file now holds the -dev-root-token given; the root token it held before still works (revoke it with "coffer token revoke" if it should not)', { file: tokenFile });
      }
    }
    return config.devRootToken;
  }
  return readFileSync(tokenFile, 'utf8').trim();
}

export async function startServer(options: StartOptions = {}): Promise<StartedServer> {
  const config = resolveConfig(options);
  const { physical, lock } = buildPhysical(config);
  try {
    const started = await startServerOn(physical, config, options);
    return {
      ...started,
      async close() {
        try {
          await started.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (err) {
    // A start that failed (a --dev start on a non-dev directory, a port in use) frees the
    // directory for the next attempt.
    await physical.close().catch(() => undefined);
    lock?.release();
    throw err;
  }
}

async function startServerOn(physical: PhysicalStorage, config: ServerConfig, options: StartOptions): Promise<StartedServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel });

  const barrier = createBarrier(physical, { cacheEntries: config.cacheEntries, clock });
  const seal = createShamirSeal({ physical, barrier, version: REPORTED_VERSION });
  const systemStorage = scope(barrier, 'sys/');
  const router = createRouter<MountEntry>();
  // Rate limit quotas: a quota's path must fall in a mount (the system backend's own included).
  const quotas = createQuotaStore({ storage: scope(systemStorage, 'quotas/'), clock, mountOf: (path) => router.route(path)?.mount.path, logger: logger.child({ component: 'quotas' }) });
  /** The auth mount a token-creating path belongs to (the longest mount path that prefixes it). */
  const authMountOf = (path: string): MountEntry | undefined => {
    if (!path.startsWith('auth/')) return undefined;
    let found: MountEntry | undefined;
    // Entries hold full paths ('auth/userpass/').
    for (const entry of mounts.list('auth')) {
      if (path.startsWith(entry.path) && (found === undefined || entry.path.length > found.path.length)) found = entry;
    }
    return found;
  };
  const tokens = createTokenStore({
    storage: scope(systemStorage, 'token/'),
    clock,
    defaultTtl: config.defaultTokenTtl,
    maxTtl: config.maxTokenTtl,
    // A token follows the tune of the auth mount it came from, read at every create and renew
    // as in Vault: auth/token/ for auth/token/create, the login's mount for a login (whose max
    // may exceed the system's, as `-max-lease-ttl=87600h` tunes do).
    ttlLimits: (path) => {
      const mount = authMountOf(path);
      if (mount === undefined) return undefined;
      const maxTtl = mount.config.max_lease_ttl || config.maxTokenTtl;
      return { defaultTtl: Math.min(mount.config.default_lease_ttl || config.defaultTokenTtl, maxTtl), maxTtl };
    },
  });
  const policies = createPolicyStore({ storage: scope(systemStorage, 'policy/'), logger: logger.child({ component: 'policies' }) });
  const events = createEventBus({ clock });
  // Set when the core starts serving after an unseal, cleared as a seal begins: the consumer
  // registry counts a consumer's silence only from then (consumer-registry.ts).
  let consumersServingSince: number | undefined;
  const consumers = createConsumerRegistry({
    storage: scope(systemStorage, 'consumers/'),
    clock,
    servingSince: () => consumersServingSince,
    ownerAlive: async (accessor) => (await tokens.lookupByAccessor(accessor)) !== undefined,
  });
  const systemTtl = { defaultSeconds: config.defaultTokenTtl, maxSeconds: config.maxTokenTtl };
  // AWS access keys: records behind the barrier, read by SigV4 verification (AWS API).
  const awsKeys = createAccessKeyStore({ storage: scope(systemStorage, 'aws-keys/'), clock, tokens });
  // Never into the data directory; through the API, only into audit_file_dirs when set (CVE-2025-6000).
  const auditFilePolicy = createAuditFilePolicy({ dataDir: config.dataDir, allowedDirs: config.auditFileDirs });
  checkDeclaredAuditFiles(config, auditFilePolicy);
  const audit = createAuditBroker({
    storage: scope(systemStorage, 'audit/'),
    clock,
    logger: logger.child({ component: 'audit' }),
    filePolicy: auditFilePolicy,
    declared: config.auditDevices,
  });
  // Webhook rotators: one lock table for aws/ secret records, shared by the AWS API and rotations;
  // the rotation store reaches the pipeline late-bound (`handler` is built below, before any unseal).
  const awsLocks = createKeyedMutex();
  const rotatorDirectory = createRotatorDirectory(ROTATORS_INITIAL_MOUNT.path);
  const awsRotation = createAwsRotationStore({ handler: () => handler, clock, locks: awsLocks });
  // Hosts webhooks may call: the config file's rotator_allowed_hosts, and any a caller of startServer adds.
  const rotatorOptions: RotatorsOptions = { ...options.rotators, allowedHosts: [...config.rotatorAllowedHosts, ...(options.rotators?.allowedHosts ?? [])] };

  let lifecycle: Lifecycle | undefined;
  // sys/seal: runs once that request has been audited and has left the core (EngineResponse.afterRelease).
  const sealFromApi = (): Promise<void> => (lifecycle as Lifecycle).sealNow();

  const tokenEngine = createTokenEngine({
    tokens,
    policyExists: async (name) => (await policies.get(name)) !== undefined,
    hasSudo: async (req, path) => {
      if (req.auth?.isRoot) return true;
      const acl = await policies.acl(req.auth?.policies ?? []);
      return acl.check(path, 'update').rootPrivs;
    },
    checkRenewal: createLoginRenewalCheck(router),
    roles: createTokenRoleStore(scope(systemStorage, 'token-roles/')),
  });
  // Each token's private storage (cubbyhole/), gone with the token however it ends.
  // Whether the writer's token still lives: revoked meanwhile, no; on its last use (revoked
  // after this request, its cubbyhole with it), yes, as a request may use its last use.
  const cubbyhole = createCubbyholeEngine(scope(systemStorage, 'cubbyhole/'), async (id) => (await tokens.lookupCaller(id)) !== undefined);
  tokens.onRevoke((entry) => cubbyhole.destroy(entry.id));
  // The mount manager and the system engine refer to each other: the manager asks for its
  // built-in engines only when it loads the mount table, after both exist.
  let systemEngine: Engine | undefined;
  // Whether aws/ is the operator's to enable and disable (api/aws/mount.ts).
  const awsMountMarker = createAwsMountMarker(systemStorage);
  const mounts = createMountManager({
    systemTtl,
    barrier,
    systemStorage,
    router,
    clock,
    logger,
    secretEngines: {
      kv: createKvEngine,
      database: (ctx) => createDatabaseEngine(ctx),
      [AWS_KEYS_ENGINE_TYPE]: (ctx) => createAwsKeysEngine(ctx, { keys: awsKeys, tokens, systemTtl }), // AWS API
      [ROTATORS_ENGINE_TYPE]: (ctx) =>
        createRotatorsEngine(ctx, { secrets: awsRotation, tokens, policies, directory: rotatorDirectory, options: rotatorOptions }), // webhook rotators
    },
    authMethods: {
      approle: createApproleEngine,
      userpass: createUserpassEngine,
      jwt: createJwtEngine,
      oidc: createJwtEngine,
      kubernetes: createKubernetesEngine,
    },
    builtins: () => ({ system: systemEngine as Engine, token: tokenEngine, cubbyhole }),
    events,
    consumers,
    audit: {
      // Engine-initiated actions are audited as a response entry of an internal request.
      record: (entry) => {
        if (!audit.enabled) return;
        audit.logResponse({
          time: clock.now(),
          request: { id: uuid(), operation: entry.operation, path: entry.path, remoteAddress: 'internal', data: null },
          response: { statusCode: 200, data: entry.data, ...(entry.nonHmacKeys ? { nonHmacKeys: entry.nonHmacKeys } : {}) },
        });
      },
    },
    // Vault refuses to unmount while a lease of the mount cannot be revoked; so does Coffer.
    beforeUnmount: async (entry) => {
      // A disabled aws/ stays disabled: no AWS request may bring it back (api/aws/mount.ts).
      if (entry.path === AWS_KV_MOUNT) await awsMountMarker.set();
      await leases.revokePrefix(entry.path);
      // As Vault: disabling an auth method revokes every token it issued, and their leases.
      if (entry.table === 'auth') await tokens.revokeByPathPrefix(entry.path);
      // As Vault: a mount's quotas go with it, so a new mount at the same path starts without them.
      await quotas.removeForMount(entry.path);
    },
    initialMounts: [
      ...(config.dev ? [{ path: 'secret/', type: 'kv', options: { version: '2' }, description: 'key/value secret storage' }] : []),
      AWS_KEYS_INITIAL_MOUNT, // AWS API: `coffer aws-keys create` works on a fresh server
      AWS_KV_INITIAL_MOUNT, // AWS API: its secrets, so CreateSecret works on a fresh server
      ROTATORS_INITIAL_MOUNT, // webhook rotators: RotateSecret can name one on a fresh server
    ],
  });
  const leases = createLeaseManager({
    storage: scope(systemStorage, 'expire/'),
    clock,
    logger: logger.child({ component: 'leases' }),
    engineForMount: (uuid) => mounts.engineByUuid(uuid),
    ...options.leases,
  });
  // A token's leases end with it; revocation failures are retried by the lease worker.
  tokens.onRevoke((entry) => leases.revokeByToken(entry.id));
  // A wrapped response goes with its wrapping token, however that token ends.
  const wrapping = createResponseWrapping({ storage: scope(systemStorage, 'wrapping/'), tokens });
  tokens.onRevoke((entry) => wrapping.forget(entry));
  systemEngine = createSystemEngine({ mounts, router, policies, audit, barrier, tokens, leases, consumers, events, quotas, wrapping, seal: sealFromApi, apiAuditCreation: config.apiAuditCreation });

  // AWS secrets past their DeleteSecret recovery window are deleted for good, as AWS does.
  const awsPurger = createAwsPurger({
    handler: () => handler,
    tokens,
    policies,
    mounts,
    clock,
    locks: awsLocks,
    logger: logger.child({ component: 'aws' }),
    ...(options.awsPurgeIntervalMs !== undefined ? { intervalMs: options.awsPurgeIntervalMs } : {}),
  });

  // KV reads served by extra processes beside this one (src/server/replicas/); they get the root
  // key after every unseal and give it back before seal, as a lifecycle service.
  const replicas =
    config.httpReplicas > 0
      ? createReplicaSet({
          count: config.httpReplicas,
          settings: {
            sqlitePath: sqlitePathOf(config),
            systemTtl,
            cacheEntries: config.cacheEntries,
            maxRequestBytes: config.maxRequestBytes,
            httpTimeouts: config.http,
            shutdownGraceSeconds: config.shutdownGracePeriod,
            ...(config.forwardedFor ? { forwardedFor: config.forwardedFor } : {}),
            logLevel: config.logLevel,
          },
          copyRootKey: () => barrier.copyRootKey(),
          logger: logger.child({ component: 'replicas' }),
        })
      : undefined;

  lifecycle = createLifecycle({
    seal,
    barrier,
    systemStorage,
    tokens,
    policies,
    quotas,
    mounts,
    audit,
    logger,
    // Replicas first: a seal takes their key back as it begins, while this process's requests
    // finish, and before anything slower (lease revocations) runs.
    // The last entry ends every watch stream and long poll as a seal begins (they must not hold
    // it up), and again once the requests in flight are done (a watch opened meanwhile).
    services: [
      ...(replicas ? [replicas] : []),
      {
        start: () => {
          consumersServingSince = clock.now();
        },
        sealBegins: () => {
          consumersServingSince = undefined;
        },
        stop: async () => {
          consumersServingSince = undefined;
        },
      },
      leases,
      awsPurger,
      { start: () => undefined, sealBegins: () => events.endStreams(), stop: async () => events.endStreams() },
    ],
    sealDrainMs: config.sealDrainTimeout * 1000,
  });
  const handler = createRequestHandler({ router, leases, events, systemTtl, tokens, policies, audit, clock, logger, wrapping, isSealed: () => (lifecycle as Lifecycle).isSealed() });
  const api: HttpApi = createHttpApiForCore({
    handler,
    lifecycle,
    logger,
    clock,
    maxRequestBytes: config.maxRequestBytes,
    timeouts: config.http,
    events,
    watchAccess: createWatchAccess({ tokens, policies }),
    watchSlots: createWatchSlots({ maxPerToken: config.maxWatchesPerToken, maxTotal: config.maxWatches }),
    quotas,
    ...(config.forwardedFor ? { forwardedFor: config.forwardedFor } : {}),
    // AWS Secrets Manager protocol on the same listener.
    aws: {
      keys: awsKeys,
      isSealed: () => (lifecycle as Lifecycle).isSealed(),
      ensureMount: createAwsMountEnsurer(mounts, awsMountMarker, logger.child({ component: 'aws' })),
      // In-process rotators first, then webhook rotators configured at rotators/config/.
      rotators: { ...(options.awsRotators ? { lookup: options.awsRotators } : {}), webhookExists: rotatorDirectory.exists, locks: awsLocks },
    },
    ...(replicas ? { distribute: replicas.distribute } : {}),
  });

  let rootToken: string | undefined;
  let address;
  try {
    if (replicas) await api.listenInternal(replicas.socketPath, replicas.hopKey);
    if (config.dev) rootToken = await startDevMode(config, lifecycle, logger);
    address = await api.listen(config.listenHost, config.listenPort);
  } catch (err) {
    // Stop what unsealing started (workers, timers, replicas), or they would outlive the failed start.
    await lifecycle.close().catch(() => undefined);
    await replicas?.close();
    await api.close().catch(() => undefined);
    throw err;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info('coffer server listening', { address: url, storage: config.storage, dev: config.dev });

  const started = lifecycle;
  return {
    url,
    rootToken,
    lifecycle: started,
    reopenAuditDevices: () => audit.reopen(),
    /**
     * A graceful stop, within the shutdown grace period: no new connection is accepted and idle
     * ones close at once; the core seals as a seal does, so requests in flight finish (new ones
     * on open connections get 503) and watch streams end; their answers are written; then what
     * is left is closed, and storage last.
     */
    async close() {
      const graceMs = config.shutdownGracePeriod * 1000;
      const deadline = Date.now() + graceMs;
      api.stopAccepting();
      // Replicas finish their own requests the same way, then exit; the internal listener they
      // forward to stays open until they have.
      const replicasGone = replicas?.close();
      await started.close(graceMs);
      await replicasGone;
      await api.close(Math.max(0, deadline - Date.now()));
      await physical.close();
    },
  };
}

/**
 * `coffer server [flags]`, once the CLI has parsed the flags (src/server/flags.ts): reads the
 * config file, starts, prints the dev banner, stops on SIGINT/SIGTERM.
 */
export async function runServerCommand(flags: Pick<ServerFlags, 'config' | 'input'>, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const fileInput = flags.config ? readConfigFile(flags.config) : {};
  const input: StartOptions = { ...fileInput, ...flags.input };
  if (input.dev && input.dataDir === undefined && input.storage !== 'memory') input.dataDir = './coffer-data';
  // SIGHUP reopens the audit files, as in Vault (logrotate's postrotate `kill -HUP`). The
  // handler is in place from the start to the end: without one, SIGHUP terminates the process,
  // which then restarts sealed. Before the server is up and once it is stopping, it does nothing.
  let running: StartedServer | undefined;
  const reopen = (): void => {
    running?.reopenAuditDevices().catch(() => undefined);
  };
  process.on('SIGHUP', reopen);
  let server: StartedServer;
  try {
    server = await startServer(input);
  } catch (err) {
    process.off('SIGHUP', reopen);
    throw err;
  }
  running = server;
  if (input.dev) {
    out(devBanner(server, resolve(input.dataDir ?? './coffer-data'), input.storage === 'memory'));
  }
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      running = undefined;
      // The SIGHUP handler goes only once the server has closed.
      const done = (): void => {
        process.off('SIGHUP', reopen);
        resolveStop();
      };
      server.close().then(done, done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function devBanner(server: StartedServer, dataDir: string, memory: boolean): string {
  return [
    '',
    '==> WARNING: Dev mode is enabled! Do NOT use it in production.',
    '',
    `    Coffer is running unsealed, with its only unseal key ${memory ? 'in memory' : `stored in ${dataDir}`},`,
    '    and a root token that never expires. Anyone who can read that directory',
    '    owns every secret in it.',
    '',
    `    Address:     ${server.url}`,
    `    Root Token:  ${server.rootToken ?? ''}`,
    '',
    '    export COFFER_ADDR=' + server.url,
    '    export COFFER_TOKEN=<the root token above>',
    '',
  ].join('\n') + '\n';
}
