import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { chainLine, checkLineMac, EMPTY_HEAD, headAfter, lineMacKey, readLink } from './chain.js';
import type { AuditEntry } from './entry.js';

const chainKey = Buffer.alloc(32, 7);

function entry(note: string): AuditEntry {
  return {
    type: 'response',
    time: '2026-01-01T12:00:00.000000000Z',
    auth: { client_token: 'hmac-sha256:ab', policies: ['default'] },
    request: { id: 'r-1', operation: 'read', path: `secret/data/${note}`, remote_address: '127.0.0.1' },
    response: { status_code: 200, data: { note } },
    error: '',
  };
}

/** The line as the format defines it: the entry with its chain field last, then the MAC spliced in. */
function referenceLine(value: AuditEntry, seq: number, prev: string, withMac: boolean): string {
  const kid = withMac ? lineMacKey(chainKey).kid : undefined;
  const text = JSON.stringify({ ...value, chain: kid === undefined ? { seq, prev } : { seq, prev, kid } });
  if (!withMac) return text;
  const mac = createHmac('sha256', chainKey).update(Buffer.from(text, 'utf8')).digest('hex');
  return `${text.slice(0, -2)},"mac":"${mac}"}}`;
}

for (const withMac of [true, false]) {
  test(`writes exactly the reference line, ${withMac ? 'with' : 'without'} a MAC, for ASCII and multi-byte text`, () => {
    let head = EMPTY_HEAD;
    for (const note of ['plain', 'café ☕ 𝄞 \u2028 "quoted" \\ back', '', 'x'.repeat(5000)]) {
      const out = chainLine(entry(note), head, withMac ? lineMacKey(chainKey) : undefined);
      const expected = referenceLine(entry(note), head.seq + 1, head.hash, withMac);
      assert.equal(out.line.toString('utf8'), expected);
      assert.equal(out.terminated.toString('utf8'), `${expected}\n`);
      assert.equal(out.next.seq, head.seq + 1);
      assert.equal(out.next.hash, createHash('sha256').update(Buffer.from(expected, 'utf8')).digest('hex'));
      assert.deepEqual(headAfter(out.line), out.next);
      const link = readLink(JSON.parse(expected));
      assert.ok(link);
      assert.equal(checkLineMac(out.line, link, chainKey), withMac ? 'valid' : 'missing');
      head = out.next;
    }
  });
}
