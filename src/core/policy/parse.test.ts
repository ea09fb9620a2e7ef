import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCofferError } from '../errors.js';
import { canonicalPolicyName, parsePolicy, type PathRule } from './parse.js';

const byPath = (rules: PathRule[]): PathRule[] => [...rules].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** Asserts parsePolicy rejects `text` with a bad_request whose message matches `pattern`. */
async function rejects(text: string, pattern: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(parsePolicy('p', text), (err: unknown) => {
    assert.ok(isCofferError(err), 'expected a CofferError');
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, pattern);
    message = err.message;
    return true;
  });
  return message;
}

test('parses HCL with comments of every kind and several path blocks', async () => {
  const policy = await parsePolicy('dev', `
# hash comment
// slash comment
/* block
   comment */
path "secret/data/*" {
  capabilities = ["read", "list"] # trailing comment
}

path "secret/metadata/*" {
  capabilities = [
    "list",
  ]
}
`);
  assert.equal(policy.name, 'dev');
  assert.deepEqual(byPath(policy.rules), [
    { path: 'secret/data/*', capabilities: ['read', 'list'] },
    { path: 'secret/metadata/*', capabilities: ['list'] },
  ]);
});

test('keeps every block when the same path appears twice in one HCL policy', async () => {
  const policy = await parsePolicy('p', `
path "secret/*" {
  capabilities = ["read"]
}
path "secret/*" {
  capabilities = ["deny"]
}
`);
  assert.deepEqual(policy.rules.map((r) => r.capabilities), [['read'], ['deny']]);
});

test('parses the JSON form into the same rules as the HCL form', async () => {
  const hcl = await parsePolicy('p', `
path "secret/data/*" {
  capabilities = ["read", "list"]
}
path "secret/+/teamb" {
  capabilities = ["update"]
  allowed_parameters = {
    "foo" = ["bar*", 3, true]
    "*" = []
  }
  denied_parameters = {
    "admin" = []
  }
  required_parameters = ["foo"]
}
`);
  const json = await parsePolicy('p', JSON.stringify({
    path: {
      'secret/data/*': { capabilities: ['read', 'list'] },
      'secret/+/teamb': {
        capabilities: ['update'],
        allowed_parameters: { foo: ['bar*', 3, true], '*': [] },
        denied_parameters: { admin: [] },
        required_parameters: ['foo'],
      },
    },
  }));
  assert.deepEqual(byPath(json.rules), byPath(hcl.rules));
});

test('accepts JSON with a list of path objects and a leading byte-order mark', async () => {
  const policy = await parsePolicy('p', '\uFEFF{"path": [{"a": {"capabilities": ["read"]}}, {"b": [{"capabilities": ["list"]}]}]}');
  assert.deepEqual(byPath(policy.rules), [
    { path: 'a', capabilities: ['read'] },
    { path: 'b', capabilities: ['list'] },
  ]);
});

test('maps the legacy policy field to capabilities as Vault does', async () => {
  const policy = await parsePolicy('p', `
path "d" {
  policy = "deny"
}
path "r" {
  policy = "read"
}
path "w" {
  policy = "write"
}
path "s" {
  policy = "sudo"
}
path "mixed" {
  policy = "read"
  capabilities = ["patch"]
}
`);
  const caps = Object.fromEntries(policy.rules.map((r) => [r.path, r.capabilities]));
  assert.deepEqual(caps, {
    d: ['deny'],
    r: ['read', 'list'],
    w: ['create', 'read', 'update', 'delete', 'list'],
    s: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
    mixed: ['read', 'patch', 'list'],
  });
});

test('a deny among capabilities leaves only deny and drops parameter constraints', async () => {
  const policy = await parsePolicy('p', `
path "a" {
  capabilities = ["read", "deny", "update"]
  allowed_parameters = {
    "x" = []
  }
}
`);
  assert.deepEqual(policy.rules, [{ path: 'a', capabilities: ['deny'] }]);
});

test('lower-cases parameter names and merges block-form parameter maps', async () => {
  const policy = await parsePolicy('p', `
path "a" {
  capabilities = ["update"]
  allowed_parameters {
    Foo = ["x"]
  }
  denied_parameters {
    bar = []
  }
  denied_parameters {
    baz = ["1"]
  }
}
`);
  assert.deepEqual(policy.rules, [{
    path: 'a',
    capabilities: ['update'],
    allowedParameters: { foo: ['x'] },
    deniedParameters: { bar: [], baz: ['1'] },
  }]);
});

test('refuses a parameter named twice in one map, in two blocks, or in two cases, instead of keeping only the last list', async () => {
  const cases = [
    `path "a" {\n capabilities = ["update"]\n denied_parameters { token_policies = ["admin"] }\n denied_parameters { token_policies = ["ops"] }\n}`,
    `path "a" {\n capabilities = ["update"]\n denied_parameters = { policies = ["admin"], Policies = ["ops"] }\n}`,
    '{"path": {"a": {"capabilities": ["update"], "allowed_parameters": {"ttl": ["1h"], "TTL": ["2h"]}}}}',
  ];
  for (const text of cases) {
    await assert.rejects(parsePolicy('p', text), (err: Error) => /is named more than once \(names are case-insensitive\)/.test(err.message), text);
  }
});

test('keeps a "__proto__" parameter name as data, never as a prototype', async () => {
  const policy = await parsePolicy('p', '{"path": {"a": {"capabilities": ["update"], "allowed_parameters": {"__proto__": ["x"]}}}}');
  const allowed = policy.rules[0]?.allowedParameters;
  assert.ok(allowed);
  assert.ok(Object.hasOwn(allowed, '__proto__'));
  assert.equal(Object.getPrototypeOf(allowed), Object.prototype);
});

test('parses wrapping TTLs and refuses a maximum below the minimum', async () => {
  const policy = await parsePolicy('p', `
path "a" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}
`);
  assert.equal(policy.rules[0]?.minWrappingTtl, 60);
  assert.equal(policy.rules[0]?.maxWrappingTtl, 3600);
  await rejects('path "a" {\n capabilities = ["read"]\n min_wrapping_ttl = "2h"\n max_wrapping_ttl = "1h"\n}\n', /max_wrapping_ttl cannot be less than min_wrapping_ttl/);
});

test('strips one leading slash from a path, as Vault does', async () => {
  const policy = await parsePolicy('p', 'path "/secret/a" {\n capabilities = ["read"]\n}\n');
  assert.equal(policy.rules[0]?.path, 'secret/a');
});

test('canonical policy names are trimmed and lower-cased', async () => {
  assert.equal(canonicalPolicyName(' Root'), 'root');
  assert.equal(canonicalPolicyName('ROOT\n'), 'root');
  assert.equal(canonicalPolicyName('Dev-Team'), 'dev-team');
  const policy = await parsePolicy('  Dev ', 'path "a" {\n capabilities = ["read"]\n}\n');
  assert.equal(policy.name, 'dev');
});

test('rejects an unknown capability and names it', async () => {
  await rejects('path "a" {\n capabilities = ["reed"]\n}\n', /path "a": unknown capability "reed"/);
  await rejects('path "a" {\n capabilities = ["root"]\n}\n', /unknown capability "root"/);
});

test('rejects "*" anywhere but the last character of a path', async () => {
  await rejects('path "secret/*/foo" {\n capabilities = ["read"]\n}\n', /"\*" is only allowed as the last character/);
  await rejects('path "*secret" {\n capabilities = ["read"]\n}\n', /"\*" is only allowed as the last character/);
  await rejects('path "a/+*" {\n capabilities = ["read"]\n}\n', /"\+\*" is forbidden/);
});

test('rejects an empty path', async () => {
  await rejects('path "" {\n capabilities = ["read"]\n}\n', /path must not be empty/);
  await rejects('path "/" {\n capabilities = ["read"]\n}\n', /path must not be empty/);
});

test('rejects a policy with no path rules', async () => {
  await rejects('', /no path rules/);
  await rejects('# only a comment\n', /no path rules/);
  await rejects('name = "x"\n', /no path rules/);
  await rejects('{}', /no path rules/);
});

test('rejects text over 1 MiB without echoing it', async () => {
  const canary = 'CANARY-over-limit';
  const text = `path "${canary}" {\n capabilities = ["read"]\n}\n`.padEnd(1024 * 1024 + 1, ' ');
  const message = await rejects(text, /too large/);
  assert.ok(!message.includes(canary));
});

test('rejects unparsable HCL with a position and without echoing the input', async () => {
  const canary = 'CANARY-unparsable';
  const message = await rejects(`path "a" {\n capabilities = ["read"]\n ${canary} ${'x'.repeat(5000)}\n`, /failed to parse policy: line \d+, column \d+/);
  assert.ok(!message.includes(canary));
  assert.ok(message.length < 300);
});

test('rejects invalid JSON without echoing the input', async () => {
  const canary = 'CANARY-json';
  const message = await rejects(`{"path": {"${canary}": nope}}`, /invalid JSON/);
  assert.ok(!message.includes(canary));
});

test('rejects duplicate JSON keys instead of letting the last one win', async () => {
  await rejects('{"path": {"secret/*": {"capabilities": ["deny"]}, "secret/*": {"capabilities": ["read"]}}}', /duplicate JSON key "secret\/\*"/);
  await rejects('{"path": {"a": {"capabilities": ["read"], "capabilities": ["list"]}}}', /duplicate JSON key "capabilities"/);
});

test('rejects unknown keys, unsupported enterprise keys and templated paths', async () => {
  await rejects('path "a" {\n capabilities = ["read"]\n colour = "blue"\n}\n', /unknown key "colour"/);
  await rejects('paths "a" {\n capabilities = ["read"]\n}\n', /unknown top-level key "paths"/);
  await rejects('path "a" {\n capabilities = ["read"]\n mfa_methods = ["m"]\n}\n', /"mfa_methods" is not supported/);
  await rejects('path "secret/{{identity.entity.id}}/*" {\n capabilities = ["read"]\n}\n', /templated policy paths/);
});

test('rejects HCL expressions that are not plain literals', async () => {
  await rejects('path "a" {\n capabilities = [read]\n}\n', /template sequences/);
  await rejects('path "a" {\n capabilities = concat(["read"], ["list"])\n}\n', /template sequences/);
  await rejects('path "a" {\n capabilities = "read"\n}\n', /capabilities must be a list/);
  await rejects('path "a" {\n policy = "admin"\n}\n', /invalid policy "admin"/);
});

test('rejects malformed parameter constraints', async () => {
  await rejects('path "a" {\n capabilities = ["update"]\n allowed_parameters = {\n "fo*" = []\n }\n}\n', /may only be "\*"/);
  await rejects('path "a" {\n capabilities = ["update"]\n allowed_parameters = {\n "foo" = "bar"\n }\n}\n', /must be a list of values/);
  await rejects('path "a" {\n capabilities = ["update"]\n denied_parameters = {\n "foo" = [{ x = 1 }]\n }\n}\n', /must be strings, numbers or booleans/);
  await rejects('path "a" {\n capabilities = ["update"]\n required_parameters = ["*"]\n}\n', /must not contain a wildcard/);
  await rejects('{"path": {"a": {"capabilities": ["update"], "allowed_parameters": {"x": [null]}}}}', /must be strings, numbers or booleans/);
});

test('rejects a policy that is not a string', async () => {
  await assert.rejects(parsePolicy('p', 42 as unknown as string), /must be a string/);
});
