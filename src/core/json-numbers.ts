/**
 * Numbers that JSON.parse cannot keep. JavaScript numbers are doubles, so an integer literal
 * beyond ±2^53 (an account number, a snowflake id) parses to the nearest double, and so does a
 * decimal with more significant digits than a double holds (0.12345678901234567890 becomes
 * 0.12345678901234568): either would be stored and returned as a different number. Vault keeps
 * such numbers exactly (json.Number); Coffer cannot on Node 20 (JSON.parse hides the source text
 * of a number until V8 11.4, and JSON.stringify cannot write a raw literal), so it refuses them
 * rather than change them.
 *
 * Why a scan of our own: no JSON parser on npm answers "does this text hold a number literal
 * that parses inexactly?" without replacing JSON.parse on every request. The scan runs only
 * when the parsed value holds a number that is not a safe integer (`holdsUnsafeInteger`, or
 * the request body's shape check), which an ordinary body of strings never does, and it only
 * tells number tokens from string contents: the text has already been parsed, so it is valid
 * JSON.
 */

/** The messages for a refused literal; they never quote the number (it may be a secret). */
export const INEXACT_INTEGER_MESSAGE =
  'a JSON integer beyond ±9007199254740991 (2^53 - 1) cannot be stored exactly; send it as a string';
export const INEXACT_DECIMAL_MESSAGE =
  'a JSON number with more significant digits than a double holds (15 always fit) cannot be stored exactly; send it as a string';

/**
 * Whether the numbers of `value` (parsed from `text`) call for `inexactNumberLiteral`: one is
 * not a safe integer, or one is and the text spells some number with a fraction or an exponent
 * (1.00000000000000000001 parses to the safe integer 1). A body without numbers never does.
 */
export function numberScanNeeded(value: unknown, text: string): boolean {
  let anyNumber = false;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'number') {
      if (!Number.isSafeInteger(current)) return true;
      anyNumber = true;
    } else if (current !== null && typeof current === 'object') {
      for (const item of Object.values(current)) pending.push(item);
    }
  }
  return anyNumber && /[0-9][.eE]/.test(text);
}

/** The refusal message for what `inexactNumberLiteral` found. */
export function inexactNumberMessage(kind: 'integer' | 'decimal'): string {
  return kind === 'integer' ? INEXACT_INTEGER_MESSAGE : INEXACT_DECIMAL_MESSAGE;
}

/**
 * A number literal's value as sign, significant digits and power of ten ("-15e-1" for -1.50),
 * so two spellings of one value compare equal. Zero has no sign: JSON.stringify writes -0 as 0.
 */
function canonicalValue(literal: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (match === null) return literal;
  const [, sign, whole, fraction = '', exponent = '0'] = match as unknown as [string, string, string, string | undefined, string | undefined];
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const power = Number(exponent) - fraction.length + (digits.length - significant.length);
  return `${sign}${significant}e${power}`;
}

/**
 * The first number literal in the (valid) JSON `text` that would not come back with the value
 * written, and whether it is an integer literal or a decimal: 9007199254740993 parses as ...992,
 * even 2^60, which a double holds exactly, is written back as 1152921504606847000, and
 * 0.1000000000000000000001 parses as 0.1. Another spelling of the same value (1.50, 1e3) is
 * not a change.
 */
export function inexactNumberLiteral(text: string): 'integer' | 'decimal' | undefined {
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
      const integer = !/[.eE]/.test(literal);
      // Up to 15 digits of an integer always come back as written.
      if (integer && literal.replace('-', '').length <= 15) continue;
      if (canonicalValue(String(Number(literal))) !== canonicalValue(literal)) return integer ? 'integer' : 'decimal';
      continue;
    }
    i += 1;
  }
  return undefined;
}
