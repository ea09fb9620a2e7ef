/**
 * Audit devices declared in the server's config file (key `audit`), the model OpenBao
 * recommends after CVE-2025-6000: the operator, not an API caller, says where audit goes.
 *
 * Owns: the validation of the declared list (once, at start) and the decision, at each unseal,
 * of what to do with each declared device given the device table. It must never open a file or
 * change the table: the broker carries out the plan.
 */
import { badRequest, CofferError } from '../errors.js';
import { auditPathsOverlap, normaliseAuditPath } from './device-path.js';
import { FILE_DEVICE_TYPE, parseFileDeviceOptions, sameDestination } from './file-device.js';
import type { AuditDeviceOrigin } from './file-path-policy.js';

export interface DeclaredAuditDevice {
  /** Normalised ('file/'). */
  readonly path: string;
  readonly type: string;
  readonly description: string;
  readonly options: Readonly<Record<string, string>>;
}

const ENTRY_KEYS: ReadonlySet<string> = new Set(['path', 'type', 'description', 'options']);

const EXAMPLE = '[{"path": "file/", "type": "file", "options": {"file_path": "/var/log/coffer/audit.log"}}]';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseEntry(raw: unknown): DeclaredAuditDevice {
  if (!isObject(raw)) throw badRequest(`must be an object such as ${EXAMPLE.slice(1, -1)}`);
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.has(key)) throw badRequest(`unknown key "${key}"; allowed: path, type, description, options`);
  }
  if (typeof raw.path !== 'string') throw badRequest('"path" must be a string such as "file/"');
  const path = normaliseAuditPath(raw.path);
  if (raw.type !== FILE_DEVICE_TYPE) throw badRequest(`"type" must be "${FILE_DEVICE_TYPE}"`);
  if (raw.description !== undefined && typeof raw.description !== 'string') throw badRequest('"description" must be a string');
  if (!isObject(raw.options)) throw badRequest('"options" must be an object, e.g. {"file_path": "/var/log/coffer/audit.log"}');
  const options: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw.options)) {
    if (typeof value !== 'string') throw badRequest(`option "${key}" must be a string`);
    options[key] = value;
  }
  // The file device's own option checks (absolute path, mode without exec bits), now rather
  // than at the first unseal.
  parseFileDeviceOptions(options);
  return { path, type: raw.type, description: raw.description ?? '', options };
}

/**
 * The declared devices in `raw` (the config file's `audit` value), normalised. Throws
 * bad_request naming the entry, for a malformed entry, two entries whose paths nest, or two
 * that write to the same file.
 */
export function parseDeclaredAuditDevices(raw: unknown): DeclaredAuditDevice[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw badRequest(`must be a list of audit devices, e.g. ${EXAMPLE}`);
  const out: DeclaredAuditDevice[] = [];
  raw.forEach((entry: unknown, index) => {
    let device: DeclaredAuditDevice;
    try {
      device = parseEntry(entry);
    } catch (err) {
      if (err instanceof CofferError) throw badRequest(`entry ${index + 1}: ${err.message}`);
      throw err;
    }
    for (const other of out) {
      if (auditPathsOverlap(device.path, other.path)) throw badRequest(`entries "${other.path}" and "${device.path}": the paths of two devices must not nest`);
      if (sameDestination(other.options['file_path'], device.options['file_path'])) throw badRequest(`entries "${other.path}" and "${device.path}" write to the same file_path`);
    }
    out.push(device);
  });
  return out;
}

/** A device in the table, as the plan needs to see it. */
export interface TableDevice {
  readonly type: string;
  readonly options: Readonly<Record<string, string>>;
  readonly origin: AuditDeviceOrigin;
}

/**
 * - keep: the table holds this device already (same type and options). One enabled through the
 *   API and then declared as it is becomes the config's, keeping its key and its file's chain.
 * - add: nothing at this path yet.
 * - replace: a device the config declared with other settings before (the operator edited the
 *   config file): replaced, as disabling and enabling it again would.
 */
export type DeclaredStep = { readonly action: 'keep' | 'add' | 'replace'; readonly device: DeclaredAuditDevice };

function sameOptions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/**
 * True when the config file declares a device at `path` with this type and options: a table
 * device it becomes at this load ('keep' below), so the config's rules apply to it already.
 */
export function declaresAsIs(declared: readonly DeclaredAuditDevice[], path: string, device: Pick<TableDevice, 'type' | 'options'>): boolean {
  return declared.some((d) => d.path === path && d.type === device.type && sameOptions(d.options, device.options));
}

/**
 * What to do with each declared device, decided before anything changes. Throws (internal: an
 * unseal fails with it) when a device enabled through the API sits at a declared path with
 * another type or options: neither may silently win. Replacing the API device would let a
 * config edit destroy its key unasked; keeping it would leave the declared device unenabled,
 * so the server would not audit where the operator said it does.
 */
export function planDeclared(table: ReadonlyMap<string, TableDevice>, declared: readonly DeclaredAuditDevice[]): DeclaredStep[] {
  return declared.map((device) => {
    const existing = table.get(device.path);
    if (existing === undefined) return { action: 'add', device };
    if (existing.type === device.type && sameOptions(existing.options, device.options)) return { action: 'keep', device };
    if (existing.origin === 'config') return { action: 'replace', device };
    throw new CofferError(
      'internal',
      `the audit device "${device.path}" declared in the config file differs from the device enabled at that path through the API; ` +
        `declare it at another path, or remove it from the config file, unseal, and disable the API device (DELETE sys/audit/${device.path})`,
    );
  });
}
