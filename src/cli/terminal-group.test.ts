/**
 * Tests: reading the terminal's foreground process group from /proc/<pid>/stat text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTerminalForeground } from './terminal-group.js';

// pid (comm) state ppid pgrp session tty_nr tpgid flags ...
const stat = (comm: string, pgrp: number, ttyNr: number, tpgid: number): string => `4242 (${comm}) S 4200 ${pgrp} 4100 ${ttyNr} ${tpgid} 4194304 126 0 0 0`;

test('a process whose group is its terminal foreground group gets the terminal ^C itself', () => {
  assert.equal(inTerminalForeground(stat('node', 4242, 34816, 4242)), true);
});

test('in the background, or with no terminal, a SIGINT did not come from a ^C to this group', () => {
  assert.equal(inTerminalForeground(stat('node', 4242, 34816, 5000)), false, 'another group holds the terminal');
  assert.equal(inTerminalForeground(stat('node', 4242, 0, -1)), false, 'no controlling terminal');
});

test('a command name with spaces and parentheses does not shift the fields', () => {
  assert.equal(inTerminalForeground(stat('a) (b c', 4242, 34816, 4242)), true);
  assert.equal(inTerminalForeground(stat('a) 1 2 3', 4242, 0, 4242)), false);
});
