/**
 * The audit hash chain: how a line links to the one before it, and the MAC that vouches for it.
 *
 * Owns: the `chain` field's format, the genesis value, the line hash and the line MAC. Every line
 * carries `"chain":{"seq":N,"prev":"<sha256 of the previous line>","kid":"<key id>","mac":"<hex>"}`;
 * the first line of a file has seq 1 and prev GENESIS_PREV. Writer (file-device.ts) and
 * verifier (verify.ts) must both use these functions, never their own copy of the rules.
 *
 * Two layers, because they answer different people:
 * - `prev` is a plain SHA-256 chain that anyone can verify offline (`coffer audit verify FILE`).
 *   It detects edited, removed, reordered and inserted lines, but whoever can rewrite the file
 *   can also recompute every hash after an edit.
 * - `mac` is HMAC-SHA256 of the line as it reads without its mac field, under a key derived
 *   from the device's secret HMAC key (which lives sealed in the barrier). Only the server can
 *   make or check it (sys/audit-verify), so a rewritten, forged or appended line fails even when
 *   its chain was recomputed. What neither layer can see is lines cut off the end of the file.
 * - `kid` names the key (a digest of it, not the key): a device re-enabled at a path gets a new
 *   key and continues an existing file, so a file can begin with lines under an earlier key,
 *   which the server can only check by their hash chain (verify.ts says how many).
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { AuditEntry } from './entry.js';

export const GENESIS_PREV = '0'.repeat(64);

export interface ChainLink {
  readonly seq: number;
  readonly prev: string;
  /** The id of the key that made `mac` (keyId); absent on lines without one. */
  readonly kid?: string;
  /** Absent on lines written before MACs were added. */
  readonly mac?: string;
}

/** A chain key and its id, as the writer uses them. */
export interface LineMacKey {
  /** A KeyObject: HMAC setup then skips importing the raw key bytes for every line. */
  readonly key: KeyObject;
  readonly kid: string;
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

// A label, not a secret: it keeps the chain key apart from the device key it is derived from.
const CHAIN_KEY_LABEL = 'coffer audit chain mac v1';

/**
 * The key that MACs a device's lines, derived from the device's HMAC key. Derived with the
 * device key as the message, not as the key: sys/audit-hash answers HMAC(device key, any input),
 * so a derivation of that form could be asked for; this one cannot.
 */
export function deriveChainKey(deviceKey: Uint8Array): Buffer {
  return createHmac('sha256', CHAIN_KEY_LABEL).update(deviceKey).digest();
}

const MAC_TAIL_BYTES = ',"mac":"'.length + 64 + '"}}'.length;

/** A public id of a chain key (a keyed digest: it reveals nothing of the key). */
export function keyId(chainKey: Uint8Array): string {
  return createHmac('sha256', chainKey).update('coffer audit key id').digest('hex').slice(0, 16);
}

export function lineMacKey(chainKey: Uint8Array): LineMacKey {
  return { key: createSecretKey(chainKey), kid: keyId(chainKey) };
}

/** HMAC-SHA256 hex of the line bytes a MAC covers. */
function macOf(key: Uint8Array | KeyObject, covered: Uint8Array): string {
  return createHmac('sha256', key).update(covered).digest('hex');
}

/**
 * The serialised line for `entry` after `head`, and the head it produces: `line` without its
 * newline (what the chain hashes), `terminated` the same bytes with it (what a device writes).
 * With a chain key, the line ends in a MAC over everything before it (the chain field is always
 * last, so the line without its MAC is the line with `,"mac":"…"` removed before the final `}}`).
 *
 * Serialised and encoded once, into the buffer that is written: a spread copy of the entry, a
 * second UTF-8 encoding after the MAC and a copy to append the newline cost about as much as
 * the rest of the line together (two lines per audited request).
 */
export function chainLine(entry: AuditEntry, head: ChainHead, macKey?: LineMacKey): { line: Buffer; terminated: Buffer; next: ChainHead } {
  const seq = head.seq + 1;
  const chain: ChainLink = macKey === undefined ? { seq, prev: head.hash } : { seq, prev: head.hash, kid: macKey.kid };
  // An entry is a plain object with fields, so its JSON ends in '}' and `chain` goes after them,
  // exactly where JSON.stringify({ ...entry, chain }) would put it.
  const fields = JSON.stringify(entry);
  const text = fields === '{}' ? `{"chain":${JSON.stringify(chain)}}` : `${fields.slice(0, -1)},"chain":${JSON.stringify(chain)}}`;
  const textBytes = Buffer.byteLength(text, 'utf8');
  const lineBytes = macKey === undefined ? textBytes : textBytes - 2 + MAC_TAIL_BYTES;
  const terminated = Buffer.allocUnsafe(lineBytes + 1);
  terminated.write(text, 0, textBytes, 'utf8');
  if (macKey !== undefined) {
    const mac = macOf(macKey.key, terminated.subarray(0, textBytes));
    terminated.write(`,"mac":"${mac}"}}`, textBytes - 2, MAC_TAIL_BYTES, 'latin1');
  }
  terminated[lineBytes] = 0x0a;
  const line = terminated.subarray(0, lineBytes);
  return { line, terminated, next: { seq, hash: lineHash(line) } };
}

/**
 * Whether `line` carries a valid MAC under `chainKey`: 'valid', 'missing' (no mac field, as in
 * lines written before MACs existed) or 'invalid'. Compared in constant time.
 */
export function checkLineMac(line: Buffer, link: ChainLink, chainKey: Uint8Array | KeyObject): 'valid' | 'missing' | 'invalid' {
  if (link.mac === undefined) return 'missing';
  const tail = `,"mac":"${link.mac}"}}`;
  if (line.length < MAC_TAIL_BYTES || line.subarray(line.length - MAC_TAIL_BYTES).toString('latin1') !== tail) return 'invalid';
  const covered = Buffer.concat([line.subarray(0, line.length - MAC_TAIL_BYTES), Buffer.from('}}')]);
  const expected = Buffer.from(macOf(chainKey, covered), 'latin1');
  return timingSafeEqual(expected, Buffer.from(link.mac, 'latin1')) ? 'valid' : 'invalid';
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** The chain link recorded in a parsed line, or undefined when it has none or a malformed one. */
export function readLink(parsed: unknown): ChainLink | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const chain = (parsed as { chain?: unknown }).chain;
  if (typeof chain !== 'object' || chain === null) return undefined;
  const { seq, prev, kid, mac } = chain as { seq?: unknown; prev?: unknown; kid?: unknown; mac?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prev !== 'string' || !HEX64.test(prev)) return undefined;
  if (kid !== undefined && (typeof kid !== 'string' || !HEX16.test(kid))) return undefined;
  if (mac !== undefined && (typeof mac !== 'string' || !HEX64.test(mac))) return undefined;
  return { seq, prev, ...(kid === undefined ? {} : { kid }), ...(mac === undefined ? {} : { mac }) };
}

/** The chain link of a serialised line, or undefined when it is not JSON or has no valid link. */
function linkOfLine(line: Buffer): ChainLink | undefined {
  try {
    return readLink(JSON.parse(line.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** The head after `line` (the last complete line of a file), or undefined if it is not a chained entry. */
export function headAfter(line: Buffer): ChainHead | undefined {
  const link = linkOfLine(line);
  return link === undefined ? undefined : { seq: link.seq, hash: lineHash(line) };
}

/** Whether `line` was made with `macKey`: its key id is that key's and its MAC checks out. */
export function lineVouchedBy(line: Buffer, macKey: LineMacKey | undefined): boolean {
  if (macKey === undefined) return false;
  const link = linkOfLine(line);
  return link !== undefined && link.kid === macKey.kid && checkLineMac(line, link, macKey.key) === 'valid';
}
