/**
 * Routing: the mount with the longest matching prefix gets the request, and within it the first
 * PathSpec whose pattern matches the relative path.
 *
 * Owns only the in-memory routing table; the persisted mount tables live in mount-table.ts.
 */
import type { Engine, PathSpec } from './engine.js';

export interface RoutedMount<M> {
  readonly mount: M;
  readonly engine: Engine;
  readonly relativePath: string;
}

export interface MatchedPath {
  readonly spec: PathSpec;
  readonly params: Record<string, string>;
}

export interface Router<M extends { path: string }> {
  add(mount: M, engine: Engine): void;
  remove(path: string): Engine | undefined;
  /** The mount owning `path`; the mount path without its trailing slash also matches. */
  route(path: string): RoutedMount<M> | undefined;
  /** The PathSpec of `engine` that matches `relativePath`. */
  matchPath(engine: Engine, relativePath: string): MatchedPath | undefined;
  mounts(): M[];
  /**
   * Holds the mount at `path` for one request, from routing until it is answered (its lease
   * stored); returns the release. Taken right after `route`, with no await in between.
   */
  hold(path: string): () => void;
  /**
   * Stops routing to the mount at `path` (it answers as missing) and resolves once the requests
   * that hold it have finished: after this, nothing new can happen under the mount, so its
   * leases can be revoked without one appearing behind the walk (Vault taints the route too).
   */
  taint(path: string): Promise<void>;
}

interface CompiledEngine {
  readonly specs: ReadonlyArray<{ spec: PathSpec; regex: RegExp }>;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export function createRouter<M extends { path: string }>(): Router<M> {
  // Sorted longest path first so the first prefix hit is the longest match.
  let entries: Array<{ mount: M; engine: Engine }> = [];
  const compiled = new WeakMap<Engine, CompiledEngine>();
  const tainted = new Set<string>();
  // Requests holding each mount; a slot stays once made (one per mount), so the hot path only
  // counts. Waiters are the taints waiting for it to reach zero.
  const holds = new Map<string, { count: number; waiters: Array<() => void> }>();

  const compile = (engine: Engine): CompiledEngine => {
    let result = compiled.get(engine);
    if (!result) {
      result = { specs: engine.paths.map((spec) => ({ spec, regex: new RegExp(`^(?:${spec.pattern})$`) })) };
      compiled.set(engine, result);
    }
    return result;
  };

  return {
    add(mount, engine) {
      compile(engine);
      entries = [...entries.filter((e) => e.mount.path !== mount.path), { mount, engine }].sort(
        (a, b) => b.mount.path.length - a.mount.path.length,
      );
    },
    remove(path) {
      const found = entries.find((e) => e.mount.path === path);
      entries = entries.filter((e) => e.mount.path !== path);
      tainted.delete(path);
      holds.delete(path);
      return found?.engine;
    },
    route(path) {
      for (const entry of entries) {
        const mountPath = entry.mount.path;
        const exact = path === mountPath.slice(0, -1);
        if (!exact && !path.startsWith(mountPath)) continue;
        // Mounts never nest, so no shorter mount may answer for a tainted one.
        if (tainted.has(mountPath)) return undefined;
        return { mount: entry.mount, engine: entry.engine, relativePath: exact ? '' : path.slice(mountPath.length) };
      }
      return undefined;
    },
    hold(path) {
      let slot = holds.get(path);
      if (slot === undefined) {
        slot = { count: 0, waiters: [] };
        holds.set(path, slot);
      }
      const held = slot;
      held.count += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.count -= 1;
        if (held.count > 0 || held.waiters.length === 0) return;
        for (const wake of held.waiters.splice(0)) wake();
      };
    },
    async taint(path) {
      tainted.add(path);
      const slot = holds.get(path);
      if (slot !== undefined && slot.count > 0) await new Promise<void>((resolve) => slot.waiters.push(resolve));
    },

    matchPath(engine, relativePath) {
      for (const { spec, regex } of compile(engine).specs) {
        const match = regex.exec(relativePath);
        // exec makes a fresh groups object per match, so it is handed on as it is, not copied.
        if (match) return { spec, params: match.groups ?? NO_PARAMS };
      }
      return undefined;
    },
    mounts: () => entries.map((e) => e.mount),
  };
}
