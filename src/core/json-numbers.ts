/**
 * Integers that JSON.parse cannot keep. JavaScript numbers are doubles, so an integer literal
 * beyond ±2^53 (an account number, a snowflake id) parses to the nearest double and would be
 * stored and returned as a different number. Vault keeps such numbers exactly (json.Number);
 * Coffer cannot on Node 20 (JSON.parse hides the source text of a number until V8 11.4, and
 * JSON.stringify cannot write a raw literal), so it refuses them rather than change them.
 *
 * Why a scan of our own: no JSON parser on npm answers "does this text hold an integer literal
 * that parses inexactly?" without replacing JSON.parse on every request. The scan runs only
 * when the parsed value holds an integer outside the safe range (`holdsUnsafeInteger`), which
 * an ordinary body never does, and it only tells number tokens from string contents: the text
 * has already been parsed, so it is valid JSON.
 */

/** The message for a refused literal; never quotes the number (it may be a secret). */
export const INEXACT_INTEGER_MESSAGE =
  'a JSON integer beyond ±9007199254740991 (2^53 - 1) cannot be stored exactly; send it as a string';

/** True when `value` (a parsed JSON value) holds an integer outside ±(2^53 - 1) anywhere. */
export function holdsUnsafeInteger(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'number') {
      if (Number.isInteger(current) && !Number.isSafeInteger(current)) return true;
    } else if (current !== null && typeof current === 'object') {
      for (const item of Object.values(current)) pending.push(item);
    }
  }
  return false;
}

/**
 * True when the (valid) JSON `text` holds an integer literal, without fraction or exponent,
 * that would not come back as written: 9007199254740993 parses as ...992, and even 2^60, which
 * a double holds exactly, is written back as 1152921504606847000. Literals written with a
 * fraction or an exponent (2.5, 1e21) are decimals, kept as JSON.parse reads them.
 */
export function hasInexactIntegerLiteral(text: string): boolean {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip a string: its contents may hold digits that are not numbers.
      i += 1;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i += 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < text.length && /[-+0-9.eE]/.test(text[i] as string)) i += 1;
      const literal = text.slice(start, i);
      // Up to 15 digits always come back as written; only longer integer literals can change.
      if (!/[.eE]/.test(literal) && literal.replace('-', '').length > 15 && String(Number(literal)) !== literal) return true;
      continue;
    }
    i += 1;
  }
  return false;
}
