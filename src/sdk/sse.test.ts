import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSseParser, type SseMessage } from './sse.js';

function parse(chunks: string[]): { messages: SseMessage[]; comments: string[] } {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const parser = createSseParser((m) => messages.push(m), (c) => comments.push(c));
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments };
}

describe('server-sent events parser', () => {
  it('parses events with id, event and data, and reports comments', () => {
    const { messages, comments } = parse([': watching "secret/" from seq 4\n\nid: 5\nevent: write\ndata: {"seq":5}\n\n']);
    assert.deepEqual(comments, ['watching "secret/" from seq 4']);
    assert.deepEqual(messages, [{ id: '5', event: 'write', data: '{"seq":5}' }]);
  });

  it('joins events split across chunks at any byte, including between CR and LF', () => {
    const text = 'id: 7\r\nevent: rotate\r\ndata: {"a":1}\r\n\r\nid: 8\r\ndata: x\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const { messages } = parse([text.slice(0, cut), text.slice(cut)]);
      assert.deepEqual(messages, [{ id: '7', event: 'rotate', data: '{"a":1}' }, { id: '8', event: 'message', data: 'x' }], `cut at ${cut}`);
    }
  });

  it('joins multi-line data with newlines and does not dispatch an unfinished event', () => {
    const { messages } = parse(['data: one\ndata: two\n\ndata: unfinished\n']);
    assert.deepEqual(messages, [{ id: undefined, event: 'message', data: 'one\ntwo' }]);
  });
});
