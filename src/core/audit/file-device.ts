/**
 * The `file` audit device: one hash-chained JSON line per entry, appended to a file or stdout,
 * or formatted and then dropped (`file_path=discard`, as in Vault).
 *
 * Owns: the checks on `file_path` and `mode` (CVE-2025-6000: a sys/audit writer pointed a file
 * device at the plugin directory and got code execution), the append fd, and the chain state of
 * the file. It must never follow a symlink, write to anything but a regular file, create or keep
 * an executable file, or append to a file that is not already its own chain; and it must report a
 * failed or partial write by throwing, so the broker can fail closed.
 *
 * Writes are synchronous (`writeSync` on an O_APPEND fd), so lines are totally ordered and an
 * error surfaces on the call that caused it. They are not fsync'd: a line survives a process
 * crash, not a power loss, as with Vault. The chain assumes one writer per file.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, writeSync, type Stats } from 'node:fs';
import { isAbsolute } from 'node:path';
import { badRequest, CofferError } from '../errors.js';
import { chainLine, EMPTY_HEAD, headAfter, lineHash, lineMacKey, lineVouchedBy, type ChainHead, type LineMacKey } from './chain.js';
import { AuditDeviceError, type AuditDevice, type FilePosition } from './device.js';
import type { AuditEntry } from './entry.js';
import { TRUNCATED_MARKER } from './hmac.js';
import { endOfLastCompleteLine, fdReader, MAX_LINE_BYTES, readFirstLine, readLastLine, type ReadAt } from './tail.js';

export const FILE_DEVICE_TYPE = 'file';

/** The `file_path` that writes each line to the process's standard output. */
export const STDOUT_TARGET = 'stdout';
/**
 * The `file_path` that formats and chains each entry, then writes it nowhere (Vault's `discard`):
 * a request still fails if its entry cannot be formatted, and the device's key still answers
 * sys/audit-hash, but no file is opened or created, not even one named "discard".
 */
export const DISCARD_TARGET = 'discard';

/**
 * Whether two file devices' `file_path`s name one destination, which two devices must never
 * share (their chains would interleave). Discarding devices write nowhere, so they never do.
 */
export function sameDestination(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && a === b && a !== DISCARD_TARGET;
}

const ALLOWED_OPTIONS: ReadonlySet<string> = new Set(['file_path', 'mode', 'format']);
const DEFAULT_MODE = 0o600;

/** A write call with the shape of fs.writeSync(fd, buffer, offset, length). */
export type WriteFn = (fd: number, buffer: Buffer, offset: number, length: number) => number;

export interface FileDeviceDeps {
  /** Injectable so tests can simulate a disk that fills up in the middle of a line. */
  writeSync?: WriteFn;
  /** Told when opening cut off a torn last line (a crash mid-write), with its length. */
  onTornTail?: (bytes: number) => void;
  /** MACs every line (chain.ts); without it lines carry only the keyless hash chain. */
  chainKey?: Uint8Array;
  /**
   * Told when a reopen found this device's file emptied (copytruncate), with where the file
   * ended before: that end must be recorded, or the copy could be cut short unnoticed.
   */
  onEmptied?: (previous: FilePosition) => void;
}

export interface FileDeviceOptions {
  readonly target: string;
  readonly mode: number;
}

/** Validates the device options (at construction, so a bad config never half-opens a file). */
export function parseFileDeviceOptions(options: Readonly<Record<string, string>>): FileDeviceOptions {
  for (const key of Object.keys(options)) {
    if (!ALLOWED_OPTIONS.has(key)) {
      throw badRequest(`unsupported option "${key}" for a file audit device; allowed: file_path, mode, format`);
    }
  }
  const format = options['format'];
  if (format !== undefined && format !== 'json') throw badRequest('file audit device: format must be "json"');
  const target = options['file_path'];
  if (target === undefined || target === '') throw badRequest('file audit device: file_path is required');
  if (target !== STDOUT_TARGET && target !== DISCARD_TARGET && !isAbsolute(target)) {
    throw badRequest('file audit device: file_path must be an absolute path, "stdout" or "discard"');
  }
  if (target.includes('\0')) throw badRequest('file audit device: file_path must not contain a NUL byte');
  return { target, mode: parseMode(options['mode']) };
}

function parseMode(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_MODE;
  if (!/^0?[0-7]{3}$/.test(raw)) throw badRequest('file audit device: mode must be an octal string such as "0600"');
  const mode = Number.parseInt(raw, 8);
  if ((mode & 0o111) !== 0) throw badRequest('file audit device: mode must not set any execute bit');
  if ((mode & 0o022) !== 0) throw badRequest('file audit device: mode must not let group or others write the audit file');
  if ((mode & 0o200) === 0) throw badRequest('file audit device: mode must let the owner write the audit file');
  return mode;
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Refuses anything but an existing regular, non-executable file. Used before and after open. */
function checkTarget(st: Stats, target: string): void {
  if (st.isSymbolicLink()) {
    throw badRequest(`file audit device: file_path "${target}" is a symbolic link; give the path of a regular file`);
  }
  if (!st.isFile()) throw badRequest(`file audit device: file_path "${target}" exists and is not a regular file`);
  if ((st.mode & 0o111) !== 0) {
    throw badRequest(`file audit device: file_path "${target}" is executable; remove its execute bits or choose another file`);
  }
}

interface OpenFile {
  readonly fd: number;
  /** Bytes this device knows are in the file: all complete lines. */
  size: number;
  head: ChainHead;
  readonly sink: string;
  /** Bytes of a torn last line cut off when the file was opened (0: none). */
  readonly tornBytes: number;
  /** `size` when opened: every line from here on was written by this device, with its key. */
  readonly openedAt: number;
  readonly dev: number;
  readonly ino: number;
  /** SHA-256 of the first line; undefined while the file is empty. */
  firstHash: string | undefined;
  /**
   * The last line carries a valid MAC under this device's key (or there is no line yet): it
   * was written by this device, not forged by whoever can write the file.
   */
  vouched: boolean;
}

/** How every entry line begins (entries put `type` first; chain.ts serialises them in order). */
const ENTRY_PREFIX = '{"type":"';

/**
 * A file holding only the start of Coffer's first line (a crash during the first write after
 * rotation): it begins as every entry does and is not a complete JSON value. Any other file
 * without a newline is not ours, and is never cut.
 */
function isTornFirstLine(readAt: ReadAt, size: number): boolean {
  const prefix = Buffer.from(ENTRY_PREFIX);
  if (size < prefix.length || size > MAX_LINE_BYTES) return false;
  const text = readAt(0, size);
  if (!text.subarray(0, prefix.length).equals(prefix)) return false;
  try {
    JSON.parse(text.toString('utf8'));
    return false;
  } catch {
    return true;
  }
}

function openAuditFile(target: string, mode: number, macKey: LineMacKey | undefined): OpenFile {
  let existing: Stats | undefined;
  try {
    existing = lstatSync(target);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw badRequest(`file audit device: cannot inspect file_path "${target}" (${errnoCode(err) ?? 'error'})`);
  }
  if (existing !== undefined) checkTarget(existing, target);
  // O_NOFOLLOW and O_NONBLOCK close the race between the lstat above and this open: a symlink
  // swapped in fails with ELOOP, and a FIFO cannot block us before fstat rejects it.
  const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(target, flags, mode);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP') throw badRequest(`file audit device: file_path "${target}" is a symbolic link; give the path of a regular file`);
    if (code === 'ENOENT') throw badRequest(`file audit device: the directory of file_path "${target}" does not exist`);
    if (code === 'EISDIR') throw badRequest(`file audit device: file_path "${target}" exists and is not a regular file`);
    throw badRequest(`file audit device: cannot open file_path "${target}" (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    checkTarget(st, target);
    // Enforce the mode even on an existing file and whatever the umask: audit files are 0600 by default.
    fchmodSync(fd, mode);
    let size = st.size;
    let last = readLastLine(fdReader(fd), size);
    let tornBytes = 0;
    if (last.kind === 'unterminated') {
      // A line cut short by a crash (lines are not fsync'd one by one). If what precedes it is
      // our own chain, the torn bytes are dropped, as the writer drops its own torn writes;
      // otherwise this is not our file and it is left untouched.
      const cut = endOfLastCompleteLine(fdReader(fd), size);
      const before = cut !== undefined && cut > 0 ? readLastLine(fdReader(fd), cut) : undefined;
      const ours = cut !== undefined && (cut === 0 ? isTornFirstLine(fdReader(fd), size) : before?.kind === 'line' && headAfter(before.line) !== undefined);
      if (!ours || cut === undefined) {
        throw badRequest(`file audit device: "${target}" does not end with a complete line and is not a Coffer audit log before it; move it aside or choose a new file_path`);
      }
      ftruncateSync(fd, cut);
      tornBytes = size - cut;
      size = cut;
      last = before ?? { kind: 'empty' };
    }
    let head: ChainHead;
    if (last.kind === 'empty') {
      head = EMPTY_HEAD;
    } else {
      const found = last.kind === 'line' ? headAfter(last.line) : undefined;
      // Appending only to our own chain files also means a file device cannot be aimed at an
      // arbitrary existing file (a shell profile, a config) to inject lines into it.
      if (found === undefined) {
        throw badRequest(`file audit device: "${target}" is not a Coffer audit log (its last line has no hash chain); choose a new file_path`);
      }
      head = found;
    }
    const first = size > 0 ? readFirstLine(fdReader(fd), size) : undefined;
    const vouched = last.kind !== 'line' || lineVouchedBy(last.line, macKey);
    return { fd, size, head, sink: `file:${st.dev}:${st.ino}`, tornBytes, openedAt: size, dev: st.dev, ino: st.ino, firstHash: first === undefined ? undefined : lineHash(first), vouched };
  } catch (err) {
    closeSync(fd);
    if (err instanceof CofferError) throw err;
    throw badRequest(`file audit device: cannot prepare file_path "${target}" (${errnoCode(err) ?? 'error'})`);
  }
}

const EAGAIN_WAIT_MS = 1;
const MAX_EAGAIN_WAITS = 2000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function toDeviceError(err: unknown): AuditDeviceError {
  if (err instanceof AuditDeviceError) return err;
  return new AuditDeviceError(errnoCode(err) ?? 'write_failed', 'audit write failed', { cause: err });
}

/**
 * Writes all of `buf`. A pipe on stdout may be non-blocking and answer EAGAIN; we wait for it
 * briefly (blocking, as Vault does), then give up so the broker can fail closed.
 */
function writeAll(write: WriteFn, fd: number, buf: Buffer): void {
  let offset = 0;
  let waits = 0;
  while (offset < buf.length) {
    let n: number;
    try {
      n = write(fd, buf, offset, buf.length - offset);
    } catch (err) {
      if (errnoCode(err) === 'EAGAIN' && waits < MAX_EAGAIN_WAITS) {
        waits += 1;
        sleepSync(EAGAIN_WAIT_MS);
        continue;
      }
      throw toDeviceError(err);
    }
    if (n <= 0) throw new AuditDeviceError('short_write', 'audit write made no progress');
    offset += n;
  }
}

/**
 * The longest line a device writes. Every redacted string becomes a 77-byte HMAC, so a request
 * of a million empty strings (a few MB, and it need not even be authenticated) would make a line
 * of 70 MB and more: past what the reader (tail.ts, verify.ts) accepts, and a cheap way to fill
 * a disk. Such an entry is logged with its data replaced by a marker instead.
 */
export const MAX_ENTRY_LINE_BYTES = 16 * 1024 * 1024;

/** `record` with `key` replaced by the marker, if present. */
function marked(record: Record<string, unknown>, key: string): Record<string, unknown> {
  return record[key] === undefined ? record : { ...record, [key]: TRUNCATED_MARKER };
}

/**
 * The entry with the parts a caller controls in size replaced by the marker: request and
 * response data, and token metadata (logged in clear, in `auth` and a response's `auth`).
 */
function withoutData(entry: AuditEntry): AuditEntry {
  const request = marked(entry.request, 'data');
  const auth = marked(entry.auth, 'metadata');
  if (entry.response === undefined) return { ...entry, auth, request };
  const responseAuth = entry.response['auth'];
  const response = marked(
    responseAuth !== null && typeof responseAuth === 'object' ? { ...entry.response, auth: marked(responseAuth as Record<string, unknown>, 'metadata') } : entry.response,
    'data',
  );
  return { ...entry, auth, request, response };
}

/** chainLine, bounded by MAX_ENTRY_LINE_BYTES. */
function boundedLine(entry: AuditEntry, head: ChainHead, macKey: LineMacKey | undefined): { line: Buffer; terminated: Buffer; next: ChainHead } {
  const full = chainLine(entry, head, macKey);
  if (full.line.length < MAX_ENTRY_LINE_BYTES) return full;
  const reduced = chainLine(withoutData(entry), head, macKey);
  if (reduced.line.length >= MAX_ENTRY_LINE_BYTES) throw new AuditDeviceError('line_too_long', 'audit entry too large even without its data');
  return reduced;
}

const closedError = (): AuditDeviceError => new AuditDeviceError('closed', 'audit device is closed');

/**
 * A device with no file behind it: stdout (`emit` writes the line), or discard (no `emit`). Every
 * entry is formatted and chained all the same, so one that cannot be fails as it would in a file.
 */
function createStreamDevice(sink: string, macKey: LineMacKey | undefined, emit: ((line: Buffer) => void) | undefined): AuditDevice {
  // Each process start begins a new chain: there is no earlier line to read back.
  let head: ChainHead = EMPTY_HEAD;
  let closed = false;
  return {
    type: FILE_DEVICE_TYPE,
    sink,
    log(entry: AuditEntry): void {
      if (closed) throw closedError();
      const { terminated, next } = boundedLine(entry, head, macKey);
      emit?.(terminated);
      head = next;
    },
    // Nothing to reopen (SIGHUP): the stream stays where it is.
    reopen(): void {
      if (closed) throw closedError();
    },
    close(): void {
      closed = true;
    },
  };
}

/**
 * A file device. Opens (or creates, mode 0600 by default) the file at once, so a bad path is a
 * bad_request at enable time; on an existing file it continues the chain from its last line.
 */
export function createFileDevice(options: Readonly<Record<string, string>>, deps: FileDeviceDeps = {}): AuditDevice {
  const { target, mode } = parseFileDeviceOptions(options);
  const write: WriteFn = deps.writeSync ?? ((fd, buffer, offset, length) => writeSync(fd, buffer, offset, length));
  const macKey = deps.chainKey === undefined ? undefined : lineMacKey(deps.chainKey);
  if (target === STDOUT_TARGET) return createStreamDevice('stdout', macKey, (line) => writeAll(write, 1, line));
  // A sink of its own: discarding devices share nothing, so any number of them may be enabled.
  if (target === DISCARD_TARGET) return createStreamDevice(`discard:${randomUUID()}`, macKey, undefined);

  let file: OpenFile | undefined = openAuditFile(target, mode, macKey);
  if (file.tornBytes > 0) deps.onTornTail?.(file.tornBytes);
  // Set when a write failed part-way and the partial line could not be cut off yet.
  let torn = false;
  let sink = file.sink;

  const current = (): OpenFile => {
    if (file === undefined) throw closedError();
    return file;
  };
  // What another process did to the file (removed it, emptied it in place, wrote to it) is
  // read once per event-loop turn, not before every line: the fstat cost as much as the line's
  // own write (an audited KV read spent a fifth of its CPU on it), and a change made by another
  // process races a check before each line just the same. Every line of a turn that began after
  // the change is refused.
  let checkedThisTurn = false;
  const endTurn = (): void => {
    checkedThisTurn = false;
  };

  const device: AuditDevice = {
    type: FILE_DEVICE_TYPE,
    get sink(): string {
      return sink;
    },
    log(entry: AuditEntry): void {
      let f = current();
      if (torn) {
        try {
          ftruncateSync(f.fd, f.size);
        } catch (err) {
          throw toDeviceError(err);
        }
        torn = false;
      }
      if (!checkedThisTurn) {
        let st: Stats;
        try {
          st = fstatSync(f.fd);
        } catch (err) {
          throw toDeviceError(err);
        }
        // Deleting an open file leaves writes going nowhere anyone can read (hashicorp/vault#31718).
        if (st.nlink === 0) throw new AuditDeviceError('file_removed', 'the audit file was removed; reopen the device');
        if (st.size === 0 && f.size > 0) {
          // Emptied in place (logrotate's copytruncate, whose SIGHUP may come later or never):
          // start a new chain at once, as a reopen does, rather than fail every request until then.
          device.reopen();
          f = current();
        } else if (st.size !== f.size) {
          // Another writer appended or truncated: our chain would no longer describe the file.
          throw new AuditDeviceError('file_changed', 'the audit file was changed by another writer; reopen the device');
        }
        checkedThisTurn = true;
        setImmediate(endTurn);
      }
      const { terminated: out, next } = boundedLine(entry, f.head, macKey);
      try {
        writeAll(write, f.fd, out);
      } catch (err) {
        // A partial line would be glued to the next one; cut it off now, or before the next write.
        torn = true;
        try {
          ftruncateSync(f.fd, f.size);
          torn = false;
        } catch {
          // Retried on the next call; until it succeeds every write fails.
        }
        throw toDeviceError(err);
      }
      if (f.size === 0) f.firstHash = next.hash;
      f.vouched = macKey !== undefined;
      f.head = next;
      f.size += out.length;
    },
    reopen(): void {
      if (file === undefined) throw closedError();
      // Open the new file before dropping the old one, so a failed reopen changes nothing here:
      // whoever asked decides what follows. The broker closes the device (fail closed), since
      // the old fd may be a rotated file that nobody reads.
      const fresh = openAuditFile(target, mode, macKey);
      // The same file (not rotated): it must still end where this device stopped. One cut short
      // or written to by another writer would otherwise continue its chain over the gap, and
      // the removed lines would never be noticed. An emptied file (logrotate's copytruncate)
      // hides nothing: its new chain starts again at line 1, as a new file's would.
      // "The same file" is the same chain (its first line), whatever the inode: a cut copy
      // written back under the name (an editor, `head > t && mv t`) is a new inode.
      const sameInode = fresh.dev === file.dev && fresh.ino === file.ino;
      const sameChain = fresh.firstHash !== undefined && fresh.firstHash === file.firstHash;
      if (sameInode && fresh.size === 0 && file.size > 0 && file.firstHash !== undefined) {
        deps.onEmptied?.({ dev: file.dev, ino: file.ino, firstHash: file.firstHash, seq: file.head.seq, hash: file.head.hash });
      }
      if (sameChain && (fresh.size !== file.size || fresh.head.hash !== file.head.hash)) {
        closeSync(fresh.fd);
        throw new AuditDeviceError(
          'file_changed',
          `the audit file "${target}" no longer ends with the last line this device wrote (line ${file.head.seq}): it was cut or written to by another writer; move it aside and send SIGHUP to start a new file`,
        );
      }
      if (fresh.tornBytes > 0) deps.onTornTail?.(fresh.tornBytes);
      const old = file;
      file = fresh;
      sink = fresh.sink;
      torn = false;
      closeSync(old.fd);
    },
    close(): void {
      if (file === undefined) return;
      const { fd } = file;
      file = undefined;
      closeSync(fd);
    },
    // Lines are written synchronously on this thread, so between two calls the file holds only
    // complete lines, up to `size` (a torn write is cut back before the next one).
    lastLineVouched: () => file === undefined || file.vouched,
    position(): FilePosition | undefined {
      if (file === undefined || file.firstHash === undefined || file.head.seq === 0) return undefined;
      return { dev: file.dev, ino: file.ino, firstHash: file.firstHash, seq: file.head.seq, hash: file.head.hash };
    },
    verifiable() {
      if (file === undefined || torn) return undefined;
      let same = false;
      let open: Stats | undefined;
      try {
        const named = lstatSync(target);
        open = fstatSync(file.fd);
        same = named.ino === open.ino && named.dev === open.dev;
      } catch {
        same = false;
      }
      // Renamed by a log rotation not yet followed by SIGHUP: the path names another file.
      if (!same || open === undefined) {
        throw badRequest(`the audit file at "${target}" is not the one this device writes (rotated without SIGHUP?); send SIGHUP, or name the rotated copy`);
      }
      return { path: target, dev: open.dev, ino: open.ino, bytes: file.size, diskBytes: open.size, ownFrom: file.openedAt };
    },
  };
  return device;
}
