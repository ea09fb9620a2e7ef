/**
 * Kubernetes `login` (unauthenticated): `{role, jwt}` with a service-account token → a token
 * with the role's policies.
 *
 * The token is verified locally (signature with the configured keys, issuer, time claims,
 * audience) instead of through the API server's TokenReview: a token of a deleted service
 * account or pod stays valid until it expires. Classic secret-based tokens carry no `exp`.
 * Audience: a role's `audience` must be in the token's `aud`. Without one, TokenReview would
 * hold the token to the API server's own audiences; here a token with an `aud` must name the
 * API server (its issuer, its in-cluster name or `kubernetes_host`), so a token a pod was given
 * for a third party (a CI system, another relying party) cannot be replayed to log in.
 * Owns: the uniform 400 "permission denied" for every failure; the reason goes to the log.
 * Must never: issue a token after any failed check; log or echo the JWT.
 */
import type { Clock } from '../../core/clock.js';
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { addressAllowed } from '../../core/cidr.js';
import { globMatch } from '../../core/glob.js';
import { isName, parseString } from '../shared/input.js';
import { ASYMMETRIC_ALGS } from '../shared/jwt-keys.js';
import { audiences, checkTimes, verifyJws } from '../shared/jwt-verify.js';
import type { LoginRefusals } from '../shared/login-refusal.js';
import { loginResult } from '../shared/token-fields.js';
import type { KubernetesConfigStore } from './config-store.js';
import type { KubernetesRoleStore } from './role-store.js';
import { serviceAccountOf } from './service-account.js';

export const KUBERNETES_LOGIN_ERROR = 'permission denied';

const bound = (patterns: readonly string[], value: string): boolean => patterns.some((p) => globMatch(p, value));

/** `kubernetes_host` as an audience may be written: the URL as given and its origin ('' when unset or not a URL). */
function hostAudiences(host: string): string[] {
  if (host === '') return [];
  try {
    const origin = new URL(host).origin;
    return [...new Set([host.replace(/\/+$/, ''), origin])];
  } catch {
    return [];
  }
}

/** The API server's usual audiences (kube-apiserver's --api-audiences defaults to its issuer). */
const IN_CLUSTER_AUDIENCES = ['https://kubernetes.default.svc', 'https://kubernetes.default.svc.cluster.local'];

/** What a login reads; others are ignored with Vault's warning. */
const LOGIN_FIELDS: ReadonlySet<string> = new Set(['jwt', 'role']);

export function loginPath(configs: KubernetesConfigStore, roles: KubernetesRoleStore, clock: Clock, refusals: LoginRefusals): PathSpec {
  const login = async (req: EngineRequest): Promise<EngineResponse> => {
    const roleName = parseString(req.data['role'], 'role').trim();
    if (roleName === '') throw badRequest('missing role');
    const token = req.data['jwt'];
    if (typeof token !== 'string' || token === '') throw badRequest('missing jwt');
    // Refused as an unknown role is; the name is not logged, being no role's.
    if (!isName(roleName)) throw refusals.refuse('invalid role name');
    const fields = { role: roleName };
    const config = await configs.get();
    if (!config) throw refusals.refuse('mount not configured', fields);
    const role = await roles.get(roleName);
    if (!role) throw refusals.refuse('unknown role', fields);

    const verified = await verifyJws(token, configs.keys(config), ASYMMETRIC_ALGS);
    if (!verified.ok) throw refusals.refuse(verified.reason, fields);
    const claims = verified.value;
    if (!config.disableIssValidation && claims['iss'] !== config.issuer) throw refusals.refuse('issuer not accepted', fields);
    const times = checkTimes(claims, clock.now(), { clockSkew: 60, expiration: 0, notBefore: 0, requireExp: false });
    if (!times.ok) throw refusals.refuse(times.reason, fields);
    if (role.audience !== '') {
      const aud = audiences(claims);
      if (!aud.ok || !aud.value.includes(role.audience)) throw refusals.refuse('audience not bound', fields);
    } else if (claims['aud'] !== undefined) {
      const aud = audiences(claims);
      // The API server's own audiences: its issuer (the configured one, or the token's signed
      // `iss` where issuer checks are off: GKE names the issuer URL as audience), its in-cluster
      // names, and its address (AKS names the cluster's host).
      const apiServer = [config.issuer, ...IN_CLUSTER_AUDIENCES, ...(typeof claims['iss'] === 'string' ? [claims['iss']] : []), ...hostAudiences(config.kubernetesHost)];
      if (!aud.ok || !aud.value.some((a) => apiServer.includes(a))) throw refusals.refuse('audience is not the API server\'s; set the role\'s audience', fields);
    }
    const account = serviceAccountOf(claims);
    if (!account.ok) throw refusals.refuse(account.reason, fields);
    const { namespace, name, uid } = account.value;
    if (!bound(role.boundServiceAccountNamespaces, namespace)) throw refusals.refuse('namespace not bound', fields);
    if (!bound(role.boundServiceAccountNames, name)) throw refusals.refuse('service account not bound', fields);
    if (!addressAllowed(req.remoteAddress, role.token.boundCidrs)) throw refusals.refuse('client address outside token_bound_cidrs', fields);

    const metadata: Record<string, string> = { service_account_name: name, service_account_namespace: namespace, role: roleName };
    if (uid !== '') metadata['service_account_uid'] = uid;
    return { login: loginResult(role.token, `${namespace}-${name}`, metadata) };
  };

  return {
    pattern: 'login',
    unauthenticated: true,
    fields: LOGIN_FIELDS,
    description: 'Log in with a Kubernetes service-account token.',
    operations: { update: login },
  };
}
