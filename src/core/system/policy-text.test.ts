import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodedPolicyText } from './policy-text.js';

const HCL = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n';

test('decodes a policy sent as standard base64', () => {
  assert.equal(decodedPolicyText(Buffer.from(HCL).toString('base64')), HCL);
});

test('decodes base64 wrapped over several lines, as Go does', () => {
  const wrapped = Buffer.from(HCL).toString('base64').replace(/.{20}/g, '$&\n');
  assert.equal(decodedPolicyText(wrapped), HCL);
});

test('leaves plain HCL and JSON policies as they are', () => {
  assert.equal(decodedPolicyText(HCL), HCL);
  const json = '{"path":{"secret/*":{"capabilities":["read"]}}}';
  assert.equal(decodedPolicyText(json), json);
});

test('leaves text that is not strict standard base64 as it is', () => {
  const encoded = Buffer.from('path "a" {}').toString('base64');
  const unpadded = encoded.replace(/=+$/, '');
  assert.notEqual(unpadded, encoded, 'the sample needs padding');
  assert.equal(decodedPolicyText(unpadded), unpadded, 'missing padding');
  const urlSafe = Buffer.from('abc??>').toString('base64url');
  assert.equal(urlSafe, 'YWJjPz8-');
  assert.equal(decodedPolicyText(urlSafe), urlSafe, 'URL-safe alphabet');
  assert.equal(decodedPolicyText(`${encoded} `), `${encoded} `, 'trailing space');
});

test('leaves base64 that does not decode to UTF-8 as it is', () => {
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80]).toString('base64');
  assert.equal(decodedPolicyText(binary), binary);
});
