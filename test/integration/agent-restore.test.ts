/**
 * The agent keeps its files as it wrote them: a rendered file or the token sink that was
 * deleted or edited is written again at the next SIGHUP (rerender) or render_interval pass,
 * and the token sink's directory is created (0700) like a template's. What stands at an output
 * path is never followed: a symlink or a FIFO there is replaced, and its target left alone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/core/logger.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { read, waitFor } from '../helpers/polling.js';



describe('coffer agent: files deleted or edited behind its back', () => {
  let server: TestServer;
  let root: string;
  let dir: string;
  let tokenFile: string;
  const agents: Agent[] = [];
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => void logs.push(line) });

  const start = async (name: string, renderInterval: string): Promise<{ agent: Agent; file: string; sink: string }> => {
    const file = join(dir, name, 'files', 'app.env');
    const sink = join(dir, name, 'sink', 'deep', 'token');
    const agent = await startAgent(
      {
        address: server.url,
        auto_auth: { method: 'token_file', token_file: tokenFile },
        sink: { path: sink },
        templates: [{ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: file }],
        retry: { initial_backoff: '50ms', max_backoff: '500ms' },
        render_interval: renderInterval,
      },
      { logger },
    );
    agents.push(agent);
    await agent.ready;
    return { agent, file, sink };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    tokenFile = join(dir, 'root-token');
    writeFileSync(tokenFile, root);
    const res = await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { value: 'one' } } });
    assert.equal(res.status, 200);
  });

  after(async () => {
    for (const agent of agents) await agent.stop().catch(() => undefined);
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the token sink directory 0700 and writes the sink there', async () => {
    const { sink } = await start('a', '1h');
    await waitFor(() => read(sink) === root, 5000, 'the token sink');
    assert.equal(statSync(join(dir, 'a', 'sink', 'deep')).mode & 0o777, 0o700);
    assert.equal(statSync(sink).mode & 0o777, 0o600);
  });

  it('writes a deleted or edited file and token sink again on SIGHUP (rerender)', async () => {
    const { agent, file, sink } = await start('b', '1h');
    await waitFor(() => read(sink) === root, 5000, 'the token sink');
    assert.equal(read(file), 'VALUE=one\n');
    unlinkSync(file);
    unlinkSync(sink);
    agent.rerender();
    await waitFor(() => read(file) === 'VALUE=one\n' && read(sink) === root, 5000, 'the deleted files to come back');
    writeFileSync(file, 'VALUE=tampered\n');
    writeFileSync(sink, 'not-the-token');
    agent.rerender();
    await waitFor(() => read(file) === 'VALUE=one\n' && read(sink) === root, 5000, 'the edited files to be restored');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const messages = logs.map((l) => JSON.parse(l).message as string);
    assert.ok(messages.includes('the file was missing or changed on disk; wrote it again'));
    assert.ok(messages.includes('the token sink was missing or changed; wrote it again'));
    for (const line of logs) assert.ok(!line.includes(root), 'no token in a log line');
  });

  it('writes them again at the next render_interval pass without a SIGHUP', async () => {
    const { file, sink } = await start('c', '200ms');
    await waitFor(() => read(sink) === root, 5000, 'the token sink');
    unlinkSync(file);
    writeFileSync(sink, 'not-the-token');
    await waitFor(() => read(file) === 'VALUE=one\n' && read(sink) === root, 5000, 'the files restored by the interval');
  });

  it('replaces a symlink or a FIFO at an output path without touching what the link points to', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n', { mode: 0o640 });
    const linked = join(dir, 'd', 'files', 'app.env');
    mkdirSync(join(dir, 'd', 'files'), { recursive: true });
    symlinkSync(victim, linked);
    const fifo = join(dir, 'd', 'sink', 'deep', 'token');
    mkdirSync(join(dir, 'd', 'sink', 'deep'), { recursive: true });
    execFileSync('mkfifo', [fifo]);
    const { file, sink } = await start('d', '1h');
    assert.equal(file, linked);
    await waitFor(() => read(sink) === root, 5000, 'the token sink');
    assert.ok(lstatSync(file).isFile(), 'the link was replaced by the rendered file');
    assert.ok(lstatSync(sink).isFile(), 'the FIFO was replaced by the sink');
    assert.equal(read(file), 'VALUE=one\n');
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.equal(statSync(victim).mode & 0o777, 0o640, 'the target of the link kept its mode (templates default to 0600)');
  });

  it('replaces a hard link at an output path instead of changing the other file\'s mode', async () => {
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'VALUE=one\n', { mode: 0o644 });
    mkdirSync(join(dir, 'h', 'files'), { recursive: true });
    linkSync(other, join(dir, 'h', 'files', 'app.env'));
    const { file } = await start('h', '1h');
    await waitFor(() => read(file) === 'VALUE=one\n' && statSync(file).nlink === 1, 5000, 'the file replaced by its own');
    assert.equal(statSync(other).mode & 0o777, 0o644, 'the other name of the inode kept its mode');
  });

  it('writes into an output directory removed while it runs, making it again', async () => {
    const { agent, file } = await start('e', '1h');
    await waitFor(() => read(file) === 'VALUE=one\n', 5000, 'the first render');
    rmSync(join(dir, 'e', 'files'), { recursive: true, force: true });
    agent.rerender();
    await waitFor(() => read(file) === 'VALUE=one\n', 5000, 'the file in a directory made again');
    assert.equal(statSync(join(dir, 'e', 'files')).mode & 0o777, 0o700);
  });
});
