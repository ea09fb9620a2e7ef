/**
 * JWT role `bound_claims` and `claim_mappings`: parsing, matching against verified claims, and
 * copying claims into token metadata.
 *
 * A bound claim's expected value may be one value or a list (any one matches); the token's
 * value may likewise be one value or a list (any item matching is enough). With
 * `bound_claims_type: glob`, expected strings are globs where '*' matches any run.
 * Must never: match on anything but the signature-verified claims (CVE-2025-3879); treat a
 * missing claim as a match.
 */
import { badRequest } from '../../core/errors.js';
import { globMatch } from '../../core/glob.js';
import { claimAt, type Claims } from '../shared/jwt-verify.js';

export type BoundClaimsType = 'string' | 'glob';
type Scalar = string | number | boolean;

const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Parses `bound_claims` into claim key → the list of accepted values. */
export function parseBoundClaims(raw: unknown): Record<string, Scalar[]> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('invalid bound_claims: must be an object of claim names to values');
  const out: Record<string, Scalar[]> = {};
  for (const [key, value] of Object.entries(raw)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || !values.every(isScalar)) {
      throw badRequest('invalid bound_claims: each value must be a string, number, boolean, or a non-empty list of them');
    }
    out[key] = values as Scalar[];
  }
  return out;
}

/** Parses `claim_mappings` (claim key → metadata key). */
export function parseClaimMappings(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('invalid claim_mappings: must be an object of claim names to metadata keys');
  const out: Record<string, string> = {};
  const targets = new Set<string>();
  for (const [claim, target] of Object.entries(raw)) {
    if (typeof target !== 'string' || target.trim() === '') throw badRequest('invalid claim_mappings: metadata keys must be non-empty strings');
    if (target === 'role') throw badRequest('invalid claim_mappings: "role" is a reserved metadata key');
    if (targets.has(target)) throw badRequest('invalid claim_mappings: two claims map to the same metadata key');
    targets.add(target);
    out[claim] = target;
  }
  return out;
}

function valueMatches(actual: unknown, expected: Scalar, type: BoundClaimsType): boolean {
  if (!isScalar(actual)) return false;
  if (type === 'glob' && typeof expected === 'string' && typeof actual === 'string') return globMatch(expected, actual);
  // Strings, numbers and booleans compare by their text, as Vault's string conversion does.
  return String(actual) === String(expected);
}

/** The first bound claim key that the claims do not satisfy, or undefined when all match. */
export function unmatchedBoundClaim(claims: Claims, bound: Readonly<Record<string, readonly Scalar[]>>, type: BoundClaimsType): string | undefined {
  for (const [key, expected] of Object.entries(bound)) {
    const actual = claimAt(claims, key);
    const actualValues = Array.isArray(actual) ? actual : actual === undefined ? [] : [actual];
    const ok = actualValues.some((value) => expected.some((want) => valueMatches(value, want, type)));
    if (!ok) return key;
  }
  return undefined;
}

/** Metadata from `claim_mappings`; absent claims are skipped, non-scalar claims refuse the login. */
export function mappedMetadata(claims: Claims, mappings: Readonly<Record<string, string>>): { ok: true; metadata: Record<string, string> } | { ok: false; claim: string } {
  const metadata: Record<string, string> = {};
  for (const [claim, target] of Object.entries(mappings)) {
    const value = claimAt(claims, claim);
    if (value === undefined) continue;
    if (!isScalar(value)) return { ok: false, claim };
    metadata[target] = String(value);
  }
  return { ok: true, metadata };
}
