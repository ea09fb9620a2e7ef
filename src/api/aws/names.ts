/**
 * Secret names, ARNs and version ids as Secrets Manager shows them, and the KV paths they map
 * to: secret `N` is the KV v2 secret `<mount>/data/N` and `<mount>/metadata/N`.
 *
 * Owns: name validation (AWS's character set, narrowed to what is also a valid KV path), ARN
 * formatting and parsing (`arn:aws:secretsmanager:<region>:000000000000:secret:<name>-<suffix>`),
 * and the deterministic suffix and version ids of secrets and versions written through the
 * Vault API, which carry no AWS bookkeeping until the AWS API first writes them.
 */
import { createHash } from 'node:crypto';
import { randomBase62 } from '../../core/ids.js';
import { invalidParameter, secretNotFound } from './errors.js';

/** The KV v2 mount holding AWS secrets: the one place its path is spelled. */
export const AWS_KV_MOUNT = 'aws/';
/** Coffer has no AWS accounts; every ARN names this one. */
export const ACCOUNT_ID = '000000000000';
export const SUFFIX_LENGTH = 6;

export const dataPath = (name: string): string => `${AWS_KV_MOUNT}data/${name}`;
export const metadataPath = (name: string): string => `${AWS_KV_MOUNT}metadata/${name}`;
export const metadataFolderPath = (folder: string): string => `${AWS_KV_MOUNT}metadata/${folder}`;

const NAME_CHARS = /^[A-Za-z0-9/_+=.@-]+$/;

/**
 * Checks a secret name: 1..512 characters of `A-Za-z0-9/_+=.@-` (AWS's set), and, because the
 * name is a KV path, no leading or trailing '/', no empty, '.' or '..' segment.
 */
export function validateName(name: unknown, field = 'Name'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512 || !NAME_CHARS.test(name)) {
    throw invalidParameter(`Invalid ${field}. Must be 1 to 512 characters of alphanumeric characters or any of -/_+=.@`);
  }
  if (name.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw invalidParameter(`Invalid ${field}. Coffer secret names cannot start or end with '/' or contain empty, '.' or '..' path segments.`);
  }
  return name;
}

export const newSuffix = (): string => randomBase62(SUFFIX_LENGTH);

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The suffix of a secret created through the Vault API, until the AWS API first writes it and
 * stores it: derived from the name, so it is stable without any write.
 */
export function derivedSuffix(name: string): string {
  const bytes = digest(`coffer-aws-suffix\u0000${name}`);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (let i = 0; i < SUFFIX_LENGTH; i++) out += alphabet[(bytes[i] as number) % alphabet.length];
  return out;
}

/** The version id of a KV version written through the Vault API: a UUID derived from the secret and the version number. */
export function derivedVersionId(suffix: string, kvVersion: number): string {
  const hex = digest(`coffer-aws-version\u0000${suffix}\u0000${kvVersion}`).toString('hex');
  // Shaped as an RFC 9562 version 8 (custom) UUID.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function formatArn(region: string, name: string, suffix: string): string {
  return `arn:aws:secretsmanager:${region}:${ACCOUNT_ID}:secret:${name}-${suffix}`;
}

/** A SecretId resolved to a name and, for a full ARN, the suffix the secret must have. */
export interface SecretRef {
  readonly name: string;
  readonly suffix: string | undefined;
  /** The region an ARN names; a secret is found only through its caller's region. */
  readonly region?: string;
}

/**
 * Resolves a SecretId: a name, a full ARN (name plus '-' and six characters) or a partial ARN
 * (without the suffix). An ARN of another account can never match.
 */
export function parseSecretId(raw: unknown, field = 'SecretId'): SecretRef {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) throw invalidParameter(`You must provide a valid ${field}.`);
  if (!raw.startsWith('arn:')) return { name: validateName(raw, field), suffix: undefined };
  const parts = raw.split(':');
  if (parts.length < 7 || parts[1] !== 'aws' || parts[2] !== 'secretsmanager' || parts[5] !== 'secret') {
    throw invalidParameter(`Invalid ${field}: not a Secrets Manager secret ARN.`);
  }
  if (parts[4] !== ACCOUNT_ID) throw secretNotFound();
  const resource = parts.slice(6).join(':');
  const region = parts[3] as string;
  const full = /^(.+)-([A-Za-z0-9]{6})$/.exec(resource);
  if (full) return { name: validateName(full[1], field), suffix: full[2] as string, region };
  return { name: validateName(resource, field), suffix: undefined, region };
}
