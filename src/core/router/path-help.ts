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
  // As the request handler reaches them: a write is a create only where an existence check
  // says the path is new (and then runs update's handler when create has none); elsewhere
  // every write is an update.
  const reachable = (operation: Operation): boolean => {
    if (operation !== 'create') return spec.operations[operation] !== undefined;
    return spec.existenceCheck !== undefined && (spec.operations.create ?? spec.operations.update) !== undefined;
  };
  const operations = ORDER.filter(reachable);
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
