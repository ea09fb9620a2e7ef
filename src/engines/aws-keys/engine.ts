/**
 * The `aws-keys` secrets engine (mounted at `aws-keys/` by default): `POST aws-keys/creds`
 * with `{ policies, ttl }` issues an AWS access-key pair bound to those Coffer policies, as a
 * lease. The lease's revocation (expiry, `coffer lease revoke`, the caller's token being
 * revoked, the mount being disabled) revokes the key's token and forgets the key.
 *
 * Owns: the request rules (policies are a subset of the caller's unless the caller is root;
 * 'root' is never granted; the TTL is capped like any lease's). The keys themselves live in
 * the AccessKeyStore, which the AWS protocol layer reads to verify signatures.
 * Must never: return a secret access key anywhere but in the response that creates it, or
 * mark it as safe to write in clear to an audit log.
 */
import { parseDurationSeconds } from '../../core/duration.js';
import { badRequest, permissionDenied } from '../../core/errors.js';
import { canonicalPolicyName } from '../../core/policy/parse.js';
import type { Engine, EngineContext, EngineRequest, EngineResponse } from '../../core/router/engine.js';
import type { TokenStore } from '../../core/tokens/token-store.js';
import type { AccessKeyStore } from './key-store.js';

export const AWS_KEYS_ENGINE_TYPE = 'aws-keys';
export const ACCESS_KEY_SECRET_TYPE = 'access_key';

export interface AwsKeysEngineDeps {
  keys: AccessKeyStore;
  tokens: Pick<TokenStore, 'lookupById'>;
  /** System default and maximum lease TTLs, seconds (a mount's own settings take precedence). */
  systemTtl: { defaultSeconds: number; maxSeconds: number };
}

const MISSING_POLICIES = 'missing policies: an access key must be bound to at least one policy';

function policyList(raw: unknown): string[] {
  if (raw === undefined || raw === null) throw badRequest(MISSING_POLICIES);
  const items =
    typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) && raw.every((p) => typeof p === 'string') ? (raw as string[]) : undefined;
  if (items === undefined) throw badRequest('policies must be a list of policy names or a comma-separated string');
  const names = [...new Set(items.map((p) => canonicalPolicyName(p.trim())).filter((p) => p !== ''))];
  if (names.length === 0) throw badRequest(MISSING_POLICIES);
  return names;
}

export function createAwsKeysEngine(ctx: EngineContext, deps: AwsKeysEngineDeps): Engine {
  const issue = async (req: EngineRequest): Promise<EngineResponse> => {
    const parent = req.auth ? await deps.tokens.lookupById(req.auth.tokenId) : undefined;
    if (!parent) throw permissionDenied();
    const requested = policyList(req.data['policies'] ?? req.data['policy']);
    if (requested.includes('root')) throw badRequest('the root policy cannot be bound to an access key');
    const parentIsRoot = parent.policies.includes('root');
    if (!parentIsRoot) {
      // As for child tokens: a caller can hand out only what it holds itself.
      const allowed = new Set(parent.policies);
      if (requested.some((p) => !allowed.has(p))) throw badRequest('access key policies must be a subset of the calling token\'s policies');
    }
    // `default` goes along as on a child token: only when the caller holds it (or is root).
    const policies = [...new Set([...requested, ...(parentIsRoot || parent.policies.includes('default') ? ['default'] : [])])].sort();

    const maxTtl = ctx.mount.maxLeaseTtl || deps.systemTtl.maxSeconds;
    const defaultTtl = Math.min(ctx.mount.defaultLeaseTtl || deps.systemTtl.defaultSeconds, maxTtl);
    const requestedTtl = parseDurationSeconds(req.data['ttl'], 'ttl') ?? 0;
    const ttl = Math.min(requestedTtl > 0 ? requestedTtl : defaultTtl, maxTtl);

    const key = await deps.keys.issue({ parent, policies, ttlSeconds: ttl });
    return {
      data: {
        access_key_id: key.accessKeyId,
        secret_access_key: key.secretAccessKey,
        policies: [...key.policies],
        expiration: new Date(key.expireAt).toISOString(),
      },
      // The key id and its policies identify the key in audit logs; the secret is HMAC'd.
      auditNonHmacKeys: ['access_key_id', 'policies', 'expiration'],
      secret: {
        type: ACCESS_KEY_SECRET_TYPE,
        ttl: key.ttlSeconds,
        maxTtl: key.ttlSeconds,
        renewable: false,
        internal: { access_key_id: key.accessKeyId },
      },
    };
  };

  return {
    type: AWS_KEYS_ENGINE_TYPE,
    paths: [
      {
        pattern: 'creds',
        description: 'Issue an AWS access-key pair bound to Coffer policies, as a lease.',
        operations: { update: issue, create: issue },
      },
    ],
    secretTypes: {
      [ACCESS_KEY_SECRET_TYPE]: {
        async revoke(lease) {
          const id = lease.internal['access_key_id'];
          if (typeof id === 'string' && id !== '') await deps.keys.revoke(id);
        },
      },
    },
  };
}

/** Mounted on first start, so `coffer aws-keys create` works on a fresh server. */
export const AWS_KEYS_INITIAL_MOUNT = {
  path: 'aws-keys/',
  type: AWS_KEYS_ENGINE_TYPE,
  description: 'AWS access keys for the Secrets Manager API',
} as const;
