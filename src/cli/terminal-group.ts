/**
 * Whether this process runs in the foreground process group of a controlling terminal, where a
 * ^C (SIGINT) from the terminal reaches every process of the group at once: this one and the
 * children it spawned without a group of their own.
 *
 * Why: `coffer run` passes signals on to its command. A terminal ^C already reached the command,
 * and passing it on again would deliver it twice, which tools such as terraform take as "stop
 * now, without cleaning up". A SIGINT that finds this process in the background (or with no
 * terminal: CI runners, supervisors, `kill`) did not reach the command and must be passed on.
 *
 * Linux only (/proc/self/stat: pgrp, tty_nr, tpgid); elsewhere it answers false, so every
 * signal is passed on as before. The answer is read at the moment of the signal, because a
 * shell may move the job between foreground and background while it runs.
 */
import { readFileSync } from 'node:fs';

export function inTerminalForeground(statText?: string): boolean {
  let text = statText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return false;
    }
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state, ppid, pgrp, session, tty_nr, tpgid.
  const pgrp = Number(fields[2]);
  const ttyNr = Number(fields[4]);
  const tpgid = Number(fields[5]);
  return Number.isInteger(pgrp) && ttyNr !== 0 && tpgid > 0 && tpgid === pgrp;
}
