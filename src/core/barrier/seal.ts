/**
 * The Shamir seal: Vault's init / unseal ceremony over the barrier.
 *
 * Key hierarchy: a random unseal key, split into shares and never stored, encrypts the random
 * root key (`core/root-key`, envelope term 0, AAD 'core/root-key'); the root key encrypts the
 * barrier keyring. `core/seal-config` holds the share count and threshold in plaintext, as in
 * Vault, because they must be readable while sealed.
 *
 * Owns: those two records, unseal progress (the shares submitted so far) and seal status.
 * Must never: store or log a share, the unseal key or the root key, or put their bytes into an
 * error message. Shares exist only in the InitResult handed to the caller and, during an unseal
 * attempt, in memory until the threshold is reached or progress is reset (then zero-filled).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CofferError } from '../errors.js';
import { uuid } from '../ids.js';
import type { PhysicalStorage } from '../storage/storage.js';
import { keysUnder } from '../storage/view.js';
import { KEY_BYTES } from './aes-gcm.js';
import { KEYRING_KEY, type Barrier } from './barrier.js';
import { envelopeTerm, openEnvelope, sealEnvelope } from './envelope.js';
import { createSerialQueue } from './serial-queue.js';
import { combineShares, MAX_SHARES, splitSecret } from './shamir.js';

export interface SealStatus {
  type: 'shamir';
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  nonce: string;
  version: string;
  build_date: string;
  migration: false;
  recovery_seal: false;
  storage_type: string;
}

/** The unseal shares, returned once and never stored (dev mode storing them is its own choice). */
export interface InitResult {
  keys: Buffer[];
  /**
   * Undoes this initialisation when what follows it fails (loading the core, creating the root
   * token), before anyone has seen the shares: seals the barrier, zero-fills the shares and
   * deletes, in one atomic batch, the keyring and every key written since the initialisation
   * began. The store is then uninitialised again, and a new `sys/init` starts from nothing
   * instead of finding data encrypted under keys nobody holds. Throws when storage refuses.
   */
  abandon(): Promise<void>;
}

export interface Seal {
  status(): Promise<SealStatus>;
  /**
   * Creates the root key, the unseal key and its shares, the seal records and the barrier
   * keyring, and leaves the barrier UNSEALED so the caller can create the root token and then
   * seal, as Vault does. Throws 'bad_request' for an invalid share configuration and
   * 'already_initialized' when a keyring exists. A failure once it has begun writing is undone
   * as InitResult.abandon does, and thrown as InitializationFailed.
   */
  initialize(opts: { secretShares: number; secretThreshold: number }): Promise<InitResult>;
  /**
   * Adds one share (hex or base64). A duplicate does not advance progress. At the threshold the
   * shares are combined and the barrier unsealed; if they do not reconstruct the key, progress
   * resets and a vague 'bad_request' is thrown. Already unsealed: returns the status unchanged.
   */
  submitShare(share: string): Promise<SealStatus>;
  /** Forgets (and zero-fills) the shares of the current attempt. */
  resetProgress(): void;
  /** Unseals with a full set of shares at once (dev mode at start-up). */
  unsealWithShares(shares: readonly Buffer[]): Promise<void>;
  /** Seals the barrier and resets progress. */
  seal(): void;
}

export interface ShamirSealDeps {
  physical: PhysicalStorage;
  barrier: Barrier;
  /** Reported as `version` in the status; Vault clients read it. */
  version?: string;
  /** Reported as `build_date` in the status. */
  buildDate?: string;
}

export const SEAL_CONFIG_KEY = 'core/seal-config';
export const ROOT_KEY_KEY = 'core/root-key';

interface SealConfig {
  type: 'shamir';
  secret_shares: number;
  secret_threshold: number;
}

const ROOT_TERM = 0;

/** The one error for shares that do not open the root key, whatever the reason. */
function sharesRejected(cause?: unknown): CofferError {
  return new CofferError('bad_request', 'failed to unseal: the unseal keys do not reconstruct the key', { cause });
}

export function createShamirSeal(deps: ShamirSealDeps): Seal {
  const { physical, barrier } = deps;
  const version = deps.version ?? '0.0.0';
  const buildDate = deps.buildDate ?? '';
  const serialize = createSerialQueue();

  let config: SealConfig | undefined;
  let pending: Buffer[] = [];
  let nonce = '';

  const resetProgress = (): void => {
    for (const share of pending) share.fill(0);
    pending = [];
    nonce = '';
  };

  /** The stored configuration; it never changes once written, so it is read once. */
  const loadConfig = async (): Promise<SealConfig | undefined> => {
    if (config !== undefined) return config;
    const raw = await physical.get(SEAL_CONFIG_KEY);
    if (raw === undefined) return undefined;
    config = parseConfig(raw);
    return config;
  };

  const requireInitialized = async (): Promise<SealConfig> => {
    if (!(await barrier.isInitialized())) throw new CofferError('not_initialized', 'Vault is not initialized');
    const loaded = await loadConfig();
    if (loaded === undefined) throw new CofferError('internal', 'the seal configuration is missing');
    return loaded;
  };

  const status = async (): Promise<SealStatus> => {
    const initialized = await barrier.isInitialized();
    const loaded = initialized ? await loadConfig() : undefined;
    return {
      type: 'shamir',
      initialized,
      sealed: barrier.sealed,
      t: loaded?.secret_threshold ?? 0,
      n: loaded?.secret_shares ?? 0,
      progress: pending.length,
      nonce,
      version,
      build_date: buildDate,
      migration: false,
      recovery_seal: false,
      storage_type: physical.kind,
    };
  };

  /**
   * Combines `shares`, opens the root key with the result and unseals the barrier. Only a
   * failure to open the root key means "wrong shares"; storage errors pass through as they are.
   */
  const unsealFrom = async (shares: readonly Buffer[]): Promise<void> => {
    const sealedRoot = await physical.get(ROOT_KEY_KEY);
    if (sealedRoot === undefined) throw new CofferError('internal', 'the sealed root key is missing');
    let rootKey: Buffer;
    let unsealKey: Buffer | undefined;
    try {
      unsealKey = combineShares(shares);
      if (envelopeTerm(sealedRoot) !== ROOT_TERM) throw new CofferError('internal', 'unexpected term');
      rootKey = openEnvelope(unsealKey, sealedRoot, ROOT_KEY_KEY);
    } catch (err) {
      throw sharesRejected(err);
    } finally {
      unsealKey?.fill(0);
    }
    try {
      await barrier.unseal(rootKey);
    } finally {
      rootKey.fill(0);
    }
  };

  return {
    status,

    initialize: (opts) =>
      serialize(async () => {
        const next = validateConfig(opts.secretShares, opts.secretThreshold);
        // Only the seal creates a keyring, and this queue serialises it, so checking first and
        // writing afterwards cannot race another initialisation.
        if (await barrier.isInitialized()) throw new CofferError('already_initialized', 'Vault is already initialized');
        // What an uninitialised store holds (at most the seal records of an attempt that
        // stopped before its keyring): abandon() keeps exactly these.
        const keptKeys = new Set(await keysUnder(physical, ''));
        const rootKey = randomBytes(KEY_BYTES);
        const unsealKey = randomBytes(KEY_BYTES);
        const keys = splitSecret(unsealKey, next.secret_shares, next.secret_threshold);
        /** Back to uninitialised: see InitResult.abandon. Runs inside this queue's current task. */
        const undo = async (): Promise<void> => {
          barrier.seal();
          resetProgress();
          config = undefined;
          for (const key of keys) key.fill(0);
          const written = (await keysUnder(physical, '')).filter((key) => !keptKeys.has(key));
          // One batch: without the keyring, entries left behind are unreadable to the next
          // initialisation; without the entries, a keyring left behind opens for nobody.
          const doomed = new Set([KEYRING_KEY, SEAL_CONFIG_KEY, ROOT_KEY_KEY, ...written]);
          await physical.batch([...doomed].map((key) => ({ type: 'delete' as const, key })));
        };
        try {
          const sealedRoot = sealEnvelope(ROOT_TERM, unsealKey, rootKey, ROOT_KEY_KEY);
          // The seal records first, the keyring last: the keyring's existence is what makes the
          // store "initialised", so a crash in between leaves a store that can be initialised again.
          await physical.batch([
            { type: 'put', key: SEAL_CONFIG_KEY, value: Buffer.from(JSON.stringify(next), 'utf8') },
            { type: 'put', key: ROOT_KEY_KEY, value: sealedRoot },
          ]);
          config = next;
          await barrier.initialize(rootKey);
          await barrier.unseal(rootKey);
        } catch (error) {
          // The keyring may be stored already (a failed unseal, a write whose reply was lost).
          throw await undoneInitialization(undo, error);
        } finally {
          rootKey.fill(0);
          unsealKey.fill(0);
        }
        resetProgress();
        return { keys, abandon: () => serialize(undo) };
      }),

    submitShare: (share) =>
      serialize(async () => {
        const current = await requireInitialized();
        const bytes = decodeShare(share, current.secret_shares === 1 ? KEY_BYTES : KEY_BYTES + 1);
        if (!barrier.sealed || isDuplicate(pending, bytes)) {
          bytes.fill(0);
          return status();
        }
        if (pending.length === 0) nonce = uuid();
        pending.push(bytes);
        if (pending.length < current.secret_threshold) return status();

        // Threshold reached: whatever happens next, this attempt is over.
        const shares = pending;
        pending = [];
        nonce = '';
        try {
          await unsealFrom(shares);
        } finally {
          for (const s of shares) s.fill(0);
        }
        return status();
      }),

    resetProgress,

    unsealWithShares: (shares) =>
      serialize(async () => {
        const current = await requireInitialized();
        if (!barrier.sealed) return;
        if (shares.length < current.secret_threshold) {
          throw new CofferError('bad_request', `at least ${current.secret_threshold} unseal keys are required`);
        }
        resetProgress();
        await unsealFrom(shares);
      }),

    seal() {
      barrier.seal();
      resetProgress();
    },
  };
}

/** An initialisation that failed and was undone (`undone`), or whose undo failed as well. */
export class InitializationFailed extends CofferError {
  constructor(
    message: string,
    readonly undone: boolean,
    /** For the log: the failure's whole cause chain (the database's own reason), and the undo's. */
    readonly detail: string,
    cause: unknown,
  ) {
    super('internal', message, { cause });
  }
}

/**
 * Runs `undo` after an initialisation failed with `error`, and returns the error to throw: one
 * that says the attempt was undone (fix the cause, initialise again), or, when `undo` fails
 * too, that the storage holds a partial initialisation to remove by hand. Their messages carry
 * the failure's own message only; `detail` has the causes too.
 */
export async function undoneInitialization(undo: () => Promise<void>, error: unknown): Promise<InitializationFailed> {
  const reason = error instanceof Error ? error.message : String(error);
  try {
    await undo();
  } catch (undoError) {
    return new InitializationFailed(
      `initialization failed (${reason}), and undoing it failed too: the storage holds a partial initialization whose keys nobody has; stop the server and remove its data before initializing again`,
      false,
      `${causeChain(error)}; undo: ${causeChain(undoError)}`,
      error,
    );
  }
  return new InitializationFailed(`initialization failed and was undone, so the server is not initialized; fix the cause and initialize again: ${reason}`, true, causeChain(error), error);
}

/** An error's message followed by its causes' (storage errors put the database's reason there). */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current !== undefined && parts.length < 5) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

/** Vault's rules for a share configuration, checked before anything is generated. */
function validateConfig(shares: number, threshold: number): SealConfig {
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) {
    throw new CofferError('bad_request', `secret_shares must be an integer from 1 to ${MAX_SHARES}`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw new CofferError('bad_request', 'secret_threshold must be an integer from 1 to secret_shares');
  }
  if (shares > 1 && threshold < 2) {
    throw new CofferError('bad_request', 'secret_threshold must be at least 2 when secret_shares is greater than 1');
  }
  return { type: 'shamir', secret_shares: shares, secret_threshold: threshold };
}

function parseConfig(raw: Buffer): SealConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new CofferError('internal', 'the seal configuration is corrupt');
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (record['type'] !== 'shamir') throw new CofferError('internal', 'the seal configuration is corrupt');
  try {
    return validateConfig(record['secret_shares'] as number, record['secret_threshold'] as number);
  } catch {
    throw new CofferError('internal', 'the seal configuration is corrupt');
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a share typed as hex or base64, as Vault accepts both. A string valid in both
 * alphabets is read as whichever gives a share of the expected length (hex first). The error
 * never repeats the input.
 */
function decodeShare(share: string, expectedLength: number): Buffer {
  if (typeof share !== 'string' || share === '') throw new CofferError('bad_request', 'an unseal key is required');
  const candidates: Buffer[] = [];
  if (HEX.test(share)) candidates.push(Buffer.from(share, 'hex'));
  if (BASE64.test(share)) candidates.push(Buffer.from(share, 'base64'));
  if (candidates.length === 0) throw new CofferError('bad_request', "'key' must be a valid hex or base64 string");
  const match = candidates.find((candidate) => candidate.length === expectedLength);
  for (const candidate of candidates) if (candidate !== match) candidate.fill(0);
  if (match === undefined) throw new CofferError('bad_request', 'the unseal key has the wrong length');
  return match;
}

/**
 * Whether `share` was already submitted in this attempt. Shares are compared through SHA-256
 * digests with timingSafeEqual, and every pending share is checked, so the time taken says
 * nothing about how much of a share matched or which one did.
 */
function isDuplicate(pending: readonly Buffer[], share: Buffer): boolean {
  const digest = createHash('sha256').update(share).digest();
  let duplicate = false;
  for (const existing of pending) {
    const same = timingSafeEqual(createHash('sha256').update(existing).digest(), digest);
    duplicate = duplicate || same;
  }
  return duplicate;
}
