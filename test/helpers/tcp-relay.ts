/**
 * A TCP relay in front of a database whose connections a test can cut without a goodbye, as a
 * killed backend, a failover or a proxy reset does, or make silent, as a frozen server or a
 * dropped route does. New connections keep working after a cut or a mute.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpRelay {
  readonly port: number;
  /** Resets (RST) every connection open now. */
  cutAll(): void;
  /**
   * From now on, a connection that sends bytes containing `marker` is reset as soon as the
   * server starts answering them: the request reached the server, its reply never arrives.
   * undefined stops doing so for connections that send the marker afterwards.
   */
  loseReplyTo(marker: string | undefined): void;
  /** While true, a new connection is reset at once, as by a database that is unreachable. */
  refuseNew(refuse: boolean): void;
  /**
   * While true, a new connection is accepted and then never answered (a blackhole: a frozen
   * server, a firewall that drops packets). It stays open until cutAll() or close().
   */
  holdNew(hold: boolean): void;
  /** How many held connections are open now. */
  readonly held: number;
  /**
   * Every connection open now goes silent for good: nothing more is passed either way, and
   * neither end is told. Connections made afterwards work.
   */
  muteAll(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let marker: string | undefined;
  let refusing = false;
  let holding = false;
  const held = new Set<Socket>();
  // Mutes every relayed connection open now; each registers its own here.
  const mutes = new Set<() => void>();
  const server = createServer((client) => {
    if (refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    if (holding) {
      held.add(client);
      open.add(client);
      client.on('error', () => undefined);
      client.on('close', () => {
        held.delete(client);
        open.delete(client);
      });
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    let marked = false;
    let muted = false;
    const mute = (): void => {
      muted = true;
    };
    mutes.add(mute);
    client.on('data', (chunk: Buffer) => {
      if (muted) return;
      if (marker !== undefined && chunk.includes(marker)) marked = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (muted) return;
      if (marked) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      client.write(chunk);
    });
    const drop = (): void => {
      mutes.delete(mute);
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cutAll: () => {
      for (const socket of open) socket.resetAndDestroy();
    },
    loseReplyTo: (text) => {
      marker = text;
    },
    refuseNew: (refuse) => {
      refusing = refuse;
    },
    holdNew: (hold) => {
      holding = hold;
    },
    get held() {
      return held.size;
    },
    muteAll: () => {
      for (const mute of mutes) mute();
      mutes.clear();
    },
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
