/**
 * Tests: reading terminal foreground groups from /proc/<pid>/stat text, and deciding whether a
 * terminal ^C reached both this process and its child.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTerminalForeground, terminalFacts, terminalInterruptReached } from './terminal-group.js';

// pid (comm) state ppid pgrp session tty_nr tpgid flags ...
const stat = (comm: string, pgrp: number, ttyNr: number, tpgid: number): string => `4242 (${comm}) S 4200 ${pgrp} 4100 ${ttyNr} ${tpgid} 4194304 126 0 0 0`;

test('a process whose group is its terminal foreground group gets the terminal ^C itself', () => {
  assert.equal(inTerminalForeground(terminalFacts(stat('node', 4242, 34816, 4242))), true);
});

test('in the background, or with no terminal, a SIGINT did not come from a ^C to this group', () => {
  assert.equal(inTerminalForeground(terminalFacts(stat('node', 4242, 34816, 5000))), false, 'another group holds the terminal');
  assert.equal(inTerminalForeground(terminalFacts(stat('node', 4242, 0, -1))), false, 'no controlling terminal');
  assert.equal(inTerminalForeground(terminalFacts(undefined)), false, 'no /proc');
});

test('a command name with spaces and parentheses does not shift the fields', () => {
  assert.equal(inTerminalForeground(terminalFacts(stat('a) (b c', 4242, 34816, 4242))), true);
  assert.equal(inTerminalForeground(terminalFacts(stat('a) 1 2 3', 4242, 0, 4242))), false);
});

test('a ^C counts as delivered to the child only when the child shares the foreground group', () => {
  const reads = (self: string, child: string | undefined) => (pid: number | 'self') => (pid === 'self' ? self : child);
  const fg = stat('node', 4242, 34816, 4242);
  assert.equal(terminalInterruptReached(7, reads(fg, stat('cmd', 4242, 34816, 4242))), true);
  assert.equal(terminalInterruptReached(7, reads(fg, stat('timeout', 7, 34816, 4242))), false, 'the child moved to a group of its own (GNU timeout)');
  assert.equal(terminalInterruptReached(7, reads(fg, undefined)), false, 'the child is gone');
  assert.equal(terminalInterruptReached(7, reads(stat('node', 4242, 34816, 5000), stat('cmd', 4242, 34816, 5000))), false, 'both in the background');
});
