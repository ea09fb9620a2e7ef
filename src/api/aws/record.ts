/**
 * The AWS bookkeeping of one secret (suffix, description, tags, deletion, rotation settings,
 * version ids and staging labels), stored in the KV secret's own `custom_metadata` so that it
 * lives, moves and is deleted with the secret and is governed by the same ACL paths.
 *
 * Storage format: the record is JSON split into chunks under the reserved keys `aws:0`,
 * `aws:1`, ... KV's limits apply (64 keys in all, values of 1..512 bytes, printable characters
 * only), so characters KV calls unprintable are written as JSON \u escapes and chunks are cut
 * on code-point boundaries. A record that does not fit in the keys left free by the user's own
 * custom_metadata is refused with LimitExceededException.
 * Must never: hold a secret value (custom_metadata is readable by anyone who may read metadata).
 */
import { MAX_CUSTOM_METADATA_KEYS, MAX_CUSTOM_METADATA_VALUE_BYTES } from '../../engines/kv/custom-metadata.js';
import { AwsError } from './errors.js';

export const RECORD_KEY_PREFIX = 'aws:';

export type RotationRules = {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
};

export interface RotationSettings {
  enabled: boolean;
  lambdaArn?: string;
  rules?: RotationRules;
  /** Milliseconds since the epoch. */
  lastRotated?: number;
  /** When the rotators engine will next rotate (ms); set by it, so any rule kind shows a date. */
  nextRotation?: number;
}

/** One version's AWS identity: its id (the ClientRequestToken that created it) and labels. */
export interface VersionEntry {
  id: string;
  stages: string[];
}

/** A version write in flight: it takes effect once KV holds version `kv`. */
export interface PendingVersion extends VersionEntry {
  kv: number;
}

export interface AwsRecord {
  format: 1;
  suffix: string;
  /** Milliseconds since the epoch. */
  created: number;
  lastChanged: number;
  description?: string;
  kmsKeyId?: string;
  type?: string;
  tags: Array<[string, string]>;
  /** When DeleteSecret ran, and the recovery window it set, in days. */
  deletedAt?: number;
  recoveryDays?: number;
  rotation?: RotationSettings;
  /** The highest KV version this record accounts for; later KV versions came from the Vault API. */
  seen: number;
  /** KV version number → AWS identity: every labelled version, and the newest unlabeled ones. */
  versions: Record<string, VersionEntry>;
  /**
   * The max_versions the AWS API last set on the KV secret to keep a labelled version (see
   * ops-write.ts keptVersions); while the secret still has that value, the AWS API may lower it
   * again. An operator's own setting differs from it and is never lowered.
   */
  maxVersionsSet?: number;
  /** The secret's max_versions before the AWS API first raised it (0: it followed the mount). */
  maxVersionsBefore?: number;
  pending?: PendingVersion;
}

// Go's unicode.IsPrint, as KV checks it: letters, marks, numbers, punctuation, symbols, ASCII space.
const NOT_PRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu;

function escapeUnprintable(json: string): string {
  return json.replace(NOT_PRINTABLE, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

/** Splits `text` into pieces of at most `maxBytes` UTF-8 bytes without cutting a code point. */
function chunk(text: string, maxBytes: number): string[] {
  const out: string[] = [];
  let current = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > maxBytes) {
      out.push(current);
      current = '';
      bytes = 0;
    }
    current += ch;
    bytes += size;
  }
  if (current !== '') out.push(current);
  return out;
}

const isRecordKey = (key: string): boolean => key.startsWith(RECORD_KEY_PREFIX);

/** The user's own custom_metadata, without the record's keys. */
export function userMetadata(custom: Readonly<Record<string, string>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(custom ?? {})) {
    if (!isRecordKey(key)) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Reads the record back from custom_metadata; undefined when there is none or it is unreadable. */
export function decodeRecord(custom: Readonly<Record<string, unknown>> | null | undefined): AwsRecord | undefined {
  if (!custom) return undefined;
  let text = '';
  for (let i = 0; Object.hasOwn(custom, `${RECORD_KEY_PREFIX}${i}`); i++) {
    const piece = custom[`${RECORD_KEY_PREFIX}${i}`];
    if (typeof piece !== 'string') return undefined;
    text += piece;
  }
  if (text === '') return undefined;
  try {
    const parsed = JSON.parse(text) as AwsRecord;
    if (parsed === null || typeof parsed !== 'object' || parsed.format !== 1 || typeof parsed.suffix !== 'string') return undefined;
    return { ...parsed, tags: Array.isArray(parsed.tags) ? parsed.tags : [], versions: parsed.versions ?? {}, seen: Number(parsed.seen) || 0 };
  } catch {
    // A record damaged through the Vault API reads as "no record": the secret falls back to the derived view.
    return undefined;
  }
}

/**
 * The full custom_metadata to write: the user's keys as they are, plus the record in chunks.
 * Throws LimitExceededException when the record does not fit beside the user's keys.
 */
export function encodeRecord(record: AwsRecord, current: Readonly<Record<string, string>> | null | undefined): Record<string, string> {
  const out = userMetadata(current);
  const pieces = chunk(escapeUnprintable(JSON.stringify(record)), MAX_CUSTOM_METADATA_VALUE_BYTES);
  if (Object.keys(out).length + pieces.length > MAX_CUSTOM_METADATA_KEYS) {
    throw new AwsError(
      'LimitExceededException',
      "The secret's tags, description, versions and labels exceed what Coffer can store with one secret; remove tags or labels and retry.",
    );
  }
  pieces.forEach((piece, i) => {
    out[`${RECORD_KEY_PREFIX}${i}`] = piece;
  });
  return out;
}
