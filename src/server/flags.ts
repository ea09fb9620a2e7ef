/**
 * Flags of `coffer server`: --listen, --data, --dev, --dev-root-token, --config, plus
 * --storage, --log-level and --http-replicas. Single- and double-dash forms are both accepted,
 * as Vault users type `-dev`.
 */
import { ConfigError, type ServerConfigInput, type StorageKind } from '../config.js';

export interface ServerFlags {
  config: string | undefined;
  input: ServerConfigInput;
}

const VALUE_FLAGS = ['listen', 'data', 'dev-root-token', 'config', 'storage', 'log-level', 'http-replicas'] as const;
const BOOL_FLAGS = ['dev'] as const;

export function parseServerFlags(argv: readonly string[]): ServerFlags {
  const values: Record<string, string> = {};
  const bools = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const match = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(`unexpected argument "${arg}"; see coffer server -help`);
    const name = match[1] as string;
    if ((BOOL_FLAGS as readonly string[]).includes(name)) {
      if (match[2] !== undefined && match[2] !== 'true' && match[2] !== 'false') throw new ConfigError(`-${name} takes no value`);
      if (match[2] !== 'false') bools.add(name);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw new ConfigError(`unknown flag -${name}; known: ${[...VALUE_FLAGS, ...BOOL_FLAGS].map((f) => '-' + f).join(' ')}`);
    }
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      i += 1;
      if (value === undefined) throw new ConfigError(`flag -${name} needs a value`);
    }
    values[name] = value;
  }
  const input: ServerConfigInput = {};
  if (values.listen !== undefined) input.listen = values.listen;
  if (values.data !== undefined) input.dataDir = values.data;
  if (values.storage !== undefined) input.storage = values.storage as StorageKind;
  if (values['log-level'] !== undefined) input.logLevel = values['log-level'];
  if (values['dev-root-token'] !== undefined) input.devRootToken = values['dev-root-token'];
  if (values['http-replicas'] !== undefined) {
    const count = values['http-replicas'];
    if (!/^\d{1,3}$/.test(count)) throw new ConfigError('-http-replicas takes a whole number of processes');
    input.httpReplicas = Number(count);
  }
  if (bools.has('dev')) input.dev = true;
  return { config: values.config, input };
}
