/**
 * `coffer run [options] -- COMMAND [ARGS...]`: authenticates, reads the referenced secrets, and
 * runs COMMAND with them as environment variables of that one child process; forwards SIGINT,
 * SIGTERM and SIGHUP to it (not a terminal's ^C, which the child already got: terminal-group.ts);
 * exits with its exit code (128 + signal number if a signal ended it); and revokes every lease
 * it created (and the token, if it logged in) once the child is gone.
 *
 * Owns: the run's life cycle: login, fetch, spawn, signal forwarding, clean-up.
 * Must never: put a secret on the child's command line, into this process's environment, or into
 * any message; or pass this run's own credentials (token, secret id, JWT) on to the child.
 * Start-up time matters (short CLIs and batch jobs run it often): this file is loaded only for
 * `coffer run`, and it loads the SDK, not the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { Coffer } from '../../sdk/coffer.js';
import { CofferConfigError, CofferError } from '../../sdk/errors.js';
import type { RenewalEndReason } from '../../sdk/leased-secret.js';
import { nodeHttpFetch } from '../../sdk/node-http.js';
import type { FetchLike } from '../../sdk/transport.js';
import { parseEnvAssignment, parseEnvTemplate, referencedPaths, referenceValue, renderEnv, type EnvEntry } from '../../sdk/references.js';
import { secretData } from '../../sdk/secret-value.js';
import type { Envelope } from '../../sdk/wire.js';
import { defineCommand, UsageError } from '../command.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { terminalInterruptReached } from '../terminal-group.js';

type Method = 'token' | 'approle' | 'jwt' | 'kubernetes';
const METHODS: readonly Method[] = ['token', 'approle', 'jwt', 'kubernetes'];
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Forwarded = (typeof FORWARDED)[number];
/** Credentials of this run that the child must not inherit. */
const CREDENTIAL_VARS = ['COFFER_TOKEN', 'VAULT_TOKEN', 'COFFER_SECRET_ID', 'COFFER_JWT'];
/** How long clean-up may take before the run gives up on it (the child has exited already). */
const REQUEST_TIMEOUT_MS = 10_000;

const HELP = [
  'Reads secrets and runs COMMAND with them in its environment, and only there: not on its',
  'command line (visible in ps), not in this shell. Signals (INT, TERM, HUP) are passed on to',
  'COMMAND, except a ^C typed in the terminal, which reaches COMMAND directly (once); coffer run',
  'exits with its exit code (128 + N if signal N ended it). Leases of',
  'dynamic secrets it read are renewed while COMMAND runs and revoked when it exits; when one',
  'can no longer be renewed (its max TTL), a warning line names its path and when it ends.',
  '',
  'References are PATH#FIELD, the API path as for "coffer read":',
  '    -env DB_PASSWORD=database/static-creds/app#password     a static role',
  '    -env DB_USER=database/creds/app#username                a dynamic credential (one lease',
  '    -env DB_PASS=database/creds/app#password                per path, shared by both fields)',
  '    -env API_KEY=secret/data/app#key                        KV v2: data/ in the path',
  '',
  'Template file (-env-file-template), one variable per line:',
  '    # comments and blank lines are ignored',
  '    DB_USER={{ database/creds/app#username }}',
  '    DATABASE_URL=postgres://{{ database/creds/app#username }}:{{ database/creds/app#password }}@db/app',
  '    LOG_LEVEL=info',
  'A value mixes text with {{ PATH#FIELD }} placeholders; "export " before NAME and one pair of',
  'quotes around the value are allowed. There is no escaping and nothing is evaluated.',
  '',
  'Authentication (-method):',
  '    token       (default) -token, COFFER_TOKEN / VAULT_TOKEN, or ~/.coffer-token',
  '    approle     role id: -role-id, -role-id-file or COFFER_ROLE_ID;',
  '                secret id: -secret-id-file or COFFER_SECRET_ID (never a flag value)',
  '    jwt         -role and the JWT from -jwt-file or COFFER_JWT',
  '    kubernetes  -role and the service-account token (-jwt-file, default the pod\'s)',
  'A token from a login is revoked when COMMAND exits. COFFER_TOKEN, VAULT_TOKEN,',
  'COFFER_SECRET_ID and COFFER_JWT are removed from COMMAND\'s environment.',
].join('\n');

export const runCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Run a command with secrets in its environment',
  usage: 'coffer run [options] -- COMMAND [ARGS...]',
  help: HELP,
  flags: {
    env: { kind: 'list', usage: 'NAME=PATH#FIELD: a variable for COMMAND.' },
    'env-file-template': { kind: 'string', usage: 'A file of NAME=VALUE lines with {{ PATH#FIELD }} placeholders.' },
    method: { kind: 'string', usage: 'token (default), approle, jwt or kubernetes.' },
    mount: { kind: 'string', usage: 'The auth mount (default: the method\'s name).' },
    'role-id': { kind: 'string', usage: 'AppRole role id (not a secret).' },
    'role-id-file': { kind: 'string', usage: 'AppRole: a file holding the role id.' },
    'secret-id-file': { kind: 'string', usage: 'AppRole: a file holding the secret id.' },
    role: { kind: 'string', usage: 'JWT or Kubernetes: the role to log in to.' },
    'jwt-file': { kind: 'string', usage: 'JWT or Kubernetes: a file holding the token.' },
  },
  minArgs: 1,
  stopAtFirstPositional: true,
  async run(ctx, flags, args) {
    const entries = collectEntries(flags.env, flags['env-file-template']);
    const method = (flags.method ?? 'token') as Method;
    if (!METHODS.includes(method)) throw new UsageError(`invalid -method: use one of ${METHODS.join(', ')}`, 'coffer run');
    const globalToken = (flags as Record<string, unknown>)['token'] as string | undefined;
    const signals = watchSignals();
    try {
      return await execute(ctx, entries, method, flags, globalToken, args, signals);
    } finally {
      signals.dispose();
    }
  },
});

interface RunFlags {
  mount: string | undefined;
  'role-id': string | undefined;
  'role-id-file': string | undefined;
  'secret-id-file': string | undefined;
  role: string | undefined;
  'jwt-file': string | undefined;
}

function collectEntries(envFlags: readonly string[], templateFile: string | undefined): EnvEntry[] {
  const entries: EnvEntry[] = [];
  try {
    if (templateFile !== undefined) entries.push(...parseEnvTemplate(readText(templateFile, 'template')));
    for (const text of envFlags) entries.push(parseEnvAssignment(text));
  } catch (err) {
    if (err instanceof CofferError) throw new CliError(err.message);
    throw err;
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new CliError(`${entry.name} is set more than once (by -env or the template)`);
    seen.add(entry.name);
  }
  return entries;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
}

function readCredential(path: string, what: string): string {
  const value = readText(path, what).trim();
  if (value === '') throw new CliError(`the ${what} file ${path} is empty`);
  return value;
}

/** Signals that arrive before the child exists are remembered; after, they are passed on. */
interface SignalWatch {
  /** The first signal received, if any. */
  readonly received: Forwarded | undefined;
  /** Resolves at a second signal before the child runs: the user insists on stopping now. */
  readonly insist: Promise<Forwarded>;
  attach(child: ChildProcess): void;
  dispose(): void;
}

function watchSignals(): SignalWatch {
  let received: Forwarded | undefined;
  let child: ChildProcess | undefined;
  let insist: (signal: Forwarded) => void = () => undefined;
  const insisted = new Promise<Forwarded>((resolve) => {
    insist = resolve;
  });
  const handlers = FORWARDED.map((signal) => {
    const handler = (): void => {
      if (child && child.exitCode === null && child.signalCode === null) {
        // A terminal's ^C reached the child too (same process group); a second copy from here
        // would read as "insist" to tools that stop gracefully on the first one.
        if (signal !== 'SIGINT' || child.pid === undefined || !terminalInterruptReached(child.pid)) child.kill(signal);
        return;
      }
      if (received !== undefined) insist(signal);
      received ??= signal;
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    get received() {
      return received;
    },
    insist: insisted,
    attach(c) {
      child = c;
    },
    dispose() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

/** A background or clean-up problem: a warning line, the run goes on. */
const warn = (ctx: CommandContext, prefix: string, err: unknown): void => ctx.err(`Warning: ${prefix}${ctx.scrub(err instanceof Error ? err.message : String(err))}`);

const signalExitCode = (signal: string): number => 128 + ((constants.signals as Record<string, number>)[signal] ?? 0);

async function login(coffer: Coffer, ctx: CommandContext, method: Method, flags: RunFlags, globalToken: string | undefined): Promise<boolean> {
  const env = ctx.io.env;
  const mount = flags.mount === undefined ? {} : { mount: flags.mount };
  if (method === 'token') {
    // The same rule as every other command: a token variable goes only to its own family's address.
    const token = globalToken ?? ctx.token();
    if (!token) throw new CliError('no token: pass -token, set COFFER_TOKEN, run "coffer login", or use -method=approle|jwt|kubernetes');
    ctx.redact(token);
    coffer.setToken(token);
    return false;
  }
  if (method === 'approle') {
    const roleId = flags['role-id'] ?? (flags['role-id-file'] !== undefined ? readCredential(flags['role-id-file'], 'role id') : env['COFFER_ROLE_ID']);
    if (!roleId) throw new CliError('AppRole needs a role id: -role-id, -role-id-file or COFFER_ROLE_ID');
    const secretId = flags['secret-id-file'] !== undefined ? readCredential(flags['secret-id-file'], 'secret id') : env['COFFER_SECRET_ID'] || undefined;
    if (secretId) ctx.redact(secretId);
    await coffer.loginAppRole({ roleId, ...(secretId ? { secretId } : {}), ...mount });
  } else {
    if (!flags.role) throw new CliError(`-method=${method} needs -role`);
    const jwt = flags['jwt-file'] !== undefined ? readCredential(flags['jwt-file'], 'JWT') : env['COFFER_JWT'] || undefined;
    if (jwt) ctx.redact(jwt);
    if (method === 'jwt') {
      if (!jwt) throw new CliError('-method=jwt needs the JWT: -jwt-file or COFFER_JWT');
      await coffer.loginJwt({ role: flags.role, jwt, ...mount });
    } else {
      await coffer.loginKubernetes({ role: flags.role, ...(jwt ? { jwt } : {}), ...mount });
    }
  }
  ctx.redact(coffer.token ?? '');
  return true;
}

/** Reads every referenced path once (a dynamic credential's fields must come from one lease). */
async function fetchAll(coffer: Coffer, ctx: CommandContext, entries: readonly EnvEntry[]): Promise<{ values: Record<string, string>; leases: number }> {
  const paths = referencedPaths(entries);
  let leases = 0;
  const secrets = new Map<string, Record<string, unknown>>();
  const results = await Promise.allSettled(
    paths.map(async (path) => {
      const envelope: Envelope<unknown> = await coffer.read(path);
      // Adopted at once, so that whatever happens next, close() revokes it.
      if (envelope.lease_id !== '') {
        await coffer.adoptLease(path, envelope, { rotate: false, onRenewalEnd: (info) => ctx.err(`Warning: ${renewalEndText(path, info)}`) });
        leases += 1;
      }
      secrets.set(path, secretData(envelope));
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const values = renderEnv(entries, (ref) => referenceValue(secrets.get(ref.path) ?? {}, ref));
  for (const value of Object.values(values)) ctx.redact(value);
  return { values, leases };
}

/**
 * The one line said when a lease the command relies on can no longer be renewed: the command
 * keeps running, and a credential that will die is worth a warning. It names the path, never
 * the secret.
 */
function renewalEndText(path: string, info: { reason: RenewalEndReason; expiresAt: number }): string {
  const end = new Date(info.expiresAt).toISOString();
  const tail = 'the command keeps running with a credential that stops working then';
  switch (info.reason) {
    case 'max_ttl':
      return `the lease of ${path} reached its max TTL and ends at ${end}; ${tail}`;
    case 'not_renewable':
      return `the lease of ${path} is not renewable and ends at ${end}; ${tail}`;
    case 'refused':
      return `the lease of ${path} can no longer be renewed (the server refused: revoked or expired); the command keeps running with a credential that may no longer work`;
  }
}

function childEnvironment(parent: Readonly<Record<string, string | undefined>>, injected: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && !CREDENTIAL_VARS.includes(name)) env[name] = value;
  return { ...env, ...injected };
}

function runChild(ctx: CommandContext, command: string, args: readonly string[], env: Record<string, string>, signals: SignalWatch): Promise<number> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: 'inherit', env });
    } catch (err) {
      throw new CliError(`cannot run ${command}: ${(err as NodeJS.ErrnoException).code ?? 'spawn failed'}`);
    }
    signals.attach(child);
    child.once('error', (err: NodeJS.ErrnoException) => {
      // Shell conventions: 127 not found, 126 found but not runnable.
      ctx.err(`Error: cannot run ${command}: ${err.code ?? 'spawn failed'}`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? signalExitCode(signal) : 1)));
  });
}

async function execute(
  ctx: CommandContext,
  entries: EnvEntry[],
  method: Method,
  flags: RunFlags,
  globalToken: string | undefined,
  args: string[],
  signals: SignalWatch,
): Promise<number> {
  const coffer = new Coffer({
    address: ctx.address,
    timeoutMs: REQUEST_TIMEOUT_MS,
    // node:http rather than the global fetch: loading undici would cost more than the request.
    // The CLI's TLS settings (-ca-cert, -tls-skip-verify) when given, else the light fetch.
    fetch: (ctx.fetch as FetchLike | undefined) ?? nodeHttpFetch,
    onError: (err) => warn(ctx, '', err),
  });
  let loggedIn = false;
  let cleaned = false;
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    try {
      await coffer.close({ revokeToken: loggedIn });
    } catch (err) {
      warn(ctx, 'clean-up failed, leases may outlive the command until they expire: ', err);
    }
  };
  try {
    let injected: Record<string, string> = {};
    // A second signal while secrets are being read stops the run at once (leases then expire on their own).
    const prepared = (async (): Promise<'ready'> => {
      if (entries.length > 0 || method !== 'token') loggedIn = await login(coffer, ctx, method, flags, globalToken);
      const fetched = await fetchAll(coffer, ctx, entries);
      injected = fetched.values;
      // The leases end with the token that created them: keep a supplied token alive meanwhile.
      if (fetched.leases > 0 && !loggedIn) coffer.renewTokenInBackground().catch((err) => warn(ctx, '', err));
      return 'ready';
    })();
    const outcome = await Promise.race([prepared, signals.insist]);
    if (outcome !== 'ready') {
      prepared.catch(() => undefined);
      return signalExitCode(outcome);
    }
    if (signals.received !== undefined) {
      await cleanUp();
      return signalExitCode(signals.received);
    }
    const [command, ...rest] = args as [string, ...string[]];
    const code = await runChild(ctx, command, rest, childEnvironment(ctx.io.env, injected), signals);
    await cleanUp();
    return code;
  } catch (err) {
    await cleanUp();
    if (err instanceof CofferError) throw new CliError(err.message, err instanceof CofferConfigError ? 1 : 2);
    throw err;
  }
}
