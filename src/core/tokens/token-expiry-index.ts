/**
 * The token store's expiry index: one empty entry per expiring token, under
 * `expire/<minute>/<exact expiry ms>-<token id>`, so the sweep (every second) finds the minutes
 * that are due with one small page and, within them, learns from the names alone which tokens
 * are due: it reads only those.
 *
 * Data directories written before the exact expiry was in the name hold `expire/<minute>/<id>`
 * entries; they are still found (as due-unknown, so read) and deleted with the new name.
 * Must never: hold anything but token ids and times (keys are not encrypted by the barrier;
 * token ids are HMACs).
 */
import type { Storage, WriteOp } from '../storage/storage.js';

const BUCKET_MS = 60_000;
const PAGE = 64;
const EXACT_CHILD = /^(\d{15})-(.+)$/;

const bucketOf = (expireAt: number): string => String(Math.floor(expireAt / BUCKET_MS)).padStart(13, '0');

/** The index entry of a token expiring at `expireAt` (ms). */
export const expiryKey = (expireAt: number, id: string): string => `expire/${bucketOf(expireAt)}/${String(expireAt).padStart(15, '0')}-${id}`;

/** Deletes a token's index entry, under its name and under the older name without the expiry. */
export const expiryDeletes = (expireAt: number, id: string): WriteOp[] => [
  { type: 'delete', key: expiryKey(expireAt, id) },
  { type: 'delete', key: `expire/${bucketOf(expireAt)}/${id}` },
];

export interface DueExpiry {
  /** The full storage key of the index entry. */
  key: string;
  id: string;
  /** The expiry the name records; undefined for an older name, which records none. */
  expireAt: number | undefined;
}

/** The index entries that may be due at `now`: every one of a past minute or due this minute, plus older names. */
export async function dueExpiries(storage: Storage, now: number): Promise<DueExpiry[]> {
  const current = bucketOf(now);
  const folders: string[] = [];
  // Minutes in key order, a page at a time, stopping at the first one still ahead.
  for (let after = '', done = false; !done;) {
    const page = await storage.listPage('expire/', after, PAGE);
    for (const folder of page) {
      if (folder.replace(/\/$/, '') > current) {
        done = true;
        break;
      }
      folders.push(folder);
    }
    if (page.length < PAGE) done = true;
    after = page[page.length - 1] ?? after;
  }
  const due: DueExpiry[] = [];
  for (const folder of folders) {
    for (const child of await storage.list(`expire/${folder}`)) {
      const exact = EXACT_CHILD.exec(child);
      if (exact && Number(exact[1]) > now) continue;
      due.push({ key: `expire/${folder}${child}`, id: exact ? (exact[2] as string) : child, expireAt: exact ? Number(exact[1]) : undefined });
    }
  }
  return due;
}
