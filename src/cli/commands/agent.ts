/**
 * `coffer agent -config FILE`: runs the agent sidecar (src/agent/) in the foreground until
 * SIGTERM or SIGINT, logging JSON lines to stderr. SIGHUP reads every secret again.
 *
 * Owns: loading the configuration, the process's signals, the exit code.
 * Must never: print a secret or a token (the agent's log lines hold none), or exit before the
 * agent stopped cleanly.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '../../core/logger.js';
import { startAgent } from '../../agent/agent.js';
import { AgentConfigError, loadAgentConfig } from '../../agent/config.js';
import { defineCommand, UsageError } from '../command.js';
import { CliError } from '../errors.js';

const HELP = [
  'Logs in with the platform identity (auto_auth: approle, jwt, kubernetes or token_file),',
  'writes the token to a sink file, renders templates into files (atomically, mode 0600 by',
  'default), renews the token and leases, renders again within a second of a change, reloads the',
  'application (a command or a signal) when a file changed, and checks in as a consumer with the',
  'versions it rendered. If Coffer is unreachable the last good files stay and it retries.',
  '',
  'The configuration is JSON; see "The agent sidecar" in the README. A minimal one:',
  '    {',
  '      "address": "https://coffer.internal:8200",',
  '      "auto_auth": { "method": "approle", "role_id_file": "role-id", "secret_id_file": "secret-id" },',
  '      "templates": [{ "contents": "DB_PASSWORD={{ secret \\"database/static-creds/app\\" \\"password\\" }}\\n",',
  '                      "destination": "/dev/shm/app/db.env",',
  '                      "command": ["sh", "-c", "kill -HUP $(cat /run/app.pid)"] }]',
  '    }',
  '',
  'Signals: SIGTERM and SIGINT stop the agent (leases are left to their TTL unless',
  '"revoke_on_exit": true); SIGHUP reads every secret again and renders what changed.',
].join('\n');

export const agentCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Run the agent sidecar: auto-auth, token sink, secrets rendered to files',
  usage: 'coffer agent -config FILE',
  help: HELP,
  flags: {
    config: { kind: 'string', usage: 'The agent configuration file (JSON).' },
  },
  maxArgs: 0,
  async run(ctx, flags, _args, given) {
    if (flags.config === undefined) throw new UsageError('-config is required', 'coffer agent');
    let config;
    try {
      config = loadAgentConfig(flags.config, { env: ctx.io.env });
    } catch (err) {
      if (err instanceof AgentConfigError) throw new CliError(`invalid agent configuration: ${err.message}`);
      throw err;
    }
    // -address (the global flag) overrides the file; COFFER_ADDR only fills in a missing address.
    if (given.has('address')) config = { ...config, address: ctx.address };
    // So do -ca-cert and -tls-skip-verify, the global TLS flags.
    if (given.has('ca-cert') || given.has('tls-skip-verify')) {
      const globals = flags as Record<string, unknown>;
      let caPem = config.tls.caPem;
      if (given.has('ca-cert')) {
        const file = globals['ca-cert'] as string;
        try {
          caPem = readFileSync(file);
        } catch (err) {
          throw new CliError(`cannot read the CA certificate file ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
        }
      }
      config = { ...config, tls: { caPem, skipVerify: given.has('tls-skip-verify') ? globals['tls-skip-verify'] === true : config.tls.skipVerify } };
    }
    const logger = createLogger({ level: config.logLevel, write: (line) => void ctx.io.stderr.write(`${line}\n`), base: { component: 'agent' } });
    const agent = await startAgent(config, { logger, env: ctx.io.env as NodeJS.ProcessEnv });
    agent.ready.then(() => logger.info('every template rendered'), () => undefined);
    const onHup = (): void => agent.rerender();
    process.on('SIGHUP', onHup);
    // A sidecar runs until it is told to stop. The agent's own timers are unref'd (a library
    // must not hold a process open), and its watch connection comes and goes with the server,
    // so without a handle of its own the process would end, silently, the moment the server did.
    const keepAlive = setInterval(() => undefined, 60 * 60 * 1000);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    clearInterval(keepAlive);
    process.removeListener('SIGHUP', onHup);
    logger.info('stopping', { signal });
    await agent.stop();
    return 0;
  },
});
