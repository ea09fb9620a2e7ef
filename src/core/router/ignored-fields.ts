/**
 * Vault's answer to a write carrying fields its path does not read: the write goes ahead, and a
 * response with a body says which fields were ignored (PathSpec.fields); a 204 stays a 204.
 *
 * Must never: name a field's value (it may be a credential), or turn an error into a success.
 */
import { unrecognizedParametersWarning } from '../input.js';
import type { EngineResponse, Operation, PathSpec } from './engine.js';

const WRITES: ReadonlySet<Operation> = new Set(['create', 'update', 'patch']);

/** `response` with the warning added when `data` holds fields `spec` does not read; else `response` itself. */
export function warnIgnoredFields(
  response: EngineResponse | null,
  spec: PathSpec,
  operation: Operation,
  data: Readonly<Record<string, unknown>>,
  params: Readonly<Record<string, string>>,
): EngineResponse | null {
  const { fields } = spec;
  // As Vault's framework: a write that answers nothing (204) stays a 204, warning or not;
  // clients check for it (hvac returns the Response itself only then).
  if (response === null || fields === undefined || !WRITES.has(operation)) return response;
  // A raw body (an unwrapped answer) has no envelope to carry a warning; an error keeps its own.
  if (response.rawBody !== undefined || (response.statusCode ?? 200) >= 300) return response;
  const warning = unrecognizedParametersWarning(data, fields, params);
  if (warning === undefined) return response;
  return { ...response, warnings: [...(response.warnings ?? []), warning] };
}
