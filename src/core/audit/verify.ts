/**
 * Offline verification of an audit file's hash chain (`coffer audit verify FILE`).
 *
 * Owns: the rules a chained file must satisfy, checked line by line while streaming: every line
 * is JSON with a `chain` link, seq counts 1, 2, 3, … and each prev is the SHA-256 of the previous
 * line's exact bytes (the first line's prev is all zeros). It reads the file once, holds one line
 * at a time, and must never print or return line content (lines hold HMACs, request paths and
 * metadata an operator may not want on a terminal).
 *
 * Without the chain key (offline, `coffer audit verify FILE`) it cannot detect:
 * - a truncated tail: removing the last N lines leaves a valid shorter chain. Compare `lines`
 *   with a count recorded elsewhere (a second device, the server log) to catch it;
 * - an edit of the last line, or lines rewritten or appended by someone who recomputes the
 *   hashes, for the same reason: nothing after them vouches for them.
 * With the chain key (the server, sys/audit-verify) every line's MAC is checked as well, which
 * catches the second kind; a truncated tail still verifies. Lines that open the file under an
 * earlier key (a device re-enabled at the same path) fail, or with `allowEarlierKeys` are
 * checked by their chain only and counted.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { checkLineMac, GENESIS_PREV, keyId, lineHash, readLink } from './chain.js';
import type { FilePosition } from './device.js';
import { MAX_LINE_BYTES } from './tail.js';

export interface VerifyResult {
  ok: boolean;
  /** Lines checked; on failure, the lines before the failing one. */
  lines: number;
  /** The first failure: 1-based line number and a reason without line content. */
  error?: { line: number; reason: string };
  /**
   * With a chain key: the lines at the start of the file written under an earlier key (a device
   * since disabled at this path, or a Coffer without line MACs), checked by their hash chain
   * only, and the lines whose MAC was checked.
   */
  earlierKeyLines?: number;
  macCheckedLines?: number;
  /** With anchors: whether the server had a recorded end for this file (and checked it). */
  recordedEndChecked?: boolean;
}

const NEWLINE = 0x0a;

/**
 * Splits a byte stream on '\n' only. readline is not used on purpose: it also splits on '\r' and
 * strips a '\r' before '\n', so a carriage return added to a line would never reach the hash.
 * Hashing raw bytes (not decoded text) also keeps invalid UTF-8 from being "repaired" away.
 */
async function* splitLines(file: FileHandle, maxBytes: number | undefined): AsyncGenerator<{ line: Buffer } | { tooLong: true } | { unterminated: true }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  if (maxBytes === 0) return;
  // No position unless bounded: a pipe (offline use) cannot seek.
  const stream = file.createReadStream({ highWaterMark: 256 * 1024, autoClose: false, ...(maxBytes === undefined ? {} : { start: 0, end: maxBytes - 1 }) });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const line = pendingBytes === 0 ? Buffer.from(piece) : Buffer.concat([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      yield { line };
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) {
        yield { tooLong: true };
        return;
      }
    }
  }
  if (pendingBytes > 0) yield { unterminated: true };
}

export interface VerifyOptions {
  /**
   * The device's chain key (chain.ts deriveChainKey): every line under it must carry a valid
   * MAC. Lines under an earlier key may only open the file: none may follow a line under this
   * key, nor start at or after `keyRequiredFrom` (bytes this device is known to have written).
   */
  chainKey?: Uint8Array;
  keyRequiredFrom?: number;
  /**
   * Accept lines under an earlier key at the start of the file (checked by hash chain only,
   * and counted). Off by default: such a line then fails, with a reason that says why, since a
   * forger could also mark rewritten lines as another key's.
   */
  allowEarlierKeys?: boolean;
  /** Stop after this many bytes (the server verifies the file as it was when asked). */
  maxBytes?: number;
  /** The device and inode the opened file must have (the live file the device writes). */
  expectFile?: { dev: number; ino: number };
  /**
   * Open without following a symbolic link or blocking on a FIFO, and verify only a regular
   * file (the server: a name it checked could be swapped before the open). Offline use reads
   * pipes too.
   */
  regularFileOnly?: boolean;
  /**
   * Positions the server recorded for the device's files (sealed, so a writer of the file cannot
   * change them): the file, if it is one of them, must still hold that line, unchanged. This
   * catches lines cut off its end up to the last recording.
   */
  anchors?: readonly FilePosition[];
}

/** Why a file cannot be verified (not a regular file, or not the one expected). */
export class AuditFileRefused extends Error {
  readonly code = 'refused';
}

/**
 * Opens `path` for reading. Strict (the server): without following a symbolic link or blocking
 * on a FIFO, then checks the open file itself, since a name checked first and opened after
 * could be swapped in between (a link to another file, a FIFO that would hang a thread-pool
 * thread). Not strict (offline), a pipe is fine: `zcat audit.log.2.gz | coffer audit verify /dev/stdin`.
 */
async function openForVerify(path: string, expect: { dev: number; ino: number } | undefined, strict: boolean): Promise<FileHandle> {
  const file = await open(path, strict ? constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK : constants.O_RDONLY);
  try {
    const st = await file.stat();
    if (strict && !st.isFile()) throw new AuditFileRefused('not a regular file');
    if (expect !== undefined && (st.dev !== expect.dev || st.ino !== expect.ino)) throw new AuditFileRefused('not the file the device writes');
    return file;
  } catch (err) {
    await file.close();
    throw err;
  }
}

/**
 * Verifies the chain of the audit file at `path`. Rejects only if the file cannot be opened or
 * read (ELOOP for a symbolic link), or is refused (AuditFileRefused: not a regular file, or not
 * `options.expectFile`).
 */
export async function verifyAuditFile(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const file = await openForVerify(path, options.expectFile, options.regularFileOnly === true);
  try {
    return await verifyOpenFile(file, options, options.anchors ?? []);
  } finally {
    await file.close();
  }
}

async function verifyOpenFile(file: FileHandle, options: VerifyOptions, anchors: readonly FilePosition[]): Promise<VerifyResult> {
  const { chainKey } = options;
  const currentKid = chainKey === undefined ? undefined : keyId(chainKey);
  let lineNo = 0;
  let offset = 0;
  let prevHash = GENESIS_PREV;
  let earlierKeyLines = 0;
  let macCheckedLines = 0;
  let anchor: FilePosition | undefined;
  const fail = (reason: string): VerifyResult => ({ ok: false, lines: lineNo - 1, error: { line: lineNo, reason } });
  for await (const item of splitLines(file, options.maxBytes)) {
    lineNo += 1;
    if ('tooLong' in item) return fail(`line is longer than ${MAX_LINE_BYTES} bytes`);
    if ('unterminated' in item) return fail('the last line is not terminated by a newline (torn write or appended data)');
    const start = offset;
    offset += item.line.length + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(item.line.toString('utf8'));
    } catch {
      return fail('line is not valid JSON');
    }
    const link = readLink(parsed);
    if (link === undefined) return fail('line has no valid chain field');
    if (link.seq !== lineNo) {
      return fail(`chain.seq is ${link.seq}, expected ${lineNo}: a line was removed, inserted or moved`);
    }
    if (link.prev !== prevHash) {
      return fail(
        lineNo === 1
          ? 'chain.prev of the first line is not all zeros'
          : `chain.prev does not match the hash of line ${lineNo - 1}: line ${lineNo - 1} was altered, or this line's link was`,
      );
    }
    if (chainKey !== undefined) {
      if (link.kid === currentKid) {
        if (checkLineMac(item.line, link, chainKey) !== 'valid') {
          return fail('chain.mac does not match: the line was altered or forged (its hashes may have been recomputed)');
        }
        macCheckedLines += 1;
      } else if (options.allowEarlierKeys !== true) {
        return fail(
          `line was not written under this device's key (${link.kid === undefined ? 'it has no key id' : `key id ${link.kid}`}): a device enabled earlier at this path, ` +
            'or a Coffer without line MACs, wrote it, or it was rewritten; allow_earlier_keys checks such leading lines by hash chain only',
        );
      } else if (macCheckedLines > 0) {
        return fail("line is not MAC'd under this device's key but follows lines that are: it was inserted or rewritten");
      } else if (start >= (options.keyRequiredFrom ?? Infinity)) {
        return fail("line is not MAC'd under this device's key but lies in the part of the file this device wrote: it was rewritten");
      } else {
        earlierKeyLines += 1;
      }
    }
    prevHash = lineHash(item.line);
    // The file is known by its chain: its first line (a copy, or one written back, is the same).
    if (lineNo === 1) anchor = anchors.find((a) => a.firstHash === prevHash);
    if (anchor !== undefined && lineNo === anchor.seq && prevHash !== anchor.hash) {
      return fail(`line ${lineNo} is not the line Coffer recorded there: the file was rewritten from here on`);
    }
  }
  if (anchor !== undefined && lineNo < anchor.seq) {
    lineNo += 1;
    return fail(`the file ends at line ${lineNo - 1}, but Coffer recorded ${anchor.seq} lines in it: lines were cut off its end`);
  }
  if (chainKey === undefined) return { ok: true, lines: lineNo };
  return { ok: true, lines: lineNo, earlierKeyLines, macCheckedLines, ...(options.anchors === undefined ? {} : { recordedEndChecked: anchor !== undefined }) };
}
