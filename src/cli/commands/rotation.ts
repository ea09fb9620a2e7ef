/**
 * `coffer rotation status [ROLE]`: what the rotations of database static roles did.
 * Without ROLE, one line per static role with its latest rotation; with ROLE, the rotation in
 * flight (or the last one) step by step, the consumers that confirmed and the stragglers, then
 * the history. Reads `<mount>/rotations/`; nothing here is secret (the server never returns a
 * password on that path).
 */
import { defineCommand, defineGroup } from '../command.js';
import type { CommandContext } from '../context.js';
import { ApiError } from '../errors.js';
import { formatKeyValues, formatTable, firstLineWidth, sectionHeader } from '../format.js';
import { asEnvelope, printJson, printMap } from '../output.js';
import { trimSlashes } from './kv-paths.js';

type Json = Record<string, any>;

const STEPS = ['set_password', 'activate', 'notify', 'verify', 'revoke'];

const text = (value: unknown): string => (value === null || value === undefined || value === '' ? '-' : String(value));

function printRotation(ctx: CommandContext, title: string, r: Json): void {
  const rows: Array<[string, unknown]> = [
    ['id', r.id],
    ['trigger', r.trigger],
    ['status', r.status],
    ['phase', r.phase],
    ['versions', `${r.from_version} (${text(r.from_username)}) -> ${r.to_version} (${r.to_username})`],
    ['started_at', text(r.started_at)],
    ['finished_at', text(r.finished_at)],
    ['verify_outcome', text(r.verify_outcome)],
  ];
  if (r.verify_deadline) rows.push(['verify_deadline', r.verify_deadline]);
  if (r.error) rows.push(['error', r.error]);
  const table = formatKeyValues(rows);
  ctx.out(sectionHeader(title, firstLineWidth(table)));
  ctx.out(table);
  ctx.out('');
  ctx.out(formatTable(['Step', 'Status', 'Started', 'Finished', 'Attempts'], STEPS.map((name) => {
    const step = (r.steps ?? {})[name] ?? {};
    return [name, text(step.status) + (step.error ? ` (${step.error})` : ''), text(step.started_at), text(step.finished_at), text(step.attempts)];
  })));
  const consumers: string[][] = [
    ...(r.confirmed ?? []).map((c: Json) => ['confirmed', c.consumer_id, text(c.name), String(c.version), text(c.confirmed_at)]),
    ...(r.stragglers ?? []).map((s: Json) => ['straggler', s.consumer_id, text(s.name), String(s.version), text(s.last_check_in)]),
    ...(r.expired ?? []).map((s: Json) => ['expired', s.consumer_id, text(s.name), String(s.version), text(s.last_check_in)]),
  ];
  ctx.out('');
  if (consumers.length === 0) ctx.out('No consumers were waited for.');
  else ctx.out(formatTable(['Consumer', 'ID', 'Name', 'Version', 'At'], consumers));
}

async function roleStatus(ctx: CommandContext, mount: string, role: string): Promise<number> {
  const res = await ctx.client().request('GET', `${mount}/rotations/${role}`);
  const data = (asEnvelope(res.body).data ?? {}) as Json;
  if (ctx.field !== undefined || ctx.format === 'json') {
    printMap(ctx, data);
    return 0;
  }
  const summary = formatKeyValues([
    ['role', data.role],
    ['mode', data.mode],
    ['version', data.version],
    ['current_username', text(data.current_username)],
  ]);
  ctx.out(summary);
  const shown = data.current ?? data.last;
  if (shown) {
    ctx.out('');
    printRotation(ctx, data.current ? 'Rotation in progress' : 'Last rotation', shown);
  }
  const history = (data.history ?? []) as Json[];
  if (history.length > 0) {
    ctx.out('');
    ctx.out(formatTable(['History', 'Trigger', 'Status', 'Versions', 'Finished', 'Confirmed', 'Stragglers'], history.map((r) => [
      r.id, r.trigger, r.status, `${r.from_version}->${r.to_version}`, text(r.finished_at),
      String((r.confirmed ?? []).length), String((r.stragglers ?? []).length),
    ])));
  }
  return 0;
}

async function allStatus(ctx: CommandContext, mount: string): Promise<number> {
  let data: Json;
  try {
    data = (asEnvelope((await ctx.client().request('LIST', `${mount}/rotations/`)).body).data ?? {}) as Json;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      if (ctx.format === 'json') printJson(ctx, {});
      else ctx.out('No static roles.');
      return 2;
    }
    throw err;
  }
  if (ctx.format === 'json') {
    printJson(ctx, data);
    return 0;
  }
  const info = (data.key_info ?? {}) as Record<string, Json>;
  ctx.out(formatTable(['Role', 'Version', 'Status', 'Phase', 'Updated', 'Stragglers'], (data.keys ?? []).map((name: string) => {
    const row = info[name] ?? {};
    return [name, text(row.version), text(row.status), text(row.phase), text(row.updated_at), text(row.stragglers)];
  })));
  return 0;
}

const statusCommand = defineCommand({
  summary: 'Show the rotations of database static roles',
  usage: 'coffer rotation status [options] [ROLE]',
  help: [
    'Without ROLE, lists every static role of the mount with its latest rotation. With ROLE, shows',
    'the rotation in flight (or the last one): each step, the consumers that confirmed the new',
    'version and when, the stragglers, and the history of recent rotations.',
  ].join('\n'),
  flags: {
    mount: { kind: 'string', usage: 'The database secrets mount (default database).' },
  },
  minArgs: 0,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const mount = trimSlashes(flags.mount ?? 'database');
    const role = args[0];
    return role === undefined ? allStatus(ctx, mount) : roleStatus(ctx, mount, trimSlashes(role));
  },
});

export const rotationGroup = defineGroup({
  summary: 'Inspect static-role credential rotations',
  usage: 'coffer rotation <subcommand> [options] [args]',
  subcommands: { status: statusCommand },
});
