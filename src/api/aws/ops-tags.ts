/**
 * TagResource and UntagResource: the record's tags, written with `update` on `aws/metadata/N`.
 * Both answer with an empty object (the operations have no output).
 */
import { invalidParameter } from './errors.js';
import { mergeTags, parseTags, stringList } from './input.js';
import { parseSecretId } from './names.js';
import { loadSecret, saveRecord, settled, type Operation } from './secret-state.js';

export const tagResource: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  if (!Array.isArray(body['Tags'])) throw invalidParameter('You must provide Tags.');
  const changes = parseTags(body['Tags']);
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const record = settled(state);
    await saveRecord(ctx, state, { ...record, tags: mergeTags(record.tags, changes), lastChanged: ctx.clock.now() });
    return {};
  });
};

export const untagResource: Operation = async (ctx, body) => {
  const ref = parseSecretId(body['SecretId']);
  const keys = stringList(body, 'TagKeys', 0, 50, 128);
  if (keys === undefined) throw invalidParameter('You must provide TagKeys.');
  return ctx.locks.run(ref.name, async () => {
    const state = await loadSecret(ctx, ref);
    const record = settled(state);
    const remove = new Set(keys);
    await saveRecord(ctx, state, { ...record, tags: record.tags.filter(([key]) => !remove.has(key)), lastChanged: ctx.clock.now() });
    return {};
  });
};
