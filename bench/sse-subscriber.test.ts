import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSseParser, type WatchEvent } from './sse-subscriber.js';

test('parses events split across chunks at any byte', () => {
  const text = ': watching "secret/" from seq 0\n\nid: 1\nevent: write\ndata: {"seq":1,"path":"secret/data/a","version":2,"event":"write"}\n\n';
  for (let cut = 0; cut <= text.length; cut += 1) {
    const events: WatchEvent[] = [];
    const push = createSseParser((e) => events.push(e));
    push(text.slice(0, cut));
    push(text.slice(cut));
    assert.deepEqual(events, [{ seq: 1, path: 'secret/data/a', version: 2, event: 'write' }], `cut at ${cut}`);
  }
});

test('skips comments, heartbeats and notices that carry no id', () => {
  const events: WatchEvent[] = [];
  const push = createSseParser((e) => events.push(e));
  push(': keep-alive\n\nevent: reset\ndata: {"reason":"missed"}\n\nevent: end\ndata: {"reason":"token no longer valid"}\n\n');
  assert.deepEqual(events, []);
});

test('reports a null version for events without one, and ignores unparsable data', () => {
  const events: WatchEvent[] = [];
  const push = createSseParser((e) => events.push(e));
  push('id: 3\ndata: {"seq":3,"path":"database/static-creds/app","version":null,"event":"rotate"}\n\nid: 4\ndata: {not json\n\n');
  assert.deepEqual(events, [{ seq: 3, path: 'database/static-creds/app', version: null, event: 'rotate' }]);
});
