import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTemplate, renderTemplate, TemplateRenderError, TemplateSyntaxError } from './template.js';

const secrets: Record<string, Record<string, unknown>> = {
  'secret/data/app': { password: 'kv-pass', port: 5432, tls: true, extra: { a: 1 }, empty: null },
  'database/creds/ro': { username: 'v-ro-1', password: 'dyn-pass' },
};
const render = (source: string, env: Record<string, string> = {}): string =>
  renderTemplate(parseTemplate(source), {
    secret: (path) => {
      const s = secrets[path];
      if (!s) throw new Error(`no secret at ${path}`);
      return s;
    },
    env: (name) => env[name],
  });

test('renders secret fields, env values and literal text', () => {
  const out = render('user={{ secret "database/creds/ro" "username" }}\npass={{secret "database/creds/ro" "password"}}\nhost={{ env "HOST" }}\n', { HOST: 'db1' });
  assert.equal(out, 'user=v-ro-1\npass=dyn-pass\nhost=db1\n');
});

test('lists each secret path once, in first-use order, normalised', () => {
  const t = parseTemplate('{{ secret "/v1/secret/data/app/" "password" }} {{ secret "database/creds/ro" "username" }} {{ secret "secret/data/app" "port" }}');
  assert.deepEqual(t.paths, ['secret/data/app', 'database/creds/ro']);
});

test('stringifies numbers and booleans, JSON-encodes objects, renders null as empty', () => {
  assert.equal(render('{{ secret "secret/data/app" "port" }}|{{ secret "secret/data/app" "tls" }}|{{ secret "secret/data/app" "extra" }}|{{ secret "secret/data/app" "empty" }}'), '5432|true|{"a":1}|');
});

test('an unset environment variable renders as empty', () => {
  assert.equal(render('[{{ env "NOPE" }}]'), '[]');
});

test('quoted strings output literal braces, comments output nothing, and trim markers eat whitespace', () => {
  assert.equal(render('a {{ "{{" }} b {{ "}}" }}'), 'a {{ b }}');
  assert.equal(render('x{{/* note with "quotes" and }} inside */}}y'), 'xy');
  assert.equal(render('a   \n  {{- secret "secret/data/app" "password" -}}  \n  b'), 'akv-passb');
  assert.equal(render('a \n{{- /* c */ -}}\n b'), 'ab', 'a comment may carry trim markers');
});

test('escapes inside quoted arguments', () => {
  assert.equal(render('{{ "say \\"hi\\" \\\\ bye" }}'), 'say "hi" \\ bye');
});

test('a missing field is a render error naming the path and field, not a value', () => {
  assert.throws(() => render('{{ secret "secret/data/app" "nope" }}'), (err: Error) => {
    assert.ok(err instanceof TemplateRenderError);
    assert.match(err.message, /field "nope" is not in the secret at secret\/data\/app/);
    assert.ok(!err.message.includes('kv-pass'));
    return true;
  });
});

test('rejects unknown functions without echoing the word', () => {
  assert.throws(() => parseTemplate('line one\n  {{ hunter2secret "a" }}'), (err: Error) => {
    assert.ok(err instanceof TemplateSyntaxError);
    assert.match(err.message, /line 2, column 6: unknown function; the functions are secret and env/);
    assert.ok(!err.message.includes('hunter2'));
    return true;
  });
});

test('rejects malformed actions with a line and column', () => {
  const cases: Array<[string, RegExp]> = [
    ['{{ secret "a/b" }}', /secret takes 2 quoted arguments/],
    ['{{ secret a/b "f" }}', /secret takes 2 quoted arguments/],
    ['{{ secret "../etc" "f" }}', /secret needs an API path/],
    ['{{ secret "a/b" "" }}', /secret needs a field name/],
    ['{{ env "1X" }}', /env needs a variable name/],
    ['x {{ secret "a/b" "f"', /line 1, column 3: "\{\{" without a closing "\}\}"/],
    ['{{ "open }}', /"\{\{" without a closing "\}\}"|not closed/],
    ['{{ }}', /empty action/],
    ['{{ "a" "b" }}', /stands alone/],
    ['{{/* never closed }}', /comment is not closed/],
    ['{{ "bad \\n escape" }}', /only \\" and \\\\ may be escaped/],
  ];
  for (const [source, pattern] of cases) assert.throws(() => parseTemplate(source), pattern, source);
});

test('a }} outside an action is plain text, so JSON and YAML with nested objects render', () => {
  assert.equal(render('x }} y'), 'x }} y');
  assert.equal(render('{"db": {"password": "{{ secret "secret/data/app" "password" }}", "port": {{ secret "secret/data/app" "port" }}}}\n'), '{"db": {"password": "kv-pass", "port": 5432}}\n');
  assert.equal(render('{"a": {"b": {}}}'), '{"a": {"b": {}}}');
  assert.equal(render('db: {user: {{ secret "database/creds/ro" "username" }}}}} }}'), 'db: {user: v-ro-1}}} }}');
});

test('text without actions renders unchanged, including an empty template', () => {
  assert.equal(render(''), '');
  assert.equal(render('plain { text } here\n'), 'plain { text } here\n');
});
