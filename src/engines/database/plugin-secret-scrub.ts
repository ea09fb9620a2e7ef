/**
 * Removes passwords from text that a database sent back, before the text goes into an error.
 *
 * Owns: the scrubbing rule shared by the MySQL and Redis plugins. It must never return text in
 * which a password, or a recognisable piece of one, survives.
 */

const REDACTED = '[redacted]';

/**
 * Databases echo part of a failed statement ("...near 'IDENTIFIED BY 'A1a-xyz' at line 1"), and
 * they cut that echo at a fixed width, so a password can appear whole or cut short. Every run of
 * at least `MIN_FRAGMENT` characters that also occurs inside a secret is replaced; a false
 * positive only hides a harmless word, a miss would leak a credential.
 */
const MIN_FRAGMENT = 4;

/** Longer database messages are cut first; nothing useful to a caller lies past this. */
const MAX_MESSAGE = 1000;

/** Returns `message` with every secret, and every fragment of one, replaced by `[redacted]`. */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  let text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
  const present = secrets.filter((s) => s.length > 0);
  // Whole occurrences first, longest secret first, so one secret inside another is handled.
  for (const secret of [...present].sort((a, b) => b.length - a.length)) {
    text = text.split(secret).join(REDACTED);
  }
  for (const secret of present) text = redactFragments(text, secret);
  return text;
}

function redactFragments(text: string, secret: string): string {
  const minimum = Math.min(MIN_FRAGMENT, secret.length);
  const hide = new Array<boolean>(text.length).fill(false);
  let found = false;
  for (let i = 0; i < text.length; i += 1) {
    let longest = 0;
    for (let j = 0; j < secret.length; j += 1) {
      let k = 0;
      while (i + k < text.length && j + k < secret.length && text[i + k] === secret[j + k]) k += 1;
      if (k > longest) longest = k;
    }
    if (longest >= minimum) {
      hide.fill(true, i, i + longest);
      found = true;
    }
  }
  if (!found) return text;
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    if (!hide[i]) out += text[i];
    else if (i === 0 || !hide[i - 1]) out += REDACTED;
  }
  return out;
}
