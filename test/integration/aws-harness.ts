/**
 * Shared set-up for the AWS Secrets Manager tests: a real Coffer dev server, Coffer-issued
 * access keys, and the unmodified `@aws-sdk/client-secrets-manager` pointed at the server.
 */
import assert from 'node:assert/strict';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { StartOptions } from '../../src/main.js';
import { api, startTestServer, type ApiResponse, type TestServer } from '../helpers/server.js';

// The SDK warns once per process that its releases after January 2027 need Node 22; Coffer
// targets Node 20, and the warning would only clutter test output (read when a client is built).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

export interface IssuedKey {
  accessKeyId: string;
  secretAccessKey: string;
  leaseId: string;
  leaseDuration: number;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsTestServer {
  readonly server: TestServer;
  readonly root: string;
  vault(method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse>;
  putPolicy(name: string, hcl: string): Promise<void>;
  issueKey(policies: string[], ttl?: string, token?: string): Promise<IssuedKey>;
  client(key: Credentials, config?: Partial<SecretsManagerClientConfig>): SecretsManagerClient;
  /** A Vault token with exactly these policies (and default). */
  token(policies: string[]): Promise<string>;
  destroy(): Promise<void>;
}

/** A policy that grants everything the AWS API can use under aws/. */
export const ADMIN_POLICY = `
path "aws/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }
`;

export async function startAwsServer(options: StartOptions = {}): Promise<AwsTestServer> {
  const server = await startTestServer({ dev: true, ...options });
  const root = server.rootToken as string;
  const clients: SecretsManagerClient[] = [];
  const vault = (method: string, path: string, body?: unknown, token: string = root): Promise<ApiResponse> =>
    api(server, method, path, { token, ...(body === undefined ? {} : { body }) });
  return {
    server,
    root,
    vault,
    async putPolicy(name, hcl) {
      const res = await vault('PUT', `sys/policy/${name}`, { policy: hcl });
      assert.equal(res.status, 204, JSON.stringify(res.body));
    },
    async issueKey(policies, ttl = '1h', token = root) {
      const res = await vault('POST', 'aws-keys/creds', { policies, ttl }, token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return {
        accessKeyId: res.body.data.access_key_id,
        secretAccessKey: res.body.data.secret_access_key,
        leaseId: res.body.lease_id,
        leaseDuration: res.body.lease_duration,
      };
    },
    client(key, config = {}) {
      const client = new SecretsManagerClient({
        region: 'us-east-1',
        endpoint: server.url,
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, ...(key.sessionToken ? { sessionToken: key.sessionToken } : {}) },
        maxAttempts: 1,
        ...config,
      });
      clients.push(client);
      return client;
    },
    async token(policies) {
      const res = await vault('POST', 'auth/token/create', { policies });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.auth.client_token;
    },
    async destroy() {
      for (const client of clients) client.destroy();
      await server.destroy();
    },
  };
}

/** Runs `fn`, expects it to reject with an AWS error named `name`, and returns the error. */
export async function awsError(fn: () => Promise<unknown>, name: string, message?: RegExp): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof Error, 'an Error');
    assert.equal(error.name, name, `${error.name}: ${error.message}`);
    if (message) assert.match(error.message, message);
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  assert.fail(`expected ${name}`);
}
