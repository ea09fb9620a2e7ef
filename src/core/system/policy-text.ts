/**
 * Policy text as sys/policies/acl/:name (`policy`) and sys/policy/:name (`rules`) accept it:
 * plain HCL or JSON, or the same base64-encoded, as Vault's handlePoliciesSet allows.
 *
 * Owns only the decoding; parsing and validation stay with the policy store.
 */

// Standard alphabet, padded, in whole quanta: what Go's base64.StdEncoding accepts. No HCL or
// JSON policy matches it (both need quotes and braces), so plain text is never mistaken for it.
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The policy a client sent: if the whole text is strict standard base64 of UTF-8 text, the
 * decoded text; otherwise the text unchanged. Like Go's decoder, line breaks in the encoding
 * are ignored (`base64` wraps its output at 76 columns).
 */
export function decodedPolicyText(text: string): string {
  const compact = text.replace(/[\r\n]/g, '');
  if (compact === '' || !STANDARD_BASE64.test(compact)) return text;
  try {
    return utf8.decode(Buffer.from(compact, 'base64'));
  } catch {
    // Not UTF-8: not an encoded policy, so the text is parsed (and refused) as it was sent.
    return text;
  }
}
