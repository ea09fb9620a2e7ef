/**
 * Who a verified service-account token names: namespace, service-account name and uid, read
 * from the classic claims (`kubernetes.io/serviceaccount/namespace`, `.../service-account.name`)
 * of secret-based tokens or from the `kubernetes.io` object of projected tokens.
 *
 * Owns: refusing tokens whose forms disagree with each other or with `sub`
 * ("system:serviceaccount:<namespace>:<name>"), so no claim can smuggle in another identity.
 * Must never: read claims from an unverified token.
 */
import type { Claims, Verdict } from '../shared/jwt-verify.js';

export interface ServiceAccount {
  namespace: string;
  name: string;
  /** '' when the token does not say. */
  uid: string;
}

const CLASSIC_PREFIX = 'kubernetes.io/serviceaccount/';

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function classicForm(claims: Claims): ServiceAccount | undefined {
  const namespace = str(claims[`${CLASSIC_PREFIX}namespace`]);
  const name = str(claims[`${CLASSIC_PREFIX}service-account.name`]);
  if (namespace === undefined || name === undefined) return undefined;
  return { namespace, name, uid: str(claims[`${CLASSIC_PREFIX}service-account.uid`]) ?? '' };
}

function projectedForm(claims: Claims): ServiceAccount | undefined {
  const k8s = claims['kubernetes.io'];
  if (typeof k8s !== 'object' || k8s === null) return undefined;
  const record = k8s as Record<string, unknown>;
  const sa = record['serviceaccount'];
  if (typeof sa !== 'object' || sa === null) return undefined;
  const saRecord = sa as Record<string, unknown>;
  const namespace = str(record['namespace']);
  const name = str(saRecord['name']);
  if (namespace === undefined || name === undefined) return undefined;
  return { namespace, name, uid: str(saRecord['uid']) ?? '' };
}

export function serviceAccountOf(claims: Claims): Verdict<ServiceAccount> {
  const classic = classicForm(claims);
  const projected = projectedForm(claims);
  if (classic && projected && (classic.namespace !== projected.namespace || classic.name !== projected.name)) {
    return { ok: false, reason: 'classic and projected service-account claims disagree' };
  }
  const account = projected ?? classic;
  if (!account) return { ok: false, reason: 'no service-account claims' };
  const sub = claims['sub'];
  if (sub !== undefined && sub !== `system:serviceaccount:${account.namespace}:${account.name}`) {
    return { ok: false, reason: 'sub does not match the service account' };
  }
  return { ok: true, value: account };
}
