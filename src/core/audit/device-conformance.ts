/**
 * The behaviour every audit device must show, as one suite each implementation runs from its own
 * test file (file today; socket or syslog devices later).
 *
 * Owns: the device contract's checks. It must never need to know how a device stores lines,
 * beyond the `read` function the implementation's test supplies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditDevice } from './device.js';
import type { AuditEntry } from './entry.js';

export interface DeviceUnderTest {
  readonly device: AuditDevice;
  /**
   * Every line the device has written so far, without newlines. Absent for a device that keeps
   * nothing (the file device's `discard`): the suite then checks only that it accepts entries.
   */
  read?(): string[];
  cleanup(): void;
}

export function sampleEntry(n: number): AuditEntry {
  return {
    type: 'request',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    auth: {},
    request: { id: `req-${n}`, operation: 'read', path: `secret/data/${n}`, remote_address: '127.0.0.1' },
    error: '',
  };
}

export function runAuditDeviceConformance(name: string, setup: () => DeviceUnderTest): void {
  test(`${name}: writes one JSON line per entry, in call order, carrying the entry's fields`, (ctx) => {
    const t = setup();
    try {
      for (let i = 1; i <= 5; i += 1) t.device.log(sampleEntry(i));
      if (t.read === undefined) {
        ctx.diagnostic('the device keeps no lines: checked only that it accepts every entry');
        return;
      }
      const lines = t.read();
      assert.equal(lines.length, 5);
      lines.forEach((line, i) => {
        const parsed = JSON.parse(line) as { type: string; request: { id: string } };
        assert.equal(parsed.type, 'request');
        assert.equal(parsed.request.id, `req-${i + 1}`);
      });
    } finally {
      t.cleanup();
    }
  });

  test(`${name}: refuses to log after close, and close is idempotent`, () => {
    const t = setup();
    try {
      t.device.close();
      t.device.close();
      assert.throws(() => t.device.log(sampleEntry(1)));
      assert.equal(t.read?.().length ?? 0, 0);
    } finally {
      t.cleanup();
    }
  });

  test(`${name}: reopening is harmless while open and refused after close`, () => {
    const t = setup();
    try {
      t.device.log(sampleEntry(1));
      t.device.reopen();
      t.device.log(sampleEntry(2));
      assert.equal(t.read?.().length ?? 2, 2);
      t.device.close();
      assert.throws(() => t.device.reopen());
    } finally {
      t.cleanup();
    }
  });

  test(`${name}: names a sink`, () => {
    const t = setup();
    try {
      assert.equal(typeof t.device.sink, 'string');
      assert.ok(t.device.sink.length > 0);
    } finally {
      t.device.close();
      t.cleanup();
    }
  });
}
