/**
 * Glob matching where '*' matches any run of characters (and nothing else is special), for
 * `bound_claims_type: glob`, service-account name bindings and token roles' policy globs.
 *
 * Linear-time two-pointer matching: no regular expression is built from configuration, so a
 * pattern like "a*a*a*a*b" cannot cause catastrophic backtracking.
 */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (star !== -1) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
