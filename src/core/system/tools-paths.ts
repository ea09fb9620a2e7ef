/**
 * Vault's general purpose tools: `sys/tools/random[/:source][/:bytes]` (random bytes from the
 * operating system's CSPRNG) and `sys/tools/hash[/:algorithm]` (a digest of base64 input). The
 * default policy lets every token use the hash tool, as Vault's does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { badRequest } from '../errors.js';
import { parseInteger } from '../input.js';
import type { EngineRequest, PathSpec } from '../router/engine.js';

/** As Vault: at most 128 KiB per request. */
const MAX_RANDOM_BYTES = 128 * 1024;
const DEFAULT_RANDOM_BYTES = 32;

/** Vault's algorithm names, mapped to node's. */
const HASH_ALGORITHMS: Readonly<Record<string, string>> = {
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha2-512/224': 'sha512-224',
  'sha2-512/256': 'sha512-256',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

/** From the path if given there, else from the body; '' and null count as absent. */
function field(req: EngineRequest, name: string): unknown {
  const fromPath = req.params[name];
  const value = fromPath !== undefined && fromPath !== '' ? fromPath : req.data[name];
  return value === '' || value === null ? undefined : value;
}

function encoding(value: unknown, fallback: 'hex' | 'base64'): 'hex' | 'base64' {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === 'hex' || value === 'base64') return value;
  throw badRequest(`unsupported encoding format ${String(value)}; must be "hex" or "base64"`);
}

function byteCount(value: unknown): number {
  return value === undefined ? DEFAULT_RANDOM_BYTES : parseInteger(value, 'bytes', 1, MAX_RANDOM_BYTES);
}

/** Base64 as Vault's decoder takes it: standard alphabet, padding optional, nothing else. */
function base64Input(value: unknown): Buffer {
  if (typeof value !== 'string' || value === '') throw badRequest('the "input" parameter is required (base64-encoded)');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1) throw badRequest('unable to decode input as base64');
  return Buffer.from(value, 'base64');
}

export function toolsPaths(): PathSpec[] {
  return [
    {
      pattern: 'tools/random(?:/(?<source>platform|seal|all))?(?:/(?<bytes>[0-9]+))?',
      description: "Random bytes from the operating system's CSPRNG.",
      operations: {
        update: async (req) => {
          // Every source is the operating system's CSPRNG here: Coffer has no HSM seal.
          const source = field(req, 'source') ?? 'platform';
          if (source !== 'platform' && source !== 'seal' && source !== 'all') throw badRequest('unsupported entropy source; must be "platform", "seal" or "all"');
          const bytes = randomBytes(byteCount(field(req, 'bytes')));
          return { data: { random_bytes: bytes.toString(encoding(req.data.format, 'base64')) } };
        },
      },
    },
    {
      pattern: 'tools/hash(?:/(?<algorithm>[a-z0-9/-]+))?',
      description: 'Hash base64 input with SHA-2 or SHA-3.',
      operations: {
        update: async (req) => {
          const name = field(req, 'algorithm') ?? 'sha2-256';
          const algorithm = typeof name === 'string' ? HASH_ALGORITHMS[name] : undefined;
          if (algorithm === undefined) throw badRequest(`unsupported algorithm ${String(name)}`);
          const sum = createHash(algorithm).update(base64Input(req.data.input)).digest(encoding(req.data.format, 'hex'));
          return { data: { sum } };
        },
      },
    },
  ];
}
