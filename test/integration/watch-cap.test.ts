/**
 * The cap on watches one token holds open at once (config `max_watches_per_token`, here 2):
 * over it, sys/watch and sys/watch/poll answer 429 with a Vault error body; a stream that closes
 * and a long poll that is answered or abandoned free their slot; another token is not affected.
 * The SDK and the agent, refused, back off and retry on the event stream, and follow changes
 * once a slot frees.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/core/logger.js';
import { Coffer, CofferRateLimitedError, type WatchEvent } from '../../src/sdk/index.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, pause, read, waitFor } from '../helpers/polling.js';

const CAP = 2;
const CAP_MESSAGE = `too many open watches for this token: at most ${CAP} event streams and long polls at once; close one, or retry later`;

interface OpenStream {
  /** The status of the answer. */
  status: Promise<number>;
  /** Ends the stream from the client's side. */
  close(): void;
}

/**
 * One watch request that is not kept open: its status and JSON body, or, when the server opened
 * a stream after all (no cap), status 200 and the stream closed at once.
 */
async function watchOnce(server: TestServer, token: string, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}/v1/${path}`, { headers: { 'X-Vault-Token': token }, signal: AbortSignal.timeout(20_000) });
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, body: undefined };
  }
  return { status: response.status, body: await response.json() };
}

/** Opens sys/watch with node:http and keeps it open until `close()`. */
function openStream(server: TestServer, token: string): OpenStream {
  let request: http.ClientRequest | undefined;
  const status = new Promise<number>((resolve, reject) => {
    request = http.get(new URL(`${server.url}/v1/sys/watch?prefix=secret/`), { headers: { 'X-Vault-Token': token } }, (response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      response.on('error', () => undefined);
    });
    request.on('error', reject);
  });
  status.catch(() => undefined);
  return { status, close: () => request?.destroy() };
}

describe('a cap on the watches one token holds open', { timeout: 60_000 }, () => {
  let server: TestServer;
  let root: string;
  const opened: OpenStream[] = [];
  const stream = (token: string): OpenStream => {
    const s = openStream(server, token);
    opened.push(s);
    return s;
  };
  const newToken = async (): Promise<string> => (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app'] } })).body.auth.client_token as string;
  const write = async (path: string, value: string): Promise<void> => {
    assert.equal((await api(server, 'POST', `secret/data/app/${path}`, { token: root, body: { data: { value } } })).status, 200);
  };
  /** Whether the token could open a watch now: a long poll that does not wait, answered at once. */
  const pollStatus = async (token: string): Promise<number> => (await watchOnce(server, token, 'sys/watch/poll?wait=0s')).status;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', maxWatchesPerToken: CAP });
    root = server.rootToken as string;
    await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
  });
  after(async () => {
    for (const s of opened) s.close();
    await server.destroy();
  });

  it('refuses one more stream or long poll of the token with 429 and a Vault error body, and not another token', async () => {
    const token = await newToken();
    const other = await newToken();
    assert.equal(await stream(token).status, 200);
    assert.equal(await stream(token).status, 200);

    const refused = await watchOnce(server, token, 'sys/watch?prefix=secret/');
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, { errors: [CAP_MESSAGE] });
    const poll = await watchOnce(server, token, 'sys/watch/poll?wait=5s');
    assert.equal(poll.status, 429);
    assert.deepEqual(poll.body, { errors: [CAP_MESSAGE] });
    assert.ok(!JSON.stringify(refused.body).includes(token), 'the token is not echoed');

    assert.equal(await stream(other).status, 200, 'another token has slots of its own');
  });

  it('frees the slot of a stream the client closes', async () => {
    const token = await newToken();
    const first = stream(token);
    assert.equal(await first.status, 200);
    assert.equal(await stream(token).status, 200);
    assert.equal(await pollStatus(token), 429);

    first.close();
    await eventually(async () => (await pollStatus(token)) === 200, 10_000, 'the closed stream to free its slot');
    assert.equal(await stream(token).status, 200);
    assert.equal(await pollStatus(token), 429, 'full again');
  });

  it('holds a slot for a waiting long poll, and frees it when the poll is answered or abandoned', async () => {
    const token = await newToken();
    assert.equal(await stream(token).status, 200);
    const answered = api(server, 'GET', 'sys/watch/poll?prefix=secret/data/app/&wait=30s', { token });
    await eventually(async () => (await pollStatus(token)) === 429, 10_000, 'the long poll to hold the second slot');

    await write('polled', 'v1');
    const result = await answered;
    assert.equal(result.status, 200);
    assert.equal(result.body.data.events[0]?.path, 'secret/data/app/polled');
    assert.equal(await pollStatus(token), 200, 'the answered poll freed its slot');

    const gone = new AbortController();
    const abandoned = fetch(`${server.url}/v1/sys/watch/poll?wait=30s`, { headers: { 'X-Vault-Token': token }, signal: gone.signal }).catch(() => undefined);
    await eventually(async () => (await pollStatus(token)) === 429, 10_000, 'the second long poll to hold the slot');
    gone.abort();
    await abandoned;
    await eventually(async () => (await pollStatus(token)) === 200, 10_000, 'the abandoned poll to free its slot');
  });

  it('the SDK, refused, backs off and retries on the event stream, then receives events once a slot frees', async () => {
    const token = await newToken();
    const held = [stream(token), stream(token)];
    for (const s of held) assert.equal(await s.status, 200);
    const client = new Coffer({ address: server.url, token, retry: { initialBackoffMs: 20, maxBackoffMs: 100 }, onError: () => undefined });
    try {
      const errors: unknown[] = [];
      const events: WatchEvent[] = [];
      const subscription = client.watch('secret/data/app/', (event) => void events.push(event), { onError: (err) => void errors.push(err) });
      // Past the three failures after which a stream that does not work gives way to long polls.
      await waitFor(() => errors.length >= 5, 10_000, 'refused reconnects');
      assert.ok(errors.every((err) => err instanceof CofferRateLimitedError && err.status === 429), String(errors[0]));
      assert.match(String((errors[0] as Error).message), /too many open watches for this token/);
      assert.equal(subscription.mode, 'sse', 'a 429 is no reason to give up the event stream');

      held[0]?.close();
      await subscription.ready;
      assert.equal(subscription.mode, 'sse');
      await pause(100); // let the stream's opening comment through before the write
      await write('sdk', 'v1');
      await waitFor(() => events.some((e) => e.path === 'secret/data/app/sdk'), 10_000, 'the event over the stream');
    } finally {
      await client.close();
    }
  });

  it('the agent, refused, warns once, renders meanwhile, and follows changes once the stream opens', async () => {
    const token = await newToken();
    const held = [stream(token), stream(token)];
    for (const s of held) assert.equal(await s.status, 200);
    await write('agent', 'one');
    const dir = mkdtempSync(join(tmpdir(), 'coffer-watch-cap-agent-'));
    const logs: string[] = [];
    const messages = (): string[] => logs.map((l) => (JSON.parse(l) as { message: string }).message);
    const refusedWarning = (m: string): boolean => m.startsWith('Coffer refuses another change event stream (too many open watches');
    let agent: Agent | undefined;
    try {
      writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
      const file = join(dir, 'app.env');
      agent = await startAgent(
        {
          address: server.url,
          auto_auth: { method: 'token_file', token_file: join(dir, 'token') },
          templates: [{ contents: 'VALUE={{ secret "secret/data/app/agent" "value" }}\n', destination: file }],
          retry: { initial_backoff: '20ms', max_backoff: '100ms' },
          // Long: once the stream is open, only a change event can render the next value in time.
          render_interval: '1h',
        },
        { logger: createLogger({ level: 'debug', write: (line) => void logs.push(line) }) },
      );
      await agent.ready;
      assert.equal(read(file), 'VALUE=one\n', 'rendered without the stream');
      await waitFor(() => messages().some(refusedWarning), 10_000, 'the warning about the refused stream');
      await pause(500); // several backed-off retries, all refused
      assert.equal(messages().filter(refusedWarning).length, 1, 'warned once, not at every retry');
      assert.equal(logs.filter((l) => l.includes('"level":"warn"')).length, 1, 'no other warning');

      held[0]?.close();
      await waitFor(() => messages().includes('change event stream open again'), 10_000, 'the stream to open');
      await write('agent', 'two');
      await waitFor(() => read(file) === 'VALUE=two\n', 10_000, 'the change rendered through the stream');
      assert.ok(!logs.some((l) => l.includes(token)), 'the token is never logged');
    } finally {
      await agent?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a cap on the watches the whole server holds open', { timeout: 60_000 }, () => {
  let server: TestServer;
  let root: string;
  const opened: OpenStream[] = [];
  const SERVER_CAP_MESSAGE = 'too many open watches on this server: at most 2 at once (max_watches); retry later';

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', maxWatchesPerToken: 5, maxWatches: 2 });
    root = server.rootToken as string;
  });
  after(async () => {
    for (const s of opened) s.close();
    await server.destroy();
  });

  it('refuses any token once the server holds max_watches, with 429, until one closes', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'] } })).body.auth.client_token as string);
    const first = openStream(server, tokens[0] as string);
    const second = openStream(server, tokens[1] as string);
    opened.push(first, second);
    assert.equal(await first.status, 200);
    assert.equal(await second.status, 200);

    for (const token of [tokens[2] as string, tokens[0] as string]) {
      const refused = await watchOnce(server, token, 'sys/watch/poll?wait=0s');
      assert.equal(refused.status, 429);
      assert.deepEqual(refused.body, { errors: [SERVER_CAP_MESSAGE] }, 'refused even below its own cap');
    }

    first.close();
    await eventually(async () => (await watchOnce(server, tokens[2] as string, 'sys/watch/poll?wait=0s')).status === 200, 10_000, 'the closed stream to free a slot');
  });
});
