/**
 * How a scheduled rotation authenticates. Nobody is logged in when the scheduler fires, and a
 * token captured from whoever configured rotation would die with its parent (an AWS access
 * key's token expires in hours) or carry far more than the rotation needs. So each schedule gets
 * its own policy granting exactly what rotating that one secret takes (StagedSecrets.grants:
 * read and write of `aws/data/<name>` and `aws/metadata/<name>`), and every rotation step runs with a fresh orphan token bound to that policy
 * alone, revoked as soon as the step is done. No token is ever stored.
 *
 * Configuring a schedule requires the caller to hold those same capabilities (checked by the
 * schedule endpoint), so the policy never grants more than its author had; it lives until the
 * schedule is deleted. Every request such a token makes goes through the pipeline and is
 * audited under the display name `rotator-<rotator>`.
 * Must never: grant a path outside one secret, put the token in storage or a log line, or
 * write a policy for a name whose path segments a policy would read as a wildcard.
 */
import { createHash } from 'node:crypto';
import type { PolicyStore } from '../core/policy/store.js';
import type { TokenStore } from '../core/tokens/token-store.js';
import type { PathGrant } from './staged-secrets.js';

export interface RotationIdentity {
  /** The policy name of one secret's schedule on this mount. */
  policyName(secret: string): string;
  /** Writes (or rewrites) the policy that grants `grants`. */
  writePolicy(secret: string, grants: readonly PathGrant[]): Promise<string>;
  deletePolicy(secret: string): Promise<void>;
  /** Runs `fn` with a fresh token bound to the secret's policy only, and revokes it afterwards. */
  withToken<T>(secret: string, rotator: string, fn: (token: string) => Promise<T>): Promise<T>;
}

export interface RotationIdentityDeps {
  tokens: Pick<TokenStore, 'create' | 'revokeOrphan'>;
  policies: Pick<PolicyStore, 'put' | 'delete'>;
  /** The mount's UUID: policy names differ between two rotators mounts. */
  mountUuid: string;
  /** Seconds a step token lives at most (it is revoked earlier, when the step ends). */
  tokenTtlSeconds: number;
}

/** HCL string literal: names are already limited to characters that need no escaping. */
const quote = (path: string): string => `"${path}"`;

export function createRotationIdentity(deps: RotationIdentityDeps): RotationIdentity {
  const policyName = (secret: string): string =>
    `coffer-rotation-${createHash('sha256').update(`${deps.mountUuid}\u0000${secret}`).digest('hex').slice(0, 24)}`;
  return {
    policyName,
    async writePolicy(secret, grants) {
      const name = policyName(secret);
      const text = [
        `# Written by the rotators engine for the rotation schedule of one secret; deleted with it.`,
        ...grants.map((g) => `path ${quote(g.path)} {\n  capabilities = [${g.capabilities.map((c) => `"${c}"`).join(', ')}]\n}`),
        // The AWS layer asks before multi-step writes; without this every ask is an audited denial.
        `path "sys/capabilities-self" {\n  capabilities = ["update"]\n}`,
      ].join('\n');
      await deps.policies.put(name, text);
      return name;
    },
    async deletePolicy(secret) {
      await deps.policies.delete(policyName(secret));
    },
    async withToken(secret, rotator, fn) {
      const { token, entry } = await deps.tokens.create({
        parent: undefined,
        policies: [policyName(secret)],
        displayName: `rotator-${rotator}`,
        ttl: deps.tokenTtlSeconds,
        explicitMaxTtl: deps.tokenTtlSeconds,
        renewable: false,
        path: 'rotators/step',
        meta: { secret },
      });
      try {
        return await fn(token);
      } finally {
        await deps.tokens.revokeOrphan(entry.id).catch(() => undefined);
      }
    },
  };
}
