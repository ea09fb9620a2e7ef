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
}

interface CompiledEngine {
  readonly specs: ReadonlyArray<{ spec: PathSpec; regex: RegExp }>;
}

export function createRouter<M extends { path: string }>(): Router<M> {
  // Sorted longest path first so the first prefix hit is the longest match.
  let entries: Array<{ mount: M; engine: Engine }> = [];
  const compiled = new WeakMap<Engine, CompiledEngine>();

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
      return found?.engine;
    },
    route(path) {
      for (const entry of entries) {
        const mountPath = entry.mount.path;
        if (path.startsWith(mountPath)) {
          return { mount: entry.mount, engine: entry.engine, relativePath: path.slice(mountPath.length) };
        }
        if (path === mountPath.slice(0, -1)) return { mount: entry.mount, engine: entry.engine, relativePath: '' };
      }
      return undefined;
    },
    matchPath(engine, relativePath) {
      for (const { spec, regex } of compile(engine).specs) {
        const match = regex.exec(relativePath);
        if (match) return { spec, params: { ...(match.groups ?? {}) } };
      }
      return undefined;
    },
    mounts: () => entries.map((e) => e.mount),
  };
}
