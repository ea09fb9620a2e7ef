/**
 * Child-process entry for the baseline: a bare `node:http` server that answers every request
 * with one fixed JSON body (given base64-encoded as argv[2]) and prints `{"url": …}` on stdout.
 *
 * It is the "physical limit" of one Node process on this machine; it must never do any work
 * per request beyond writing the body, or the ratios against it stop meaning anything. With
 * argv[3] = N it becomes the reference cell instead: the same server spending N µs of CPU in
 * JavaScript per request (a busy loop), to show what a server doing that much work can reach.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const encoded = process.argv[2];
if (encoded === undefined) {
  process.stderr.write('usage: baseline-child.js BODY_BASE64\n');
  process.exit(2);
}
const body = Buffer.from(encoded, 'base64');
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
const workNs = BigInt(Math.round(Number(process.argv[3] ?? '0') * 1000));

// Node discards an unread request body itself once the response ends, so keep-alive holds.
const server = createServer((_req, res) => {
  if (workNs > 0n) {
    const until = process.hrtime.bigint() + workNs;
    while (process.hrtime.bigint() < until);
  }
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 60_000;

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
