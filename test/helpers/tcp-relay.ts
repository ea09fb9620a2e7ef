/**
 * A TCP relay in front of a database whose connections a test can cut without a goodbye, as a
 * killed backend, a failover or a proxy reset does. New connections keep working after a cut.
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
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let marker: string | undefined;
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    let marked = false;
    client.on('data', (chunk: Buffer) => {
      if (marker !== undefined && chunk.includes(marker)) marked = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (marked) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      client.write(chunk);
    });
    const drop = (): void => {
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
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
