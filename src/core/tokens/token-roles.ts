/**
 * Token roles (`auth/token/roles/:name`), as Vault's: a named recipe for tokens made through
 * `auth/token/create/:name`. A role may grant policies its caller does not hold (that is its
 * point: whoever may create through the role may hand out exactly its allowed policies), make
 * orphan or periodic tokens without sudo, and cap uses, TTL and source addresses.
 *
 * Owns: the stored role, reading and merging its fields, and the rules that turn a role and a
 * request into a token's policies. Must never: let a role produce a root token, or a policy its
 * disallowed lists name.
 */
import { parseCidrList } from '../cidr.js';
import { badRequest } from '../errors.js';
import { globMatch } from '../glob.js';
import { has, parseBool, parseDuration, parseInteger, parseString, parseStringList } from '../input.js';
import { canonicalPolicyName } from '../policy/parse.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';

export interface TokenRole {
  name: string;
  allowedPolicies: string[];
  allowedPoliciesGlob: string[];
  disallowedPolicies: string[];
  disallowedPoliciesGlob: string[];
  orphan: boolean;
  renewable: boolean;
  pathSuffix: string;
  boundCidrs: string[];
  /** Seconds; 0 = none. */
  explicitMaxTtl: number;
  noDefaultPolicy: boolean;
  numUses: number;
  /** Seconds; 0 = not periodic. */
  period: number;
}

/** Vault's GenericNameRegex: word characters, with dots and dashes inside. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;
/** Path segments of letters, digits, dots, dashes and underscores; no `.` or `..` segment. */
const PATH_SUFFIX = /^[\w.-]+(?:\/[\w.-]+)*$/;
const MAX_USES = 2 ** 31 - 1;

export function isRoleName(name: string): boolean {
  return ROLE_NAME.test(name);
}

function policyList(raw: unknown, field: string): string[] {
  return [...new Set(parseStringList(raw, field).map(canonicalPolicyName).filter((p) => p !== ''))].sort();
}

function globList(raw: unknown, field: string): string[] {
  return [...new Set(parseStringList(raw, field).map((p) => p.trim().toLowerCase()).filter((p) => p !== ''))].sort();
}

/** Every field mergeRoleWrite reads. */
export const ROLE_WRITE_FIELDS: ReadonlySet<string> = new Set([
  'allowed_policies', 'allowed_policies_glob', 'disallowed_policies', 'disallowed_policies_glob', 'orphan', 'renewable', 'path_suffix',
  'token_bound_cidrs', 'bound_cidrs', 'token_explicit_max_ttl', 'explicit_max_ttl', 'token_period', 'period', 'token_no_default_policy',
  'token_num_uses', 'token_type', 'allowed_entity_aliases',
]);

/**
 * The role after a write: each field given replaces the stored one, the rest stay (Vault's
 * create-or-update). The older names `period`, `explicit_max_ttl` and `bound_cidrs` are read
 * when the `token_` ones are absent.
 */
export function mergeRoleWrite(name: string, existing: TokenRole | undefined, data: Readonly<Record<string, unknown>>): TokenRole {
  const role: TokenRole = existing ? { ...existing } : {
    name,
    allowedPolicies: [],
    allowedPoliciesGlob: [],
    disallowedPolicies: [],
    disallowedPoliciesGlob: [],
    orphan: false,
    renewable: true,
    pathSuffix: '',
    boundCidrs: [],
    explicitMaxTtl: 0,
    noDefaultPolicy: false,
    numUses: 0,
    period: 0,
  };
  const either = (current: string, older: string): string | undefined => (has(data, current) ? current : has(data, older) ? older : undefined);
  if (has(data, 'allowed_policies')) role.allowedPolicies = policyList(data['allowed_policies'], 'allowed_policies');
  if (has(data, 'allowed_policies_glob')) role.allowedPoliciesGlob = globList(data['allowed_policies_glob'], 'allowed_policies_glob');
  if (has(data, 'disallowed_policies')) role.disallowedPolicies = policyList(data['disallowed_policies'], 'disallowed_policies');
  if (has(data, 'disallowed_policies_glob')) role.disallowedPoliciesGlob = globList(data['disallowed_policies_glob'], 'disallowed_policies_glob');
  if (has(data, 'orphan')) role.orphan = parseBool(data['orphan'], 'orphan');
  if (has(data, 'renewable')) role.renewable = parseBool(data['renewable'], 'renewable');
  if (has(data, 'path_suffix')) {
    const suffix = parseString(data['path_suffix'], 'path_suffix').replace(/^\/+|\/+$/g, '');
    if (suffix !== '' && (!PATH_SUFFIX.test(suffix) || suffix.split('/').some((segment) => segment === '.' || segment === '..'))) {
      throw badRequest('path_suffix may hold only letters, digits, ".", "-", "_" and "/", and no "." or ".." segment');
    }
    role.pathSuffix = suffix;
  }
  const cidrs = either('token_bound_cidrs', 'bound_cidrs');
  if (cidrs) role.boundCidrs = parseCidrList(parseStringList(data[cidrs], cidrs), cidrs);
  const maxTtl = either('token_explicit_max_ttl', 'explicit_max_ttl');
  if (maxTtl) role.explicitMaxTtl = parseDuration(data[maxTtl], maxTtl);
  const period = either('token_period', 'period');
  if (period) role.period = parseDuration(data[period], period);
  if (has(data, 'token_no_default_policy')) role.noDefaultPolicy = parseBool(data['token_no_default_policy'], 'token_no_default_policy');
  if (has(data, 'token_num_uses')) role.numUses = parseInteger(data['token_num_uses'], 'token_num_uses', 0, MAX_USES);
  if (has(data, 'token_type')) {
    const type = parseString(data['token_type'], 'token_type');
    if (type !== 'service' && type !== 'default-service' && type !== 'default') throw badRequest('only service tokens are supported (token_type "service" or "default-service")');
  }
  if (has(data, 'allowed_entity_aliases') && parseStringList(data['allowed_entity_aliases'], 'allowed_entity_aliases').length > 0) {
    throw badRequest('allowed_entity_aliases is not supported: Coffer has no identity entities');
  }
  return role;
}

/** The role as Vault's read answers it (the older field names too, as Vault still shows them). */
export function roleView(role: TokenRole): Record<string, unknown> {
  return {
    name: role.name,
    allowed_policies: [...role.allowedPolicies],
    allowed_policies_glob: [...role.allowedPoliciesGlob],
    disallowed_policies: [...role.disallowedPolicies],
    disallowed_policies_glob: [...role.disallowedPoliciesGlob],
    allowed_entity_aliases: [],
    orphan: role.orphan,
    renewable: role.renewable,
    path_suffix: role.pathSuffix,
    token_bound_cidrs: [...role.boundCidrs],
    token_explicit_max_ttl: role.explicitMaxTtl,
    explicit_max_ttl: role.explicitMaxTtl,
    token_no_default_policy: role.noDefaultPolicy,
    token_num_uses: role.numUses,
    token_period: role.period,
    period: role.period,
    token_type: 'default-service',
  };
}

const matchesAny = (globs: readonly string[], policy: string): boolean => globs.some((pattern) => globMatch(pattern, policy));

/** Whether the role's disallowed lists name `policy`. */
export function disallowedByRole(role: TokenRole, policy: string): boolean {
  return role.disallowedPolicies.includes(policy) || matchesAny(role.disallowedPoliciesGlob, policy);
}

export interface RolePolicyRequest {
  /** The policies asked for, canonical; undefined when the request named none. */
  requested: string[] | undefined;
  parentPolicies: readonly string[];
  /** The caller holds sudo on the create path, or is root: the parent-subset rule is waived. */
  sudo: boolean;
  noDefaultPolicy: boolean;
}

/**
 * A token's policies when made through `role`, as Vault's token store decides them:
 * - with allowed policies (or globs), the request may name any of them, and gets the role's
 *   allowed list when it names none: the caller's own policies do not limit it;
 * - without, the usual rule holds: the parent's policies when none are named, else a subset of
 *   them (unless sudo);
 * - nothing a disallowed list names, and never root;
 * - `default` is added unless the request or the role refuse it, or the role disallows it (and,
 *   for a role without allowed lists, only where a plain create would add it).
 */
export function rolePolicies(role: TokenRole, request: RolePolicyRequest): string[] {
  const restricted = role.allowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0;
  let policies: string[];
  if (restricted) {
    if (request.requested === undefined) {
      policies = [...role.allowedPolicies];
    } else {
      const outside = request.requested.filter((p) => p !== 'default' && !role.allowedPolicies.includes(p) && !matchesAny(role.allowedPoliciesGlob, p));
      if (outside.length > 0) {
        throw badRequest(`token policies (${JSON.stringify(request.requested)}) must be subset of the role's allowed policies (${JSON.stringify(role.allowedPolicies)}) or glob policies (${JSON.stringify(role.allowedPoliciesGlob)})`);
      }
      policies = [...request.requested];
    }
  } else if (request.requested === undefined) {
    policies = request.parentPolicies.filter((p) => p !== 'default');
  } else {
    if (!request.sudo && request.requested.some((p) => !request.parentPolicies.includes(p))) {
      throw badRequest('token policies must be subset of the parent token\'s policies');
    }
    policies = [...request.requested];
  }
  if (policies.includes('root')) throw badRequest('root tokens may not be created from token roles');
  const refused = policies.find((p) => disallowedByRole(role, p));
  if (refused !== undefined) throw badRequest(`token policy "${refused}" is disallowed by this role`);
  const withoutDefault = policies.filter((p) => p !== 'default');
  // Without allowed lists the role grants nothing of its own, so `default` follows the usual
  // rule too: only with sudo, or when the parent has it.
  const mayAddDefault = restricted || request.sudo || request.parentPolicies.includes('default');
  const addDefault = mayAddDefault && !request.noDefaultPolicy && !role.noDefaultPolicy && !disallowedByRole(role, 'default');
  return [...new Set(addDefault ? [...withoutDefault, 'default'] : withoutDefault)].sort();
}

export interface TokenRoleStore {
  get(name: string): Promise<TokenRole | undefined>;
  put(role: TokenRole): Promise<void>;
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
}

export function createTokenRoleStore(storage: Storage): TokenRoleStore {
  return {
    get: (name) => (isRoleName(name) ? getJson<TokenRole>(storage, name) : Promise.resolve(undefined)),
    put: (role) => putJson(storage, role.name, role),
    delete: (name) => storage.delete(name),
    list: () => storage.list(''),
  };
}
