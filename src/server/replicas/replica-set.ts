/**
 * The primary's side of the HTTP replica processes (replica-process.ts): starts them, shares out
 * new public connections between itself and them, gives them the root key after unseal and
 * takes it back as a seal begins, and restarts one that dies.
 *
 * Owns: the replica processes and the private directory of the primary's internal socket.
 * Must never: let a seal finish while a replica may still hold the key (a replica that does not
 * confirm in time is killed); hand a replica a connection something was already read from.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../core/logger.js';
import type { FromReplica, ReplicaSettings, ToReplica } from './messages.js';
import { removeStaleSocketDirs } from './stale-socket-dirs.js';

/**
 * How long a replica has to confirm a seal before it is killed instead. It first lets the reads
 * it is answering finish (replica-process.ts, REPLICA_SEAL_DRAIN_MS), well within this.
 */
const SEAL_CONFIRM_MS = 2_000;
/** On top of the shutdown grace period, for a replica to exit once its requests are done. */
const EXIT_MARGIN_MS = 2_000;
/** A replica that died is started again after this long (not in a tight loop). */
const RESTART_DELAY_MS = 1_000;
/** Every replica is pinged this often over its channel. */
const PING_INTERVAL_MS = 1_000;
/**
 * A replica whose event loop has not answered a ping for this long is hung (stopped, stuck in
 * a loop): it gets no new connections and is killed, so it is restarted, rather than leave
 * every client it is handed waiting forever.
 */
const LIVENESS_MS = 5_000;

export interface ReplicaSet {
  /** The primary's internal socket the replicas forward to; listen on it before start(). */
  readonly socketPath: string;
  /** What every forwarded request carries to prove it came from a replica of this server. */
  readonly hopKey: string;
  /** Offers a new, unread public connection; true when a replica took it. */
  distribute(socket: Socket): boolean;
  /** After unseal: every replica gets the root key (a lifecycle service). */
  start(): void;
  /**
   * As a seal begins: every replica stops taking reads (they go to the primary, which answers
   * 503), lets the ones it is answering finish, and drops the key, or is killed.
   */
  sealBegins(): void;
  /** Before the primary drops its keys: resolves once every replica has dropped its own. */
  stop(): Promise<void>;
  /**
   * Stops every replica for good: each lets the requests it holds finish (within the shutdown
   * grace period) and exits; one that has not exited by then is killed.
   */
  close(): Promise<void>;
}

interface Member {
  child: ChildProcess;
  ready: boolean;
  /** When the replica last answered (its `ready`, or a `pong`), Date.now() ms. */
  lastHeard: number;
  /** Connections handed over whose message has not been written to the channel yet. */
  pending: Set<Socket>;
}

export function createReplicaSet(options: {
  count: number;
  settings: Omit<ReplicaSettings, 'socketPath' | 'hopKey'>;
  /** A copy of the root key, which the set zeroes after sending; throws while sealed. */
  copyRootKey(): Buffer;
  logger: Logger;
}): ReplicaSet {
  const { logger } = options;
  // Directories left by servers that were SIGKILLed; in the background, never in the way.
  void removeStaleSocketDirs(tmpdir()).then((removed) => {
    if (removed.length > 0) logger.info('removed socket directories of servers that are gone', { count: removed.length });
  });
  // mkdtemp makes the directory 0700: only this user can reach the socket inside.
  const socketDir = mkdtempSync(join(tmpdir(), 'coffer-'));
  const socketPath = join(socketDir, 'primary.sock');
  // Never leaves this process but to its replicas, over the IPC channel.
  const hopKey = randomBytes(32).toString('hex');
  const settings: ReplicaSettings = { ...options.settings, socketPath, hopKey };
  const members: Member[] = [];
  let unsealed = false;
  // The taking back of the key by the seal under way, started as it begins.
  let keysTakenBack: Promise<void> | undefined;
  let closing = false;
  let turn = 0;
  let nextSealId = 0;

  const sendKey = (member: Member): void => {
    let key: Buffer;
    try {
      key = options.copyRootKey();
    } catch {
      return;
    }
    try {
      const message: ToReplica = { type: 'unseal', rootKey: key };
      member.child.send(message);
    } finally {
      // The channel serialised its own copy synchronously.
      key.fill(0);
    }
  };

  const spawn = (slot: number): void => {
    const child = fork(new URL('./replica-process.js', import.meta.url), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The primary's flags (a test runner's, --cpu-prof) are not the replica's.
      execArgv: [],
    });
    const member: Member = { child, ready: false, lastHeard: Date.now(), pending: new Set() };
    members[slot] = member;
    child.on('message', (message: FromReplica) => {
      member.lastHeard = Date.now();
      if (message.type !== 'ready') return;
      member.ready = true;
      if (unsealed) sendKey(member);
    });
    child.on('error', (error) => logger.error('replica process error', { error: error.message }));
    child.on('exit', (code, signal) => {
      member.ready = false;
      // Never delivered: close them, so their clients see the connection end instead of a hang.
      for (const socket of member.pending) socket.destroy();
      member.pending.clear();
      if (closing) return;
      logger.error('replica process exited; starting another', { code, signal });
      setTimeout(() => {
        if (!closing) spawn(slot);
      }, RESTART_DELAY_MS).unref();
    });
    const init: ToReplica = { type: 'init', settings };
    child.send(init);
  };

  for (let slot = 0; slot < options.count; slot += 1) spawn(slot);

  const alive = (member: Member): boolean => Date.now() - member.lastHeard <= LIVENESS_MS;
  const pinger = setInterval(() => {
    for (const member of members) {
      if (!member.ready || !member.child.connected) continue;
      if (!alive(member)) {
        logger.error('replica process stopped answering; killing it', { pid: member.child.pid, silent_ms: Date.now() - member.lastHeard });
        member.ready = false;
        member.child.kill('SIGKILL');
        continue;
      }
      const ping: ToReplica = { type: 'ping' };
      member.child.send(ping, () => undefined);
    }
  }, PING_INTERVAL_MS);
  pinger.unref();

  const sealOne = (member: Member): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!member.ready || !member.child.connected) return resolve();
      const id = (nextSealId += 1);
      const done = (): void => {
        clearTimeout(timer);
        member.child.off('message', onMessage);
        resolve();
      };
      const onMessage = (message: FromReplica): void => {
        if (message.type === 'sealed' && message.id === id) done();
      };
      const timer = setTimeout(() => {
        logger.error('replica did not confirm the seal in time; killing it');
        member.child.kill('SIGKILL');
        done();
      }, SEAL_CONFIRM_MS);
      member.child.on('message', onMessage);
      const message: ToReplica = { type: 'seal', id };
      member.child.send(message, (error) => {
        if (error) {
          member.child.kill('SIGKILL');
          done();
        }
      });
    });

  const takeKeysBack = (): Promise<void> => {
    unsealed = false;
    keysTakenBack ??= Promise.all(members.map(sealOne)).then(() => undefined);
    return keysTakenBack;
  };

  return {
    socketPath,
    hopKey,
    distribute(socket) {
      // Round robin over this process and every ready replica.
      const ready = members.filter((m) => m.ready && m.child.connected && alive(m));
      const pick = turn % (ready.length + 1);
      turn += 1;
      const member = pick === 0 ? undefined : ready[pick - 1];
      if (member === undefined) return false;
      const message: ToReplica = { type: 'connection' };
      // keepOpen: this process keeps its own descriptor until the message is written (the
      // replica then holds a duplicate) and closes it itself. Without it, node holds the handle
      // until the replica acknowledges, and a replica that dies first leaves it open forever.
      member.pending.add(socket);
      member.child.send(message, socket, { keepOpen: true }, () => {
        member.pending.delete(socket);
        // Delivered or not, this copy goes: closing one descriptor of a connection ends it only
        // if it was the last (the send failed), and then the client sees it close.
        socket.destroy();
      });
      return true;
    },
    start() {
      unsealed = true;
      keysTakenBack = undefined;
      for (const member of members) if (member.ready) sendKey(member);
    },
    sealBegins() {
      void takeKeysBack();
    },
    stop() {
      return takeKeysBack();
    },
    async close() {
      closing = true;
      unsealed = false;
      clearInterval(pinger);
      await Promise.all(
        members.map(
          (member) =>
            new Promise<void>((resolve) => {
              if (member.child.exitCode !== null || member.child.signalCode !== null) return resolve();
              member.child.once('exit', () => resolve());
              // Closing the channel ends the replica (it finishes its requests and exits on
              // 'disconnect'); the kill is the fallback.
              if (member.child.connected) member.child.disconnect();
              setTimeout(() => member.child.kill('SIGKILL'), settings.shutdownGraceSeconds * 1000 + EXIT_MARGIN_MS).unref();
            }),
        ),
      );
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
