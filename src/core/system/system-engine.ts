/**
 * The system backend mounted at `sys/`: mounts, auth methods, policies, audit devices,
 * capabilities, key status and rotation, seal.
 *
 * The raw, unauthenticated endpoints (init, unseal, seal-status, health, leader) are answered
 * by the HTTP layer before routing, because they must work while sealed.
 */
import type { AuditBroker } from '../audit/broker.js';
import type { Barrier } from '../barrier/barrier.js';
import { parseDurationSeconds } from '../duration.js';
import { CofferError, badRequest, notFound, permissionDenied } from '../errors.js';
import type { Acl } from '../policy/acl.js';
import type { PolicyStore } from '../policy/store.js';
import { canonicalPolicyName } from '../policy/parse.js';
import type { Engine, EngineRequest, EngineResponse, PathSpec, RequestAuth } from '../router/engine.js';
import { clientTokenOf } from '../request-context.js';
import type { MountManager } from '../router/mount-manager.js';
import type { MountConfig, MountTableKind } from '../router/mount-table.js';
import { normalizeDecodedPath } from '../router/path.js';
import type { Router } from '../router/router.js';
import type { MountEntry } from '../router/mount-table.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { LeaseManager } from '../leases/lease-manager.js';
import { leasesPaths } from './leases-paths.js';
import { quotasPaths } from './quotas-paths.js';
import { toolsPaths } from './tools-paths.js';
import type { QuotaStore } from '../quotas/quota-store.js';
import { consumersPaths } from './consumers-paths.js';
import type { ConsumerRegistry } from '../consumers/consumer-registry.js';
import type { EventBus } from '../events/event-bus.js';
import { listedPath, mountView } from './mount-views.js';
import { decodedPolicyText } from './policy-text.js';
import { wrappingPaths } from './wrapping-paths.js';
import type { ResponseWrapping } from '../wrapping/response-wrapping.js';

export interface SystemEngineDeps {
  mounts: MountManager;
  router: Router<MountEntry>;
  policies: PolicyStore;
  audit: AuditBroker;
  barrier: Pick<Barrier, 'rotate' | 'keyStatus'>;
  tokens: TokenStore;
  leases: LeaseManager;
  consumers: ConsumerRegistry;
  events: Pick<EventBus, 'lastSeq'>;
  /** Rate limit quotas (sys/quotas/*); absent = those paths do not exist. */
  quotas?: QuotaStore;
  /** Response wrapping (sys/wrapping/*); absent = those paths do not exist. */
  wrapping?: ResponseWrapping;
  /**
   * Seals the server (Lifecycle.sealNow): run once the sys/seal request has been audited and
   * has left the core, so the seal does not wait for it; the answer comes once sealed.
   */
  seal(): Promise<void>;
  /**
   * 'deny': sys/audit/PATH refuses to enable devices (config key api_audit_creation); disabling
   * one the config file does not declare stays possible.
   */
  apiAuditCreation?: 'allow' | 'deny';
}

/**
 * With api_audit_creation "deny", as OpenBao since 2.3.2 without unsafe_allow_api_audit_creation
 * (CVE-2025-6000): enabling is a 400, like its "cannot enable audit device via API".
 */
function apiAuditRefused(): CofferError {
  return badRequest('audit devices cannot be enabled through the API on this server (api_audit_creation is "deny"); declare them in the server config file under "audit" and restart');
}

function objectField(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function stringMapField(value: unknown, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(objectField(value, field))) {
    if (typeof v !== 'string' && typeof v !== 'number') throw badRequest(`${field}.${k} must be a string`);
    out[k] = String(v);
  }
  return out;
}

/** A list field as Vault takes it: a JSON array of strings or one comma-separated string. */
function keyListField(value: unknown, field: string): string[] {
  if (typeof value === 'string') return value.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (Array.isArray(value) && value.every((k) => typeof k === 'string')) return value.map((k) => k.trim()).filter((k) => k !== '');
  throw badRequest(`${field} must be a list of strings`);
}

/** Mount settings Vault has that Coffer's engines never read: refused rather than stored and ignored. */
const UNSUPPORTED_MOUNT_SETTINGS = [
  'passthrough_request_headers',
  'allowed_response_headers',
  'allowed_managed_keys',
  'plugin_version',
  'delegated_auth_accessors',
  'user_lockout_config',
  'identity_token_key',
];

/**
 * Mount settings, from `config` at enable time or the body of a tune. Vault's audit_non_hmac_*
 * keys are applied by the audit log; a setting Coffer cannot honour is a 400, never a silent 204.
 */
/** A mount's path as the mount endpoints of its table take it (auth/ paths without "auth/"). */
const mountPathIn = (kind: MountTableKind, fullPath: string): string => (kind === 'auth' ? fullPath.slice('auth/'.length) : fullPath);

function mountConfigInput(config: Readonly<Record<string, unknown>>): Partial<MountConfig> {
  const out: Partial<MountConfig> = {};
  // "system" (any case) resets a TTL to the server's, as 0 does, as in Vault.
  const ttlInput = (value: unknown): unknown => (typeof value === 'string' && value.trim().toLowerCase() === 'system' ? 0 : value);
  const defaultTtl = parseDurationSeconds(ttlInput(config.default_lease_ttl), 'default_lease_ttl');
  const maxTtl = parseDurationSeconds(ttlInput(config.max_lease_ttl), 'max_lease_ttl');
  if (defaultTtl !== undefined) out.default_lease_ttl = defaultTtl;
  if (maxTtl !== undefined) out.max_lease_ttl = maxTtl;
  if (config.audit_non_hmac_request_keys != null) out.audit_non_hmac_request_keys = keyListField(config.audit_non_hmac_request_keys, 'audit_non_hmac_request_keys');
  if (config.audit_non_hmac_response_keys != null) out.audit_non_hmac_response_keys = keyListField(config.audit_non_hmac_response_keys, 'audit_non_hmac_response_keys');
  if (config.listing_visibility != null) {
    const visibility = config.listing_visibility;
    if (visibility !== '' && visibility !== 'unauth' && visibility !== 'hidden') throw badRequest('listing_visibility must be "unauth", "hidden" or empty');
    out.listing_visibility = visibility;
  }
  // Coffer issues service tokens only.
  const tokenType = config.token_type;
  if (tokenType != null && tokenType !== '' && tokenType !== 'default' && tokenType !== 'service' && tokenType !== 'default-service') {
    throw badRequest('token_type: only "default" and "service" tokens exist in Coffer');
  }
  for (const field of UNSUPPORTED_MOUNT_SETTINGS) {
    const value = config[field];
    if (value != null && !(Array.isArray(value) && value.length === 0) && value !== '') throw badRequest(`${field} is not supported by Coffer`);
  }
  return out;
}

/**
 * What a tune reads. Vault's CLI sends force_no_cache on every tune (Coffer keeps no response
 * cache it could bypass, and a read shows false).
 */
const TUNE_FIELDS: ReadonlySet<string> = new Set([
  'default_lease_ttl', 'max_lease_ttl', 'audit_non_hmac_request_keys', 'audit_non_hmac_response_keys', 'listing_visibility', 'token_type',
  ...UNSUPPORTED_MOUNT_SETTINGS, 'description', 'options', 'force_no_cache',
]);
/**
 * What enabling a mount reads. Vault's CLI always sends seal_wrap and external_entropy_access:
 * the barrier already encrypts every entry and there is no external entropy source to opt into.
 */
const ENABLE_FIELDS: ReadonlySet<string> = new Set(['type', 'description', 'config', 'options', 'local', 'seal_wrap', 'external_entropy_access']);
/** What a policy write reads: the older path names the text `rules`, the newer `policy`; both take either. */
const POLICY_FIELDS: ReadonlySet<string> = new Set(['policy', 'rules']);
/** What enabling an audit device reads; Vault's CLI also sends `local` (no replication here). */
const AUDIT_ENABLE_FIELDS: ReadonlySet<string> = new Set(['type', 'description', 'options', 'local']);

/** The optional settings as Vault shows them in a mount or tune read: only when set. */
function optionalMountSettings(config: MountConfig): Record<string, unknown> {
  return {
    ...(config.audit_non_hmac_request_keys?.length ? { audit_non_hmac_request_keys: [...config.audit_non_hmac_request_keys] } : {}),
    ...(config.audit_non_hmac_response_keys?.length ? { audit_non_hmac_response_keys: [...config.audit_non_hmac_response_keys] } : {}),
    ...(config.listing_visibility ? { listing_visibility: config.listing_visibility } : {}),
  };
}

function pathsField(data: Readonly<Record<string, unknown>>): string[] {
  const raw = data.paths ?? data.path;
  if (typeof raw === 'string' && raw !== '') return raw.split(',').map((p) => p.trim());
  if (Array.isArray(raw) && raw.length > 0 && raw.every((p) => typeof p === 'string')) return raw as string[];
  throw badRequest('missing paths');
}

function policyText(data: Readonly<Record<string, unknown>>, field: 'policy' | 'rules'): string {
  const text = data[field] ?? data.policy ?? data.rules;
  if (typeof text !== 'string' || text.trim() === '') throw badRequest(`'${field}' parameter not supplied or empty`);
  return decodedPolicyText(text);
}

/**
 * Who asks on the unauthenticated sys/internal/ui/mounts paths: a usable token's auth, or
 * 'anonymous' when none was sent. A token that was sent but is unknown, expired or used from
 * outside its bound CIDRs is refused outright, as Vault refuses an invalid token there.
 */
function uiCaller(req: EngineRequest): RequestAuth | 'anonymous' {
  if (req.auth) return req.auth;
  if (clientTokenOf(req) !== undefined) throw permissionDenied();
  return 'anonymous';
}

/** Vault's refusal for a mount the caller cannot see, or that does not exist (403). */
function preflightDenied(path: string): CofferError {
  return new CofferError('permission_denied', `preflight capability check returned 403, please ensure client's policies grant access to path "${path}"`);
}

export function createSystemEngine(deps: SystemEngineDeps): Engine {
  const { mounts, policies, audit } = deps;

  const callerAcl = async (req: EngineRequest): Promise<Acl> => policies.acl(req.auth?.policies ?? []);

  const capabilitiesFor = (acl: Acl, paths: string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const raw of paths) {
      const path = normalizeDecodedPath(raw);
      // Sorted, as Vault's Core.Capabilities does (["root"] and ["deny"] stand alone anyway).
      out[raw] = [...acl.capabilities(path)].sort();
    }
    if (paths.length === 1) out.capabilities = out[paths[0] as string];
    return out;
  };

  // Vault lists `auth/*` among the system backend's root paths: enabling, tuning or disabling
  // an auth method (which revokes every token it issued) needs sudo; secrets mounts do not.
  const mountPaths = (kind: MountTableKind, base: string, sudo = kind === 'auth'): PathSpec[] => [
    {
      pattern: base,
      description: 'List the mounts of this table.',
      operations: {
        read: async () => {
          const data: Record<string, unknown> = {};
          for (const entry of mounts.list(kind)) data[listedPath(entry)] = mountView(entry);
          return { data };
        },
      },
    },
    {
      pattern: `${base}/(?<path>.+?)/tune`,
      description: "Read and tune a mount's settings.",
      sudo,
      fields: TUNE_FIELDS,
      operations: {
        read: async (req) => {
          // As Vault: the mount serving the path, so a path below a mount reads that mount.
          const entry = mounts.matching(kind, req.params.path as string);
          if (!entry) throw badRequest(`cannot fetch sysview for path "${req.params.path}"`);
          // The TTLs that apply: the mount's tuning, else the server's own (its config file).
          const ttls = mounts.effectiveTtls(entry);
          return {
            data: {
              default_lease_ttl: ttls.defaultLeaseTtl,
              max_lease_ttl: ttls.maxLeaseTtl,
              force_no_cache: entry.config.force_no_cache,
              description: entry.description,
              options: Object.keys(entry.options).length > 0 ? entry.options : null,
              ...optionalMountSettings(entry.config),
            },
          };
        },
        update: async (req) => {
          const config = mountConfigInput(req.data);
          const entry = mounts.matching(kind, req.params.path as string);
          await mounts.tune(kind, entry === undefined ? (req.params.path as string) : mountPathIn(kind, entry.path), {
            ...config,
            ...(typeof req.data.description === 'string' ? { description: req.data.description } : {}),
            ...(req.data.options !== undefined ? { options: stringMapField(req.data.options, 'options') } : {}),
          });
          return null;
        },
      },
    },
    {
      pattern: `${base}/(?<path>.+)`,
      description: 'Enable, read and disable a mount.',
      sudo,
      fields: ENABLE_FIELDS,
      operations: {
        read: async (req) => {
          const entry = mounts.get(kind, req.params.path as string);
          // Vault's handleReadMount / handleReadAuth: a 400 that names the path.
          if (!entry) throw badRequest(`No ${kind === 'auth' ? 'auth' : 'secret'} engine ${kind === 'auth' ? 'at' : 'mount at'} ${String(req.params.path).replace(/\/?$/, '/')}`);
          return { data: mountView(entry) };
        },
        update: async (req) => {
          const type = req.data.type;
          if (typeof type !== 'string' || type === '') throw badRequest('missing type');
          const options = stringMapField(req.data.options, 'options');
          await mounts.enable(kind, req.params.path as string, {
            type,
            description: typeof req.data.description === 'string' ? req.data.description : '',
            config: mountConfigInput(objectField(req.data.config, 'config')),
            options,
            local: req.data.local === true,
          });
          return null;
        },
        delete: async (req) => {
          await mounts.disable(kind, req.params.path as string);
          return null;
        },
      },
    },
  ];

  const policyName = (req: EngineRequest): string => req.params.name as string;

  return {
    type: 'system',
    paths: [
      ...leasesPaths(deps.leases, deps.tokens),
      ...(deps.quotas ? quotasPaths(deps.quotas) : []),
      ...toolsPaths(),
      ...(deps.wrapping ? wrappingPaths(deps.wrapping, deps.tokens) : []),
      ...consumersPaths({
        consumers: deps.consumers,
        policies,
        checkVersion: async (path, version) => {
          const routed = deps.router.route(path);
          return routed?.engine.checkConsumerVersion?.(routed.relativePath, version);
        },
      }),
      {
        // Authorises (and audits) opening a watch; the stream itself is served by the HTTP layer.
        pattern: 'watch(?:/poll)?',
        description: 'Watch secrets change (server-sent events, or a long poll).',
        operations: { read: async () => ({ data: { last_seq: deps.events.lastSeq } }) },
      },
      ...mountPaths('secrets', 'mounts'),
      ...mountPaths('auth', 'auth'),
      {
        pattern: 'policy/?',
        description: 'List ACL policies (the older path).',
        operations: {
          read: async () => {
            const names = await policies.list();
            return { data: { policies: names, keys: names } };
          },
          list: async () => {
            const names = await policies.list();
            return { data: { policies: names, keys: names } };
          },
        },
      },
      {
        pattern: 'policy/(?<name>.+)',
        canonicalPath: (params) => `policy/${canonicalPolicyName(params['name'] ?? '')}`,
        description: 'Read, write and delete an ACL policy (the older path).',
        fields: POLICY_FIELDS,
        operations: {
          read: async (req) => {
            const found = await policies.get(policyName(req));
            if (!found) throw notFound();
            return { data: { name: found.name, rules: found.policy } };
          },
          update: async (req) => {
            await policies.put(policyName(req), policyText(req.data, 'rules'));
            return null;
          },
          delete: async (req) => {
            await policies.delete(policyName(req));
            return null;
          },
        },
      },
      {
        pattern: 'policies/acl/?',
        description: 'List ACL policies.',
        operations: {
          list: async () => ({ data: { keys: await policies.list() } }),
          read: async () => ({ data: { keys: await policies.list() } }),
        },
      },
      {
        pattern: 'policies/acl/(?<name>.+)',
        canonicalPath: (params) => `policies/acl/${canonicalPolicyName(params['name'] ?? '')}`,
        description: 'Read, write and delete an ACL policy (HCL or JSON).',
        fields: POLICY_FIELDS,
        operations: {
          read: async (req) => {
            const found = await policies.get(policyName(req));
            if (!found) throw notFound();
            return { data: { name: found.name, policy: found.policy } };
          },
          update: async (req) => {
            await policies.put(policyName(req), policyText(req.data, 'policy'));
            return null;
          },
          delete: async (req) => {
            await policies.delete(policyName(req));
            return null;
          },
        },
      },
      {
        pattern: 'audit/?',
        description: 'List the audit devices.',
        sudo: true,
        operations: { read: async () => ({ data: { ...audit.list() } }) },
      },
      {
        pattern: 'audit/(?<path>.+)',
        description: 'Enable and disable an audit device.',
        sudo: true,
        fields: AUDIT_ENABLE_FIELDS,
        operations: {
          update: async (req) => {
            if (deps.apiAuditCreation === 'deny') throw apiAuditRefused();
            const type = req.data.type;
            if (typeof type !== 'string' || type === '') throw badRequest('missing audit type');
            await audit.enable(req.params.path as string, {
              type,
              description: typeof req.data.description === 'string' ? req.data.description : '',
              options: stringMapField(req.data.options, 'options'),
            });
            return null;
          },
          delete: async (req) => {
            // Allowed even under "deny": a device enabled through the API (before "deny", or by
            // an earlier build that had no file policy) may be one an attacker planted, and it
            // must be removable. The operator's own devices are declared in the config file,
            // and the broker refuses to disable those, so a sudo token cannot switch them off.
            await audit.disable(req.params.path as string);
            return null;
          },
        },
      },
      {
        pattern: 'audit-hash/(?<path>.+)',
        description: "Hash a value with an audit device's key, to search its log.",
        operations: {
          update: async (req) => {
            const input = req.data.input;
            if (typeof input !== 'string') throw badRequest('the "input" parameter is required');
            return { data: { hash: audit.hash(req.params.path as string, input) }, auditNonHmacKeys: ['hash'] };
          },
        },
      },
      {
        // Coffer's own (Vault has no chain to verify): checks the device's file with the key
        // only the server holds. Sudo, as sys/audit: it reads files on the server.
        pattern: 'audit-verify/(?<path>.+)',
        description: "Verify the hash chain of a file audit device's log.",
        sudo: true,
        operations: {
          update: async (req) => {
            const filePath = req.data.file_path;
            if (filePath !== undefined && (typeof filePath !== 'string' || filePath === '')) throw badRequest('file_path must be a non-empty string');
            const allow = req.data.allow_earlier_keys;
            if (allow !== undefined && typeof allow !== 'boolean') throw badRequest('allow_earlier_keys must be a boolean');
            const result = await audit.verify(req.params.path as string, filePath, { allowEarlierKeys: allow === true });
            return {
              data: {
                file_path: result.file_path,
                ok: result.ok,
                lines: result.lines,
                mac_checked_lines: result.macCheckedLines ?? 0,
                earlier_key_lines: result.earlierKeyLines ?? 0,
                recorded_end_checked: result.recordedEndChecked === true,
                ...(result.error === undefined ? {} : { failed_line: result.error.line, reason: result.error.reason }),
              },
              auditNonHmacKeys: ['reason'],
            };
          },
        },
      },
      {
        pattern: 'capabilities-self',
        description: "The calling token's capabilities on paths.",
        operations: {
          update: async (req) => ({ data: capabilitiesFor(await callerAcl(req), pathsField(req.data)) }),
        },
      },
      {
        pattern: 'capabilities',
        description: "A token's capabilities on paths.",
        operations: {
          update: async (req) => {
            const token = req.data.token;
            if (typeof token !== 'string' || token === '') throw badRequest('missing token');
            const entry = await deps.tokens.lookup(token);
            if (!entry) throw badRequest('invalid token');
            return { data: capabilitiesFor(await policies.acl(entry.policies), pathsField(req.data)) };
          },
        },
      },
      {
        pattern: 'capabilities-accessor',
        description: 'The capabilities on paths of a token named by its accessor.',
        operations: {
          update: async (req) => {
            const accessor = req.data.accessor;
            if (typeof accessor !== 'string' || accessor === '') throw badRequest('missing accessor');
            const entry = await deps.tokens.lookupByAccessor(accessor);
            if (!entry) throw badRequest('invalid accessor');
            return { data: capabilitiesFor(await policies.acl(entry.policies), pathsField(req.data)) };
          },
        },
      },
      {
        pattern: 'key-status',
        description: "The keyring's current term and when it was installed.",
        operations: { read: async () => ({ data: { ...deps.barrier.keyStatus() } }) },
      },
      {
        pattern: 'rotate(?:/keyring)?',
        description: 'Add a new term to the keyring: new writes use it.',
        sudo: true,
        operations: {
          update: async () => {
            await deps.barrier.rotate();
            return null;
          },
        },
      },
      {
        pattern: 'seal',
        description: 'Seal the server: its keys leave memory.',
        sudo: true,
        operations: {
          update: async () => ({ afterRelease: deps.seal }),
        },
      },
      {
        // Unauthenticated, as in Vault: the handler resolves the caller itself, so a token
        // without the default policy (or with a rewritten one) can still find its own mounts.
        pattern: 'internal/ui/mounts',
        description: "The mounts the caller may see (Vault's UI and CLI preflight).",
        unauthenticated: true,
        operations: {
          read: async (req) => {
            const caller = uiCaller(req);
            const secret: Record<string, unknown> = {};
            const auth: Record<string, unknown> = {};
            // No token: as Vault, only mounts tuned to listing_visibility "unauth", and only
            // their type, description and options.
            if (caller === 'anonymous') {
              const brief = (entry: MountEntry): Record<string, unknown> => ({ type: entry.type, description: entry.description, options: Object.keys(entry.options).length > 0 ? { ...entry.options } : null });
              for (const entry of mounts.list('secrets')) if (entry.config.listing_visibility === 'unauth') secret[entry.path] = brief(entry);
              for (const entry of mounts.list('auth')) if (entry.config.listing_visibility === 'unauth') auth[listedPath(entry)] = brief(entry);
              return { data: { secret, auth } };
            }
            const acl = await policies.acl(caller.policies);
            for (const entry of mounts.list('secrets')) {
              if (entry.config.listing_visibility === 'unauth' || acl.hasAccessUnder(entry.path)) secret[entry.path] = mountView(entry);
            }
            for (const entry of mounts.list('auth')) {
              // As Vault: what anyone may list, a token lists too, with the full view.
              if (entry.config.listing_visibility === 'unauth' || acl.hasAccessUnder(entry.path)) auth[listedPath(entry)] = mountView(entry);
            }
            return { data: { secret, auth } };
          },
        },
      },
      {
        pattern: 'internal/ui/mounts/(?<path>.+)',
        description: 'The mount a path belongs to, with its type and options.',
        unauthenticated: true,
        operations: {
          read: async (req): Promise<EngineResponse> => {
            const path = normalizeDecodedPath(req.params.path as string);
            const asked = path.endsWith('/') ? path : path + '/';
            // Without a usable token the answer is the same for every path, so nothing about
            // the mounts can be learnt (Vault says "permission denied" for a mount that exists).
            const caller = uiCaller(req);
            if (caller === 'anonymous') throw permissionDenied();
            const routed = deps.router.route(asked);
            const acl = await policies.acl(caller.policies);
            // Same answer for "no such mount" and "not yours", so mounts cannot be enumerated.
            if (!routed || !acl.hasAccessUnder(routed.mount.path)) throw preflightDenied(asked);
            const entry = routed.mount;
            return { data: { ...mountView(entry), path: listedPath(entry) } };
          },
        },
      },
    ],
  };
}
