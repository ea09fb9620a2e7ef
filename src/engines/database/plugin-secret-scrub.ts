/**
 * Removes passwords from text that a database sent back, before the text goes into an error.
 *
 * Owns: the scrubbing rule shared by the plugins and databaseFailure. It must never return text
 * in which a password, or a recognisable piece of one, survives, nor text whose shape depends on
 * which short pieces a password contains: a caller who can write role statements controls what
 * the database says back, and would otherwise learn the password a few characters at a time.
 */

const REDACTED = '[redacted]';

/** What a caller sees instead of a database message that holds part of a secret. */
export const WITHHELD_MESSAGE = 'the database returned a message that may contain a password; it is withheld (see the database server log)';

/**
 * Databases echo part of a failed statement ("...near 'IDENTIFIED BY 'A1a-xyz' at line 1"), and
 * they cut that echo at a fixed width, so a password can appear whole or cut short. A whole
 * occurrence is masked where it stands. A piece of at least `MIN_FRAGMENT` characters withholds
 * the whole message: masking the piece in place would show where it matched, an oracle that
 * finds a password's short runs one at a time. Below this length nothing is looked for: to learn
 * anything from the rule, a prober must guess `MIN_FRAGMENT` characters of the secret at once
 * (62^8 ≈ 2^47 guesses for a generated password), so at most 7 characters of a cut echo show.
 * A secret shorter than that is looked for whole and withholds the message when present, so a
 * short password is not cut out of ordinary words letter by letter.
 */
const MIN_FRAGMENT = 8;

/** Longer database messages are cut (after scrubbing); nothing useful to a caller lies past this. */
const MAX_MESSAGE = 1000;

/**
 * Returns `message` with every whole secret replaced by `[redacted]`, or WITHHELD_MESSAGE when a
 * piece of a secret (or a whole short one) is in it.
 */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  const present = secrets.filter((s) => s.length > 0);
  let text = message;
  // Longest first, so one secret inside another is masked whole.
  for (const secret of [...present].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_FRAGMENT) text = text.split(secret).join(REDACTED);
  }
  if (present.some((secret) => holdsPieceOf(text, secret))) return WITHHELD_MESSAGE;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/** Whether `text` holds `MIN_FRAGMENT` consecutive characters of `secret` (all of it, if shorter). */
function holdsPieceOf(text: string, secret: string): boolean {
  const width = Math.min(MIN_FRAGMENT, secret.length);
  for (let start = 0; start + width <= secret.length; start += 1) {
    if (text.includes(secret.slice(start, start + width))) return true;
  }
  return false;
}
