/**
 * What a committed change to one storage key means for an HTTP replica's read-only core
 * (replica-core.ts): forget that key's cached plaintext, also forget a cached token entry, or
 * throw the whole core away and build a new one.
 *
 * A core derives state from storage when it is built: the keyring, the token salt, the mount
 * table, the policies and whether audit devices are enabled. A change to any of those needs a
 * new core; so does any key this module does not know, so a key layout added later errs on the
 * safe side. Everything else a core holds of storage is a cache entry keyed by the storage key
 * (the barrier's plaintext cache) or by the token id (the token store's entry cache).
 */
import { TOKEN_ENTRY_PREFIX } from '../../core/tokens/token-store.js';

export type ChangeImpact = { readonly kind: 'forget' } | { readonly kind: 'forget-token'; readonly id: string } | { readonly kind: 'rebuild' };

const FORGET: ChangeImpact = { kind: 'forget' };
const REBUILD: ChangeImpact = { kind: 'rebuild' };

const TOKEN_PREFIX = 'sys/token/';
const TOKEN_ENTRIES = `${TOKEN_PREFIX}${TOKEN_ENTRY_PREFIX}`;
const TOKEN_SALT = `${TOKEN_PREFIX}salt`;

/**
 * Prefixes whose keys only ever reach a core through its caches: mount data (a KV engine keeps
 * nothing in memory; other engines and auth methods do not run on a replica), lease records,
 * consumer check-ins, AWS access keys, token roles, wrapped responses and cubbyholes (none read
 * on a replica: token creation, every request asking for wrapping and every cubbyhole request
 * are forwarded).
 */
const CACHE_ONLY_PREFIXES = ['logical/', 'auth/', 'sys/expire/', 'sys/consumers/', 'sys/aws-keys/', 'sys/token-roles/', 'sys/wrapping/', 'sys/cubbyhole/'] as const;

export function changeImpact(key: string): ChangeImpact {
  if (key.startsWith(TOKEN_PREFIX)) {
    if (key.startsWith(TOKEN_ENTRIES)) return { kind: 'forget-token', id: key.slice(TOKEN_ENTRIES.length) };
    // The salt makes every token id: a new one changes what every token maps to.
    return key === TOKEN_SALT ? REBUILD : FORGET;
  }
  for (const prefix of CACHE_ONLY_PREFIXES) if (key.startsWith(prefix)) return FORGET;
  return REBUILD;
}
