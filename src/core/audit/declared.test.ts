import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { parseDeclaredAuditDevices, planDeclared, type TableDevice } from './declared.js';

const refused = (pattern: RegExp) => (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && pattern.test(err.message);

test('parses declared devices into normalised paths, with an empty description by default', () => {
  const devices = parseDeclaredAuditDevices([
    { path: 'file', type: 'file', options: { file_path: '/var/log/coffer/audit.log', mode: '0640' } },
    { path: '/out/', type: 'file', description: 'to the journal', options: { file_path: 'stdout' } },
  ]);
  assert.deepEqual(devices, [
    { path: 'file/', type: 'file', description: '', options: { file_path: '/var/log/coffer/audit.log', mode: '0640' } },
    { path: 'out/', type: 'file', description: 'to the journal', options: { file_path: 'stdout' } },
  ]);
  assert.deepEqual(parseDeclaredAuditDevices(undefined), []);
});

test('accepts several devices that discard their entries: they share no file', () => {
  const devices = parseDeclaredAuditDevices([
    { path: 'a/', type: 'file', options: { file_path: 'discard' } },
    { path: 'b/', type: 'file', options: { file_path: 'discard' } },
  ]);
  assert.deepEqual(devices.map((d) => d.options['file_path']), ['discard', 'discard']);
});

test('refuses a malformed declared device, naming the entry and what to write instead', () => {
  const good = { path: 'file/', type: 'file', options: { file_path: '/var/log/a.log' } };
  const cases: Array<[unknown, RegExp]> = [
    [good, /must be a list of audit devices, e\.g\. \[\{"path": "file\/"/],
    [[7], /^entry 1: must be an object/],
    [[good, { ...good, path: 'b/', options: { file_path: '/var/log/b.log' }, prefix: 'x' }], /^entry 2: unknown key "prefix"/],
    [[{ ...good, path: 7 }], /^entry 1: "path" must be a string/],
    [[{ ...good, path: '../x' }], /^entry 1: audit device path may contain only/],
    [[{ ...good, type: 'socket' }], /^entry 1: "type" must be "file"/],
    [[{ ...good, description: 3 }], /^entry 1: "description" must be a string/],
    [[{ path: 'file/', type: 'file' }], /^entry 1: "options" must be an object/],
    [[{ ...good, options: { file_path: '/var/log/a.log', mode: 600 } }], /^entry 1: option "mode" must be a string/],
    [[{ ...good, options: { file_path: 'audit.log' } }], /^entry 1: file audit device: file_path must be an absolute path/],
    [[{ ...good, options: { file_path: '/var/log/a.log', mode: '0755' } }], /^entry 1: file audit device: mode must not set any execute bit/],
    [[{ ...good, options: {} }], /^entry 1: file audit device: file_path is required/],
    [[good, { ...good, path: 'file/nested/', options: { file_path: '/var/log/b.log' } }], /entries "file\/" and "file\/nested\/": the paths of two devices must not nest/],
    [[good, { ...good, path: 'other/' }], /entries "file\/" and "other\/" write to the same file_path/],
    [[{ ...good, options: { file_path: 'stdout' } }, { ...good, path: 'other/', options: { file_path: 'stdout' } }], /entries "file\/" and "other\/" write to the same file_path/],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => parseDeclaredAuditDevices(raw), refused(pattern), JSON.stringify(raw));
  }
});

const declared = parseDeclaredAuditDevices([
  { path: 'kept/', type: 'file', options: { file_path: '/var/log/kept.log' } },
  { path: 'new/', type: 'file', options: { file_path: '/var/log/new.log' } },
  { path: 'moved/', type: 'file', options: { file_path: '/var/log/moved-here.log' } },
]);

test('plans to keep a device stored as declared, add a missing one, and replace one the config declared differently', () => {
  const table = new Map<string, TableDevice>([
    ['kept/', { type: 'file', options: { file_path: '/var/log/kept.log' }, origin: 'api' }],
    ['moved/', { type: 'file', options: { file_path: '/var/log/moved-from.log' }, origin: 'config' }],
    ['unrelated/', { type: 'file', options: { file_path: '/var/log/other.log' }, origin: 'api' }],
  ]);
  assert.deepEqual(
    planDeclared(table, declared).map((step) => [step.action, step.device.path]),
    [
      ['keep', 'kept/'],
      ['add', 'new/'],
      ['replace', 'moved/'],
    ],
  );
});

test('refuses to plan over a device enabled through the API at a declared path with other options', () => {
  const others: Array<Record<string, string>> = [{ file_path: '/var/log/elsewhere.log' }, { file_path: '/var/log/kept.log', mode: '0640' }];
  for (const other of others) {
    const table = new Map<string, TableDevice>([['kept/', { type: 'file', options: other, origin: 'api' }]]);
    assert.throws(
      () => planDeclared(table, declared),
      (err: unknown) => err instanceof CofferError && err.code === 'internal' && /"kept\/" declared in the config file differs from the device enabled at that path through the API; declare it at another path/.test(err.message),
    );
  }
});
