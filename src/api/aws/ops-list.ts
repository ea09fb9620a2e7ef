/**
 * ListSecrets and BatchGetSecretValue.
 *
 * ListSecrets walks `aws/metadata/` with LIST (recursively: names with '/' are KV folders)
 * and reads each secret's metadata, all through the pipeline: a folder the caller may not
 * list or a secret it may not read is left out, as if absent. Results are sorted (by creation
 * date unless SortBy says otherwise), filtered, then paged with an opaque NextToken naming the
 * last secret of the previous page (input.ts), so a page never skips or repeats a secret.
 * BatchGetSecretValue reads each secret as GetSecretValue does; a failure on one secret
 * (missing, denied, deleted) goes into `Errors` and does not fail the call.
 */
import { isCofferError } from '../../core/errors.js';
import { AwsError, invalidParameter } from './errors.js';
import { decodeNextToken, encodeNextToken, optionalBool, optionalInt, stringList, type ListCursor } from './input.js';
import { matchesFilters, parseFilters, type Filter } from './list-filters.js';
import { parseSecretId, validateName } from './names.js';
import { describeFields, readSecretValue } from './ops-read.js';
import { stateOf, toAwsError, type Operation, type OperationContext, type SecretState } from './secret-state.js';
import { versionIdsToStages } from './versions.js';

/** A bound on one listing walk, so a huge mount cannot make one request unbounded. */
const MAX_LISTED = 10_000;

const isDenied = (error: unknown): boolean => isCofferError(error) && error.code === 'permission_denied';

async function secretNames(ctx: OperationContext): Promise<string[]> {
  const names: string[] = [];
  const folders: string[] = [''];
  while (folders.length > 0) {
    const folder = folders.pop() as string;
    let children: string[];
    try {
      children = await ctx.kv.list(folder);
    } catch (error) {
      // The root listing decides whether the caller may list at all; below it, skip what is hidden.
      if (folder !== '' && isDenied(error)) continue;
      throw error;
    }
    for (const child of children) {
      if (child.endsWith('/')) folders.push(folder + child);
      else names.push(folder + child);
    }
    // Every listing reads each secret's metadata before sorting: past the bound, refuse rather
    // than page through an arbitrary subset.
    if (names.length > MAX_LISTED) {
      throw new AwsError('LimitExceededException', `Coffer lists at most ${MAX_LISTED} secrets per mount in ListSecrets and BatchGetSecretValue; read secrets by name, or split them across mounts.`);
    }
  }
  return names;
}

const isAwsName = (name: string): boolean => {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
};

type SortBy = 'created-date' | 'last-changed-date' | 'name';

interface ListQuery {
  filters: readonly Filter[];
  includePlannedDeletion: boolean;
  sortBy: SortBy;
  descending: boolean;
}

async function listStates(ctx: OperationContext, query: ListQuery): Promise<SecretState[]> {
  const states: SecretState[] = [];
  for (const name of await secretNames(ctx)) {
    // Keys written through the Vault API with characters AWS names cannot hold are not AWS secrets.
    if (!isAwsName(name)) continue;
    let meta;
    try {
      meta = await ctx.kv.readMetadata(name);
    } catch (error) {
      if (isDenied(error)) continue;
      throw error;
    }
    if (!meta) continue;
    const state = stateOf(ctx, name, meta);
    if (state.deletion === 'purge-due' || (state.deletion === 'scheduled' && !query.includePlannedDeletion)) continue;
    if (!matchesFilters(query.filters, { name, description: state.record.description, tags: state.record.tags })) continue;
    states.push(state);
  }
  return states;
}

/**
 * A secret's place in the listing. Dates count as at most `since`, when the listing's first
 * page was made: a secret changed (or created) while a caller pages through moves to that
 * instant, not past every later cursor, so a caller that changes each secret it sees (a tagging
 * script) still reaches the end of the listing. Ascending, such a secret comes once more at the
 * end; descending, it may be left out if it had not been listed yet.
 */
function sortKey(query: Pick<ListQuery, 'sortBy'>, since: number): (s: SecretState) => number | string {
  return (s) => {
    if (query.sortBy === 'name') return s.name;
    const date = query.sortBy === 'last-changed-date' ? Math.max(s.record.lastChanged, s.meta.updated) : s.record.created || s.meta.created;
    return Math.min(date, since);
  };
}

/** The listing's order: by sort key, then name (unique), so every secret has one place. */
function compareCursors(query: Pick<ListQuery, 'descending'>, a: ListCursor, b: ListCursor): number {
  const order = a.key < b.key ? -1 : a.key > b.key ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return query.descending ? -order : order;
}

/** One page of `states` (sorted), after `cursor`, and the cursor of the next page if any. */
function pageAfter(unsorted: SecretState[], query: ListQuery, cursor: ListCursor | undefined, size: number, now: number): { page: SecretState[]; next?: ListCursor } {
  const since = cursor?.since ?? now;
  const keyOf = sortKey(query, since);
  const cursorOf = (s: SecretState): ListCursor => ({ key: keyOf(s), name: s.name, since });
  const states = unsorted.map((s) => ({ s, c: cursorOf(s) })).sort((a, b) => compareCursors(query, a.c, b.c));
  const start = cursor === undefined ? 0 : states.findIndex(({ c }) => compareCursors(query, c, cursor) > 0);
  if (start < 0) return { page: [] };
  const page = states.slice(start, start + size);
  const last = page[page.length - 1];
  return { page: page.map(({ s }) => s), ...(start + size < states.length && last !== undefined ? { next: last.c } : {}) };
}

/** What a cursor is bound to: the same sort (filters may change between pages, as at AWS). */
const queryTag = (query: ListQuery): string => `${query.sortBy}:${query.descending ? 'desc' : 'asc'}`;

function sortQuery(body: Readonly<Record<string, unknown>>): Pick<ListQuery, 'sortBy' | 'descending'> {
  const order = body['SortOrder'];
  if (order !== undefined && order !== null && order !== 'asc' && order !== 'desc') throw invalidParameter('SortOrder must be asc or desc.');
  const by = body['SortBy'];
  const sortBy: SortBy =
    by === undefined || by === null || by === 'created-date' || by === 'last-accessed-date'
      ? 'created-date'
      : by === 'last-changed-date' || by === 'name'
        ? by
        : (() => {
            throw invalidParameter('SortBy must be created-date, last-accessed-date, last-changed-date or name.');
          })();
  return { sortBy, descending: order === 'desc' };
}

export const listSecrets: Operation = async (ctx, body) => {
  const maxResults = optionalInt(body, 'MaxResults', 1, 100) ?? 100;
  const query: ListQuery = {
    filters: parseFilters(body['Filters']),
    includePlannedDeletion: optionalBool(body, 'IncludePlannedDeletion') ?? false,
    ...sortQuery(body),
  };
  const cursor = decodeNextToken(body, 'secrets', queryTag(query));
  const { page, next } = pageAfter(await listStates(ctx, query), query, cursor, maxResults, ctx.clock.now());
  const out: Record<string, unknown> = {
    SecretList: page.map((state) => ({ ...describeFields(state), SecretVersionsToStages: versionIdsToStages(state.versions) })),
  };
  if (next) out['NextToken'] = encodeNextToken('secrets', queryTag(query), next);
  return out;
};

export const batchGetSecretValue: Operation = async (ctx, body) => {
  const ids = stringList(body, 'SecretIdList', 1, 20, 2048);
  const hasFilters = body['Filters'] !== undefined && body['Filters'] !== null;
  if ((ids === undefined) === !hasFilters) throw invalidParameter('Either SecretIdList or Filters must be provided, but not both.');
  const maxResults = optionalInt(body, 'MaxResults', 1, 20);
  if (ids !== undefined && maxResults !== undefined) throw invalidParameter('MaxResults can be used only with Filters.');

  const values: Record<string, unknown>[] = [];
  const errors: Array<{ SecretId: string; ErrorCode: string; Message: string }> = [];
  const fetchOne = async (secretId: string): Promise<void> => {
    try {
      values.push(await readSecretValue(ctx, parseSecretId(secretId), undefined, undefined));
    } catch (error) {
      const aws = toAwsError(ctx, error, secretId);
      errors.push({ SecretId: secretId, ErrorCode: aws.type, Message: aws.message });
    }
  };

  if (ids !== undefined) {
    for (const id of ids) await fetchOne(id);
    return { SecretValues: values, Errors: errors };
  }
  const query: ListQuery = { filters: parseFilters(body['Filters']), includePlannedDeletion: false, sortBy: 'created-date', descending: false };
  const cursor = decodeNextToken(body, 'batch', queryTag(query));
  const { page, next } = pageAfter(await listStates(ctx, query), query, cursor, maxResults ?? 20, ctx.clock.now());
  for (const state of page) await fetchOne(state.arn);
  const out: Record<string, unknown> = { SecretValues: values, Errors: errors };
  if (next) out['NextToken'] = encodeNextToken('batch', queryTag(query), next);
  return out;
};
