/**
 * The Redis database plugin (`redis-database-plugin`): dynamic and static credentials as Redis
 * ACL users, over one ioredis connection (Redis pipelines commands on one connection, so a pool
 * would add nothing; `maxOpenConnections` is accepted and not needed).
 *
 * `maxIdleTimeMs` and `maxConnectionLifetimeSeconds` do not apply to that one connection (Vault's
 * redis plugin has neither); a connection Redis closes is reopened on the next call.
 *
 * Owns: the connection for one `config/:name` and the translation of a role's rules into
 * `ACL SETUSER` arguments. It must never build a command by joining strings: every rule is its own
 * argument, checked first, and no rule may set, clear or waive a password. It never logs a
 * password or puts one in an error.
 *
 * Connection: `connection_url` is `redis://{{username}}:{{password}}@127.0.0.1:6379` (or
 * `rediss://` for TLS, with `?insecure_tls=true` to skip verifying the server). Vault's redis
 * plugin takes `host`, `port`, `tls`, `insecure_tls` fields instead; `redisConnectionUrl` turns
 * those into this form.
 */
import type { Redis } from 'ioredis';
import { loadRedis } from './drivers.js';
import { badRequest, isCofferError } from '../../core/errors.js';
import { DatabasePluginError, pluginTimeouts, withUnknownOutcome, type DatabasePlugin, type PluginConnectionConfig } from './plugin.js';
import { scrubSecrets } from './plugin-secret-scrub.js';
import { oneCreationPerName } from './same-name-creations.js';
import { fillPlaceholders } from './statement-placeholders.js';

export const REDIS_PLUGIN_NAME = 'redis-database-plugin';
const PLUGIN_NAME = REDIS_PLUGIN_NAME;

/**
 * Redis itself sets no limit on ACL usernames; 64 keeps the engine's generated names readable
 * in `ACL LIST` and room for `v-<display>-<role>-<random>-<unix>`.
 */
const MAX_USERNAME_LENGTH = 64;

/** Vault's redis plugin default: read-only commands on every key. */
const DEFAULT_RULES: readonly string[] = ['~*', '+@read'];

/**
 * Reply prefixes that are about getting in or about the server's state, not about the command:
 * refused credentials, still loading, busy with a script, a replica that cannot serve. Like
 * MySQL's login errors they are 'connection' failures; every other reply is the command's.
 */
const CONNECTION_REPLIES = new Set(['WRONGPASS', 'NOAUTH', 'LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'CLUSTERDOWN']);

/** ACL usernames are given to Redis as one argument; this alphabet also keeps them readable. */
const SAFE_USERNAME = /^[A-Za-z0-9_.-]+$/;
/** Printable ASCII without spaces: one `>password` argument, no surprises in `ACL LIST` output. */
const SAFE_PASSWORD = /^[\x21-\x7e]+$/;
/** One rule is one printable, space-free token (selectors with spaces are not supported). */
const SAFE_RULE = /^[\x21-\x7e]+$/;
/**
 * `>pw`, `<pw`, `#hash` and `!hash` add or remove passwords; `nopass` lets any password in;
 * `resetpass` and `reset` would drop the password Coffer just set. A role's rules grant access,
 * they never touch authentication.
 */
const PASSWORD_RULE_PREFIXES = ['>', '<', '#', '!'];
const FORBIDDEN_RULES = new Set(['nopass', 'resetpass', 'reset']);

/**
 * Turns a role's statements into ACL rules. Each statement is either a JSON array of rules
 * (`["~foo:*", "+get"]`, Vault's form) or rules separated by whitespace (`~* +@read`); no
 * statements at all means the default, read-only on every key.
 */
export function parseAclRules(statements: readonly string[]): string[] {
  const rules: string[] = [];
  for (const statement of statements) {
    const text = statement.trim();
    if (text.startsWith('{')) throw badRequest(`${PLUGIN_NAME}: creation statements must be a JSON array of ACL rules, not an object`);
    if (text.startsWith('[')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw badRequest(`${PLUGIN_NAME}: creation statements must be a JSON array of ACL rules, such as ["~*", "+@read"]`);
      }
      if (!Array.isArray(parsed) || !parsed.every((r): r is string => typeof r === 'string')) {
        throw badRequest(`${PLUGIN_NAME}: creation statements must be a JSON array of strings`);
      }
      rules.push(...parsed);
    } else if (text !== '') {
      rules.push(...text.split(/\s+/));
    }
  }
  for (const rule of rules) checkRule(rule);
  return rules.length > 0 ? rules : [...DEFAULT_RULES];
}

function checkRule(rule: string): void {
  if (!SAFE_RULE.test(rule)) {
    throw badRequest(`${PLUGIN_NAME}: an ACL rule must be one printable word without spaces`);
  }
  if (PASSWORD_RULE_PREFIXES.some((p) => rule.startsWith(p)) || FORBIDDEN_RULES.has(rule.toLowerCase())) {
    // Quoting the rule could quote a password someone typed into it.
    throw badRequest(`${PLUGIN_NAME}: ACL rules may not set, remove or waive passwords (>, <, #, !, nopass, resetpass, reset)`);
  }
}

interface RedisTarget {
  host: string;
  port: number;
  username: string;
  password: string;
  tls?: { rejectUnauthorized: boolean };
}

/** Builds a `connection_url` from Vault's redis plugin fields. */
export function redisConnectionUrl(fields: { host: string; port: number; tls?: boolean; insecureTls?: boolean }): string {
  const host = fields.host.includes(':') ? `[${fields.host}]` : fields.host;
  const scheme = fields.tls ? 'rediss' : 'redis';
  const query = fields.tls && fields.insecureTls ? '?insecure_tls=true' : '';
  return `${scheme}://{{username}}:{{password}}@${host}:${fields.port}${query}`;
}

/**
 * Parses the URL template, then fills in the credentials, so a password with `@` or `:` cannot
 * move the host. Without user information in the URL, `username`/`password` are used as they are.
 */
export function parseRedisConnectionUrl(template: string, creds: { username: string; password: string }): RedisTarget {
  let url: URL;
  try {
    url = new URL(template.trim());
  } catch {
    // The URL parser's own message would quote the URL, and any literal password in it.
    throw badRequest('connection_url must look like redis://{{username}}:{{password}}@127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw badRequest('connection_url must start with redis:// or rediss://');
  }
  if (url.pathname !== '' && !/^\/\d*$/.test(url.pathname)) {
    throw badRequest('connection_url: the path may only be a database number (ACL users are server-wide)');
  }
  const fill = (field: string): string => fillPlaceholders(decode(field), { username: creds.username, password: creds.password });
  const hasUserInfo = url.username !== '' || url.password !== '';
  const target: RedisTarget = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: url.port === '' ? 6379 : Number(url.port),
    username: hasUserInfo ? fill(url.username) : creds.username,
    password: hasUserInfo ? fill(url.password) : creds.password,
  };
  let insecure = false;
  for (const [key, value] of url.searchParams) {
    if (key !== 'insecure_tls' || (value !== 'true' && value !== 'false')) {
      throw badRequest('connection_url: the only parameter is insecure_tls=true|false');
    }
    insecure = value === 'true';
  }
  if (url.protocol === 'rediss:') target.tls = { rejectUnauthorized: !insecure };
  return target;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest('connection_url has a malformed %-escape');
  }
}

/** Creates an unopened plugin; `initialize` sets up the connection. */
export function createRedisPlugin(): DatabasePlugin {
  let client: Redis | null = null;
  // Makes a client for the initialized config, not yet connected.
  let newClient: (() => Redis) | null = null;
  let adminPassword = '';
  // ioredis reports why a connection failed only as an event; the promise says "Connection is
  // closed". The last event's message is kept to explain the failure to the caller.
  let lastConnectionError = '';

  function requireClient(): Redis {
    if (!client) throw new DatabasePluginError('connection', 'database connection is not initialized');
    return client;
  }

  /**
   * Turns what ioredis threw into a plugin error with Redis's words and no password. The raw error
   * is not kept: ioredis attaches the command's arguments, the password among them.
   */
  function redisError(err: unknown, secrets: readonly string[] = []): Error {
    if (err instanceof DatabasePluginError || isCofferError(err)) return err;
    const raw = err instanceof Error ? err.message : String(err);
    const scrub = (text: string): string => scrubSecrets(text, [adminPassword, ...secrets]);
    if (err instanceof Error && err.name === 'ReplyError') {
      const prefix = raw.split(' ', 1)[0] ?? '';
      return new DatabasePluginError(CONNECTION_REPLIES.has(prefix) ? 'connection' : 'statement', scrub(raw), prefix);
    }
    // "Connection is closed." says nothing of why; the last connection error event does.
    const detail = lastConnectionError !== '' ? `${raw} (${lastConnectionError})` : raw;
    return new DatabasePluginError('connection', scrub(detail));
  }

  /**
   * Sends one command. The client never reconnects on its own (a queue of retries would hold a
   * caller for a long time against a dead server); a closed client reconnects on the next call.
   * A command whose connection failed under it (Redis restarted, an idle connection killed, or
   * a connection gone silent, whose reply timed out) is sent once more on a new connection:
   * every command here can safely run twice (SETUSER with the same arguments, DELUSER, GETUSER).
   */
  /**
   * Whether the server keeps its users in an ACL file (CONFIG GET aclfile names one). An admin
   * that may not run CONFIG GET cannot tell: then nothing is saved, as before.
   */
  async function usesAclFile(): Promise<boolean> {
    try {
      const reply = await command([], ['CONFIG', 'GET', 'aclfile']);
      return Array.isArray(reply) && typeof reply[1] === 'string' && reply[1] !== '';
    } catch {
      return false;
    }
  }

  async function command(secrets: readonly string[], args: readonly string[]): Promise<unknown> {
    const [name, ...rest] = args;
    for (let attempt = 1; ; attempt += 1) {
      const c = requireClient();
      if (c.status === 'end') {
        lastConnectionError = '';
        // Status becomes "connecting" at once, so the command below waits in the offline queue
        // and fails with the connection if it cannot be made.
        c.connect().catch(() => undefined);
      }
      const wasReady = c.status === 'ready';
      try {
        return await c.call(name ?? '', ...rest);
      } catch (err) {
        const isReply = err instanceof Error && err.name === 'ReplyError';
        if (!isReply && c.status !== 'end') replaceSilent(c);
        // Retry only a connection that was up and then failed: a failed fresh connect is final.
        if (isReply || attempt > 1 || !wasReady) throw redisError(err, secrets);
      }
    }
  }

  /**
   * A client whose connection is still up but gave no reply (the reply timed out) is thrown
   * away: the reply may never come, and every later command on that connection would wait
   * behind it. Its successor connects on the next call.
   */
  function replaceSilent(c: Redis): void {
    if (client === c && newClient) {
      lastConnectionError = '';
      client = newClient();
    }
    c.disconnect();
  }

  async function userExists(username: string): Promise<boolean> {
    return (await command([], ['ACL', 'GETUSER', username])) !== null;
  }

  return {
    name: PLUGIN_NAME,
    maxUsernameLength: MAX_USERNAME_LENGTH,

    async initialize(config: PluginConnectionConfig, verify: boolean): Promise<void> {
      const target = parseRedisConnectionUrl(config.connectionUrl, { username: config.username, password: config.password });
      // Before the old client goes: from here to the new one's creation there is no await.
      const RedisClient = await loadRedis();
      if (client) client.disconnect();
      adminPassword = target.password;
      lastConnectionError = '';
      // Redis answers every command Coffer sends at once (no locks, nothing to wait for), so a
      // reply that takes longer than connecting may is the connection's fault: the connect
      // timeout bounds replies too, and statement_timeout does not apply.
      const { connectMs } = pluginTimeouts(config);
      const make = (): Redis => {
        const made = new RedisClient({
          host: target.host,
          port: target.port,
          ...(target.username === '' ? {} : { username: target.username }),
          ...(target.password === '' ? {} : { password: target.password }),
          ...(target.tls === undefined ? {} : { tls: target.tls }),
          lazyConnect: true,
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
          // The ready check runs INFO, which a least-privilege admin user may not be allowed.
          enableReadyCheck: false,
          connectTimeout: connectMs,
          commandTimeout: connectMs,
        });
        made.on('error', (err: Error) => {
          lastConnectionError = scrubSecrets(err.message, [adminPassword]);
        });
        return made;
      };
      newClient = make;
      const next = make();
      client = next;
      if (!verify) return;
      try {
        await command([], ['PING']);
      } catch (err) {
        next.disconnect();
        client?.disconnect();
        client = null;
        newClient = null;
        throw err;
      }
    },

    async newUser(req): Promise<void> {
      return oneCreationPerName(PLUGIN_NAME, req.username, async () => {
        checkUsername(req.username);
        if (req.username.length > MAX_USERNAME_LENGTH) {
          throw badRequest(`username is longer than the ${MAX_USERNAME_LENGTH} characters ${PLUGIN_NAME} allows`);
        }
        checkPassword(req.password);
        const rules = parseAclRules(req.creationStatements);
        // ACL SETUSER on an existing name would change that user (even `default`) instead of
        // creating one; generated names never collide, so an existing one is a mistake to refuse.
        if (await userExists(req.username)) {
          throw badRequest(`${PLUGIN_NAME}: user "${req.username}" already exists`);
        }
        // SETUSER takes effect at once, so it waits for the lease to be stored
        // (NewUserRequest.commitAfter); the check above overlapped its write.
        await req.commitAfter;
        // One command: Redis applies all of it or, on any bad rule, none of it.
        try {
          await command([req.password], ['ACL', 'SETUSER', req.username, 'on', `>${req.password}`, ...rules]);
        } catch (err) {
          // A reply (it carries Redis's error code) is a refusal: nothing changed. No reply (the
          // connection ended, the reply timed out) may have come after Redis made the user.
          if (err instanceof DatabasePluginError && err.dbCode === undefined) {
            throw withUnknownOutcome(err, `no reply came, so user "${req.username}" may exist; it is revoked`);
          }
          throw err;
        }
      });
    },

    async renewUser(): Promise<void> {
      // Redis ACL users have no expiry; the lease's expiry deletes the user.
    },

    async revokeUser(req): Promise<void> {
      checkUsername(req.username);
      // Revocation statements are ignored, as in Vault's plugin: deleting the user is the whole
      // job, and it removes every permission and closes the user's connections with it.
      // DELUSER answers 0 for a user that is already gone, which is success here.
      await command([], ['ACL', 'DELUSER', req.username]);
      // With users in an ACL file, the file may hold this user (ACL SAVE, from a password change
      // here or by anyone, writes every user in memory): unsaved, the deletion would be undone by
      // the next Redis restart, and a revoked credential would log in again. A failed save
      // fails the revocation, which is then retried.
      if (await usesAclFile()) await command([], ['ACL', 'SAVE']);
    },

    userExists,

    async setPassword(req): Promise<void> {
      checkUsername(req.username);
      checkPassword(req.password);
      // Rotation statements are ignored, as in Vault's plugin: the password is the only change.
      // SETUSER would create a missing user (with no permissions); changing a password must not.
      if (!(await userExists(req.username))) {
        throw badRequest(`${PLUGIN_NAME}: user "${req.username}" does not exist`);
      }
      // A change made only in Redis's memory is undone when Redis restarts with its users in an
      // ACL file: Coffer would then hold a password Redis no longer takes (after rotate-root,
      // locked out) and a static role's revoked password would work again. So with an aclfile,
      // the file is saved before the change (proving it can be, before anything changed) and
      // after it. Users kept in redis.conf instead are the operator's to persist (README).
      const persist = await usesAclFile();
      if (persist) await command([], ['ACL', 'SAVE']);
      await command([req.password], ['ACL', 'SETUSER', req.username, 'resetpass', `>${req.password}`]);
      if (persist) await command([req.password], ['ACL', 'SAVE']);
    },

    async close(): Promise<void> {
      const current = client;
      client = null;
      newClient = null;
      adminPassword = '';
      // disconnect, not QUIT: QUIT on a client that never connected would connect first.
      current?.disconnect();
    },
  };
}

function checkUsername(username: string): void {
  if (!SAFE_USERNAME.test(username)) {
    throw badRequest(`${PLUGIN_NAME}: a username may contain only letters, digits, "_", "." and "-"`);
  }
}

function checkPassword(password: string): void {
  if (!SAFE_PASSWORD.test(password)) {
    throw badRequest(`${PLUGIN_NAME}: a password must be printable ASCII without spaces`);
  }
}
