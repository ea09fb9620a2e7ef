/**
 * Which of the agent's secret paths changed: one SDK `watch` (server-sent events, reconnecting,
 * long-poll fallback) on the longest common prefix of every path the templates read, filtered
 * to exactly those paths. Restarted with the new token after a login, resuming after the last
 * event seen so nothing in between is lost.
 *
 * Owns: the subscription and the sequence number a new one resumes after.
 * Must never: act on an event for a path no template reads.
 */
import type { Coffer } from '../sdk/coffer.js';
import type { Subscription, WatchEvent } from '../sdk/watch.js';

export interface ChangeWatch {
  /** (Re)opens the stream with the current token, after the last event seen. */
  restart(): void;
  stop(): void;
}

export interface ChangeWatchDeps {
  coffer: Pick<Coffer, 'watch'>;
  paths: readonly string[];
  /** A watched path changed; `version` only when the event announces the version now current. */
  onChange(path: string, version: number | null, event: WatchEvent['event']): void;
  /** Events were missed (server restart, overflow): everything must be read again. */
  onReset(): void;
  /** The stream cannot be opened at all (a policy without sys/watch). */
  onUnavailable(err: unknown): void;
  /** A connection failure; the SDK reconnects on its own. */
  onInterrupted(err: unknown): void;
  /** The stream opened, the first time or after failures: Coffer answers again. */
  onConnected?(): void;
}

/** The longest common prefix of the paths, so that one stream covers them all. */
export function commonPrefix(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  let prefix = paths[0] as string;
  for (const path of paths) while (!path.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

export function createChangeWatch(deps: ChangeWatchDeps): ChangeWatch {
  const watched = new Set(deps.paths);
  const prefix = commonPrefix(deps.paths);
  let subscription: Subscription | undefined;
  let lastSeq: number | undefined;
  let stopped = false;

  const onEvent = (event: WatchEvent): void => {
    // For 'reset' the SDK gives the sequence number it resumes from (lower after a server restart).
    lastSeq = event.seq;
    if (event.event === 'reset') return deps.onReset();
    if (!watched.has(event.path)) return;
    // Only a write or a rotation announces the version now current; a delete of it does not change it.
    deps.onChange(event.path, event.event === 'write' || event.event === 'rotate' ? event.version : null, event.event);
  };

  return {
    restart() {
      if (stopped || watched.size === 0) return;
      // Where the old stream stood, even if it delivered nothing: what was written since is
      // replayed on the new one rather than lost.
      const resume = subscription?.position ?? lastSeq;
      subscription?.();
      const sub = deps.coffer.watch(prefix, onEvent, {
        ...(resume === undefined ? {} : { after: resume }),
        onError: deps.onInterrupted,
        ...(deps.onConnected ? { onOpen: deps.onConnected } : {}),
      });
      sub.ready.catch(deps.onUnavailable);
      subscription = sub;
    },
    stop() {
      stopped = true;
      subscription?.();
      subscription = undefined;
    },
  };
}
