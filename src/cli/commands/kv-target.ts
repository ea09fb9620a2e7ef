/**
 * Shared by the `coffer kv` subcommands: the -mount flag, resolving a path to its mount and
 * version, and Vault's "No value found" outcome (exit 2).
 */
import type { ApiClient } from '../client.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { kvFullPath, resolveKvMount, type KvMount } from './kv-paths.js';

export const MOUNT_FLAG = { kind: 'string', usage: 'The KV mount; the path is then relative to it (e.g. -mount=secret foo).' } as const;

export interface KvTarget {
  client: ApiClient;
  mount: KvMount;
  /** The path as the user means it, e.g. `secret/app/db`. */
  fullPath: string;
}

export async function kvTarget(ctx: CommandContext, path: string, mountFlag: string | undefined): Promise<KvTarget> {
  const client = ctx.client();
  const fullPath = kvFullPath(path, mountFlag);
  if (fullPath === '') throw new CliError('a path is required');
  return { client, mount: await resolveKvMount(client, fullPath), fullPath };
}

export function requireV2(target: KvTarget, verb: string): void {
  if (target.mount.version !== 2) throw new CliError(`"kv ${verb}" needs a KV version 2 mount; ${target.fullPath} is on version 1`, 2);
}

/** Vault's answer to reading or listing nothing: a message on stderr and exit code 2. */
export function noValue(ctx: CommandContext, path: string): number {
  ctx.err(`No value found at ${path}`);
  return 2;
}
