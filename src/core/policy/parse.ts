/**
 * Parses Vault ACL policies, HCL or JSON, into validated path rules.
 *
 * Owns: the policy grammar Coffer accepts (Vault's `path` blocks, capabilities, the legacy
 * `policy = "write"` form, parameter constraints, wrapping TTLs) and policy-name canonicalisation.
 * It never evaluates a rule against a request (acl.ts does) and never echoes more than a short,
 * quoted fragment of the input in an error: policy text may be up to 1 MiB and arrives from callers.
 *
 * HCL goes through `@cdktf/hcl2json` (HashiCorp's HCL 2 parser compiled to wasm). It returns
 * repeated blocks as `{ path: { "<pattern>": [body, body, …] } }`, block-form
 * `allowed_parameters { … }` as a list of objects, and turns any expression it cannot print as a
 * literal into a `"${…}"` string; all three are handled below. JSON is parsed with JSON.parse
 * after a duplicate-key scan, so a repeated `"secret/*"` key can never silently replace a deny.
 */
import { badRequest } from '../errors.js';
import { parseDurationSeconds } from '../duration.js';

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

export interface PathRule {
  /** The pattern as written, minus one leading '/': exact, with a final '*', and/or '+' segments. */
  path: string;
  /** Deduplicated in a fixed order; `['deny']` alone when the rule denies. */
  capabilities: Capability[];
  /** Lower-cased parameter name → allowed values ([] = any value; '*' key = any parameter). */
  allowedParameters?: Record<string, unknown[]>;
  /** Lower-cased parameter name → denied values ([] = every value; '*' key = every parameter). */
  deniedParameters?: Record<string, unknown[]>;
  requiredParameters?: string[];
  /** Seconds; the request must be response-wrapped with at least this TTL. */
  minWrappingTtl?: number;
  /** Seconds; the request must be response-wrapped with at most this TTL. */
  maxWrappingTtl?: number;
}

export interface Policy {
  name: string;
  rules: PathRule[];
  text: string;
}

export const MAX_POLICY_BYTES = 1024 * 1024;

/** Capabilities in the order rules list them. */
export const CAPABILITIES: readonly Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'];

// The pre-capabilities syntax, mapped exactly as Vault maps it (write and sudo do not add patch).
const LEGACY_POLICY: Readonly<Record<string, readonly Capability[]>> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

const TOP_LEVEL_KEYS = new Set(['name', 'path']);
const RULE_KEYS = new Set([
  'comment',
  'policy',
  'capabilities',
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
]);
// Enterprise-only keys. Accepting and ignoring them would leave an operator believing a control
// group or MFA guards a path when nothing does, so they are refused.
const UNSUPPORTED_RULE_KEYS = new Set(['mfa_methods', 'control_group', 'subscribe_event_types']);

/**
 * The one form of a policy name used for storage and every comparison: trimmed and lower-cased,
 * as Vault's policy store does. CVE-2025-5999: compare names only in this form, so `" Root"`
 * and `"Root"` are recognised as naming `root` wherever root is refused or guarded.
 */
export function canonicalPolicyName(name: string): string {
  return name.trim().toLowerCase();
}

/**
 * Parses and validates `text` (HCL or JSON; JSON when it starts with '{'). Throws
 * CofferError('bad_request') naming the offending path and key; never returns a policy that has
 * no path rules.
 */
export async function parsePolicy(name: string, text: string): Promise<Policy> {
  if (typeof text !== 'string') throw badRequest('policy must be a string of HCL or JSON');
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) throw badRequest('policy is too large: the limit is 1 MiB');
  const canonical = canonicalPolicyName(name);
  if (canonical === '') throw badRequest('policy name must not be empty');

  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const isJson = body.trimStart().startsWith('{');
  const tree = isJson ? parseJson(body) : await parseHcl(body);
  const rules = rulesFromTree(tree, !isJson);
  if (rules.length === 0) throw badRequest('policy has no path rules: add at least one path "<pattern>" { capabilities = [...] } block');
  return { name: canonical, rules, text };
}

interface Hcl2Json {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
}

let hclModule: Promise<Hcl2Json> | undefined;

function loadHcl(): Promise<Hcl2Json> {
  // Loaded on first use: the package instantiates its wasm at import time. The specifier is a
  // variable so TypeScript does not load the package's typings, which pull lib.dom into the
  // whole project's compilation.
  const specifier = '@cdktf/hcl2json';
  hclModule ??= import(specifier).then((mod: { parse?: Hcl2Json['parse']; default?: Hcl2Json }) => {
    const parse = mod.parse ?? mod.default?.parse;
    if (typeof parse !== 'function') throw new Error('@cdktf/hcl2json has no parse()');
    return { parse };
  });
  return hclModule;
}

const HCL_FILENAME = 'policy.hcl';

async function parseHcl(text: string): Promise<unknown> {
  const hcl = await loadHcl();
  try {
    return await hcl.parse(HCL_FILENAME, text);
  } catch (err) {
    throw badRequest(`failed to parse policy: ${describeHclError(err)}`);
  }
}

/**
 * Keeps only the first diagnostic's position and summary. Summaries are fixed phrases from the
 * HCL parser ("Attribute redefined", "Invalid character"); the details after them can quote the
 * input, so they are dropped.
 */
function describeHclError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const match = /policy\.hcl:(\d+),(\d+)(?:-[\d,]+)?: ([^;\]]{1,120})/.exec(message);
  if (!match) return 'invalid HCL syntax';
  return `line ${match[1]}, column ${match[2]}: ${(match[3] as string).trim()}`;
}

function parseJson(text: string): unknown {
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the input around the error; say only that it is not JSON.
    throw badRequest('failed to parse policy: invalid JSON');
  }
  const duplicate = findDuplicateJsonKey(text);
  if (duplicate !== undefined) throw badRequest(`failed to parse policy: duplicate JSON key ${quote(duplicate)}`);
  return tree;
}

/**
 * The first key that appears twice in one object of `text`, which must be valid JSON. JSON.parse
 * keeps the last value, which would let a second "secret/*" entry silently replace a deny; HCL
 * merges repeated path blocks instead, so JSON refuses duplicates rather than disagree with it.
 */
function findDuplicateJsonKey(text: string): string | undefined {
  const objects: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (keys && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      objects.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      objects.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] != null;
    }
  }
  return undefined;
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A fragment of caller input, quoted and cut short so an error never carries much of it. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function rulesFromTree(tree: unknown, fromHcl: boolean): PathRule[] {
  if (!isObject(tree)) throw badRequest('failed to parse policy: the top level must be an object of path rules');
  for (const key of Object.keys(tree)) {
    if (!TOP_LEVEL_KEYS.has(key)) throw badRequest(`failed to parse policy: unknown top-level key ${quote(key)} (expected "path")`);
  }
  if (tree.name !== undefined && typeof tree.name !== 'string') throw badRequest('failed to parse policy: "name" must be a string');
  const rules: PathRule[] = [];
  for (const [pattern, body] of pathBodies(tree.path)) rules.push(parseRule(pattern, body, fromHcl));
  return rules;
}

/**
 * Flattens every shape a `path` entry takes into (pattern, body) pairs: hcl2json's
 * `{ pattern: [body, …] }`, Vault's JSON `{ pattern: body }`, and HCL1-style JSON lists of those.
 */
function pathBodies(value: unknown): Array<[string, Obj]> {
  if (value === undefined) return [];
  const groups = Array.isArray(value) ? value : [value];
  const out: Array<[string, Obj]> = [];
  for (const group of groups) {
    if (!isObject(group)) throw badRequest('failed to parse policy: "path" must map each path pattern to a block of rules');
    for (const [pattern, bodies] of Object.entries(group)) {
      for (const body of Array.isArray(bodies) ? bodies : [bodies]) {
        if (!isObject(body)) throw badRequest(`failed to parse policy: path ${quote(pattern)} must be a block of rules`);
        out.push([pattern, body]);
      }
    }
  }
  return out;
}

function parseRule(pattern: string, body: Obj, fromHcl: boolean): PathRule {
  const where = `path ${quote(pattern)}`;
  const fail: (message: string) => never = (message) => {
    throw badRequest(`failed to parse policy: ${where}: ${message}`);
  };
  for (const key of Object.keys(body)) {
    if (UNSUPPORTED_RULE_KEYS.has(key)) fail(`${quote(key)} is not supported`);
    if (!RULE_KEYS.has(key)) fail(`unknown key ${quote(key)}`);
  }
  // hcl2json prints expressions (`capabilities = [read]`, `"${var.x}"`) as "${…}" strings, and
  // keeps "$${" escapes as written, so no such string can be taken at face value.
  if (fromHcl && containsTemplate(body)) fail('template sequences ("${" or "%{") are not supported; write plain quoted strings');

  const path = validatePattern(pattern, fail);
  const capabilities = parseCapabilities(body, fail);
  const rule: PathRule = { path, capabilities };
  if (body.comment !== undefined && typeof body.comment !== 'string') fail('comment must be a string');
  // Vault drops every other setting of a denying rule: deny leaves nothing to constrain.
  if (capabilities.length === 1 && capabilities[0] === 'deny') return rule;

  const allowed = parseParameterMap(body.allowed_parameters, 'allowed_parameters', fail);
  if (allowed) rule.allowedParameters = allowed;
  const denied = parseParameterMap(body.denied_parameters, 'denied_parameters', fail);
  if (denied) rule.deniedParameters = denied;
  if (body.required_parameters !== undefined) {
    const required = body.required_parameters;
    if (!Array.isArray(required) || !required.every((p): p is string => typeof p === 'string')) fail('required_parameters must be a list of strings');
    for (const key of required as string[]) {
      if (key.includes('*')) fail(`required_parameters: ${quote(key)} must not contain a wildcard`);
      if (key.startsWith('/')) fail(`required_parameters: nested parameter paths such as ${quote(key)} are not supported`);
    }
    rule.requiredParameters = [...new Set(required as string[])];
  }
  const min = body.min_wrapping_ttl === undefined ? undefined : parseDurationSeconds(body.min_wrapping_ttl, `${where}: min_wrapping_ttl`);
  const max = body.max_wrapping_ttl === undefined ? undefined : parseDurationSeconds(body.max_wrapping_ttl, `${where}: max_wrapping_ttl`);
  if (min) rule.minWrappingTtl = min;
  if (max) rule.maxWrappingTtl = max;
  if (min && max && max < min) fail('max_wrapping_ttl cannot be less than min_wrapping_ttl');
  return rule;
}

function validatePattern(pattern: string, fail: (message: string) => never): string {
  // Vault's rule paths start after the '/' of the API path; it strips one leading slash.
  const path = pattern.startsWith('/') ? pattern.slice(1) : pattern;
  if (path === '') fail('the path must not be empty');
  const star = path.indexOf('*');
  if (star !== -1 && star !== path.length - 1) fail('"*" is only allowed as the last character of a path');
  if (path.includes('+*')) fail('invalid use of wildcards ("+*" is forbidden; use "+/*" or "*")');
  // Templated policies are not implemented; a literal "{{identity.entity.id}}" rule would grant
  // one shared path to everybody instead of one path per entity.
  if (path.includes('{{')) fail('templated policy paths ("{{…}}") are not supported');
  return path;
}

function parseCapabilities(body: Obj, fail: (message: string) => never): Capability[] {
  const granted = new Set<Capability>();
  if (body.capabilities !== undefined) {
    if (!Array.isArray(body.capabilities)) fail('capabilities must be a list such as ["read", "list"]');
    for (const value of body.capabilities as unknown[]) {
      if (typeof value !== 'string' || !(CAPABILITIES as readonly string[]).includes(value)) {
        fail(`unknown capability ${typeof value === 'string' ? quote(value) : String(value)} (valid: ${CAPABILITIES.join(', ')})`);
      }
      granted.add(value as Capability);
    }
  }
  if (body.policy !== undefined) {
    const legacy = typeof body.policy === 'string' ? LEGACY_POLICY[body.policy] : undefined;
    if (!legacy) fail(`invalid policy ${typeof body.policy === 'string' ? quote(body.policy) : String(body.policy)} (valid: deny, read, write, sudo)`);
    for (const capability of legacy as readonly Capability[]) granted.add(capability);
  }
  if (granted.has('deny')) return ['deny'];
  return CAPABILITIES.filter((c) => granted.has(c));
}

function parseParameterMap(value: unknown, field: string, fail: (message: string) => never): Record<string, unknown[]> | undefined {
  if (value === undefined) return undefined;
  // Block form (`allowed_parameters { … }`) arrives from hcl2json as a list of objects.
  const parts = Array.isArray(value) ? value : [value];
  const entries: Array<[string, unknown[]]> = [];
  // Names are matched case-insensitively; one named twice (two blocks, or "Policies" beside
  // "policies") would keep only its last list, silently dropping a denial: refused instead.
  const seen = new Set<string>();
  for (const part of parts) {
    if (!isObject(part)) fail(`${field} must map parameter names to lists of values`);
    for (const [rawKey, values] of Object.entries(part as Obj)) {
      const key = rawKey.toLowerCase();
      if (seen.has(key)) fail(`${field}: parameter ${quote(rawKey)} is named more than once (names are case-insensitive); give all its values in one list`);
      seen.add(key);
      if (key.includes('*') && key !== '*') fail(`${field}: parameter key ${quote(rawKey)} may only be "*" to mean every parameter`);
      if (key.startsWith('/')) fail(`${field}: nested parameter paths such as ${quote(rawKey)} are not supported`);
      if (!Array.isArray(values)) fail(`${field}: ${quote(rawKey)} must be a list of values ([] means any value)`);
      for (const v of values as unknown[]) {
        if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
          fail(`${field}: values for ${quote(rawKey)} must be strings, numbers or booleans`);
        }
      }
      entries.push([key, [...(values as unknown[])]]);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays data, never a prototype.
  return Object.fromEntries(entries);
}

function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${') || value.includes('%{');
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (isObject(value)) return Object.entries(value).some(([k, v]) => containsTemplate(k) || containsTemplate(v));
  return false;
}
