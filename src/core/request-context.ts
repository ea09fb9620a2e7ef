/**
 * The raw client token of a request, for the core's own trusted engines only (the token auth
 * method must return `id` on lookup-self and the token on renew-self, as Vault does; the system
 * backend's unauthenticated paths tell "no token" from "a token that is not valid" by it).
 *
 * Engines in src/engines and src/auth never import this: they see only RequestAuth, which holds
 * the token's HMAC id.
 */
import type { EngineRequest } from './router/engine.js';

const rawTokens = new WeakMap<EngineRequest, string>();

export function attachClientToken(req: EngineRequest, token: string): void {
  rawTokens.set(req, token);
}

export function clientTokenOf(req: EngineRequest): string | undefined {
  return rawTokens.get(req);
}
