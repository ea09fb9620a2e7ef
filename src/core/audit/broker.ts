/**
 * The audit broker: the table of enabled audit devices, their HMAC keys, and fan-out of every
 * audited request and response to all of them.
 *
 * Owns: the device table in its storage view (inside the barrier, so the per-device keys are
 * encrypted at rest), the rule that an audited request fails when audit is enabled and no device
 * logged it (fail closed), the per-device redaction, the devices the config file declares
 * (enabled at every load, never disabled through the API), and asking the file policy before a
 * device opens its file (file-path-policy.ts): a new one, and every stored one at each load and
 * reopen. It must never log an entry, a key or a device's error message (only the device path
 * and an error code), and never let one device's key or options affect another device's output
 * (CVE-2024-0831).
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import type { Clock } from '../clock.js';
import { badRequest, CofferError } from '../errors.js';
import type { Logger } from '../logger.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';
import { AuditDeviceError, type AuditDevice, type AuditDeviceFactory, type FilePosition } from './device.js';
import { buildRequestEntry, buildResponseEntry, type AuditEntry, type AuditEvent } from './entry.js';
import { createFileDevice, DISCARD_TARGET, FILE_DEVICE_TYPE, sameDestination, STDOUT_TARGET } from './file-device.js';
import { declaresAsIs, planDeclared, type DeclaredAuditDevice, type DeclaredStep } from './declared.js';
import { auditPathsOverlap, normaliseAuditPath } from './device-path.js';
import type { AuditDeviceOrigin, AuditFilePolicy } from './file-path-policy.js';
import { createHasher, hmacString, type Hasher } from './hmac.js';
import { deriveChainKey } from './chain.js';
import { AuditFileRefused, verifyAuditFile, type VerifyResult } from './verify.js';

export interface AuditDeviceInfo {
  type: string;
  description: string;
  options: Record<string, string>;
  path: string;
  local: boolean;
}

export interface AuditBroker {
  /**
   * After unseal: reads the device table, opens every device, and enables the devices the config
   * file declares (declared.ts). Until then, logging fails closed. Throws, leaving no device
   * open, when a declared device cannot be enabled. A stored device the file policy refuses is
   * not opened: it stays listed and counts as failing, as one whose file cannot be opened.
   */
  load(): Promise<void>;
  /** Before seal: closes every device and zeroes the keys held in memory. */
  close(): Promise<void>;
  /**
   * Enables a device at `path` (normalised to end with '/') for an API caller: a file device is
   * held to the file policy for API-created devices.
   */
  enable(path: string, config: { type: string; description?: string; options?: Record<string, string> }): Promise<void>;
  /**
   * Disables the device at `path` and destroys its key, for an API caller; an unknown path is
   * not an error. A device the config file declares is refused (bad_request).
   */
  disable(path: string): Promise<void>;
  /** Enabled devices keyed by path ('file/'), as sys/audit returns them. */
  list(): Record<string, AuditDeviceInfo>;
  /** True when at least one device is enabled, so every audited request must be logged. */
  readonly enabled: boolean;
  /** Logs the request entry; throws audit_failed when devices exist and none logged it. */
  logRequest(event: AuditEvent): void;
  /** Logs the response entry; throws audit_failed when devices exist and none logged it. */
  logResponse(event: AuditEvent): void;
  /** `hmac-sha256:<hex>` of `input` with the key of the device at `path` (sys/audit-hash). */
  hash(path: string, input: string): string;
  /**
   * Verifies the hash chain and every line's MAC of the file the device at `path` writes (as it
   * is now), or of `filePath`: that file's rotated copy in the same directory, named after it
   * (`audit.log.1`, `audit.log-2026-11-26`). sys/audit-verify.
   */
  verify(path: string, filePath?: string, options?: { allowEarlierKeys?: boolean }): Promise<VerifyResult & { file_path: string }>;
  /**
   * Reopens every device (SIGHUP after log rotation), and retries devices that failed to open at
   * load; each is held to the file policy again first, and one it now refuses is closed.
   * A device that cannot reopen (its path is now a directory, its directory is gone) is closed
   * too, never left writing to the file it had: it counts as failing until a later reopen
   * succeeds. Failures are logged, not thrown: one bad device must not stop the others reopening.
   */
  reopen(): Promise<void>;
}

export interface AuditBrokerDeps {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Device types by name. Defaults to the file device; tests inject failing ones. */
  factories?: Readonly<Record<string, AuditDeviceFactory>>;
  /** Where file devices may be enabled to write (file-path-policy.ts); without one, anywhere. */
  filePolicy?: AuditFilePolicy;
  /** The devices the config file declares, enabled at every load (declared.ts). */
  declared?: readonly DeclaredAuditDevice[];
}

export const NO_AUDIT_BACKEND_MESSAGE = 'no audit backend succeeded in logging the request';

/** While a device keeps failing, repeat the log line at most this often (with a count). */
export const FAILURE_LOG_INTERVAL_MS = 60_000;

const KEY_BYTES = 32;
const TABLE_VERSION = 1;

interface StoredDevice {
  path: string;
  type: string;
  description: string;
  options: Record<string, string>;
  /** The device's HMAC key, base64. Destroyed with the device: a re-enabled path gets a new one. */
  hmacKey: string;
  /**
   * Where the chains of the device's files stood when last recorded (the current file first,
   * then rotated ones): a file found shorter than this later was cut (see `anchorCheck`).
   */
  anchors?: FilePosition[];
  /** 'config' for a device the config file declared; absent for one enabled through the API. */
  origin?: 'config';
}

interface StoredTable {
  version: number;
  devices: StoredDevice[];
}

const tableKey = (): string => 'table';

interface LiveDevice {
  readonly path: string;
  readonly type: string;
  description: string;
  readonly options: Readonly<Record<string, string>>;
  /** Who enabled it. A config-file device keeps 'config' once the file no longer declares it. */
  origin: AuditDeviceOrigin;
  readonly key: Buffer;
  /** deriveChainKey(key): MACs the device's lines. */
  readonly chainKey: Buffer;
  readonly hash: Hasher;
  /** Undefined when the device could not be opened at load; it then counts as failing. */
  device: AuditDevice | undefined;
  failing: boolean;
  lastFailureLogAt: number;
  failuresSinceLog: number;
  anchors: FilePosition[];
}

/**
 * Whether two file_paths name one file: the same path once normalised (`logs//a.log`,
 * `logs/./a.log`), or, for files that exist, the same inode (a link, another spelling).
 */
function sameFileOnDisk(a: string | undefined, b: string): boolean {
  if (a === undefined || a === DISCARD_TARGET || b === DISCARD_TARGET || a === STDOUT_TARGET || b === STDOUT_TARGET) return sameDestination(a, b);
  if (resolvePath(a) === resolvePath(b)) return true;
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** A code safe to log for a device failure: never the message, which could carry data. */
function failureCode(err: unknown): string {
  if (err instanceof AuditDeviceError || err instanceof CofferError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'unknown';
}

/**
 * `filePath` if it is a rotated copy of the device's file `devicePath`: a regular file (not a
 * link) in the same directory whose name is the device file's name followed by "." or "-".
 * Anything else is refused, so this endpoint cannot probe other files on the server.
 */
function rotatedCopy(devicePath: string, filePath: string): string {
  const refuse = (): CofferError =>
    badRequest(`file_path must be the device's file or a rotated copy of it in the same directory (${basename(devicePath)}.N, ${basename(devicePath)}-DATE)`);
  if (!isAbsolute(filePath) || filePath.includes('\0')) throw refuse();
  const name = basename(filePath);
  const base = basename(devicePath);
  if (join(dirname(devicePath), name) !== filePath || !(name.startsWith(`${base}.`) || name.startsWith(`${base}-`))) throw refuse();
  let st;
  try {
    st = lstatSync(filePath);
  } catch {
    throw badRequest(`cannot read "${name}" next to the device's file`);
  }
  if (!st.isFile()) throw badRequest(`"${name}" is not a regular file`);
  return filePath;
}

/** Rotated files remembered per device, besides the current one. */
const MAX_ANCHORS = 8;
/** How often the positions of device files are recorded, when they moved. */
export const ANCHOR_INTERVAL_MS = 60_000;

// A file is known by its chain (the hash of its first line), not its inode: a cut copy written
// back under the name is a new inode, and a new file may get a freed inode number.
const sameFile = (a: FilePosition, b: Pick<FilePosition, 'firstHash'>): boolean => a.firstHash === b.firstHash;

/**
 * Why the device's file cannot be continued, or undefined: it is a file whose chain Coffer
 * recorded at a later line than the file now ends with, so lines were cut off its end, and
 * continuing would hide the gap (the removed lines would lie in the middle of a valid chain).
 * An emptied file (logrotate's copytruncate) is continued: its chain starts again at line 1,
 * hiding nothing a deleted file would not.
 */
function anchorCheck(device: AuditDevice, anchors: readonly FilePosition[]): string | undefined {
  const now = device.position?.();
  if (now === undefined) return undefined;
  for (const anchor of anchors) {
    if (!sameFile(anchor, now)) continue;
    if (now.seq < anchor.seq) {
      return `the audit file ends at line ${now.seq} but Coffer had written ${anchor.seq} lines to it: lines were cut off; move it aside (and verify it) to start a new file`;
    }
    // Past the recorded line, the file's end must still be this device's own line: anyone who
    // can write the file could otherwise cut it and add one line claiming a later seq.
    if (device.lastLineVouched?.() === false) {
      return "the audit file's last line does not carry this device's MAC: lines were cut or forged; move it aside (and verify it) to start a new file";
    }
  }
  return undefined;
}

/** The failure code of a stored device the file policy refuses. */
const POLICY_REFUSED = 'file_policy';

function auditFailed(): CofferError {
  return new CofferError('audit_failed', NO_AUDIT_BACKEND_MESSAGE);
}

/** The devices stored in the sealed device table (`storage` is the broker's view). */
async function loadStoredDevices(storage: Storage): Promise<StoredDevice[]> {
  const table = await getJson<StoredTable>(storage, tableKey());
  if (table === undefined) return [];
  if (table.version !== TABLE_VERSION || !Array.isArray(table.devices)) {
    throw new CofferError('internal', 'the audit device table has an unknown format');
  }
  return table.devices;
}

/**
 * How many audit devices are enabled, read from storage. For the HTTP replica processes: while
 * any is, every request must be audited, and only the primary holds the devices.
 */
export async function countStoredDevices(storage: Storage): Promise<number> {
  return (await loadStoredDevices(storage)).length;
}

export function createAuditBroker(deps: AuditBrokerDeps): AuditBroker {
  const { storage, clock } = deps;
  const logger = deps.logger.child({ component: 'audit' });
  const factories: Readonly<Record<string, AuditDeviceFactory>> = deps.factories ?? {
    [FILE_DEVICE_TYPE]: (options, keys) =>
      createFileDevice(options, {
        chainKey: keys.chainKey,
        onEmptied: (previous) => {
          logger.warn('audit file was emptied by another writer (logrotate copytruncate?); its chain starts again at line 1', { file_path: options['file_path'], lines: previous.seq });
          recordEnd(options['file_path'], previous);
        },
        onTornTail: (bytes) => logger.warn('audit file ended with a torn line (a crash mid-write?); cut it off and continued the chain', { file_path: options['file_path'], bytes }),
      }),
  };
  const declared = deps.declared ?? [];
  const devices = new Map<string, LiveDevice>();
  let loaded = false;
  /** The devices were loaded, then closed (a seal): not the same as never loaded. */
  let closedBySeal = false;

  // Table changes are serialised so two concurrent enables cannot both pass the "in use" check.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const persist = (list: readonly LiveDevice[]): Promise<void> => {
    const table: StoredTable = {
      version: TABLE_VERSION,
      devices: list.map((d) => ({
        path: d.path,
        type: d.type,
        description: d.description,
        options: { ...d.options },
        hmacKey: d.key.toString('base64'),
        anchors: d.anchors,
        ...(d.origin === 'config' ? { origin: 'config' as const } : {}),
      })),
    };
    return putJson(storage, tableKey(), table);
  };

  const openDevice = (type: string, options: Readonly<Record<string, string>>, chainKey: Buffer): AuditDevice => {
    const factory = factories[type];
    if (factory === undefined) throw badRequest(`unknown audit device type "${type}"`);
    return factory(options, { chainKey });
  };

  /** Opens a stored device's sink, refusing (file_cut) a file cut below its recorded end. */
  const openUncut = (live: LiveDevice): AuditDevice => {
    const device = openDevice(live.type, live.options, live.chainKey);
    const cut = anchorCheck(device, live.anchors);
    if (cut !== undefined) {
      device.close();
      throw new AuditDeviceError('file_cut', cut);
    }
    return device;
  };

  /**
   * Why the file policy refuses where a stored device writes, for the origin it has now, or
   * undefined. The table may hold devices enabled before the policy existed, or before the
   * operator set audit_file_dirs, so opening a stored device asks the policy as an enable does.
   */
  const policyRefusal = (live: LiveDevice, origin: AuditDeviceOrigin): AuditDeviceError | undefined => {
    const filePath = live.options['file_path'];
    if (deps.filePolicy === undefined || live.type !== FILE_DEVICE_TYPE || filePath === undefined) return undefined;
    try {
      deps.filePolicy.check(filePath, origin);
      return undefined;
    } catch (err) {
      // The policy's message names the file_path and the rule it breaks; never a key or an entry.
      const reason = err instanceof CofferError ? err.message : `the audit file policy could not be checked (${failureCode(err)})`;
      return new AuditDeviceError(POLICY_REFUSED, reason, { cause: err });
    }
  };

  /** Logs why a stored device is not open: a policy refusal says so, any other failure as `what`. */
  const logNotOpen = (live: LiveDevice, origin: AuditDeviceOrigin, err: unknown, what: string): void => {
    const error = err instanceof Error ? err.message : String(err);
    if (err instanceof AuditDeviceError && err.code === POLICY_REFUSED) {
      logger.error('audit device not opened: the audit file policy refuses its file_path; it counts as failing until a reopen finds it allowed, or it is disabled', { path: live.path, type: live.type, origin, error });
      return;
    }
    logger.error(what, { path: live.path, type: live.type, code: failureCode(err), error });
  };

  const closeLive = (live: LiveDevice): void => {
    try {
      live.device?.close();
    } catch (err) {
      logger.error('audit device failed to close', { path: live.path, code: failureCode(err) });
    }
    live.device = undefined;
    live.key.fill(0);
    live.chainKey.fill(0);
  };

  /**
   * Records the position of every device file in the stored table, when one moved: the current
   * file's entry is updated, and a file opened since (rotation) is put first, the old one kept.
   * Failures are logged: recording is a safeguard, not a condition for logging.
   */
  const anchorNow = async (): Promise<void> => {
    if (!loaded) return;
    const next = new Map<LiveDevice, FilePosition[]>();
    for (const live of devices.values()) {
      let now: FilePosition | undefined;
      try {
        now = live.device?.position?.();
      } catch {
        now = undefined;
      }
      if (now === undefined) continue;
      const [latest, ...older] = live.anchors;
      if (latest !== undefined && sameFile(latest, now)) {
        if (latest.seq === now.seq && latest.hash === now.hash) continue;
        next.set(live, [now, ...older]);
      } else {
        next.set(live, [now, ...live.anchors].slice(0, MAX_ANCHORS + 1));
      }
    }
    if (next.size === 0) return;
    // Taken as recorded only once stored: a failed write is retried at the next chance.
    try {
      await persist([...devices.values()].map((live) => ({ ...live, anchors: next.get(live) ?? live.anchors })));
    } catch (err) {
      logger.error('could not record the positions of the audit files', { code: failureCode(err) });
      return;
    }
    for (const [live, anchors] of next) live.anchors = anchors;
  };
  /**
   * Records at once where a device's file ended before another writer emptied it (copytruncate):
   * the periodic record may be a minute old, and a copy of the file cut back to it would pass.
   */
  const recordEnd = (filePath: string | undefined, previous: FilePosition): void => {
    void serial(async () => {
      if (!loaded) return;
      const live = [...devices.values()].find((d) => d.options['file_path'] === filePath);
      if (live === undefined) return;
      const [latest, ...older] = live.anchors;
      const anchors = latest !== undefined && sameFile(latest, previous) ? [previous, ...older] : [previous, ...live.anchors].slice(0, MAX_ANCHORS + 1);
      await persist([...devices.values()].map((d) => (d === live ? { ...d, anchors } : d)));
      live.anchors = anchors;
    }).catch((err: unknown) => logger.error('could not record where an emptied audit file ended', { code: failureCode(err) }));
  };
  let anchorTimer: NodeJS.Timeout | undefined;
  const stopAnchoring = (): void => {
    if (anchorTimer !== undefined) clearInterval(anchorTimer);
    anchorTimer = undefined;
  };

  const closeAll = (): void => {
    for (const live of devices.values()) closeLive(live);
    devices.clear();
  };

  const reportFailure = (live: LiveDevice, err: unknown): void => {
    const now = clock.now();
    const code = failureCode(err);
    if (!live.failing) {
      live.failing = true;
      live.lastFailureLogAt = now;
      live.failuresSinceLog = 0;
      logger.error('audit device failed to log an entry', { path: live.path, type: live.type, code });
      return;
    }
    live.failuresSinceLog += 1;
    if (now - live.lastFailureLogAt >= FAILURE_LOG_INTERVAL_MS) {
      logger.error('audit device is still failing', { path: live.path, type: live.type, code, failures: live.failuresSinceLog });
      live.lastFailureLogAt = now;
      live.failuresSinceLog = 0;
    }
  };

  /**
   * Closes a device whose reopen failed and marks it failing: the reopen failure is its first
   * failure log line, so the requests it now refuses repeat it only every FAILURE_LOG_INTERVAL_MS.
   */
  const closeFailedReopen = (live: LiveDevice): void => {
    try {
      live.device?.close();
    } catch (err) {
      logger.error('audit device failed to close', { path: live.path, code: failureCode(err) });
    }
    live.device = undefined;
    if (live.failing) return;
    live.failing = true;
    live.lastFailureLogAt = clock.now();
    live.failuresSinceLog = 0;
  };

  const reportSuccess = (live: LiveDevice): void => {
    if (!live.failing) return;
    live.failing = false;
    logger.info('audit device recovered', { path: live.path, type: live.type });
  };

  const dispatch = (event: AuditEvent, build: (event: AuditEvent, hash: Hasher) => AuditEntry): void => {
    if (!loaded) {
      // Closed by a seal: a request that outlived the seal's drain finishes now. Its answer
      // cannot be audited, so it is withheld, and the caller is told what happened: sealed.
      if (closedBySeal) {
        logger.warn('a request finished after a seal closed the audit devices; its answer is withheld (503)');
        throw new CofferError('sealed', 'Vault is sealed');
      }
      // Before load we cannot know whether devices exist, so nothing may pass unaudited.
      logger.error('audit broker used before load');
      throw auditFailed();
    }
    if (devices.size === 0) return;
    let logged = 0;
    for (const live of devices.values()) {
      try {
        if (live.device === undefined) throw new AuditDeviceError('not_open', 'audit device is not open');
        // Built per device: each device has its own key, so no HMAC is shared between them.
        live.device.log(build(event, live.hash));
        logged += 1;
        reportSuccess(live);
      } catch (err) {
        reportFailure(live, err);
      }
    }
    if (logged === 0) throw auditFailed();
  };

  const loadTable = (): Promise<StoredDevice[]> => loadStoredDevices(storage);

  const openTable = async (): Promise<void> => {
    const stored = await loadTable();
    for (const entry of stored) {
      const key = Buffer.from(entry.hmacKey, 'base64');
      if (key.length !== KEY_BYTES) throw new CofferError('internal', 'the audit device table has an unknown format');
      const live: LiveDevice = {
        path: entry.path,
        type: entry.type,
        description: entry.description,
        options: { ...entry.options },
        origin: entry.origin === 'config' ? 'config' : 'api',
        key,
        chainKey: deriveChainKey(key),
        hash: createHasher(key),
        device: undefined,
        failing: false,
        lastFailureLogAt: 0,
        failuresSinceLog: 0,
        anchors: Array.isArray(entry.anchors) ? entry.anchors.slice(0, MAX_ANCHORS + 1) : [],
      };
      // An API device the config file now declares as it is becomes the config's at this load
      // (enableDeclared), so the operator's rules apply to it already, not audit_file_dirs.
      const origin: AuditDeviceOrigin = live.origin === 'config' || declaresAsIs(declared, live.path, live) ? 'config' : 'api';
      try {
        const refused = policyRefusal(live, origin);
        if (refused !== undefined) throw refused;
        live.device = openUncut(live);
      } catch (err) {
        // Kept in the table, failing: with no other device, requests fail closed until it is
        // fixed (reopen) or disabled, rather than silently running unaudited.
        logNotOpen(live, origin, err, 'audit device failed to open');
      }
      devices.set(entry.path, live);
    }
  };

  /**
   * Opens a new device at `path` and records it in the table; with `replacing`, in that device's
   * place (the old one is closed only once the new one is stored, so a failure changes nothing).
   */
  const addDevice = async (
    path: string,
    config: { type: string; description?: string; options?: Record<string, string> },
    origin: AuditDeviceOrigin,
    replacing?: LiveDevice,
  ): Promise<void> => {
    if (factories[config.type] === undefined) throw badRequest(`unknown audit device type "${config.type}"`);
    const others = [...devices.values()].filter((d) => d !== replacing);
    if (others.some((other) => auditPathsOverlap(other.path, path))) throw badRequest('path already in use');
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.options ?? {})) {
      if (typeof v !== 'string') throw badRequest(`audit device option "${k}" must be a string`);
      options[k] = v;
    }
    // Before the device opens the file: opening creates it, and sets its mode (and cuts a torn
    // tail), which must never happen to another device's live file.
    const filePath = options['file_path'];
    if (config.type === FILE_DEVICE_TYPE && filePath !== undefined) {
      deps.filePolicy?.check(filePath, origin);
      for (const other of others) {
        if (other.type === FILE_DEVICE_TYPE && sameFileOnDisk(other.options['file_path'], filePath)) {
          throw badRequest(`audit device "${other.path}" already writes to this destination`);
        }
      }
    }
    const key = randomBytes(KEY_BYTES);
    const chainKey = deriveChainKey(key);
    const device = openDevice(config.type, options, chainKey);
    const live: LiveDevice = {
      path,
      type: config.type,
      description: config.description ?? '',
      options,
      origin,
      key,
      chainKey,
      hash: createHasher(key),
      device,
      failing: false,
      lastFailureLogAt: 0,
      failuresSinceLog: 0,
      anchors: [],
    };
    try {
      for (const other of others) {
        // Two devices on one file would interleave two chains and break both. A device that
        // is not open (refused, or failing) still owns its file_path.
        const samePath = other.type === config.type && sameDestination(other.options['file_path'], options['file_path']);
        if ((other.device !== undefined && other.device.sink === device.sink) || samePath) {
          throw badRequest(`audit device "${other.path}" already writes to this destination`);
        }
      }
      await persist(replacing === undefined ? [...devices.values(), live] : [...devices.values()].map((d) => (d === replacing ? live : d)));
    } catch (err) {
      closeLive(live);
      throw err;
    }
    devices.set(path, live);
    if (replacing !== undefined) closeLive(replacing);
    logger.info(replacing === undefined ? 'audit device enabled' : 'audit device replaced', { path, type: config.type, origin });
  };

  /**
   * Enables what the config file declares, after the table is open. Every conflict is found
   * before anything changes; then each step is stored as it is done, so a later failure leaves
   * a table the next unseal continues from.
   */
  const enableDeclared = async (): Promise<void> => {
    let steps: DeclaredStep[];
    try {
      steps = planDeclared(devices, declared);
    } catch (err) {
      logger.error('audit devices declared in the config file conflict with the device table', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    for (const { action, device } of steps) {
      const existing = devices.get(device.path);
      if (action === 'keep' && existing !== undefined) {
        if (existing.origin === 'config' && existing.description === device.description) continue;
        existing.origin = 'config';
        existing.description = device.description;
        await persist([...devices.values()]);
        continue;
      }
      try {
        await addDevice(device.path, device, 'config', action === 'replace' ? existing : undefined);
      } catch (err) {
        // The detail (it may name files) goes to the log; the unseal caller is unauthenticated.
        logger.error('audit device declared in the config file could not be enabled', { path: device.path, type: device.type, code: failureCode(err), error: err instanceof Error ? err.message : String(err) });
        throw new CofferError('internal', `the audit device "${device.path}" declared in the config file could not be enabled; see the server log`, { cause: err });
      }
    }
  };

  return {
    load: () =>
      serial(async () => {
        closeAll();
        loaded = false;
        try {
          await openTable();
          // A declared device that cannot be enabled fails the load, and so the unseal: the
          // server stays sealed, as health checks show, rather than answering while not
          // writing the audit log its operator declared (fail closed).
          await enableDeclared();
        } catch (err) {
          closeAll();
          throw err;
        }
        loaded = true;
        closedBySeal = false;
        stopAnchoring();
        anchorTimer = setInterval(() => void serial(anchorNow).catch(() => undefined), ANCHOR_INTERVAL_MS);
        anchorTimer.unref();
      }),

    close: () =>
      serial(async () => {
        stopAnchoring();
        // A clean stop records where every file ends, so a file cut while Coffer was down is
        // refused at the next start rather than continued over the gap.
        if (loaded) await anchorNow();
        closeAll();
        closedBySeal ||= loaded;
        loaded = false;
      }),

    enable: (rawPath, config) =>
      serial(async () => {
        if (!loaded) throw new CofferError('internal', 'the audit broker is not loaded');
        await addDevice(normaliseAuditPath(rawPath), config, 'api');
      }),

    disable: (rawPath) =>
      serial(async () => {
        const path = normaliseAuditPath(rawPath);
        const live = devices.get(path);
        if (live === undefined) return;
        // The config file would enable it again at the next unseal, with a new key.
        if (declared.some((d) => d.path === path)) {
          throw badRequest(`audit device "${path}" is declared in the server config file; remove it from the "audit" list there and restart the server before disabling it`);
        }
        await persist([...devices.values()].filter((d) => d !== live));
        devices.delete(path);
        closeLive(live);
        logger.info('audit device disabled', { path, type: live.type });
      }),

    list: () => {
      const out: Record<string, AuditDeviceInfo> = {};
      for (const path of [...devices.keys()].sort()) {
        const live = devices.get(path) as LiveDevice;
        out[path] = { type: live.type, description: live.description, options: { ...live.options }, path, local: false };
      }
      return out;
    },

    get enabled(): boolean {
      return devices.size > 0;
    },

    logRequest: (event) => dispatch(event, buildRequestEntry),
    logResponse: (event) => dispatch(event, buildResponseEntry),

    hash: (rawPath, input) => {
      const path = normaliseAuditPath(rawPath);
      const live = devices.get(path);
      if (live === undefined) throw badRequest(`no audit device is enabled at "${path}"`);
      return hmacString(live.key, input);
    },

    verify: async (rawPath, filePath, verifyOptions = {}) => {
      const path = normaliseAuditPath(rawPath);
      const live = devices.get(path);
      if (live === undefined) throw badRequest(`no audit device is enabled at "${path}"`);
      const device = live.device;
      const devicePath = live.options['file_path'];
      if (live.type === FILE_DEVICE_TYPE && devicePath === DISCARD_TARGET) {
        throw badRequest(`audit device "${path}" discards its entries (file_path=discard): there is no file to verify`);
      }
      if (live.type === FILE_DEVICE_TYPE && devicePath === STDOUT_TARGET) {
        throw badRequest(`audit device "${path}" writes to stdout: there is no file to verify`);
      }
      if (device?.verifiable === undefined || devicePath === undefined) {
        throw badRequest(`audit device "${path}" has no open file to verify (not open)`);
      }
      const own = filePath === undefined || filePath === devicePath;
      const current = own ? device.verifiable() : undefined;
      if (own && current === undefined) throw badRequest(`audit device "${path}" has no open file to verify (not open)`);
      const target = own ? devicePath : rotatedCopy(devicePath, filePath);
      // Copied: a seal or disable during the read zeroes the live key.
      const chainKey = Buffer.from(live.chainKey);
      try {
        const allowEarlierKeys = verifyOptions.allowEarlierKeys === true;
        const anchors = live.anchors;
        if (current === undefined) return { file_path: target, ...(await verifyAuditFile(target, { chainKey, allowEarlierKeys, anchors, regularFileOnly: true })) };
        const expectFile = { dev: current.dev, ino: current.ino };
        const result = await verifyAuditFile(target, { chainKey, allowEarlierKeys, anchors, expectFile, regularFileOnly: true, maxBytes: current.bytes, keyRequiredFrom: current.ownFrom });
        // The device's next write would refuse a file another writer changed; so does this.
        if (result.ok && current.diskBytes !== current.bytes) {
          const reason = current.diskBytes > current.bytes
            ? `${current.diskBytes - current.bytes} bytes follow the last line this device wrote: appended by another writer`
            : 'the file is shorter than what this device wrote: truncated by another writer';
          return { file_path: target, ...result, ok: false, error: { line: result.lines + 1, reason } };
        }
        return { file_path: target, ...result };
      } catch (err) {
        if (err instanceof CofferError) throw err;
        if (err instanceof AuditFileRefused) throw badRequest(`cannot verify "${basename(target)}": ${err.message}`);
        if (failureCode(err) === 'ELOOP') throw badRequest(`cannot verify "${basename(target)}": it is a symbolic link`);
        throw badRequest(`cannot read "${basename(target)}" (${failureCode(err)})`);
      } finally {
        chainKey.fill(0);
      }
    },

    reopen: () =>
      serial(async () => {
        // Where each file ends before rotation: a rotated file cut later is then noticed too.
        await anchorNow();
        for (const live of devices.values()) {
          try {
            // Asked again: a directory on the file's path may have been re-pointed since.
            const refused = policyRefusal(live, live.origin);
            if (refused !== undefined) throw refused;
            if (live.device === undefined) {
              live.device = openUncut(live);
            } else {
              live.device.reopen();
              // The file now open may be a recorded chain cut short (written back as a new file).
              const cut = anchorCheck(live.device, live.anchors);
              if (cut !== undefined) throw new AuditDeviceError('file_cut', cut);
            }
            logger.info('audit device reopened', { path: live.path, type: live.type });
          } catch (err) {
            // Fail closed, whatever the reason (the policy now refuses the path, the file is a
            // recorded chain cut short, or it cannot be opened at all): a device must not go on
            // writing to the file it had, which after a rotation is the renamed one nobody reads.
            // Closed, it counts as failing (with no other device, requests are refused) until a
            // later reopen, once the operator has fixed the path, opens it through openUncut.
            closeFailedReopen(live);
            logNotOpen(live, live.origin, err, 'audit device failed to reopen; it writes nothing until a reopen succeeds');
          }
        }
        await anchorNow();
      }),
  };
}
