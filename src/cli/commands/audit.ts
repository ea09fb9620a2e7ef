/**
 * `coffer audit enable | list | disable | verify`. `verify FILE` runs offline: it checks the
 * keyless hash chain of an audit log written by the file device, without contacting a server.
 * `verify -device=PATH [FILE]` asks the server (sys/audit-verify), which also checks each line's
 * MAC with the device's key, so a log rewritten with recomputed hashes fails there.
 *
 * Must never: print audit entries themselves (they hold HMACs of secrets, still worth guarding).
 */
import { access } from 'node:fs/promises';
import { defineCommand, defineGroup } from '../command.js';
import { CliError } from '../errors.js';
import { formatTable, formatValue } from '../format.js';
import { parseStringMap } from '../kv-pairs.js';
import { printJson, printSuccess } from '../output.js';
import { mountEntries, mountPaths } from './secrets.js';

const enableCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Enable an audit device',
  usage: 'coffer audit enable [options] TYPE [KEY=VALUE...]',
  help: 'Enables an audit device of TYPE at -path (default: TYPE), e.g.\n  coffer audit enable file file_path=/var/log/coffer/audit.log',
  flags: {
    path: { kind: 'string', usage: 'Where to enable it (default: TYPE).' },
    description: { kind: 'string', usage: 'A human-friendly description.' },
  },
  minArgs: 1,
  async run(ctx, flags, args) {
    const [type, ...pairs] = args as [string, ...string[]];
    const { api, shown } = mountPaths(flags.path ?? type);
    const options = parseStringMap(pairs, 'options');
    await ctx.client().request('PUT', `sys/audit/${api}`, { body: { type, description: flags.description ?? '', options } });
    printSuccess(ctx, `Enabled the ${type} audit device at: ${shown}`);
    return 0;
  },
});

const listCommand = defineCommand({
  noFieldOutput: true,
  summary: 'List enabled audit devices',
  usage: 'coffer audit list [options]',
  help: 'Exits 2 when no audit device is enabled.',
  flags: {
    detailed: { kind: 'boolean', usage: 'Also show each device\'s options.' },
  },
  maxArgs: 0,
  async run(ctx, flags) {
    const entries = mountEntries((await ctx.client().request('GET', 'sys/audit')).body);
    if (ctx.format === 'json') {
      printJson(ctx, Object.fromEntries(entries));
      return 0;
    }
    if (entries.length === 0) {
      ctx.out('No audit devices are enabled.');
      return 2;
    }
    const header = flags.detailed ? ['Path', 'Type', 'Description', 'Options'] : ['Path', 'Type', 'Description'];
    ctx.out(formatTable(header, entries.map(([path, d]) => {
      const row = [path, formatValue(d['type'] ?? ''), formatValue(d['description'] ?? '')];
      if (flags.detailed) row.push(formatValue(d['options'] ?? null));
      return row;
    })));
    return 0;
  },
});

const disableCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Disable an audit device',
  usage: 'coffer audit disable [options] PATH',
  flags: {},
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, args) {
    const { api, shown } = mountPaths(args[0] as string);
    await ctx.client().request('DELETE', `sys/audit/${api}`);
    printSuccess(ctx, `Disabled audit device (if it was enabled) at: ${shown}`);
    return 0;
  },
});

const verifyCommand = defineCommand({
  noFieldOutput: true,
  summary: 'Check an audit log\'s hash chain (offline), or its MACs too (through the server)',
  usage: 'coffer audit verify [options] FILE | coffer audit verify -device=PATH [FILE]',
  help: [
    'Verifies that no line of the audit log FILE was changed, removed or reordered.',
    'Offline (FILE only, no server): checks the SHA-256 hash chain, which anyone who can rewrite the file could recompute.',
    'With -device: the server checks the chain and every line\'s MAC under the device\'s secret key, so rewritten or',
    'forged lines fail too. FILE then defaults to the device\'s current file; it may name a rotated copy of it',
    '(FILE.1, FILE-DATE) in the same directory, as the server sees it. Needs sudo on sys/audit-verify/PATH.',
    'Neither can see lines cut off the end of the file. Exits 0 when intact, 2 when not.',
  ].join('\n'),
  flags: {
    device: { kind: 'string', usage: 'The audit device (e.g. file/) whose key checks the MACs, through the server.' },
    'allow-earlier-keys': {
      kind: 'boolean',
      usage: 'With -device: accept lines at the start of the file written under an earlier key (a device re-enabled at this path), checked by hash chain only.',
    },
  },
  maxArgs: 1,
  async run(ctx, flags, args) {
    const file = args[0];
    let result: { ok: boolean; lines: number; error?: { line: number; reason: string } };
    if (flags.device !== undefined) {
      const { api } = mountPaths(flags.device);
      const body = { ...(file === undefined ? {} : { file_path: file }), ...(flags['allow-earlier-keys'] ? { allow_earlier_keys: true } : {}) };
      const res = await ctx.client().request('PUT', `sys/audit-verify/${api}`, { body });
      const data = ((res.body as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as {
        file_path?: string; ok?: boolean; lines?: number; failed_line?: number; reason?: string; mac_checked_lines?: number; earlier_key_lines?: number;
        recorded_end_checked?: boolean;
      };
      if (typeof data.ok !== 'boolean') throw new CliError('the server gave no verification result');
      result = { ok: data.ok, lines: data.lines ?? 0, ...(data.ok ? {} : { error: { line: data.failed_line ?? 0, reason: data.reason ?? 'verification failed' } }) };
      if (ctx.format === 'json') {
        printJson(ctx, {
          ...result,
          file_path: data.file_path,
          mac_checked_lines: data.mac_checked_lines ?? 0,
          earlier_key_lines: data.earlier_key_lines ?? 0,
          recorded_end_checked: data.recorded_end_checked === true,
        });
        return result.ok ? 0 : 2;
      }
      if (result.ok && data.recorded_end_checked !== true) {
        ctx.err('note: the server has no recorded end for this file (too old a rotation, or none recorded yet): lines cut off its end would not show');
      }
      const earlier = data.earlier_key_lines ?? 0;
      if (result.ok && earlier > 0) {
        ctx.out(`ok: ${result.lines} lines verified: lines 1-${earlier} by hash chain only (written under an earlier key of a device at this path), the other ${data.mac_checked_lines ?? 0} by hash chain and MACs`);
        return 0;
      }
    } else {
      if (flags['allow-earlier-keys']) throw new CliError('-allow-earlier-keys needs -device (offline verification checks no keys)');
      if (file === undefined) throw new CliError('give the audit FILE to verify, or -device=PATH to have the server verify its file');
      try {
        await access(file);
      } catch (err) {
        throw new CliError(`cannot read audit file ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      }
      // Loaded only here: no other command needs the audit code.
      const { verifyAuditFile } = await import('../../core/audit/verify.js');
      try {
        result = await verifyAuditFile(file);
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'a symbolic link' : (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new CliError(`cannot verify audit file ${file} (${why})`);
      }
      if (ctx.format === 'json') {
        printJson(ctx, result);
        return result.ok ? 0 : 2;
      }
    }
    const what = flags.device !== undefined ? 'lines verified (hash chain and MACs)' : 'lines verified (hash chain only; -device also checks MACs)';
    if (result.ok) ctx.out(`ok: ${result.lines} ${what}`);
    else ctx.out(`FAILED: line ${result.error?.line ?? '?'}: ${result.error?.reason ?? 'verification failed'}`);
    return result.ok ? 0 : 2;
  },
});

export const auditGroup = defineGroup({
  summary: 'Manage and verify audit devices',
  usage: 'coffer audit <subcommand> [options] [args]',
  subcommands: { enable: enableCommand, list: listCommand, disable: disableCommand, verify: verifyCommand },
});
