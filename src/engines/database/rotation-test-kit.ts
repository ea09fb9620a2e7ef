/**
 * Test support for static-role rotation: an in-memory stand-in for a database that keeps one
 * password per user and answers "would this login work?", a plugin over it, and a harness wired
 * with the real consumer registry and event bus (memory storage, the harness's manual clock).
 *
 * The stand-in replaces a database only in engine-logic tests; the same behaviour is proven
 * against real PostgreSQL, MariaDB and Redis in test/integration/rotation-*.test.ts.
 * Used only by tests; never imported by production code.
 */
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { createConsumerRegistry, type ConsumerRegistry } from '../../core/consumers/consumer-registry.js';
import { createEventBus, type ChangeEvent, type EventBus } from '../../core/events/event-bus.js';
import type { Logger } from '../../core/logger.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import type { PhysicalStorage } from '../../core/storage/storage.js';
import { createDatabaseHarness, type DatabaseHarness } from './harness.js';
import { DatabasePluginError, type DatabasePlugin } from './plugin.js';
import type { RotationOptions } from './rotation-hooks.js';

export const FAKE_PLUGIN = 'fake-database-plugin';

export interface FakeDatabase {
  /** username → the one password that logs in. */
  readonly users: Map<string, string>;
  /** Every setPassword call, in order (usernames only). */
  readonly calls: string[];
  /** Return an error to make setPassword for that user fail. */
  failFor: ((username: string) => Error | undefined) | undefined;
  /** Return an error to make setPassword for that user fail after the password took effect (MySQL's ALTER USER then a failing statement). */
  failAfterFor: ((username: string) => Error | undefined) | undefined;
  /** Every password logs in for every user (trust authentication). */
  trustAll: boolean;
  login(username: string, password: string): boolean;
}

export function createFakeDatabase(users: Record<string, string>): FakeDatabase {
  const db: FakeDatabase = {
    users: new Map(Object.entries(users)),
    calls: [],
    failFor: undefined,
    failAfterFor: undefined,
    trustAll: false,
    login: (username, password) => db.trustAll || db.users.get(username) === password,
  };
  return db;
}

export function fakePlugin(db: FakeDatabase): DatabasePlugin {
  return {
    name: FAKE_PLUGIN,
    maxUsernameLength: 63,
    async initialize(config, verify) {
      // A connection as one of the database's own users (never the admin) logs in only with its password.
      if (verify && db.users.has(config.username) && !db.login(config.username, config.password)) {
        throw new DatabasePluginError('connection', `password authentication failed for user "${config.username}"`);
      }
    },
    async newUser() {
      throw new DatabasePluginError('statement', 'not supported by the fake');
    },
    async renewUser() {},
    async revokeUser() {},
    async userExists(username) {
      return db.users.has(username);
    },
    async setPassword(req) {
      db.calls.push(req.username);
      const failure = db.failFor?.(req.username);
      if (failure) throw failure;
      if (!db.users.has(req.username)) throw new DatabasePluginError('statement', `role "${req.username}" does not exist`);
      db.users.set(req.username, req.password);
      const late = db.failAfterFor?.(req.username);
      if (late) throw late;
    },
    async close() {},
  };
}

/** A logger that keeps every line, to check what is (and is not) logged. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields: { ...base, ...fields } }),
    info: (message, fields) => lines.push({ level: 'info', message, fields: { ...base, ...fields } }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields: { ...base, ...fields } }),
    error: (message, fields) => lines.push({ level: 'error', message, fields: { ...base, ...fields } }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return Object.assign(make({}), { lines });
}

export interface RotationKit {
  h: DatabaseHarness;
  db: FakeDatabase;
  clock: ManualClock;
  consumers: ConsumerRegistry;
  events: EventBus;
  published: ChangeEvent[];
  logger: ReturnType<typeof recordingLogger>;
  physical: PhysicalStorage;
  /** A harness on the same storage, database and clock: the same mount after a restart. */
  restart(rotation?: RotationOptions): RotationKit;
}

/** Yields to the event loop: the verify step's pause between looks, without wall-clock waits. */
export const yieldOnce = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createRotationKit(input: {
  db?: FakeDatabase;
  rotation?: RotationOptions;
  clock?: ManualClock;
  physical?: PhysicalStorage;
  consumerStorage?: PhysicalStorage;
} = {}): RotationKit {
  const db = input.db ?? createFakeDatabase({ admin: 'Admin-pw-1', app_a: 'Initial-a-1', app_b: 'Initial-b-1', solo: 'Initial-s-1' });
  const clock = input.clock ?? createManualClock(Date.UTC(2026, 0, 1, 12));
  const physical = input.physical ?? createMemoryStorage();
  const consumerStorage = input.consumerStorage ?? createMemoryStorage();
  const consumers = createConsumerRegistry({ storage: consumerStorage, clock });
  const events = createEventBus({ clock });
  const published: ChangeEvent[] = [];
  events.subscribe((event) => published.push(event));
  const logger = recordingLogger();
  const h = createDatabaseHarness({
    clock,
    physical,
    events,
    consumers,
    logger,
    plugins: { [FAKE_PLUGIN]: () => fakePlugin(db) },
    rotation: { tickIntervalMs: 0, sleep: yieldOnce, retryDelayMs: 5_000, ...input.rotation },
  });
  const kit: RotationKit = {
    h, db, clock, consumers, events, published, logger, physical,
    restart: (rotation) => createRotationKit({ db, clock, physical, consumerStorage, ...(rotation ? { rotation } : {}) }),
  };
  return kit;
}

/** Writes config/fake (admin user "admin") allowing every role. */
export async function configure(kit: RotationKit): Promise<void> {
  await kit.h.call('write', 'config/fake', {
    plugin_name: FAKE_PLUGIN, connection_url: 'fake://db', username: 'admin', password: 'Admin-pw-1', allowed_roles: '*',
  });
}

export interface StaticCreds {
  username: string;
  password: string;
  version: number;
  ttl: number;
  previous?: { username: string; password: string; version: number };
  [key: string]: unknown;
}

export async function staticCreds(kit: RotationKit, role: string): Promise<StaticCreds> {
  return (await kit.h.call('read', `static-creds/${role}`))?.data as StaticCreds;
}

export async function rotationsOf(kit: RotationKit, role: string): Promise<Record<string, any>> {
  return (await kit.h.call('read', `rotations/${role}`))?.data as Record<string, any>;
}
