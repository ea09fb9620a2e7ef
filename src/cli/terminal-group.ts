/**
 * Whether a SIGINT this process received was a ^C typed in its terminal that also reached a
 * given child: both are in the terminal's foreground process group, to which the terminal sends
 * ^C (SIGINT) as one signal to every member.
 *
 * Why: `coffer run` passes signals on to its command. A terminal ^C already reached the command,
 * and passing it on again would deliver it twice, which tools such as terraform take as "stop
 * now, without cleaning up". A SIGINT that finds this process in the background, with no
 * terminal (CI runners, supervisors), or a command that moved to a group of its own (GNU
 * `timeout`, a shell with job control) did not reach the command and must be passed on.
 *
 * Linux only (/proc/<pid>/stat: pgrp, tty_nr, tpgid); elsewhere it answers false, so every
 * signal is passed on as before. Read at the moment of the signal: a shell may move the job
 * between foreground and background, and the command may change its group, while it runs.
 */
import { readFileSync } from 'node:fs';

interface TerminalFacts {
  readonly pgrp: number;
  readonly ttyNr: number;
  readonly tpgid: number;
}

/** Parses /proc/<pid>/stat text; undefined when it cannot be read or parsed. */
export function terminalFacts(statText: string | undefined): TerminalFacts | undefined {
  if (statText === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields start after the last ')'.
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  // After the name: state, ppid, pgrp, session, tty_nr, tpgid.
  const pgrp = Number(fields[2]);
  const ttyNr = Number(fields[4]);
  const tpgid = Number(fields[5]);
  if (!Number.isInteger(pgrp) || !Number.isInteger(ttyNr) || !Number.isInteger(tpgid)) return undefined;
  return { pgrp, ttyNr, tpgid };
}

/** In the foreground process group of a controlling terminal. */
export function inTerminalForeground(facts: TerminalFacts | undefined): boolean {
  return facts !== undefined && facts.ttyNr !== 0 && facts.tpgid > 0 && facts.tpgid === facts.pgrp;
}

function readStat(pid: number | 'self'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** True when a terminal ^C reached both this process and `childPid` (so it must not be sent again). */
export function terminalInterruptReached(childPid: number, read: (pid: number | 'self') => string | undefined = readStat): boolean {
  const self = terminalFacts(read('self'));
  const child = terminalFacts(read(childPid));
  return inTerminalForeground(self) && inTerminalForeground(child) && child?.pgrp === self?.pgrp;
}
