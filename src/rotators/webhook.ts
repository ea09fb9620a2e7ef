/**
 * The webhook rotator protocol: the four steps of an AWS rotation Lambda, as JSON POSTs.
 *
 *   { "Step": "createSecret" | "setSecret" | "testSecret" | "finishSecret",
 *     "SecretId": "<ARN>", "SecretName": "<name>", "ClientRequestToken": "<new version id>",
 *     "SentAt": "<ISO 8601 time of this attempt>",
 *     "CurrentValue"?: V, "PendingValue"?: V, "PreviousValue"?: V }
 *   where V is { "SecretString": "..." } or { "SecretBinary": "<base64>" }
 *
 * With an `hmac_key`, the request carries `X-Coffer-Signature: sha256=<hex HMAC-SHA256 of the
 * exact body bytes>`. The signature covers SentAt, so a rotator that refuses stale requests
 * cannot be fed a recorded one later (a replayed setSecret or finishSecret of an old rotation
 * would otherwise verify forever); it is in the body rather than a header so that verifiers
 * written for the body-only signature keep working. Any 2xx answer means the step succeeded; `createSecret` must answer
 * `{ "SecretString": ... }` or `{ "SecretBinary": ... }`, the new credential.
 *
 * Owns: signing, the per-rotator timeout, refusing redirects (a redirect could lead anywhere
 * the URL policy forbids), bounding the answer's size, and error text.
 * Must never: put a value, the answer body, the HMAC key or the signature into an error or a
 * log line; errors name the step and what went wrong in general terms only.
 */
import { createHmac } from 'node:crypto';
import { checkWebhookUrl, type UrlPolicy } from './url-policy.js';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
export const WEBHOOK_STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export type SecretValue = { readonly kind: 'string'; readonly text: string } | { readonly kind: 'binary'; readonly bytes: Buffer };

export interface WebhookTarget {
  readonly url: string;
  readonly hmacKey: string | undefined;
  readonly timeoutMs: number;
}

export interface StepRequest {
  step: RotationStep;
  secretId: string;
  secretName: string;
  clientRequestToken: string;
  currentValue?: SecretValue | undefined;
  pendingValue?: SecretValue | undefined;
  previousValue?: SecretValue | undefined;
}

/** A step that failed; `message` is safe to store and show. */
export class WebhookError extends Error {
  constructor(readonly step: RotationStep, message: string) {
    super(`${step}: ${message}`);
    this.name = 'WebhookError';
  }
}

export interface WebhookCaller {
  /** Runs one step, stamped with the current time. Resolves with the new value for createSecret, undefined for the others. */
  call(target: WebhookTarget, request: StepRequest, signal?: AbortSignal): Promise<SecretValue | undefined>;
}

/** AWS's quota on a secret value, with room for the JSON around it. */
const MAX_ANSWER_BYTES = 128 * 1024;
const MAX_VALUE_BYTES = 65_536;

const wire = (value: SecretValue | undefined): Record<string, string> | undefined =>
  value === undefined ? undefined : value.kind === 'binary' ? { SecretBinary: value.bytes.toString('base64') } : { SecretString: value.text };

/**
 * The exact body Coffer sends for a step attempted at `sentAt` (ms since the epoch; a retried
 * step gets a new one). Exported so tests and rotator authors can check signatures.
 */
export function stepBody(request: StepRequest, sentAt: number): string {
  const body: Record<string, unknown> = {
    Step: request.step,
    SecretId: request.secretId,
    SecretName: request.secretName,
    ClientRequestToken: request.clientRequestToken,
    SentAt: new Date(sentAt).toISOString(),
  };
  if (request.currentValue) body['CurrentValue'] = wire(request.currentValue);
  if (request.pendingValue) body['PendingValue'] = wire(request.pendingValue);
  if (request.previousValue) body['PreviousValue'] = wire(request.previousValue);
  return JSON.stringify(body);
}

export function signBody(hmacKey: string, body: string): string {
  return `sha256=${createHmac('sha256', hmacKey).update(body, 'utf8').digest('hex')}`;
}

async function readBounded(response: Response, step: RotationStep): Promise<string> {
  if (!response.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) throw new WebhookError(step, 'the rotator answered with a body larger than 128 KiB');
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function newValue(text: string, step: RotationStep): SecretValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WebhookError(step, 'the rotator answer is not JSON');
  }
  const answer = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const s = answer['SecretString'];
  const b = answer['SecretBinary'];
  if (typeof s === 'string' && s !== '' && b === undefined) {
    if (Buffer.byteLength(s, 'utf8') > MAX_VALUE_BYTES) throw new WebhookError(step, 'the new SecretString is larger than 65536 bytes');
    return { kind: 'string', text: s };
  }
  if (typeof b === 'string' && s === undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(b) && b.length % 4 === 0) {
    const bytes = Buffer.from(b, 'base64');
    if (bytes.length === 0 || bytes.length > MAX_VALUE_BYTES) throw new WebhookError(step, 'the new SecretBinary must hold 1 to 65536 bytes');
    return { kind: 'binary', bytes };
  }
  throw new WebhookError(step, 'the rotator answer must hold exactly one of SecretString or SecretBinary');
}

export interface WebhookCallerDeps {
  policy: () => UrlPolicy;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
  /** The clock stamping SentAt; Date.now otherwise. */
  now?: () => number;
}

export function createWebhookCaller(deps: WebhookCallerDeps): WebhookCaller {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  return {
    async call(target, request, signal) {
      const { step } = request;
      let url: URL;
      try {
        url = checkWebhookUrl(target.url, deps.policy());
      } catch {
        throw new WebhookError(step, 'the rotator URL is no longer allowed by the server configuration');
      }
      const body = stepBody(request, now());
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'coffer-rotator/1' };
      if (target.hmacKey !== undefined) headers['x-coffer-signature'] = signBody(target.hmacKey, body);
      const timeout = AbortSignal.timeout(target.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let response: Response;
      try {
        response = await doFetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: combined });
      } catch {
        if (timeout.aborted) throw new WebhookError(step, `the rotator did not answer within ${Math.round(target.timeoutMs / 1000)}s`);
        if (signal?.aborted) throw new WebhookError(step, 'the call was abandoned because the server is stopping');
        throw new WebhookError(step, 'the rotator could not be reached');
      }
      try {
        if (response.status >= 300 && response.status < 400) throw new WebhookError(step, `the rotator answered a redirect (HTTP ${response.status}); redirects are not followed`);
        if (response.status < 200 || response.status >= 300) throw new WebhookError(step, `the rotator answered HTTP ${response.status}`);
        if (step !== 'createSecret') return undefined;
        return newValue(await readBounded(response, step), step);
      } catch (error) {
        if (error instanceof WebhookError) throw error;
        if (timeout.aborted) throw new WebhookError(step, `the rotator did not answer within ${Math.round(target.timeoutMs / 1000)}s`);
        throw new WebhookError(step, 'the rotator answer could not be read');
      } finally {
        // Release the connection even when the body was not needed.
        await response.body?.cancel().catch(() => undefined);
      }
    },
  };
}
