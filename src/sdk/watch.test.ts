import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferConnectionError, createRedactor } from './errors.js';
import type { HttpResponseLike, Transport } from './transport.js';
import { startWatch } from './watch.js';

/** An event stream that sends its opening comment, then stays open until cancelled. */
function openStream(): HttpResponseLike {
  let cancel: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    cancel = resolve;
  });
  return {
    status: 200,
    headers: { get: (name) => (name.toLowerCase() === 'content-type' ? 'text/event-stream' : null) },
    text: async () => '',
    body: {
      async *[Symbol.asyncIterator]() {
        yield new TextEncoder().encode(': from seq 0\n\n');
        await ended;
      },
      async cancel() {
        cancel();
      },
    },
  };
}

/** A transport whose stream fails `failures` times per round, then opens; `cut()` ends the open one with an error. */
function flakyTransport(failures: number) {
  let failing = failures;
  let streams = 0;
  const transport: Transport = {
    address: 'http://127.0.0.1:1',
    redactor: createRedactor(),
    request: async () => {
      throw new Error('no long-polling in this test');
    },
    async stream() {
      if (failing > 0) {
        failing -= 1;
        throw new CofferConnectionError('cannot reach the server at http://127.0.0.1:1: ECONNREFUSED', 'ECONNREFUSED');
      }
      streams += 1;
      return openStream();
    },
  };
  return { transport, streams: () => streams };
}

const waitFor = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(check(), `waited for ${what}`);
};

describe('watch reconnects', () => {
  it('paces reconnects with the backoff it is given and says when a connection opens after failures', async () => {
    const { transport, streams } = flakyTransport(3);
    const delays: number[] = [];
    let opened = 0;
    const stop = startWatch(transport, 'secret/', () => undefined, { transport: 'sse', onOpen: () => void (opened += 1), onError: () => undefined }, () => undefined, (failures) => {
      delays.push(failures);
      return 1;
    });
    // The watch's own timers are unref'd; this keeps the test's event loop alive meanwhile.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await stop.ready;
      await waitFor(() => streams() === 1, 'the stream to open');
      assert.deepEqual(delays, [1, 2, 3], 'one backoff per consecutive failure');
      assert.equal(opened, 1, 'one open after the failures');
    } finally {
      clearInterval(keepAlive);
      stop();
    }
  });

  it('falls back to long-polling while streams keep failing, and asks for a stream again a minute later', async () => {
    let failing = 3;
    let streams = 0;
    let polls = 0;
    const transport: Transport = {
      address: 'http://127.0.0.1:1',
      redactor: createRedactor(),
      request: async () => {
        polls += 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
        return { status: 200, body: { data: { events: [], last_seq: 0, complete: true } } } as never;
      },
      async stream() {
        if (failing > 0) {
          failing -= 1;
          throw new CofferConnectionError('cannot reach the server at http://127.0.0.1:1: ECONNREFUSED', 'ECONNREFUSED');
        }
        streams += 1;
        return openStream();
      },
    };
    let clock = 1_000_000;
    const stop = startWatch(transport, 'secret/', () => undefined, { onError: () => undefined }, () => undefined, () => 1, () => clock);
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await waitFor(() => polls >= 3, 'long-polling after three failed streams');
      assert.equal(stop.mode, 'poll');
      assert.equal(streams, 0);
      clock += 60_000;
      await waitFor(() => streams === 1, 'a stream asked for again');
      assert.equal(stop.mode, 'sse');
    } finally {
      clearInterval(keepAlive);
      stop();
    }
  });
});
