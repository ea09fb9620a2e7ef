/**
 * Reading the last line of a file without reading the file.
 *
 * Owns: the backwards chunked scan the file device uses on reopen to find where its chain
 * stands. Audit files grow without bound, so this must never read more than the last line
 * (plus one chunk), and never load the whole file.
 */
import { readSync } from 'node:fs';

export const TAIL_CHUNK_BYTES = 64 * 1024;

/** No audit line is this long; a longer "line" means the file is not an audit file. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export type LastLine =
  | { readonly kind: 'empty' }
  | { readonly kind: 'line'; readonly line: Buffer }
  /** The file does not end with a newline: a torn or foreign write. */
  | { readonly kind: 'unterminated' }
  | { readonly kind: 'too_long' };

const NEWLINE = 0x0a;

/** Reads exactly `length` bytes at `position`. */
export type ReadAt = (position: number, length: number) => Buffer;

/** A ReadAt over an fd opened for reading. */
export const fdReader = (fd: number): ReadAt => (position, length) => readExactly(fd, position, length);

function readExactly(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error('file shrank while reading its tail');
    done += n;
  }
  return buf;
}

/**
 * The offset just past the last newline in the first `size` bytes (0 when there is none), or
 * undefined when more than `maxTailBytes` follow it. Reads backwards in chunks.
 */
export function endOfLastCompleteLine(readAt: ReadAt, size: number, maxTailBytes = MAX_LINE_BYTES, chunkBytes = TAIL_CHUNK_BYTES): number | undefined {
  let cursor = size;
  while (cursor > 0) {
    if (size - cursor > maxTailBytes) return undefined;
    const start = Math.max(0, cursor - chunkBytes);
    const nl = readAt(start, cursor - start).lastIndexOf(NEWLINE);
    if (nl >= 0) return size - (start + nl + 1) > maxTailBytes ? undefined : start + nl + 1;
    cursor = start;
  }
  return size > maxTailBytes ? undefined : 0;
}

/**
 * The last newline-terminated line of a file of `size` bytes, without its newline, reading
 * backwards from the end in chunks of `chunkBytes`.
 */
export function readLastLine(readAt: ReadAt, size: number, chunkBytes = TAIL_CHUNK_BYTES, maxLineBytes = MAX_LINE_BYTES): LastLine {
  if (size === 0) return { kind: 'empty' };
  if (readAt(size - 1, 1)[0] !== NEWLINE) return { kind: 'unterminated' };
  const end = size - 1; // exclusive end of the last line's bytes
  const chunks: Buffer[] = [];
  let cursor = end;
  while (cursor > 0) {
    const start = Math.max(0, cursor - chunkBytes);
    const chunk = readAt(start, cursor - start);
    const nl = chunk.lastIndexOf(NEWLINE);
    if (nl >= 0) {
      chunks.unshift(chunk.subarray(nl + 1));
      break;
    }
    chunks.unshift(chunk);
    cursor = start;
    if (end - cursor > maxLineBytes) return { kind: 'too_long' };
  }
  const line = Buffer.concat(chunks);
  if (line.length > maxLineBytes) return { kind: 'too_long' };
  return { kind: 'line', line };
}

/** The first line of a file of `size` bytes (without its newline), or undefined if it has no complete one within the limit. */
export function readFirstLine(readAt: ReadAt, size: number, maxLineBytes = MAX_LINE_BYTES, chunkBytes = TAIL_CHUNK_BYTES): Buffer | undefined {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < size && offset <= maxLineBytes; offset += chunkBytes) {
    const chunk = readAt(offset, Math.min(chunkBytes, size - offset));
    const nl = chunk.indexOf(0x0a);
    if (nl >= 0) {
      parts.push(chunk.subarray(0, nl));
      return Buffer.concat(parts);
    }
    parts.push(chunk);
  }
  return undefined;
}
