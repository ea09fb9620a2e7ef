/**
 * What an audit device is, seen from the broker.
 *
 * Owns: the device contract every sink (file today; socket and syslog later) implements and the
 * error a device throws. A device receives entries that are already redacted; it must never be
 * handed, or log, anything in clear, and it must report a failed write by throwing, never by
 * dropping the entry quietly.
 */
import type { AuditEntry } from './entry.js';

export interface AuditDevice {
  readonly type: string;
  /**
   * What the device writes to (for a file: its device and inode). Two devices with the same sink
   * would interleave two hash chains in one file, so the broker refuses the second.
   */
  readonly sink: string;
  /**
   * Writes one entry durably enough to count as logged, or throws. Synchronous, so order is
   * total. Must not modify `entry`: an event's request and response entries share their `auth`
   * and `request` objects (entry.ts); a device that needs a changed entry copies it.
   */
  log(entry: AuditEntry): void;
  /**
   * Reopens the sink (log rotation, or recovery after the file was removed). Throws if it cannot,
   * leaving the device as it was; the caller must then stop writing through it (the broker
   * closes it), as its old sink may be a rotated file that nobody reads.
   */
  reopen(): void;
  /** Releases the sink. Later calls to log() throw. Idempotent. */
  close(): void;
  /**
   * For a device that writes a file: that file's path, the bytes of complete lines this device
   * knows are in it, the file's size on disk (larger: someone appended), and the offset from
   * which this device wrote every line (with its current key), so the broker can verify the
   * chain (sys/audit-verify). Undefined otherwise.
   */
  verifiable?(): { path: string; dev: number; ino: number; bytes: number; diskBytes: number; ownFrom: number } | undefined;
  /**
   * For a device that writes a file: which file (device, inode, and the hash of its first line,
   * which tells a reused inode apart) and where its chain stands. The broker keeps this sealed,
   * so lines cut off later are noticed. Undefined for an empty file or no file.
   */
  position?(): FilePosition | undefined;
  /** Whether the last line of the file carries a valid MAC under this device's key (true while empty). */
  lastLineVouched?(): boolean;
}

/** A file's identity and the last line of its chain (seq, and the SHA-256 of that line). */
export interface FilePosition {
  readonly dev: number;
  readonly ino: number;
  readonly firstHash: string;
  readonly seq: number;
  readonly hash: string;
}

/** Secrets a device needs from the broker. */
export interface AuditDeviceKeys {
  /** The key that MACs each line (chain.ts deriveChainKey of the device's HMAC key). */
  readonly chainKey: Uint8Array;
}

/** Builds a device from its options; throws bad_request for options the caller must fix. */
export type AuditDeviceFactory = (options: Readonly<Record<string, string>>, keys: AuditDeviceKeys) => AuditDevice;

/**
 * A failure inside a device. `code` (an errno such as ENOSPC, or one of ours) is what the broker
 * logs; the message never contains entry content.
 */
export class AuditDeviceError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditDeviceError';
    this.code = code;
  }
}
