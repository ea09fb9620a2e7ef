/**
 * Validation of Secrets Manager request members, with the service's ranges. Every violation
 * is an InvalidParameterException naming the member, never echoing its value.
 */
import { uuid } from '../../core/ids.js';
import { AwsError, invalidParameter } from './errors.js';

type Body = Readonly<Record<string, unknown>>;

export function optionalString(body: Body, field: string, min: number, max: number): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw invalidParameter(`${field} must be a string of ${min} to ${max} characters.`);
  }
  return value;
}

export function optionalInt(body: Body, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(`${field} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

export function optionalBool(body: Body, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidParameter(`${field} must be true or false.`);
  return value;
}

export function stringList(body: Body, field: string, minItems: number, maxItems: number, maxLength: number): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length < minItems || value.length > maxItems || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > maxLength)) {
    throw invalidParameter(`${field} must be a list of ${minItems} to ${maxItems} strings of 1 to ${maxLength} characters.`);
  }
  return value as string[];
}

/** The SDK always sends one (it fills a UUID in); a raw request without one gets a UUID too. */
export function clientRequestToken(body: Body): string {
  return optionalString(body, 'ClientRequestToken', 32, 64) ?? uuid();
}

export function versionStages(body: Body): string[] | undefined {
  const stages = stringList(body, 'VersionStages', 1, 20, 256);
  return stages === undefined ? undefined : [...new Set(stages)];
}

export const MAX_TAGS = 50;

export function parseTags(raw: unknown, field = 'Tags'): Array<[string, string]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > MAX_TAGS) throw invalidParameter(`${field} must be a list of at most ${MAX_TAGS} tags.`);
  const out: Array<[string, string]> = [];
  for (const tag of raw) {
    const key = (tag as { Key?: unknown } | null)?.Key;
    const value = (tag as { Value?: unknown } | null)?.Value ?? '';
    if (typeof key !== 'string' || key.length < 1 || key.length > 128) throw invalidParameter('A tag Key must be a string of 1 to 128 characters.');
    if (typeof value !== 'string' || value.length > 256) throw invalidParameter('A tag Value must be a string of at most 256 characters.');
    if (key.toLowerCase().startsWith('aws:')) throw invalidParameter('Tag keys starting with "aws:" are reserved.');
    const existing = out.findIndex(([k]) => k === key);
    if (existing === -1) out.push([key, value]);
    else out[existing] = [key, value];
  }
  return out;
}

/** Merges tag changes: same keys are overwritten in place, new ones appended. */
export function mergeTags(current: ReadonlyArray<[string, string]>, changes: ReadonlyArray<[string, string]>): Array<[string, string]> {
  const out = current.map(([k, v]): [string, string] => [k, v]);
  for (const [key, value] of changes) {
    const i = out.findIndex(([k]) => k === key);
    if (i === -1) out.push([key, value]);
    else out[i] = [key, value];
  }
  if (out.length > MAX_TAGS) throw new AwsError('LimitExceededException', `A secret can have at most ${MAX_TAGS} tags.`);
  return out;
}

export const tagList = (tags: ReadonlyArray<[string, string]>): Array<{ Key: string; Value: string }> => tags.map(([Key, Value]) => ({ Key, Value }));

/**
 * NextToken: an opaque cursor naming the last item of the previous page by its sort key and name
 * (unique), so the next page starts right after it even when secrets were created or deleted in
 * between; an offset into a listing rebuilt per call would skip or repeat secrets. `q` binds
 * the cursor to the sort it was made for.
 */
export interface ListCursor {
  readonly key: number | string;
  readonly name: string;
  /** When the listing's first page was made (ms), for sorts by date (ops-list.ts sortKey). */
  readonly since?: number;
}

export function encodeNextToken(kind: string, query: string, cursor: ListCursor): string {
  return Buffer.from(JSON.stringify({ k: kind, q: query, s: cursor.key, n: cursor.name, ...(cursor.since === undefined ? {} : { t: cursor.since }) }), 'utf8').toString('base64url');
}

/** The cursor in the body's NextToken, or undefined for the first page. */
export function decodeNextToken(body: Body, kind: string, query: string): ListCursor | undefined {
  const raw = body['NextToken'];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string' && raw.length <= 4096) {
    try {
      const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { k?: unknown; q?: unknown; s?: unknown; n?: unknown; t?: unknown };
      const keyOk = typeof parsed.s === 'string' || (typeof parsed.s === 'number' && Number.isFinite(parsed.s));
      const sinceOk = parsed.t === undefined || (typeof parsed.t === 'number' && Number.isSafeInteger(parsed.t));
      if (parsed.k === kind && parsed.q === query && keyOk && sinceOk && typeof parsed.n === 'string') {
        return { key: parsed.s as number | string, name: parsed.n, ...(typeof parsed.t === 'number' ? { since: parsed.t } : {}) };
      }
    } catch {
      // fall through to the error below
    }
  }
  throw new AwsError('InvalidNextTokenException', 'The NextToken value is not valid.');
}
