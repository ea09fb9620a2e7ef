/**
 * ACL evaluation: compiles parsed policies into an Acl that answers "may this operation run on
 * this path?" on every request.
 *
 * Owns Vault's matching semantics: exact rules first, otherwise the single most specific glob
 * rule by Vault's five priority rules; identical patterns merge across policies; a `deny` in the
 * chosen rule denies everything; parameter constraints for reads and writes. Paths are matched as raw
 * strings: this module never normalises `..`, `.` or `//` (the router refuses them before any
 * check), so `secret/a/../b` can never reach a rule written for `secret/b`.
 * It must never grant on a guess: no match means denied.
 */
import { LRUCache } from 'lru-cache';
import type { Operation } from '../router/engine.js';
import { parametersAllowed } from './parameters.js';
import { CAPABILITIES, type Capability, type PathRule, type Policy } from './parse.js';

export interface AclCheck {
  allowed: boolean;
  /** The chosen rule grants `sudo` (or the ACL is root): needed on top of `allowed` for sudo paths. */
  rootPrivs: boolean;
  /** Capabilities of the rule that decided; `['deny']` for a deny, [] when no rule matched. Do not mutate. */
  capabilities: Capability[];
}

export interface Acl {
  readonly isRoot: boolean;
  /** Capabilities on a path, as `sys/capabilities-self` reports them: ['root'] for root, ['deny'] when nothing is granted. */
  capabilities(path: string): string[];
  /**
   * Whether `operation` is allowed on `path`. LIST paths arrive with their trailing '/'.
   * `data` is the request body (a read's query parameters), checked against parameter
   * constraints for read, create, update and patch. `wrapTtlSeconds` is the requested response-wrapping TTL, if any: a rule with
   * min/max_wrapping_ttl denies unwrapped requests, as in Vault.
   */
  check(path: string, operation: Operation, data?: Readonly<Record<string, unknown>>, wrapTtlSeconds?: number): AclCheck;
  /**
   * Whether some rule grants any capability on `mountPath` (a mount path such as 'secret/') or
   * anywhere below it: Vault's test for showing a mount in `sys/internal/ui/mounts`. A deny
   * rule never counts; a grant deeper down is enough even if the mount root itself is denied.
   */
  hasAccessUnder(mountPath: string): boolean;
}

export interface CompileAclOptions {
  /** The caller holds the root policy: everything is allowed. Policy names are never consulted. */
  root?: boolean;
}

/** Per-ACL cache of resolved paths: bounded in entries and in key bytes, since paths come from callers. */
const CACHE_ENTRIES = 4096;
const CACHE_KEY_CHARS = 1024 * 1024;

const BIT: Readonly<Record<Capability, number>> = {
  deny: 1,
  create: 2,
  read: 4,
  update: 8,
  delete: 16,
  list: 32,
  sudo: 64,
  patch: 128,
};
const DENY = BIT.deny;
const SUDO = BIT.sudo;

/** The order `sys/capabilities-self` lists capabilities in Vault. */
const REPORT_ORDER: readonly Capability[] = ['sudo', 'read', 'list', 'update', 'delete', 'create', 'patch'];

/** The merged permissions of every rule with one identical pattern. */
interface Permissions {
  bits: number;
  allowed: Map<string, unknown[]> | undefined;
  denied: Map<string, unknown[]> | undefined;
  /** Lower-cased, as Vault compares them. */
  required: string[];
  minWrap: number;
  maxWrap: number;
  /** Filled in once merging is done; shared, frozen. */
  capabilities: Capability[];
}

interface GlobRule {
  readonly perms: Permissions;
  /** The pattern without its trailing '*'. */
  readonly stem: string;
  /** Ends in '*': the last segment (or the whole stem) is a prefix. */
  readonly isPrefix: boolean;
  /** Has '+' segments, so it is matched segment by segment. */
  readonly segmented: boolean;
  readonly parts: readonly string[];
  readonly firstWildcard: number;
  readonly wildcards: number;
}

const ROOT_CAPABILITIES = Object.freeze(CAPABILITIES.filter((c) => c !== 'deny')) as Capability[];
const NO_CAPABILITIES = Object.freeze([]) as unknown as Capability[];
const DENY_CAPABILITIES = Object.freeze(['deny']) as Capability[];

const ROOT_ACL: Acl = Object.freeze({
  isRoot: true,
  capabilities: () => ['root'],
  check: () => ({ allowed: true, rootPrivs: true, capabilities: ROOT_CAPABILITIES }),
  hasAccessUnder: () => true,
});

/**
 * Builds an Acl from policies. Rules with the identical pattern merge (union of capabilities,
 * parameter maps merged as Vault merges them; a deny absorbs everything).
 */
export function compileAcl(policies: readonly Policy[], options: CompileAclOptions = {}): Acl {
  if (options.root === true) return ROOT_ACL;

  const merged = new Map<string, Permissions>();
  for (const policy of policies) {
    for (const rule of policy.rules) {
      const incoming = permissionsOf(rule);
      const existing = merged.get(rule.path);
      if (existing) mergeInto(existing, incoming);
      else merged.set(rule.path, incoming);
    }
  }

  const exact = new Map<string, Permissions>();
  const globs: GlobRule[] = [];
  const grants = (perms: Permissions): boolean => (perms.bits & DENY) === 0 && perms.bits !== 0;
  for (const [pattern, perms] of merged) {
    perms.capabilities = Object.freeze(CAPABILITIES.filter((c) => (perms.bits & BIT[c]) !== 0)) as Capability[];
    if (pattern.endsWith('*') || isSegmented(pattern)) globs.push(describeGlob(pattern, perms));
    else exact.set(pattern, perms);
  }
  // Highest priority first, so the first glob that matches is the most specific one.
  globs.sort((a, b) => -comparePriority(a, b));

  const NO_MATCH = Object.freeze({}) as object;
  const cache = new LRUCache<string, Permissions | object>({
    max: CACHE_ENTRIES,
    maxSize: CACHE_KEY_CHARS,
    sizeCalculation: (_value, key) => key.length + 1,
  });

  const matchGlobs = (path: string, alternate: string | undefined): Permissions | undefined => {
    let parts: string[] | undefined;
    let alternateParts: string[] | undefined;
    for (const rule of globs) {
      if (matches(rule, path, () => (parts ??= path.split('/')))) return rule.perms;
      if (alternate !== undefined && matches(rule, alternate, () => (alternateParts ??= alternate.split('/')))) return rule.perms;
    }
    return undefined;
  };

  const resolveUncached = (path: string, list: boolean): Permissions | undefined => {
    const exactHit = exact.get(path);
    if (exactHit) return exactHit;
    if (!list || !path.endsWith('/')) return matchGlobs(path, undefined);
    // LIST on "a/b/": like Vault, an exact rule on "a/b" also counts (people forget the slash),
    // and globs may match either form ("+/sys/policies/acl" lists "ns/sys/policies/acl/").
    // Unlike Vault, which tries the trimmed form first, both forms compete in one priority
    // order: a more specific rule on "a/b/" (say a deny on "a/b/*") must not be skipped because
    // a broader grant matched "a/b" (OpenBao GHSA-xp3c-3jw3-4vcr).
    const trimmed = path.slice(0, -1);
    return exact.get(trimmed) ?? matchGlobs(path, trimmed);
  };

  const resolve = (rawPath: string, list: boolean): Permissions | undefined => {
    // Defence in depth, as Vault: rules never start with '/', so neither may a checked path.
    let path = rawPath;
    while (path.startsWith('/')) path = path.slice(1);
    const key = (list && path.endsWith('/') ? 'L' : 'P') + path;
    const cached = cache.get(key);
    if (cached !== undefined) return cached === NO_MATCH ? undefined : (cached as Permissions);
    const perms = resolveUncached(path, list);
    cache.set(key, perms ?? NO_MATCH);
    return perms;
  };

  return {
    isRoot: false,
    capabilities(path) {
      // Vault resolves capabilities as for LIST, so "secret/foo/" also sees rules on "secret/foo".
      const perms = resolve(path, true);
      if (!perms || (perms.bits & DENY) !== 0) return ['deny'];
      const out = REPORT_ORDER.filter((c) => (perms.bits & BIT[c]) !== 0);
      return out.length === 0 ? ['deny'] : out;
    },
    check(path, operation, data, wrapTtlSeconds) {
      const perms = resolve(path, operation === 'list');
      if (!perms) return { allowed: false, rootPrivs: false, capabilities: NO_CAPABILITIES };
      if ((perms.bits & DENY) !== 0) return { allowed: false, rootPrivs: false, capabilities: DENY_CAPABILITIES };
      const rootPrivs = (perms.bits & SUDO) !== 0;
      let allowed = (perms.bits & BIT[operation]) !== 0;
      if (allowed && (perms.minWrap > 0 || perms.maxWrap > 0)) allowed = wrappingAllowed(perms, wrapTtlSeconds);
      // Reads too, as in Vault: a GET's query parameters are its data (`?version=1`), and a
      // denied_parameters rule that skipped reads would fail open.
      if (allowed && (operation === 'read' || operation === 'create' || operation === 'update' || operation === 'patch')) {
        allowed = parametersAllowed(perms, data ?? {});
      }
      return { allowed, rootPrivs, capabilities: perms.capabilities };
    },
    hasAccessUnder(mountPath) {
      let mount = mountPath;
      while (mount.startsWith('/')) mount = mount.slice(1);
      if (!mount.endsWith('/')) mount += '/';
      const direct = resolve(mount, true);
      if (direct && grants(direct)) return true;
      for (const [pattern, perms] of exact) if (pattern.startsWith(mount) && grants(perms)) return true;
      const mountParts = mount.slice(0, -1).split('/');
      return globs.some((rule) => grants(rule.perms) && (rule.segmented ? segmentsReach(rule, mountParts) : rule.stem.startsWith(mount)));
    },
  };
}

/**
 * Whether a '+' rule can match paths under the mount whose segments are `mountParts`: each of
 * the rule's leading segments must equal, wildcard or (for a final '…*' segment) prefix-match
 * the mount's segment in the same place.
 */
function segmentsReach(rule: GlobRule, mountParts: readonly string[]): boolean {
  const last = rule.parts.length - 1;
  for (let i = 0; i < mountParts.length; i++) {
    if (i > last) return false;
    const want = rule.parts[i] as string;
    const got = mountParts[i] as string;
    if (want === '+' || want === got) continue;
    return rule.isPrefix && i === last && got.startsWith(want);
  }
  // The rule names something below the mount: a segment after it, or a trailing '*'.
  return rule.parts.length > mountParts.length || rule.isPrefix;
}

function permissionsOf(rule: PathRule): Permissions {
  let bits = 0;
  for (const capability of rule.capabilities) bits |= BIT[capability];
  if ((bits & DENY) !== 0) return denyPermissions();
  const toMap = (record: Record<string, unknown[]> | undefined): Map<string, unknown[]> | undefined => {
    if (!record) return undefined;
    const map = new Map<string, unknown[]>();
    for (const [key, values] of Object.entries(record)) map.set(key.toLowerCase(), [...values]);
    return map.size === 0 ? undefined : map;
  };
  return {
    bits,
    allowed: toMap(rule.allowedParameters),
    denied: toMap(rule.deniedParameters),
    required: [...new Set((rule.requiredParameters ?? []).map((p) => p.toLowerCase()))],
    minWrap: rule.minWrappingTtl ?? 0,
    maxWrap: rule.maxWrappingTtl ?? 0,
    capabilities: NO_CAPABILITIES,
  };
}

function denyPermissions(): Permissions {
  return { bits: DENY, allowed: undefined, denied: undefined, required: [], minWrap: 0, maxWrap: 0, capabilities: NO_CAPABILITIES };
}

/** Vault's merge for two rules with the identical pattern. */
function mergeInto(target: Permissions, incoming: Permissions): void {
  if ((target.bits & DENY) !== 0) return;
  if ((incoming.bits & DENY) !== 0) {
    Object.assign(target, denyPermissions());
    return;
  }
  target.bits |= incoming.bits;
  // Wrapping TTLs keep the lesser of two set values (the shortest-lived wrapping wins).
  if (incoming.maxWrap > 0 && (target.maxWrap === 0 || incoming.maxWrap < target.maxWrap)) target.maxWrap = incoming.maxWrap;
  if (incoming.minWrap > 0 && (target.minWrap === 0 || incoming.minWrap < target.minWrap)) target.minWrap = incoming.minWrap;
  target.allowed = mergeParameters(target.allowed, incoming.allowed);
  target.denied = mergeParameters(target.denied, incoming.denied);
  for (const p of incoming.required) if (!target.required.includes(p)) target.required.push(p);
}

/**
 * As Vault: an empty value list ("any value") absorbs a non-empty one; otherwise the lists
 * concatenate. Note that a rule without constraints merged with a constrained one ends up
 * constrained — Vault's behaviour, kept so policies decide the same way here.
 */
function mergeParameters(target: Map<string, unknown[]> | undefined, incoming: Map<string, unknown[]> | undefined): Map<string, unknown[]> | undefined {
  if (!incoming || incoming.size === 0) return target;
  const out = target ?? new Map<string, unknown[]>();
  for (const [key, values] of incoming) {
    const existing = out.get(key);
    if (values.length === 0 || (existing !== undefined && existing.length === 0)) out.set(key, []);
    else out.set(key, [...values, ...(existing ?? [])]);
  }
  return out;
}

/** Vault's test for "segment wildcards": a '+' that is a whole segment at the start, or after a '/'. */
function isSegmented(pattern: string): boolean {
  return pattern === '+' || pattern.startsWith('+/') || pattern.includes('/+');
}

function describeGlob(pattern: string, perms: Permissions): GlobRule {
  const isPrefix = pattern.endsWith('*');
  const stem = isPrefix ? pattern.slice(0, -1) : pattern;
  const segmented = isSegmented(pattern);
  const parts = stem.split('/');
  return {
    perms,
    stem,
    isPrefix,
    segmented,
    parts,
    // Vault measures a plain prefix rule by its length and a '+' rule by its first '+', both
    // in bytes (Go's len and strings.Index), so a non-ASCII path ranks the two kinds alike.
    firstWildcard: Buffer.byteLength(segmented ? pattern.slice(0, pattern.indexOf('+')) : stem),
    wildcards: segmented ? parts.filter((p) => p === '+').length : 0,
  };
}

/**
 * Vault's priority order; positive when `a` is more specific than `b`:
 * (1) the later the first '+' or '*', (2) no trailing '*' over a trailing '*', (3) fewer '+'
 * segments, (4) the longer pattern, (5) the lexicographically greater pattern.
 */
function comparePriority(a: GlobRule, b: GlobRule): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.wildcards !== b.wildcards) return b.wildcards - a.wildcards;
  const lengthA = Buffer.byteLength(a.stem);
  const lengthB = Buffer.byteLength(b.stem);
  if (lengthA !== lengthB) return lengthA - lengthB;
  // Byte order, as Go compares strings.
  return Buffer.compare(Buffer.from(a.stem), Buffer.from(b.stem));
}

function matches(rule: GlobRule, path: string, pathParts: () => string[]): boolean {
  if (!rule.segmented) return path.startsWith(rule.stem);
  const parts = pathParts();
  const last = rule.parts.length - 1;
  if (parts.length < rule.parts.length) return false;
  if (!rule.isPrefix && parts.length !== rule.parts.length) return false;
  for (let i = 0; i <= last; i++) {
    const want = rule.parts[i] as string;
    const got = parts[i] as string;
    if (want === '+' || want === got) continue;
    // The final segment of a '…*' rule is a prefix of the path's segment; later segments are free.
    if (rule.isPrefix && i === last && got.startsWith(want)) return true;
    return false;
  }
  return true;
}

function wrappingAllowed(perms: Permissions, ttl: number | undefined): boolean {
  if (perms.maxWrap > 0 && (ttl === undefined || ttl > perms.maxWrap)) return false;
  if (perms.minWrap > 0 && (ttl === undefined || ttl < perms.minWrap)) return false;
  // Merging can leave max < min, which no request satisfies.
  return !(perms.minWrap > 0 && perms.maxWrap > 0 && perms.maxWrap < perms.minWrap);
}
