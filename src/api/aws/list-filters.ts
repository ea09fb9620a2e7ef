/**
 * ListSecrets and BatchGetSecretValue filters: parsing with the service's limits and matching
 * against a secret's name, description and tags. Values in a filter are alternatives; filters
 * combine with AND; a value starting with '!' excludes what it matches.
 *
 * name, tag-key, tag-value, primary-region and owning-service match a prefix, case-sensitive;
 * description matches a prefix, case-insensitive; `all` splits its value into words, and each
 * word must prefix-match (case-insensitive) the name, description, a tag key or a tag value,
 * or a word of one of them.
 */
import { invalidParameter } from './errors.js';

export type FilterKey = 'description' | 'name' | 'tag-key' | 'tag-value' | 'primary-region' | 'owning-service' | 'all';

const FILTER_KEYS: ReadonlySet<string> = new Set<FilterKey>(['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all']);
const VALUE_PATTERN = /^!?[a-zA-Z0-9 :_@/+=.\-!]*$/;

export interface Filter {
  readonly key: FilterKey;
  readonly values: readonly string[];
}

export interface Filterable {
  readonly name: string;
  readonly description: string | undefined;
  readonly tags: ReadonlyArray<readonly [string, string]>;
}

export function parseFilters(raw: unknown): Filter[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 10) throw invalidParameter('Filters must be a list of at most 10 filters.');
  return raw.map((item) => {
    const key = (item as { Key?: unknown } | null)?.Key;
    const values = (item as { Values?: unknown } | null)?.Values;
    if (typeof key !== 'string' || !FILTER_KEYS.has(key)) {
      throw invalidParameter('Filter Key must be one of description, name, tag-key, tag-value, primary-region, owning-service, all.');
    }
    if (
      !Array.isArray(values) ||
      values.length < 1 ||
      values.length > 10 ||
      values.some((v) => typeof v !== 'string' || v.length > 512 || !VALUE_PATTERN.test(v))
    ) {
      throw invalidParameter('Filter Values must be a list of 1 to 10 strings of at most 512 characters from a-z, A-Z, 0-9, space and :_@/+=.-!');
    }
    return { key: key as FilterKey, values: values as string[] };
  });
}

const startsWithFold = (text: string, prefix: string): boolean => text.toLowerCase().startsWith(prefix.toLowerCase());

function matchesValue(key: FilterKey, value: string, secret: Filterable): boolean {
  switch (key) {
    case 'name':
      return secret.name.startsWith(value);
    case 'description':
      return secret.description !== undefined && startsWithFold(secret.description, value);
    case 'tag-key':
      return secret.tags.some(([k]) => k.startsWith(value));
    case 'tag-value':
      return secret.tags.some(([, v]) => v.startsWith(value));
    case 'primary-region':
    case 'owning-service':
      // Coffer secrets are neither replicated nor owned by another service.
      return false;
    case 'all': {
      const fields = [secret.name, secret.description ?? '', ...secret.tags.flatMap(([k, v]) => [k, v])];
      // Each attribute is searched whole and word by word ('prod/db' also as 'db').
      const candidates = fields.flatMap((field) => [field, ...field.split(/[\s/_.:=+@-]+/)]).filter((c) => c !== '');
      const words = value.split(' ').filter((w) => w !== '');
      return words.every((word) => candidates.some((candidate) => startsWithFold(candidate, word)));
    }
  }
}

export function matchesFilters(filters: readonly Filter[], secret: Filterable): boolean {
  return filters.every((filter) => {
    const positive = filter.values.filter((v) => !v.startsWith('!'));
    const negative = filter.values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const included = positive.length === 0 || positive.some((v) => matchesValue(filter.key, v, secret));
    return included && !negative.some((v) => matchesValue(filter.key, v, secret));
  });
}
