import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  CofferBadRequestError,
  CofferConfigError,
  CofferConnectionError,
  CofferNotFoundError,
  CofferPermissionDeniedError,
  CofferRedirectError,
  CofferResponseError,
  CofferSealedError,
  CofferServerError,
} from './errors.js';
import { nodeHttpFetch } from './node-http.js';
import { createTransport, type FetchLike, type HttpResponseLike } from './transport.js';

const TOKEN = 'hvs.the-client-token-0123456789';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function fakeFetch(status: number, body: unknown, sent: Sent[] = []): FetchLike {
  return async (url, init) => {
    sent.push({ url, method: init.method, headers: init.headers, body: init.body });
    const text = body === undefined ? '' : JSON.stringify(body);
    const response: HttpResponseLike = { status, headers: { get: () => 'application/json' }, text: async () => text, body: null };
    return response;
  };
}

describe('SDK transport', () => {
  it('sends the token only in X-Vault-Token, and LIST as GET ?list=true', async () => {
    const sent: Sent[] = [];
    const transport = createTransport({ address: 'http://127.0.0.1:8200/', token: () => TOKEN, fetch: fakeFetch(200, { data: { keys: ['a'] } }, sent), namespace: 'team-a/' });
    const res = await transport.request('LIST', '/secret/metadata/app/', { query: { after: 3 } });
    assert.deepEqual(res, { status: 200, body: { data: { keys: ['a'] } } });
    assert.equal(sent[0]?.url, 'http://127.0.0.1:8200/v1/secret/metadata/app/?after=3&list=true');
    assert.equal(sent[0]?.method, 'GET');
    assert.equal(sent[0]?.headers['X-Vault-Token'], TOKEN);
    assert.equal(sent[0]?.headers['X-Vault-Request'], 'true');
    assert.equal(sent[0]?.headers['X-Vault-Namespace'], 'team-a/');
    await transport.request('POST', 'auth/approle/login', { token: null, body: { role_id: 'r' } });
    assert.equal(sent[1]?.headers['X-Vault-Token'], undefined, 'a login sends no token');
    assert.equal(sent[1]?.headers['Content-Type'], 'application/json');
  });

  it('maps statuses to typed errors carrying the status and the server messages', async () => {
    const cases: Array<[number, new (...args: never[]) => Error]> = [
      [400, CofferBadRequestError],
      [403, CofferPermissionDeniedError],
      [404, CofferNotFoundError],
      [503, CofferSealedError],
      [502, CofferServerError],
    ];
    for (const [status, Class] of cases) {
      const transport = createTransport({ address: 'http://127.0.0.1:8200', token: () => TOKEN, fetch: fakeFetch(status, { errors: ['first', 'second'] }) });
      await assert.rejects(transport.request('GET', 'secret/data/app', { query: { version: 2 } }), (err: unknown) => {
        assert.ok(err instanceof Class, `${status} gives ${Class.name}`);
        const e = err as CofferBadRequestError;
        assert.equal(e.status, status);
        assert.deepEqual(e.errors, ['first', 'second']);
        assert.equal(e.path, 'secret/data/app');
        assert.equal(e.message, `GET secret/data/app: first; second (HTTP ${status})`);
        return true;
      });
    }
  });

  it('scrubs every registered credential from error messages, even if the server echoes one', async () => {
    const transport = createTransport({ address: 'http://127.0.0.1:8200', token: () => TOKEN, fetch: fakeFetch(400, { errors: [`bad token ${TOKEN} or secret id s3cret-id-value`] }) });
    transport.redactor.add(TOKEN);
    transport.redactor.add('s3cret-id-value');
    await assert.rejects(transport.request('POST', 'auth/approle/login'), (err: Error) => {
      assert.ok(!err.message.includes(TOKEN) && !err.message.includes('s3cret-id-value'), err.message);
      assert.match(err.message, /bad token <redacted> or secret id <redacted>/);
      assert.ok(!(err as CofferBadRequestError).errors.join().includes(TOKEN));
      return true;
    });
  });

  it('reports an unreachable server with its code, and refuses addresses with credentials', async () => {
    const refused: FetchLike = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    };
    const transport = createTransport({ address: 'http://127.0.0.1:1', token: () => TOKEN, fetch: refused });
    await assert.rejects(transport.request('GET', 'sys/health'), (err: unknown) => err instanceof CofferConnectionError && err.code === 'ECONNREFUSED' && err.status === undefined);
    assert.throws(() => createTransport({ address: 'https://user:pa55word@coffer:8200', token: () => undefined }), (err: Error) => err instanceof CofferConfigError && !err.message.includes('pa55word'));
    assert.throws(() => createTransport({ address: 'ftp://coffer', token: () => undefined }), CofferConfigError);
  });
});

/** A server on port 0 whose answers the test chooses; it records the token of every request. */
async function localServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; tokens: Array<string | undefined>; close(): Promise<void> }> {
  const tokens: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    tokens.push(req.headers['x-vault-token'] as string | undefined);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const FETCHES: Array<[string, FetchLike | undefined]> = [['the global fetch', undefined], ['nodeHttpFetch', nodeHttpFetch]];

describe('SDK transport over real HTTP', () => {
  for (const [name, fetchImpl] of FETCHES) {
    it(`never follows a redirect to another host, and never sends the token there (${name})`, async () => {
      const elsewhere = await localServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data":{"stolen":true}}');
      });
      const coffer = await localServer((_req, res) => {
        res.writeHead(307, { location: `${elsewhere.url}/v1/secret/data/app?token=${TOKEN}` });
        res.end();
      });
      try {
        const transport = createTransport({ address: coffer.url, token: () => TOKEN, fetch: fetchImpl });
        transport.redactor.add(TOKEN);
        for (const call of [() => transport.request('GET', 'secret/data/app'), () => transport.stream('sys/watch')]) {
          await assert.rejects(call(), (err: unknown) => {
            assert.ok(err instanceof CofferRedirectError, String(err));
            assert.ok(err instanceof CofferResponseError);
            assert.equal(err.status, 307);
            assert.equal(err.location, elsewhere.url);
            assert.ok(!err.message.includes(TOKEN) && !JSON.stringify(err).includes(TOKEN), err.message);
            return true;
          });
        }
        assert.deepEqual(coffer.tokens, [TOKEN, TOKEN]);
        assert.deepEqual(elsewhere.tokens, [], 'the other host received nothing');
      } finally {
        await coffer.close();
        await elsewhere.close();
      }
    });

    it(`fails a success whose body breaks off, stalls or is not JSON, instead of returning no data (${name})`, async () => {
      const server = await localServer((req, res) => {
        if (req.url?.includes('cut')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
          res.write('{"lease_id":"database/creds/app/abc","data":{"password":"pa');
          setTimeout(() => res.socket?.destroy(), 20);
        } else if (req.url?.includes('stall')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
          res.write('{"lease_id":"database/creds/app/abc",');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"data":{"password":"half-a-secret-value');
        }
      });
      try {
        const transport = createTransport({ address: server.url, token: () => TOKEN, fetch: fetchImpl, timeoutMs: 300 });
        await assert.rejects(transport.request('GET', 'database/creds/cut'), (err: unknown) => err instanceof CofferConnectionError && err.code !== 'TIMEOUT');
        await assert.rejects(transport.request('GET', 'database/creds/stall'), (err: unknown) => err instanceof CofferConnectionError && err.code === 'TIMEOUT');
        await assert.rejects(transport.request('GET', 'secret/data/bad'), (err: unknown) => {
          assert.ok(err instanceof CofferResponseError, String(err));
          assert.equal(err.status, 200);
          assert.ok(!err.message.includes('half-a-secret-value'), err.message);
          return true;
        });
      } finally {
        await server.close();
      }
    });
  }

  it('still returns nothing for an empty success body (a 204)', async () => {
    const server = await localServer((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    try {
      const transport = createTransport({ address: server.url, token: () => TOKEN });
      assert.deepEqual(await transport.request('PUT', 'sys/leases/revoke', { body: { lease_id: 'x' } }), { status: 204, body: undefined });
    } finally {
      await server.close();
    }
  });
});
