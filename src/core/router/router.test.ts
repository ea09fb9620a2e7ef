import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Engine } from './engine.js';
import { createRouter } from './router.js';

const engine = (type: string, patterns: string[]): Engine => ({
  type,
  paths: patterns.map((pattern) => ({ pattern, operations: { read: async () => ({ data: { type } }) } })),
});

describe('router', () => {
  it('sends a request to the mount with the longest matching prefix', () => {
    const router = createRouter<{ path: string }>();
    router.add({ path: 'secret/' }, engine('outer', ['.*']));
    router.add({ path: 'secret/team/' }, engine('inner', ['.*']));
    assert.equal(router.route('secret/team/x')?.engine.type, 'inner');
    assert.equal(router.route('secret/team/x')?.relativePath, 'x');
    assert.equal(router.route('secret/other')?.engine.type, 'outer');
    assert.equal(router.route('secretive/x'), undefined);
  });

  it('routes the mount path without its trailing slash to the mount root', () => {
    const router = createRouter<{ path: string }>();
    router.add({ path: 'kv/' }, engine('kv', ['.*']));
    assert.equal(router.route('kv')?.relativePath, '');
  });

  it('matches whole relative paths only and captures named groups', () => {
    const router = createRouter<{ path: string }>();
    const kv = engine('kv', ['data/(?<path>.+)', 'config']);
    router.add({ path: 'kv/' }, kv);
    assert.deepEqual({ ...router.matchPath(kv, 'data/a/b')?.params }, { path: 'a/b' });
    assert.equal(router.matchPath(kv, 'configx'), undefined);
    assert.equal(router.matchPath(kv, 'xconfig'), undefined);
  });

  it('forgets a removed mount', () => {
    const router = createRouter<{ path: string }>();
    router.add({ path: 'kv/' }, engine('kv', ['.*']));
    router.remove('kv/');
    assert.equal(router.route('kv/x'), undefined);
  });
});
