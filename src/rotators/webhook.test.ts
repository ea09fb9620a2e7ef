import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isCofferError } from '../core/errors.js';
import { checkWebhookUrl, isLoopbackHost } from './url-policy.js';
import { createWebhookCaller, stepBody, WebhookError, type StepRequest } from './webhook.js';

const NO_HOSTS = { allowedHosts: [] as string[] };

describe('webhook URL policy', () => {
  it('allows loopback addresses in every spelling the URL parser normalises', () => {
    for (const url of ['http://127.0.0.1:8080/rotate', 'http://localhost/x', 'http://[::1]:9/x', 'http://127.1/x', 'http://2130706433/x', 'https://0x7f.0.0.1/x']) {
      assert.doesNotThrow(() => checkWebhookUrl(url, NO_HOSTS), url);
    }
    assert.equal(isLoopbackHost('[::ffff:127.0.0.1]'), true);
    assert.equal(isLoopbackHost('128.0.0.1'), false);
  });

  it('refuses other hosts unless the server configuration lists them, by exact name', () => {
    const refused = (url: string, hosts: string[] = []): void =>
      assert.throws(() => checkWebhookUrl(url, { allowedHosts: hosts }), (e: unknown) => isCofferError(e) && e.code === 'bad_request', url);
    refused('http://169.254.169.254/latest/meta-data');
    refused('http://10.0.0.5/rotate');
    refused('http://rotator.internal.example/rotate');
    refused('http://evil-rotator.example/rotate', ['rotator.example']);
    refused('http://rotator.example.evil.test/rotate', ['rotator.example']);
    assert.doesNotThrow(() => checkWebhookUrl('https://Rotator.Example/rotate', { allowedHosts: ['rotator.example'] }));
  });

  it('refuses other schemes, credentials in the URL and fragments', () => {
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'http://user:pw@127.0.0.1/x', 'http://127.0.0.1/x#frag', 'not a url', '']) {
      assert.throws(() => checkWebhookUrl(url, NO_HOSTS), (e: unknown) => isCofferError(e) && e.code === 'bad_request', url);
    }
  });
});

describe('webhook caller', () => {
  let server: Server;
  let base = '';
  let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void = (_req, _body, res) => res.end();
  const seen: Array<{ body: string; signature: string | undefined }> = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ body, signature: req.headers['x-coffer-signature'] as string | undefined });
        handle(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const SENT_AT = Date.UTC(2026, 10, 27, 12, 0, 0);
  const caller = createWebhookCaller({ policy: () => NO_HOSTS, now: () => SENT_AT });
  const request = (step: StepRequest['step']): StepRequest => ({
    step,
    secretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf',
    secretName: 'app',
    clientRequestToken: '11111111-2222-4333-8444-555555555555',
    currentValue: { kind: 'string', text: 'key-A' },
  });
  const rejects = async (promise: Promise<unknown>, message: RegExp): Promise<void> => {
    await assert.rejects(promise, (e: unknown) => {
      assert.ok(e instanceof WebhookError, String(e));
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /key-A|key-B|s3cret/, 'no value or body in the error');
      return true;
    });
  };

  it('signs the exact body with HMAC-SHA256 and returns the new value of createSecret', async () => {
    handle = (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"SecretString":"key-B"}');
    const value = await caller.call({ url: `${base}/rotate`, hmacKey: 's3cret', timeoutMs: 2000 }, request('createSecret'));
    assert.deepEqual(value, { kind: 'string', text: 'key-B' });
    const last = seen.at(-1) as { body: string; signature: string };
    assert.equal(last.body, stepBody(request('createSecret'), SENT_AT));
    assert.equal(last.signature, `sha256=${createHmac('sha256', 's3cret').update(last.body).digest('hex')}`);
    assert.deepEqual(JSON.parse(last.body), {
      Step: 'createSecret',
      SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf',
      SecretName: 'app',
      ClientRequestToken: '11111111-2222-4333-8444-555555555555',
      SentAt: '2026-11-27T12:00:00.000Z',
      CurrentValue: { SecretString: 'key-A' },
    });
  });

  it('stamps every attempt with its own SentAt inside the signed body, so a recorded request goes stale', async () => {
    handle = (_req, _body, res) => res.writeHead(204).end();
    let clock = SENT_AT;
    const ticking = createWebhookCaller({ policy: () => NO_HOSTS, now: () => clock });
    const target = { url: `${base}/rotate`, hmacKey: 's3cret', timeoutMs: 2000 };
    await ticking.call(target, request('finishSecret'));
    const first = seen.at(-1) as { body: string; signature: string };
    clock += 90_000;
    await ticking.call(target, request('finishSecret'));
    const second = seen.at(-1) as { body: string; signature: string };
    assert.equal(JSON.parse(first.body).SentAt, '2026-11-27T12:00:00.000Z');
    assert.equal(JSON.parse(second.body).SentAt, '2026-11-27T12:01:30.000Z');
    assert.notEqual(first.signature, second.signature, 'the time is under the signature');
    assert.equal(second.signature, `sha256=${createHmac('sha256', 's3cret').update(second.body).digest('hex')}`);
  });

  it('sends no signature header without an hmac key, and accepts any 2xx for the other steps', async () => {
    handle = (_req, _body, res) => res.writeHead(204).end();
    assert.equal(await caller.call({ url: `${base}/rotate`, hmacKey: undefined, timeoutMs: 2000 }, request('testSecret')), undefined);
    assert.equal(seen.at(-1)?.signature, undefined);
  });

  it('fails a step on a non-2xx answer without echoing the body', async () => {
    handle = (_req, _body, res) => res.writeHead(500).end('key-A is broken, s3cret');
    await rejects(caller.call({ url: `${base}/rotate`, hmacKey: 's3cret', timeoutMs: 2000 }, request('setSecret')), /setSecret: the rotator answered HTTP 500/);
  });

  it('does not follow redirects', async () => {
    handle = (_req, _body, res) => res.writeHead(307, { location: 'http://169.254.169.254/' }).end();
    await rejects(caller.call({ url: `${base}/rotate`, hmacKey: undefined, timeoutMs: 2000 }, request('testSecret')), /redirect/);
  });

  it('refuses a createSecret answer without exactly one value field', async () => {
    handle = (_req, _body, res) => res.writeHead(200).end('{"SecretString":"key-B","SecretBinary":"AAAA"}');
    await rejects(caller.call({ url: `${base}/rotate`, hmacKey: undefined, timeoutMs: 2000 }, request('createSecret')), /exactly one/);
    handle = (_req, _body, res) => res.writeHead(200).end('key-B');
    await rejects(caller.call({ url: `${base}/rotate`, hmacKey: undefined, timeoutMs: 2000 }, request('createSecret')), /not JSON/);
  });

  it('gives up after the rotator timeout', async () => {
    handle = () => undefined; // never answers
    await rejects(caller.call({ url: `${base}/rotate`, hmacKey: undefined, timeoutMs: 150 }, request('testSecret')), /did not answer within/);
  });

  it('checks the URL policy again at call time', async () => {
    await rejects(caller.call({ url: 'http://10.1.2.3/rotate', hmacKey: undefined, timeoutMs: 2000 }, request('testSecret')), /no longer allowed/);
  });
});
