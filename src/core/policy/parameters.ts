/**
 * Parameter constraints of one ACL rule: `required_parameters`, `denied_parameters` and
 * `allowed_parameters` checked against a request body, with Vault's value matching (value globs,
 * list values, comma-separated strings).
 *
 * Owns only the decision; it never changes the request data it is given.
 */

/** The merged constraints of the rule that decided a request. Parameter names are lower-case. */
export interface ParameterConstraints {
  readonly required: readonly string[];
  readonly allowed: ReadonlyMap<string, readonly unknown[]> | undefined;
  readonly denied: ReadonlyMap<string, readonly unknown[]> | undefined;
}

/** Vault's parameter checks: required first, then denied (which wins), then allowed. */
export function parametersAllowed(perms: ParameterConstraints, data: Readonly<Record<string, unknown>>): boolean {
  for (const name of perms.required) if (!Object.hasOwn(data, name)) return false;
  const keys = Object.keys(data);
  if (keys.length === 0) return true;

  if (perms.denied) {
    if (perms.denied.has('*')) return false;
    for (const key of keys) {
      const denied = perms.denied.get(key.toLowerCase());
      if (denied && valueDenied(data[key], denied)) return false;
    }
  }

  if (!perms.allowed) return true;
  const anyKey = perms.allowed.has('*');
  if (anyKey && perms.allowed.size === 1) return true;
  for (const key of keys) {
    const allowed = perms.allowed.get(key.toLowerCase());
    if (allowed === undefined) {
      if (!anyKey) return false;
    } else if (!valueAllowed(data[key], allowed)) {
      return false;
    }
  }
  return true;
}

/**
 * An empty list allows any value. A list value must have every element allowed; a string is
 * also read as a comma-separated list (fields like `policies` accept "a,b"), so "dev,root"
 * needs both to be allowed. Unlike Vault, the empty string is not treated as an empty list
 * (which would make it pass every allow-list): it must be listed itself.
 */
function valueAllowed(value: unknown, list: readonly unknown[]): boolean {
  if (list.length === 0) return true;
  if (inList(value, list)) return true;
  if (Array.isArray(value)) return value.every((v) => inList(v, list));
  if (typeof value === 'string' && value.trim() !== '') return commaItems(value).every((v) => inList(v, list));
  return false;
}

/** An empty list denies every value; otherwise any listed element (of a list or "a,b" string) denies. */
function valueDenied(value: unknown, list: readonly unknown[]): boolean {
  if (list.length === 0) return true;
  if (inList(value, list)) return true;
  if (Array.isArray(value)) return value.some((v) => inList(v, list));
  if (typeof value === 'string') return commaItems(value).some((v) => inList(v, list));
  return false;
}

function commaItems(value: string): string[] {
  return value.split(',').map((v) => v.trim());
}

function inList(value: unknown, list: readonly unknown[]): boolean {
  for (const element of list) {
    if (typeof element === 'string') {
      if (typeof value === 'string' && globMatch(element, value)) return true;
    } else if (element === value) {
      return true;
    }
  }
  return false;
}

/** Vault's value globs: a leading and/or trailing '*'; a lone "*" matches only itself. */
function globMatch(pattern: string, value: string): boolean {
  if (pattern.length < 2) return pattern === value;
  const leading = pattern.startsWith('*');
  const trailing = pattern.endsWith('*');
  if (leading && trailing) return value.includes(pattern.slice(1, -1));
  if (leading) return value.endsWith(pattern.slice(1));
  if (trailing) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}
