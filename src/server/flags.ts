/**
 * Flags of `coffer server`: --listen, --data, --dev, --dev-root-token, --config, plus
 * --storage, --log-level and --http-replicas. Single- and double-dash forms are both accepted,
 * as Vault users type `-dev`.
 *
 * Owns: the one table of server flags, from which both the parser and `coffer server -h` are
 * built, so a flag cannot exist without its help line.
 * Must never: import the server itself; `coffer server -h` loads only this file.
 */
import { CONFIG_FILE_KEYS, ConfigError, type ServerConfigInput, type StorageKind } from '../config.js';

export interface ServerFlags {
  config: string | undefined;
  input: ServerConfigInput;
  /** True when -h, -help or --help appeared: print SERVER_HELP and start nothing. */
  help: boolean;
}

interface ServerFlagSpec {
  /** 'boolean' flags take no value; the others take one (checked here, not by kind). */
  readonly kind: 'string' | 'int' | 'boolean';
  readonly usage: string;
}

/**
 * Every server flag with its help line, in the order `coffer server -h` lists them. The shape
 * is the CLI's FlagSpecs, so the CLI renders it as it renders every other command's options.
 */
export const SERVER_FLAGS = {
  config: { kind: 'string', usage: 'A JSON config file with the keys listed above; flags override it.' },
  listen: { kind: 'string', usage: 'HOST:PORT to serve the API on (default 127.0.0.1:8200; port 0 picks a free port).' },
  data: { kind: 'string', usage: 'Data directory: the SQLite file, and in dev mode the unseal key and root token (default ./coffer-data).' },
  storage: { kind: 'string', usage: 'sqlite (default) or memory (everything is lost when the server stops).' },
  dev: { kind: 'boolean', usage: 'Initialise and unseal on start (one key, kept in the data directory), mount KV v2 at secret/, print the root token. Not for production.' },
  'dev-root-token': { kind: 'string', usage: 'With -dev: the root token to use instead of a random one.' },
  'log-level': { kind: 'string', usage: 'debug, info (default), warn or error; logs are JSON lines on stderr.' },
  'http-replicas': { kind: 'int', usage: 'Extra processes that serve KV reads beside this one, 0 to 64 (default 0; needs sqlite storage).' },
} as const satisfies Readonly<Record<string, ServerFlagSpec>>;

/** Breaks text into lines of at most `width` characters at spaces. */
function wrap(text: string, width = 92): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The paragraph `coffer server -h` shows between the synopsis and the flags. */
export const SERVER_HELP = [
  'Starts a Coffer server in the foreground. Without -dev it starts sealed (uninitialised on',
  'first start): run "coffer operator init" and "coffer operator unseal" against it.',
  'Settings come from the flags, then the -config file, then the defaults.',
  '',
  ...wrap(`Config file keys: ${CONFIG_FILE_KEYS.join(', ')}.`),
  '',
  'Signals: SIGINT and SIGTERM stop the server; SIGHUP reopens the audit files (after log rotation).',
].join('\n');

type ServerFlagName = keyof typeof SERVER_FLAGS;

function isFlagName(name: string): name is ServerFlagName {
  return Object.hasOwn(SERVER_FLAGS, name);
}

export function parseServerFlags(argv: readonly string[]): ServerFlags {
  const values: Partial<Record<ServerFlagName, string>> = {};
  const bools = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const match = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(`unexpected argument "${arg}": coffer server takes flags only`);
    const name = match[1] as string;
    // As for every other command, -h prints the help instead of running: nothing starts.
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    if (!isFlagName(name)) {
      throw new ConfigError(`unknown flag -${name}; known: ${Object.keys(SERVER_FLAGS).map((f) => '-' + f).join(' ')}`);
    }
    if (SERVER_FLAGS[name].kind === 'boolean') {
      if (match[2] !== undefined && match[2] !== 'true' && match[2] !== 'false') throw new ConfigError(`-${name} takes no value`);
      if (match[2] !== 'false') bools.add(name);
      continue;
    }
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      i += 1;
      if (value === undefined) throw new ConfigError(`flag -${name} needs a value`);
    }
    values[name] = value;
  }
  if (help) return { config: undefined, input: {}, help };
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
  return { config: values.config, input, help };
}
