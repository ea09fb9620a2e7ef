/**
 * The audit hash chain: how a line links to the one before it.
 *
 * Owns: the `chain` field's format, the genesis value and the line hash. Every line carries
 * `"chain":{"seq":N,"prev":"<sha256 hex of the previous line's bytes, without its newline>"}`;
 * the first line of a file has seq 1 and prev GENESIS_PREV. Writer (file-device.ts) and
 * verifier (verify.ts) must both use these functions, never their own copy of the rules.
 *
 * The chain is a plain SHA-256 chain, verifiable offline without any key. It detects edited,
 * removed, reordered and inserted lines, but someone who can rewrite the file can also recompute
 * every hash after their edit; against that, ship lines to a second device or anchor the head
 * (seq and hash) somewhere the attacker cannot write.
 */
import { createHash } from 'node:crypto';
import type { AuditEntry } from './entry.js';

export const GENESIS_PREV = '0'.repeat(64);

export interface ChainLink {
  readonly seq: number;
  readonly prev: string;
}

/** Where the next line continues from: the last line's seq and its hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const EMPTY_HEAD: ChainHead = { seq: 0, hash: GENESIS_PREV };

/** SHA-256 hex of one line's exact bytes, without the trailing newline. */
export function lineHash(line: Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/** The serialised line (no newline) for `entry` after `head`, and the head it produces. */
export function chainLine(entry: AuditEntry, head: ChainHead): { line: Buffer; next: ChainHead } {
  const seq = head.seq + 1;
  const chain: ChainLink = { seq, prev: head.hash };
  const line = Buffer.from(JSON.stringify({ ...entry, chain }), 'utf8');
  return { line, next: { seq, hash: lineHash(line) } };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The chain link recorded in a parsed line, or undefined when it has none or a malformed one. */
export function readLink(parsed: unknown): ChainLink | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const chain = (parsed as { chain?: unknown }).chain;
  if (typeof chain !== 'object' || chain === null) return undefined;
  const { seq, prev } = chain as { seq?: unknown; prev?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prev !== 'string' || !HEX64.test(prev)) return undefined;
  return { seq, prev };
}

/** The head after `line` (the last complete line of a file), or undefined if it is not a chained entry. */
export function headAfter(line: Buffer): ChainHead | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  const link = readLink(parsed);
  return link === undefined ? undefined : { seq: link.seq, hash: lineHash(line) };
}
