/**
 * The marks that keep a token's revocation from missing a child created while it runs.
 *
 * `doom` marks a token whose tree revocation has started: the token store treats it, and every
 * descendant of it, as dead from that moment, long before the walk reaches it. `close` marks a
 * token being revoked alone (revoke-orphan): it may gain no new child (which would keep a parent
 * that is gone), but it and its children stay alive. Both are counted, since two revocations
 * may overlap, and each returns its undo.
 *
 * The protocol: a child creation registers with its parent (`beginCreation`) BEFORE it checks
 * that the parent is alive and open; a mark waits for the creations registered before it to end
 * before the caller lists the parent's children. So a creation either ends before the listing
 * (and is listed) or checks after the mark (and is refused). A lock per parent would do the same
 * but serialise every token a parent creates behind one storage commit each.
 * Must never: block a creation (it only counts), or leave a mark behind its undo.
 */

export interface TokenFences {
  /** Registers a child creation under `parentId`; returns its end. */
  beginCreation(parentId: string): () => void;
  /** Marks a token doomed once the creations already under way under it ended; returns the undo. */
  doom(id: string): Promise<() => void>;
  /** Closes a token to new children once the creations under way ended; returns the undo. */
  close(id: string): Promise<() => void>;
  isDoomed(id: string): boolean;
  isClosed(id: string): boolean;
  /** Whether any token is doomed now (lookups check ancestors only then). */
  anyDoomed(): boolean;
}

export function createTokenFences(): TokenFences {
  const doomed = new Map<string, number>();
  const closed = new Map<string, number>();
  const creating = new Map<string, { count: number; waiters: Array<() => void> }>();

  const fence = async (marks: Map<string, number>, id: string): Promise<() => void> => {
    marks.set(id, (marks.get(id) ?? 0) + 1);
    const slot = creating.get(id);
    if (slot) await new Promise<void>((resolve) => slot.waiters.push(resolve));
    return () => {
      const left = (marks.get(id) ?? 1) - 1;
      if (left === 0) marks.delete(id);
      else marks.set(id, left);
    };
  };

  return {
    beginCreation(parentId) {
      const slot = creating.get(parentId) ?? { count: 0, waiters: [] };
      slot.count += 1;
      creating.set(parentId, slot);
      return () => {
        slot.count -= 1;
        if (slot.count > 0) return;
        creating.delete(parentId);
        for (const wake of slot.waiters) wake();
      };
    },
    doom: (id) => fence(doomed, id),
    close: (id) => fence(closed, id),
    isDoomed: (id) => doomed.has(id),
    isClosed: (id) => closed.has(id),
    anyDoomed: () => doomed.size > 0,
  };
}
