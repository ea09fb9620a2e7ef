/**
 * The token auth method, always mounted at `auth/token/`: create, lookup, renew and revoke
 * tokens, by token, by accessor, or for the caller itself.
 *
 * A trusted core engine: it may read the caller's raw token (request-context.ts) only to echo it
 * back where Vault does (lookup-self `id`, renew-self `client_token`). It never logs it.
 */
import { canonicalPolicyName } from '../policy/parse.js';
import { CofferError, badRequest, notFound, permissionDenied } from '../errors.js';
import { parseDurationSeconds } from '../duration.js';
import { clientTokenOf } from '../request-context.js';
import type { Engine, EngineRequest, EngineResponse, LoginRenewalLimits } from '../router/engine.js';
import type { TokenEntry, TokenStore } from './token-store.js';
import { authBlock, lookupData } from './token-response.js';
import { isRoleName, mergeRoleWrite, ROLE_WRITE_FIELDS, rolePolicies, roleView, type TokenRole, type TokenRoleStore } from './token-roles.js';

/**
 * Every field a token creation reads (`lease` and `metadata` are older names of ttl and meta);
 * others are ignored with Vault's warning. Vault's Go client sends `entity_alias` and `type`
 * on every creation, empty when unset: empty, they mean nothing; set, they are refused.
 */
const CREATE_FIELDS: ReadonlySet<string> = new Set([
  'policies', 'no_default_policy', 'no_parent', 'id', 'role_name', 'type', 'display_name', 'meta', 'metadata', 'num_uses', 'ttl', 'lease',
  'explicit_max_ttl', 'period', 'renewable', 'entity_alias',
]);

export interface TokenEngineDeps {
  tokens: TokenStore;
  policyExists(name: string): Promise<boolean>;
  /** Whether the caller holds sudo on `path` (root always does). */
  hasSudo(req: EngineRequest, path: string): Promise<boolean>;
  /**
   * Asks the auth method behind a login token whether it may be renewed (throws to refuse), and
   * for its role's current token TTLs, which the renewal applies.
   */
  checkRenewal?(entry: TokenEntry): Promise<LoginRenewalLimits | undefined>;
  /** Token roles (auth/token/roles); without it, those paths and create/:role are refused. */
  roles?: TokenRoleStore;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw badRequest(`${field} must be a list of strings`);
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest(`${field} must be a boolean`);
}

/** Vault's num_uses is a Go int32-sized count; past 2^53 a JavaScript count would never go down. */
const MAX_NUM_USES = 2 ** 31 - 1;

function nonNegativeInt(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw badRequest(`${field} must be a non-negative integer`);
  if (n > MAX_NUM_USES) throw badRequest(`${field} must be at most ${MAX_NUM_USES}`);
  return n;
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${field} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    // Numbers and booleans are written as text, as Vault's weakly typed key/value pairs are.
    if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (typeof v === 'string') out[k] = v;
    else throw badRequest(`${field} must be a map of strings`);
  }
  return out;
}

function withWarnings(warnings: readonly string[]): Pick<EngineResponse, 'warnings'> {
  return warnings.length > 0 ? { warnings: [...warnings] } : {};
}

/**
 * Vault's display name for a token made through auth/token: `token`, or `token-<name>` with
 * every character outside [a-zA-Z0-9-] replaced by "-" and one trailing "-" dropped. Case is
 * kept, as Vault keeps it: Terraform reads the name back and would see a lowercased one as a
 * change that replaces the token.
 */
function tokenDisplayName(raw: unknown): string {
  const name = typeof raw === 'string' ? raw : '';
  if (name === '') return 'token';
  return `token-${name}`.replace(/[^a-zA-Z0-9-]/g, '-').replace(/-$/, '');
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw badRequest(`missing ${field}`);
  return value;
}

export function createTokenEngine(deps: TokenEngineDeps): Engine {
  const { tokens } = deps;

  const caller = async (req: EngineRequest): Promise<TokenEntry> => {
    // The request passed `use` already: its last use still lets it act on itself (as Vault).
    const entry = req.auth ? await tokens.lookupCaller(req.auth.tokenId) : undefined;
    if (!entry) throw permissionDenied();
    return entry;
  };

  /** Vault's warnings for requested policies that do not exist (yet): the token is made anyway. */
  const missingPolicyWarnings = async (policies: readonly string[]): Promise<string[]> => {
    const warnings: string[] = [];
    for (const name of policies) {
      if (name !== 'root' && name !== 'default' && !(await deps.policyExists(name))) warnings.push(`Policy "${name}" does not exist`);
    }
    return warnings;
  };

  const create = (orphanPath: boolean) => async (req: EngineRequest): Promise<EngineResponse> => {
    const parent = await caller(req);
    // Checked first, as Vault does (the token store enforces it for every caller too).
    if (parent.numUses !== 0) throw badRequest('restricted use token cannot generate child tokens');
    const parentIsRoot = parent.policies.includes('root');
    const data = req.data;
    // Sudo on the path requested, as Vault checks it: create-orphan is its own path.
    const requestPath = req.mountPath + (orphanPath ? 'create-orphan' : 'create');
    const sudo = parentIsRoot || (await deps.hasSudo(req, requestPath));
    if (data.entity_alias !== undefined && data.entity_alias !== null && data.entity_alias !== '') throw badRequest('entity_alias is not supported: Coffer has no identity entities');
    if (data.type !== undefined && data.type !== '' && data.type !== 'service' && data.type !== 'default') {
      throw badRequest('only service tokens are supported');
    }
    if (data.role_name !== undefined && data.role_name !== '') throw badRequest('use auth/token/create/:role_name to create a token through a role');
    const noParent = orphanPath || bool(data.no_parent, 'no_parent', false);
    if (noParent && !orphanPath && !sudo) throw badRequest('root or sudo privileges required to create orphan token');
    if (data.id !== undefined && data.id !== '' && !sudo) throw badRequest('root or sudo privileges required to specify token id');
    const period = parseDurationSeconds(data.period, 'period') ?? 0;
    if (period > 0 && !sudo) throw badRequest('root or sudo privileges required to create periodic token');

    const listed = stringList(data.policies, 'policies')?.map(canonicalPolicyName);
    // An empty list inherits the parent's policies, as in Vault (`len(data.Policies) == 0`):
    // clients that build the list (node-vault, Terraform) send [] when they mean "no change".
    // Unnamed entries ("") are then dropped, as Vault's SanitizePolicies does: [""] asks for no
    // policy beyond `default`, it does not inherit.
    const requested = listed !== undefined && listed.length > 0 ? listed.filter((name) => name !== '') : undefined;
    const parentPolicies = parent.policies;
    let policies = requested ?? parentPolicies.filter((p) => p !== 'default' || !bool(data.no_default_policy, 'no_default_policy', false));
    if (!parentIsRoot) {
      // As Vault: without sudo, `default` too must be among the parent's policies.
      const extra = policies.filter((p) => !parentPolicies.includes(p));
      if (extra.length > 0 && !sudo) throw badRequest('child policies must be subset of parent');
      if (policies.includes('root')) throw badRequest('root policy cannot be granted by a non-root token');
    }
    const noDefault = bool(data.no_default_policy, 'no_default_policy', false);
    // Added unless refused; without sudo only when the parent has it.
    const addDefault = !noDefault && (sudo || parentPolicies.includes('default'));
    if (policies.includes('root')) policies = ['root'];
    else if (addDefault) policies = [...policies, 'default'];
    else if (noDefault) policies = policies.filter((p) => p !== 'default');
    policies = [...new Set(policies)].sort();

    const warnings = await missingPolicyWarnings(policies);
    const displayName = tokenDisplayName(data.display_name);
    const customId = typeof data.id === 'string' && data.id !== '' ? data.id : undefined;

    const ttl = parseDurationSeconds(data.ttl ?? data.lease, 'ttl') ?? 0;
    const explicitMaxTtl = parseDurationSeconds(data.explicit_max_ttl, 'explicit_max_ttl') ?? 0;
    const neverExpires = policies.includes('root') && ttl === 0 && explicitMaxTtl === 0 && period === 0;
    // A root token that expires must not be able to outlive itself through a child.
    if (neverExpires && parent.expireAt !== 0) throw badRequest('expiring root tokens cannot create non-expiring root tokens');

    const { token, entry, warnings: ttlWarnings } = await tokens.create({
      ...(customId === undefined ? {} : { token: customId }),
      parent: noParent ? undefined : parent,
      policies,
      meta: stringMap(data.meta ?? data.metadata, 'meta'),
      displayName,
      numUses: nonNegativeInt(data.num_uses, 'num_uses'),
      ttl,
      explicitMaxTtl,
      period,
      renewable: bool(data.renewable, 'renewable', true),
      path: requestPath,
      allowNoExpiry: neverExpires,
      // An orphan has no parent to inherit bound CIDRs from; made without sudo (create-orphan
      // asks only `update`), it takes its creator's, so a bound token cannot mint an unbound one.
      ...(noParent && !sudo && parent.boundCidrs !== undefined && parent.boundCidrs.length > 0 ? { boundCidrs: [...parent.boundCidrs] } : {}),
    });
    warnings.push(...ttlWarnings);
    return { data: null, auth: authBlock(token, entry, tokens), ...withWarnings(warnings) };
  };

  const requireRoles = (): TokenRoleStore => {
    if (!deps.roles) throw badRequest('token roles are not supported');
    return deps.roles;
  };

  const roleNamed = async (req: EngineRequest): Promise<{ name: string; role: TokenRole | undefined }> => {
    const name = req.params['name'] as string;
    if (!isRoleName(name)) throw badRequest('invalid role name');
    return { name, role: await requireRoles().get(name) };
  };

  /**
   * `create/:role`: a token as the role describes it (token-roles.ts decides its policies).
   * The role's orphan and period need no sudo, as in Vault: the ACL on this path is the gate.
   */
  const createWithRole = async (req: EngineRequest): Promise<EngineResponse> => {
    const parent = await caller(req);
    if (parent.numUses !== 0) throw badRequest('restricted use token cannot generate child tokens');
    const { name, role } = await roleNamed(req);
    if (!role) throw badRequest(`unknown role ${name}`);
    const data = req.data;
    const requestPath = `${req.mountPath}create/${name}`;
    const sudo = parent.policies.includes('root') || (await deps.hasSudo(req, requestPath));
    if (data.entity_alias !== undefined && data.entity_alias !== null && data.entity_alias !== '') throw badRequest('entity_alias is not supported: Coffer has no identity entities');
    if (data.type !== undefined && data.type !== '' && data.type !== 'service' && data.type !== 'default') throw badRequest('only service tokens are supported');
    const askedNoParent = bool(data.no_parent, 'no_parent', false);
    if (askedNoParent && !sudo) throw badRequest('root or sudo privileges required to create orphan token');
    if (data.id !== undefined && data.id !== '' && !sudo) throw badRequest('root or sudo privileges required to specify token id');
    // The role's period needs no sudo; asking for one (even a shorter one) does, as in Vault.
    const askedPeriod = parseDurationSeconds(data.period, 'period') ?? 0;
    if (askedPeriod > 0 && !sudo) throw badRequest('root or sudo privileges required to create periodic token');

    const listed = stringList(data.policies, 'policies')?.map(canonicalPolicyName);
    const policies = rolePolicies(role, {
      requested: listed !== undefined && listed.length > 0 ? listed.filter((name) => name !== '') : undefined,
      parentPolicies: parent.policies,
      sudo,
      noDefaultPolicy: bool(data.no_default_policy, 'no_default_policy', false),
    });
    const warnings = await missingPolicyWarnings(policies);
    // The role's limits are ceilings: a request may ask for less, never more.
    const lower = (asked: number, ceiling: number): number => (ceiling > 0 && (asked === 0 || asked > ceiling) ? ceiling : asked);
    const customId = typeof data.id === 'string' && data.id !== '' ? data.id : undefined;
    const { token, entry, warnings: ttlWarnings } = await tokens.create({
      ...(customId === undefined ? {} : { token: customId }),
      parent: role.orphan || askedNoParent ? undefined : parent,
      policies,
      meta: stringMap(data.meta ?? data.metadata, 'meta'),
      displayName: tokenDisplayName(data.display_name),
      numUses: lower(nonNegativeInt(data.num_uses, 'num_uses'), role.numUses),
      ttl: parseDurationSeconds(data.ttl ?? data.lease, 'ttl') ?? 0,
      explicitMaxTtl: lower(parseDurationSeconds(data.explicit_max_ttl, 'explicit_max_ttl') ?? 0, role.explicitMaxTtl),
      period: role.period > 0 && (askedPeriod === 0 || askedPeriod > role.period) ? role.period : askedPeriod,
      renewable: role.renewable && bool(data.renewable, 'renewable', true),
      path: role.pathSuffix === '' ? requestPath : `${requestPath}/${role.pathSuffix}`,
      // The role's blocks; without any, its creator's, orphan or not: a bound token cannot
      // mint an unbound one through a role (stricter than Vault, which leaves those free).
      boundCidrs: role.boundCidrs.length > 0 ? role.boundCidrs : parent.boundCidrs ?? [],
      role: name,
    });
    warnings.push(...ttlWarnings);
    return { data: null, auth: authBlock(token, entry, tokens), ...withWarnings(warnings) };
  };

  /**
   * A role token renews under its role as it is now, as in Vault: not at all once the role is
   * gone; periodic exactly while the role has a period (a role whose period was removed makes
   * its tokens ordinary ones, held to the max TTL from creation); and held to the role's current
   * token_explicit_max_ttl too.
   */
  const roleRenewalLimits = async (entry: TokenEntry): Promise<LoginRenewalLimits> => {
    const role = await requireRoles().get(entry.role as string);
    if (!role) throw badRequest(`original token role (${entry.role as string}) could not be found, not renewing`);
    return { ttl: 0, maxTtl: 0, period: role.period, explicitMaxTtl: role.explicitMaxTtl };
  };

  /** The live token named in the body; `unknown` is the error for one that is not. */
  const byToken = async (req: EngineRequest, unknown: () => CofferError = () => badRequest('bad token')): Promise<{ entry: TokenEntry; token: string }> => {
    const token = requiredString(req.data.token, 'token');
    const entry = await tokens.lookup(token);
    if (!entry) throw unknown();
    return { entry, token };
  };

  const byAccessor = async (req: EngineRequest): Promise<TokenEntry> => {
    const accessor = requiredString(req.data.accessor, 'accessor');
    const entry = await tokens.lookupByAccessor(accessor);
    if (!entry) throw badRequest('invalid accessor');
    return entry;
  };

  const self = async (req: EngineRequest): Promise<{ entry: TokenEntry; token: string }> => {
    const entry = await caller(req);
    const token = clientTokenOf(req);
    if (token === undefined) throw new CofferError('internal', 'internal error');
    return { entry, token };
  };

  const increment = (req: EngineRequest): number | undefined => parseDurationSeconds(req.data.increment, 'increment');

  /** Every way of renewing asks the token's auth method first, as Vault does. */
  const renew = async (entry: TokenEntry, req: EngineRequest, token: string): Promise<EngineResponse> => {
    const by = increment(req);
    const limits = entry.role !== undefined ? await roleRenewalLimits(entry) : await deps.checkRenewal?.(entry);
    const renewed = await tokens.renew(entry, by, limits);
    return { data: null, auth: authBlock(token, renewed.entry, tokens), ...withWarnings(renewed.warnings) };
  };

  return {
    type: 'token',
    paths: [
      { pattern: 'create', fields: CREATE_FIELDS, description: 'Create a token, a child of the caller unless no_parent (sudo).', operations: { update: create(false) } },
      { pattern: 'create-orphan', fields: CREATE_FIELDS, description: 'Create a token with no parent (sudo on this path).', operations: { update: create(true) } },
      { pattern: 'create/(?<name>[^/]+)', fields: CREATE_FIELDS, description: 'Create a token as a token role describes it.', operations: { update: createWithRole } },
      {
        pattern: 'roles/?',
        description: 'List the token roles.',
        operations: {
          list: async () => {
            const keys = await requireRoles().list();
            // Vault answers an empty list with 404.
            if (keys.length === 0) throw notFound();
            return { data: { keys } };
          },
        },
      },
      {
        pattern: 'roles/(?<name>[^/]+)',
        description: 'Read, write and delete a token role.',
        fields: ROLE_WRITE_FIELDS,
        existenceCheck: async (req) => isRoleName(req.params['name'] ?? '') && (await deps.roles?.get(req.params['name'] as string)) !== undefined,
        operations: {
          read: async (req) => {
            const { role } = await roleNamed(req);
            if (!role) throw notFound();
            return { data: roleView(role) };
          },
          update: async (req) => {
            const { name, role } = await roleNamed(req);
            await requireRoles().put(mergeRoleWrite(name, role, req.data));
            return null;
          },
          delete: async (req) => {
            const { name } = await roleNamed(req);
            await requireRoles().delete(name);
            return null;
          },
        },
      },
      {
        pattern: 'lookup-self',
        description: 'Look up the calling token.',
        operations: {
          read: async (req) => {
            const { entry, token } = await self(req);
            return { data: lookupData(entry, token, tokens) };
          },
          update: async (req) => {
            const { entry, token } = await self(req);
            return { data: lookupData(entry, token, tokens) };
          },
        },
      },
      {
        pattern: 'lookup',
        description: 'Look up a token given in the body.',
        operations: {
          update: async (req) => {
            const { entry, token } = await byToken(req, () => new CofferError('permission_denied', 'bad token')); // as Vault: 403
            return { data: lookupData(entry, token, tokens) };
          },
        },
      },
      {
        pattern: 'lookup-accessor',
        description: 'Look up a token by its accessor.',
        operations: { update: async (req) => ({ data: lookupData(await byAccessor(req), '', tokens) }) },
      },
      {
        pattern: 'renew-self',
        description: 'Renew the calling token.',
        operations: {
          update: async (req) => {
            const { entry, token } = await self(req);
            return renew(entry, req, token);
          },
        },
      },
      {
        pattern: 'renew',
        description: 'Renew a token given in the body.',
        operations: {
          update: async (req) => {
            const { entry, token } = await byToken(req);
            return renew(entry, req, token);
          },
        },
      },
      {
        pattern: 'renew-accessor',
        description: 'Renew a token by its accessor.',
        operations: {
          update: async (req) => renew(await byAccessor(req), req, ''),
        },
      },
      {
        pattern: 'revoke-self',
        description: 'Revoke the calling token, its children and their leases.',
        operations: {
          update: async (req) => {
            await tokens.revokeTree((await caller(req)).id);
            return null;
          },
        },
      },
      {
        pattern: 'revoke',
        description: 'Revoke a token given in the body, its children and their leases.',
        operations: {
          update: async (req) => {
            const token = requiredString(req.data.token, 'token');
            const entry = await tokens.lookup(token);
            if (entry) await tokens.revokeTree(entry.id);
            return null;
          },
        },
      },
      {
        pattern: 'revoke-accessor',
        description: 'Revoke a token by its accessor.',
        operations: {
          update: async (req) => {
            // As Vault: a token already gone is a success with a warning, so a retried or
            // repeated revocation (Terraform's) does not fail.
            const entry = await tokens.lookupByAccessor(requiredString(req.data.accessor, 'accessor'));
            if (!entry) return { data: null, warnings: ['No token found with this accessor'] };
            await tokens.revokeTree(entry.id);
            return null;
          },
        },
      },
      {
        pattern: 'revoke-orphan',
        description: 'Revoke a token and make its children orphans (sudo).',
        sudo: true,
        operations: {
          update: async (req) => {
            const { entry } = await byToken(req);
            await tokens.revokeOrphan(entry.id);
            return null;
          },
        },
      },
      {
        pattern: 'accessors/?',
        description: 'List the accessors of every token (sudo).',
        sudo: true,
        operations: { list: async () => ({ data: { keys: await tokens.listAccessors() } }) },
      },
      {
        pattern: 'tidy',
        description: 'Remove index entries left by expired or revoked tokens.',
        operations: {
          update: async () => {
            const revoked = await tokens.sweepExpired();
            return { statusCode: 202, data: null, warnings: [`tidy revoked ${revoked} expired tokens`] };
          },
        },
      },
    ],
  };
}
