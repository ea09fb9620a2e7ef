/**
 * The text of Vault's `?help=1` answers: for a path, the route it matched, what it is for and the
 * operations it serves; for a mount's root, every path of its engine. Vault builds the same from
 * its framework's path definitions; Coffer's come from the PathSpecs.
 *
 * Owns: formatting only. Must never: run an operation (a help request only describes it).
 */
import type { Engine, Operation, PathSpec } from './engine.js';

const ORDER: readonly Operation[] = ['create', 'read', 'update', 'patch', 'delete', 'list'];

/** Help for one path: the request, the route it matched, its description and operations. */
export function pathHelp(relativePath: string, spec: PathSpec): string {
  const operations = ORDER.filter((operation) => spec.operations[operation] !== undefined);
  // A path that serves update only also takes creates (request-handler: create falls back to update).
  if (spec.operations.update !== undefined && !operations.includes('create')) operations.unshift('create');
  return [
    `Request:        ${relativePath}`,
    `Matching Route: ^${spec.pattern}$`,
    '',
    spec.description ?? 'No description.',
    '',
    '## OPERATIONS',
    '',
    operations.join(', '),
    ...(spec.unauthenticated === true ? ['', 'No token is needed.'] : []),
  ].join('\n');
}

/** Help for a mount's root: every path its engine serves, with its description. */
export function engineHelp(engine: Engine): string {
  return [
    `## PATHS`,
    '',
    `The following paths are supported by this ${engine.type} backend. To view help for any of`,
    'them, ask for help on a request path that the route matches.',
    '',
    ...engine.paths.flatMap((spec) => [`    ^${spec.pattern}$`, `        ${spec.description ?? 'No description.'}`, '']),
  ].join('\n');
}
