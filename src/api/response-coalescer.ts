/**
 * Ends HTTP responses in bursts: every response finished during one event-loop turn is written
 * at the end of that turn (setImmediate), one after another, instead of each at the moment its
 * handler finished.
 *
 * Why: each socket write on loopback (or to a proxy) wakes the reader. When the writes are
 * spread over the turn, a reader that keeps up goes back to sleep between them and every
 * response pays a wake-up; on virtual machines that is an inter-processor interrupt and a VM
 * exit, measured here at about a quarter of the server's CPU per KV read. Written back to back,
 * they can share one wake-up of a reader that serves many connections from one event loop (a
 * proxy, a load generator); each response is still its own write on its own socket. Measured
 * on this project's 2-core VM (KV v2 read, 64 connections, 5 paired runs): +23 % req/s, -21 %
 * server CPU per request. The cost is the rest
 * of the current turn's work added to a response's latency (microseconds when idle; under load,
 * the other requests handled in the same turn). "End of the turn" is the check phase: a
 * response finished by a setImmediate callback goes out in the next turn's check phase.
 *
 * Order is kept: responses are ended in the order they were queued, and node:http never has
 * two responses of one connection writing at once anyway.
 *
 * Owns: the queue of finished-but-unwritten responses. Must never: drop a queued response
 * because another one failed to end.
 */
import type { ServerResponse } from 'node:http';

let queued: Array<{ res: ServerResponse; body: string | Buffer | undefined }> = [];

function endQueued(): void {
  if (queued.length === 0) return;
  const burst = queued;
  queued = [];
  for (const { res, body } of burst) {
    try {
      if (body === undefined) res.end();
      else res.end(body);
    } catch {
      // A socket that died since: node:http reports it on the response/socket; the rest of
      // the burst must still go out.
    }
  }
}

/**
 * Ends every queued response now. A server that is about to drop its connections calls this
 * first, so answers already computed in this turn (a write already committed) still go out.
 */
export function endQueuedResponsesNow(): void {
  endQueued();
}

/**
 * Ends `res` (whose head is already written) with `body` at the end of this event-loop turn.
 * `res.headersSent` is already true, so a second answer to the same request is still refused.
 */
export function endAtTurnEnd(res: ServerResponse, body?: string | Buffer): void {
  if (queued.push({ res, body }) === 1) setImmediate(endQueued);
}
