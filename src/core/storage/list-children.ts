/**
 * Vault's list semantics over a flat key space: the immediate children of a prefix, with
 * deeper keys folded into one 'folder/' entry each, sorted.
 *
 * Two ways to compute them: `listChildren` scans every key (fine for small in-memory maps);
 * `listChildrenBySeek` walks an ordered index and jumps over each folder, so its cost follows
 * the number of children, never the number of descendants.
 */

/** The children of `prefix` among `keys`, in JavaScript string order. */
export function listChildren(keys: Iterable<string>, prefix: string): string[] {
  const children = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix) || key === prefix) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    children.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...children].sort();
}

/**
 * Finds the smallest stored key that is greater than `bound` (or equal to it when `inclusive`),
 * or undefined when there is none. Any total order works in which every key starting with `p`
 * sorts contiguously and '/' sorts directly before '0' in every position (UTF-8 byte order
 * and UTF-16 code-unit order both qualify).
 */
export type SeekKey = (bound: string, inclusive: boolean) => string | undefined;

/**
 * The same answer as `listChildren`, using one seek per child plus one. After a folder
 * `prefix + name + '/'` it seeks to `prefix + name + '0'`: '0' is the character right after
 * '/', so that bound is past every key inside the folder, yet before any sibling that follows
 * it. Siblings like `name-x` or `name.x` sort *before* the folder and were already visited.
 */
/**
 * A page of `listChildrenBySeek`: children strictly after `after`, at most `limit`. Assumes the
 * index and JavaScript agree on order for these keys (true for all keys below U+10000).
 */
export function listChildrenPageBySeek(seek: SeekKey, prefix: string, after: string, limit: number): string[] {
  const children: string[] = [];
  let key: string | undefined;
  if (after === '') key = seek(prefix, false);
  else if (after.endsWith('/')) key = seek(prefix + after.slice(0, -1) + '0', true);
  else key = seek(prefix + after, false);
  while (key !== undefined && key.startsWith(prefix) && children.length < limit) {
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) {
      children.push(rest);
      key = seek(key, false);
    } else {
      const name = rest.slice(0, slash);
      children.push(name + '/');
      key = seek(prefix + name + '0', true);
    }
  }
  return children;
}

/** The page of `children` (already sorted) after `after`, at most `limit`. */
export function pageOf(children: readonly string[], after: string, limit: number): string[] {
  const out: string[] = [];
  for (const child of children) {
    if (out.length >= limit) break;
    if (after === '' || child > after) out.push(child);
  }
  return out;
}

export function listChildrenBySeek(seek: SeekKey, prefix: string): string[] {
  // Starting strictly after `prefix` (after = '') skips a key equal to the prefix itself. The
  // index may order keys differently from JavaScript (UTF-8 bytes vs UTF-16 units, for characters
  // above U+FFFF); every backend answers in one order: listChildren's.
  return listChildrenPageBySeek(seek, prefix, '', Number.POSITIVE_INFINITY).sort();
}
