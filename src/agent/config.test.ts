import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AgentConfigError, loadAgentConfig, parseAgentConfig, parseDurationMs } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minimal = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  address: 'http://127.0.0.1:8200',
  auto_auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id' },
  templates: [{ contents: 'x={{ secret "secret/data/app" "x" }}', destination: 'out/app.env' }],
  ...over,
});
const parse = (raw: unknown) => parseAgentConfig(raw, { baseDir: '/etc/coffer', env: {} });
const rejects = (raw: unknown, pattern: RegExp): void => {
  assert.throws(() => parse(raw), (err: Error) => err instanceof AgentConfigError && pattern.test(err.message), String(pattern));
};

test('applies the defaults and resolves relative paths against the configuration directory', () => {
  const config = parse(minimal());
  assert.equal(config.autoAuth.roleIdFile, '/etc/coffer/role-id');
  assert.equal(config.autoAuth.removeSecretIdFileAfterReading, true);
  const [t] = config.templates;
  assert.equal(t?.destination, '/etc/coffer/out/app.env');
  assert.equal(t?.mode, 0o600);
  assert.deepEqual(t?.reload, { kind: 'none' });
  assert.equal(t?.consumer, undefined);
  assert.deepEqual(t?.template.paths, ['secret/data/app']);
  assert.deepEqual(config.retry, { initialBackoffMs: 1000, maxBackoffMs: 300_000 });
  assert.equal(config.renderIntervalMs, 300_000);
  assert.equal(config.revokeOnExit, false);
  assert.equal(config.sink, undefined);
  assert.match(config.consumerName, /^coffer-agent@/);
});

test('reads every documented field', () => {
  const config = parse(minimal({
    sink: { path: '/dev/shm/token', mode: '0640' },
    templates: [
      { contents: 'a', destination: '/dev/shm/a', perms: '0640', command: ['sh', '-c', 'true'], command_timeout: '5s', consumer: true },
      { contents: 'b', destination: '/dev/shm/b', signal: { pid_file: 'app.pid', signal: 'SIGUSR1' }, consumer: false },
    ],
    retry: { initial_backoff: '250ms', max_backoff: '10s' },
    render_interval: '1m',
    revoke_on_exit: true,
    consumer_name: 'web-1',
    consumer_ttl: '2m',
    log_level: 'debug',
  }));
  assert.deepEqual(config.sink, { path: '/dev/shm/token', mode: 0o640 });
  assert.deepEqual(config.templates[0]?.reload, { kind: 'command', argv: ['sh', '-c', 'true'], timeoutMs: 5000 });
  assert.equal(config.templates[0]?.mode, 0o640);
  assert.equal(config.templates[0]?.consumer, true);
  assert.deepEqual(config.templates[1]?.reload, { kind: 'signal', pidFile: '/etc/coffer/app.pid', signal: 'SIGUSR1' });
  assert.equal(config.templates[1]?.consumer, false);
  assert.deepEqual(config.retry, { initialBackoffMs: 250, maxBackoffMs: 10_000 });
  assert.equal(config.renderIntervalMs, 60_000);
  assert.equal(config.revokeOnExit, true);
  assert.equal(config.consumerName, 'web-1');
  assert.equal(config.consumerTtl, 120);
  assert.equal(config.logLevel, 'debug');
});

test('each auth method requires its own fields and refuses the others', () => {
  assert.equal(parse(minimal({ auto_auth: { method: 'jwt', jwt_file: '/var/run/jwt', role: 'ci' } })).autoAuth.jwtFile, '/var/run/jwt');
  assert.equal(parse(minimal({ auto_auth: { method: 'kubernetes', role: 'web' } })).autoAuth.jwtFile, undefined);
  assert.equal(parse(minimal({ auto_auth: { method: 'token_file', token_file: 't' } })).autoAuth.tokenFile, '/etc/coffer/t');
  rejects(minimal({ auto_auth: { method: 'approle', role_id_file: 'r' } }), /^auto_auth\.secret_id_file: is required for method "approle"/);
  rejects(minimal({ auto_auth: { method: 'jwt' } }), /^auto_auth\.jwt_file: is required/);
  rejects(minimal({ auto_auth: { method: 'kubernetes' } }), /^auto_auth\.role: is required/);
  rejects(minimal({ auto_auth: { method: 'token_file', token_file: 't', role: 'x' } }), /^auto_auth\.role: does not apply to method "token_file"/);
  rejects(minimal({ auto_auth: { method: 'ldap' } }), /^auto_auth\.method: must be one of approle, jwt, kubernetes, token_file/);
  rejects(minimal({ auto_auth: undefined }), /^auto_auth: is required/);
});

test('names the field of every mistake, including unknown fields', () => {
  rejects(minimal({ adress: 'x' }), /^adress: unknown field/);
  rejects(minimal({ templates: [{ contents: 'a', destinaton: '/x' }] }), /^templates\[0\]\.destinaton: unknown field/);
  rejects(minimal({ templates: [{ contents: 'a' }] }), /^templates\[0\]\.destination: is required/);
  rejects(minimal({ templates: [{ destination: '/x' }] }), /^templates\[0\]: give exactly one of source .* or contents/);
  rejects(minimal({ templates: [{ contents: 'a', source: 'f', destination: '/x' }] }), /^templates\[0\]: give exactly one/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', perms: 600 }] }), /^templates\[0\]\.perms: must be an octal mode as a string/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', perms: '0999' }] }), /^templates\[0\]\.perms/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', command: 'kill -HUP 1' }] }), /^templates\[0\]\.command: must be a non-empty array of strings/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', command: ['true'], signal: { pid_file: 'p' } }] }), /^templates\[0\]: give command or signal, not both/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', signal: { pid_file: 'p', signal: 'SIGNOPE' } }] }), /^templates\[0\]\.signal\.signal: must be a signal name/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x', command_timeout: '1s' }] }), /^templates\[0\]\.command_timeout: applies only with command/);
  rejects(minimal({ templates: [{ contents: '{{ bogus }}', destination: '/x' }] }), /^templates\[0\]\.contents: line 1, column 4: unknown function/);
  rejects(minimal({ templates: [{ contents: 'a', destination: '/x' }, { contents: 'b', destination: '/x' }] }), /^templates\[1\]\.destination: is the same file as templates\[0\]\.destination/);
  rejects(minimal({ sink: { path: '/x' }, templates: [{ contents: 'a', destination: '/x' }] }), /^templates\[0\]\.destination: is the same file as sink\.path/);
  rejects(minimal({ templates: [] }), /^templates: the agent has nothing to do/);
  rejects(minimal({ retry: { initial_backoff: '10s', max_backoff: '1s' } }), /^retry\.max_backoff: must not be shorter/);
  rejects(minimal({ retry: { initial_backoff: 'soon' } }), /^retry\.initial_backoff: must be a duration/);
  rejects(minimal({ address: 'ftp://x' }), /^address: must be an http/);
  rejects(minimal({ address: undefined }), /^address: is required/);
  rejects(minimal({ log_level: 'loud' }), /^log_level: must be debug, info, warn or error/);
  rejects([], /must be an object/);
});

test('takes the address from COFFER_ADDR when the file has none', () => {
  const config = parseAgentConfig(minimal({ address: undefined }), { baseDir: '/', env: { COFFER_ADDR: 'https://coffer.example:8200' } });
  assert.equal(config.address, 'https://coffer.example:8200');
});

test('parses durations with millisecond precision', () => {
  assert.equal(parseDurationMs('250ms', 'f'), 250);
  assert.equal(parseDurationMs('1m30s', 'f'), 90_000);
  assert.equal(parseDurationMs('2', 'f'), 2000);
  assert.equal(parseDurationMs(0.5, 'f'), 500);
  assert.throws(() => parseDurationMs('1d', 'f'), /f: must be a duration/);
});

test('loads a file: template sources relative to it, JSON errors without content', () => {
  writeFileSync(join(dir, 'app.tpl'), 'pw={{ secret "secret/data/app" "pw" }}\n');
  writeFileSync(join(dir, 'agent.json'), JSON.stringify(minimal({ templates: [{ source: 'app.tpl', destination: 'app.env' }] })));
  const config = loadAgentConfig(join(dir, 'agent.json'), { env: {} });
  assert.equal(config.templates[0]?.destination, join(dir, 'app.env'));
  assert.deepEqual(config.templates[0]?.template.paths, ['secret/data/app']);

  writeFileSync(join(dir, 'bad.json'), '{"address": "s3cr3t-value-here" ,, }');
  assert.throws(() => loadAgentConfig(join(dir, 'bad.json')), (err: Error) => /is not valid JSON/.test(err.message) && !err.message.includes('s3cr3t'));
  assert.throws(() => loadAgentConfig(join(dir, 'missing.json')), /cannot read the configuration file .*: ENOENT/);
  writeFileSync(join(dir, 'nosrc.json'), JSON.stringify(minimal({ templates: [{ source: 'nope.tpl', destination: 'a' }] })));
  assert.throws(() => loadAgentConfig(join(dir, 'nosrc.json'), { env: {} }), /^AgentConfigError: templates\[0\]\.source: cannot read .*nope\.tpl: ENOENT/);
});
