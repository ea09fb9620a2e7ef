/**
 * Form-encoded request bodies, as Vault takes them: `curl -d 'foo=bar'` sends
 * `application/x-www-form-urlencoded`, and Vault reads such a body as a form unless it starts
 * like JSON (`{` or `[`), which curl users also send with that header. Each key gets its value
 * as a string; a key given more than once gets its values joined with commas (Vault's rule:
 * list parameters accept comma-separated values).
 *
 * Parsing is node's URLSearchParams; this module only decides when a body is a form and
 * applies the same bounds as JSON bodies.
 */
import { badRequest } from '../../core/errors.js';
import type { JsonLimits } from './json-body.js';

const FORM_TYPE = 'application/x-www-form-urlencoded';
const FORM_VALUES_MESSAGE = 'form holds more values than allowed';

/** Whether `raw` with this Content-Type is read as a form rather than as JSON. */
export function isFormBody(contentType: string | undefined, raw: Buffer): boolean {
  if (contentType === undefined) return false;
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (mediaType !== FORM_TYPE) return false;
  const text = raw.toString('utf8').trimStart();
  return text !== '' && text[0] !== '{' && text[0] !== '[';
}

/**
 * Refuses a form of more than `maxValues` pairs, counted from the raw text before
 * URLSearchParams builds them all (CVE-2025-6203: 15 MB of `a&a&a...` otherwise costs seconds
 * and hundreds of MB before the per-key checks below refuse it). Every pair is one value, as
 * every element of a JSON array is; the per-key bounds stay with the loop below, since a key may
 * legitimately repeat (a list parameter). Stops counting at the first pair over the limit.
 */
function scanFormPairs(text: string, limits: JsonLimits): void {
  let pairs = 0;
  let segmentStart = 0;
  for (let i = 0; i <= text.length; i += 1) {
    if (i < text.length && text.charCodeAt(i) !== 0x26) continue;
    // URLSearchParams skips empty segments ("a&&b" is two pairs), so they are not counted.
    if (i > segmentStart) {
      pairs += 1;
      if (pairs > limits.maxValues) throw badRequest(FORM_VALUES_MESSAGE);
    }
    segmentStart = i + 1;
  }
}

/** The form's fields as request data (strings), within the JSON limits on entries and length. */
export function parseFormBody(raw: Buffer, limits: JsonLimits): Record<string, unknown> {
  const text = raw.toString('utf8');
  scanFormPairs(text, limits);
  // URLSearchParams keeps a malformed escape ("%zz") as is; Go's form parser, and so Vault,
  // refuses the body.
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw badRequest('failed to parse form input: invalid percent-encoding');
  const values = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (key === '__proto__') throw badRequest('failed to parse form input: a key named "__proto__" is refused');
    if (key.length > limits.maxStringLength || value.length > limits.maxStringLength) throw badRequest('form value exceeds the allowed length');
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
    if (values.size > limits.maxObjectEntries) throw badRequest('form exceeds the allowed number of entries');
  }
  const data: Record<string, unknown> = {};
  for (const [key, list] of values) {
    if (list.length > limits.maxArrayElements) throw badRequest('form repeats a key more than the allowed number of times');
    const value = list.length === 1 ? (list[0] as string) : list.join(',');
    // The joined value is held to the same bound as one JSON string.
    if (value.length > limits.maxStringLength) throw badRequest('form value exceeds the allowed length');
    data[key] = value;
  }
  return data;
}
