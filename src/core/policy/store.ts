/**
 * The policy store: named ACL policies in (barrier-encrypted, scoped) storage, and compiled ACLs
 * for tokens' policy sets.
 *
 * Owns: the storage keys `acl/<canonical name>`, the built-in `default` and `root` policies, and
 * the caches of parsed policies and compiled ACLs (invalidated on every write to a named policy).
 * It must never hand out the root ACL for anything but the exact name `root`, and never store a
 * policy it could not parse.
 */
import { LRUCache } from 'lru-cache';
import { badRequest } from '../errors.js';
import type { Logger } from '../logger.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';
import { compileAcl, type Acl } from './acl.js';
import { canonicalPolicyName, parsePolicy, type Policy } from './parse.js';

export interface PolicyStore {
  /** Writes the built-in `default` policy if absent (called after init/unseal). */
  setup(): Promise<void>;
  /** 'root' returns a stub with empty text, as Vault does. */
  get(name: string): Promise<{ name: string; policy: string } | undefined>;
  /** Refuses 'root'; validates by parsing before anything is stored. */
  put(name: string, text: string): Promise<void>;
  /** Refuses 'root' and 'default'; deleting a missing policy is not an error. */
  delete(name: string): Promise<void>;
  /** Sorted; always includes 'default' and 'root'. */
  list(): Promise<string[]>;
  /**
   * A compiled ACL for a token's policy names. Names are canonicalised; unknown names are
   * ignored; exactly 'root' gives the root ACL. Cached per name set, invalidated when any named
   * policy changes.
   */
  acl(names: readonly string[]): Promise<Acl>;
}

export interface PolicyStoreDeps {
  /** Already scoped to the policy store's own prefix. */
  storage: Storage;
  logger?: Logger;
}

export const ROOT_POLICY = 'root';
export const DEFAULT_POLICY = 'default';
/**
 * Built in and immutable, as Vault's: the one policy of a response-wrapping token (core/wrapping),
 * which may only unwrap itself. Not listed, and never stored.
 */
export const RESPONSE_WRAPPING_POLICY = 'response-wrapping';
// Vault's also grants cubbyhole/response, its deprecated way to unwrap; Coffer keeps wrapped
// answers outside the cubbyhole, so reading there would only spend the token's one use.
const RESPONSE_WRAPPING_POLICY_TEXT = `path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
`;

/**
 * Vault's `default` policy, adapted to the endpoints Coffer serves: a token may look itself up,
 * renew and revoke itself, check its own capabilities, look up and renew leases, use response
 * wrapping and the hash tool, and use its own cubbyhole.
 */
export const DEFAULT_POLICY_TEXT = `# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up the mounts it can reach (used by "vault kv" to detect versions)
path "sys/internal/ui/mounts" {
    capabilities = ["read"]
}

path "sys/internal/ui/mounts/*" {
    capabilities = ["read"]
}

# Allow a token to look up and renew leases it holds
path "sys/leases/lookup" {
    capabilities = ["update"]
}

path "sys/leases/renew" {
    capabilities = ["update"]
}

# Legacy lease renewal endpoint
path "sys/renew" {
    capabilities = ["update"]
}

# Watch changes and report the versions in use. Every event is filtered again by read access to
# its own path, and registering as a consumer needs read on the secret, so this grants nothing.
path "sys/watch" {
    capabilities = ["read"]
}

path "sys/watch/poll" {
    capabilities = ["read"]
}

path "sys/consumers" {
    capabilities = ["read"]
}

path "sys/consumers/*" {
    capabilities = ["update"]
}

# Allow general purpose response wrapping tools
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow general purpose hashing
path "sys/tools/hash" {
    capabilities = ["update"]
}

path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
`;

const POLICY_PREFIX = 'acl/';
const MAX_NAME_LENGTH = 128;
const PARSED_CACHE_ENTRIES = 1024;
const ACL_CACHE_ENTRIES = 1024;

function policyKey(canonicalName: string): string {
  return POLICY_PREFIX + canonicalName;
}

interface StoredPolicy {
  name: string;
  policy: string;
}

/** Why a canonical name cannot be a policy name (it becomes a storage key), or undefined. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'policy name must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `policy name must be at most ${MAX_NAME_LENGTH} characters`;
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) return 'policy name must not contain "/", "\\" or control characters';
  if (name === '.' || name === '..') return 'policy name must not be "." or ".."';
  return undefined;
}

function validateName(name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) throw badRequest(problem);
}

export function createPolicyStore(deps: PolicyStoreDeps): PolicyStore {
  const { storage, logger } = deps;
  const rootAcl = compileAcl([], { root: true });
  // Parsed policies by canonical name; { missing } records "absent or unusable" so misses stay cheap.
  const parsed = new LRUCache<string, Policy | { missing: true }>({ max: PARSED_CACHE_ENTRIES });
  const acls = new LRUCache<string, { acl: Acl; names: readonly string[] }>({ max: ACL_CACHE_ENTRIES });
  // Bumped on every write. A load that started before a write must not cache what it read.
  let generation = 0;

  const invalidate = (name: string): void => {
    generation++;
    parsed.delete(name);
    for (const [key, entry] of acls.entries()) if (entry.names.includes(name)) acls.delete(key);
  };

  const loadPolicy = async (name: string): Promise<Policy | undefined> => {
    const hit = parsed.get(name);
    if (hit !== undefined) return 'missing' in hit ? undefined : hit;
    if (name === RESPONSE_WRAPPING_POLICY) {
      const builtIn = await parsePolicy(name, RESPONSE_WRAPPING_POLICY_TEXT);
      parsed.set(name, builtIn);
      return builtIn;
    }
    const started = generation;
    const stored = await getJson<StoredPolicy>(storage, policyKey(name));
    let policy: Policy | undefined;
    if (stored) {
      try {
        policy = await parsePolicy(name, stored.policy);
      } catch {
        // Fail closed for this one policy: a token keeps its other grants, never extra ones.
        logger?.error('stored policy no longer parses; ignoring it', { policy: name });
      }
    }
    if (started === generation) parsed.set(name, policy ?? { missing: true });
    return policy;
  };

  return {
    async setup() {
      const existing = await storage.get(policyKey(DEFAULT_POLICY));
      if (existing !== undefined) return;
      await parsePolicy(DEFAULT_POLICY, DEFAULT_POLICY_TEXT);
      await putJson(storage, policyKey(DEFAULT_POLICY), { name: DEFAULT_POLICY, policy: DEFAULT_POLICY_TEXT } satisfies StoredPolicy);
      invalidate(DEFAULT_POLICY);
    },

    async get(name) {
      const canonical = canonicalPolicyName(name);
      if (canonical === ROOT_POLICY) return { name: ROOT_POLICY, policy: '' };
      if (canonical === RESPONSE_WRAPPING_POLICY) return { name: canonical, policy: RESPONSE_WRAPPING_POLICY_TEXT };
      validateName(canonical);
      const stored = await getJson<StoredPolicy>(storage, policyKey(canonical));
      return stored ? { name: canonical, policy: stored.policy } : undefined;
    },

    async put(name, text) {
      const canonical = canonicalPolicyName(name);
      if (canonical === ROOT_POLICY) throw badRequest('cannot update root policy');
      if (canonical === RESPONSE_WRAPPING_POLICY) throw badRequest(`cannot update ${RESPONSE_WRAPPING_POLICY} policy`);
      validateName(canonical);
      await parsePolicy(canonical, text);
      await putJson(storage, policyKey(canonical), { name: canonical, policy: text } satisfies StoredPolicy);
      invalidate(canonical);
    },

    async delete(name) {
      const canonical = canonicalPolicyName(name);
      if (canonical === ROOT_POLICY) throw badRequest('cannot delete root policy');
      if (canonical === DEFAULT_POLICY) throw badRequest('cannot delete default policy');
      if (canonical === RESPONSE_WRAPPING_POLICY) throw badRequest(`cannot delete ${RESPONSE_WRAPPING_POLICY} policy`);
      validateName(canonical);
      await storage.delete(policyKey(canonical));
      invalidate(canonical);
    },

    async list() {
      const keys = await storage.list(POLICY_PREFIX);
      const names = new Set(keys.filter((k) => !k.endsWith('/')));
      names.add(DEFAULT_POLICY);
      names.add(ROOT_POLICY);
      return [...names].sort();
    },

    async acl(names) {
      // Only the exact name 'root' (which the token store alone assigns) is root. A name that
      // merely canonicalises to root (" Root", "ROOT", CVE-2025-5999) grants nothing at all.
      if (names.includes(ROOT_POLICY)) return rootAcl;
      const wanted = [...new Set(names.map(canonicalPolicyName))].filter((n) => n !== ROOT_POLICY && nameProblem(n) === undefined).sort();
      const key = JSON.stringify(wanted);
      const hit = acls.get(key);
      if (hit) return hit.acl;
      const started = generation;
      const policies: Policy[] = [];
      for (const name of wanted) {
        const policy = await loadPolicy(name);
        if (policy) policies.push(policy);
      }
      const acl = compileAcl(policies);
      if (started === generation) acls.set(key, { acl, names: wanted });
      return acl;
    },
  };
}
