import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OneShotResult } from './one-shot.js';
import { oneShotMarkdown, oneShotTextTable, upsertSection } from './one-shot-report.js';

const result: OneShotResult = {
  title: 'Lease scale',
  summary: 'Measured now.',
  figures: [
    { label: 'Restart to ready', value: '412 ms', note: 'median of 3', target: { text: '< 1 s', met: true } },
    { label: 'Storm', value: '31 s', target: { text: '< 20 s', met: false } },
    { label: 'On disk', value: '1 | 2 MB' },
  ],
  method: ['How it was done.'],
  problems: [],
};

test('appends the section when the document has none', () => {
  const doc = '# Coffer benchmarks\n\n## Results\n\nrows\n';
  assert.equal(upsertSection(doc, 'Lease scale', '## Lease scale\n\nnew\n'), '# Coffer benchmarks\n\n## Results\n\nrows\n\n## Lease scale\n\nnew\n');
});

test('replaces a section in the middle and keeps the sections after it', () => {
  const doc = '# T\n\n## Results\n\nrows\n\n## Lease scale\n\nold\n### Lease scale: method\n\n- old\n\n## Per-round figures\n\nmore\n';
  assert.equal(upsertSection(doc, 'Lease scale', '## Lease scale\n\nnew\n'), '# T\n\n## Results\n\nrows\n\n## Lease scale\n\nnew\n\n## Per-round figures\n\nmore\n');
});

test('replaces a section at the end of the document', () => {
  const doc = '# T\n\n## Lease scale\n\nold\n';
  assert.equal(upsertSection(doc, 'Lease scale', '## Lease scale\n\nnew\n'), '# T\n\n## Lease scale\n\nnew\n');
});

test('does not mistake a longer heading for the section', () => {
  const doc = '# T\n\n## Lease scale extra\n\nkeep\n';
  assert.equal(upsertSection(doc, 'Lease scale', '## Lease scale\n\nnew\n'), '# T\n\n## Lease scale extra\n\nkeep\n\n## Lease scale\n\nnew\n');
});

test('replacing twice gives the same document as replacing once', () => {
  const once = upsertSection('# T\n', 'Lease scale', oneShotMarkdown(result));
  assert.equal(upsertSection(once, 'Lease scale', oneShotMarkdown(result)), once);
});

test('marks targets met and missed and escapes table pipes in Markdown', () => {
  const md = oneShotMarkdown(result);
  assert.match(md, /\| Restart to ready \| 412 ms \| < 1 s: \*\*met\*\* \| median of 3 \|/);
  assert.match(md, /\| Storm \| 31 s \| < 20 s: \*\*missed\*\* \| {2}\|/);
  assert.match(md, /1 \\\| 2 MB/);
});

test('prints MET and MISSED in the text table', () => {
  const text = oneShotTextTable(result);
  assert.match(text, /< 1 s: MET/);
  assert.match(text, /< 20 s: MISSED/);
});
