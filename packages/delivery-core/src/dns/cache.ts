/**
 * A bounded TTL cache with least-recently-used eviction, for DNS answers.
 *
 * Owns: expiry and eviction. Guarantees: `get` never returns an entry at or past its expiry
 * (expired entries are dropped on sight); at most `maxEntries` entries are kept, evicting the
 * least recently read or written. Needs: an injected clock `now()` in epoch milliseconds.
 */

interface Slot<V> {
  value: V;
  expiresAt: number;
}

export class TtlLruCache<V> {
  /** Map iteration order is insertion order: re-inserting on read keeps the LRU entry first. */
  private readonly slots = new Map<string, Slot<V>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(maxEntries: number, now: () => number) {
    this.maxEntries = Math.max(0, Math.floor(maxEntries));
    this.now = now;
  }

  /** The value and its remaining lifetime in ms, or undefined when absent or expired. */
  get(key: string): { value: V; remainingMs: number } | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    const remainingMs = slot.expiresAt - this.now();
    this.slots.delete(key);
    if (remainingMs <= 0) return undefined;
    this.slots.set(key, slot);
    return { value: slot.value, remainingMs };
  }

  set(key: string, value: V, ttlMs: number): void {
    if (this.maxEntries === 0 || ttlMs <= 0) return;
    this.slots.delete(key);
    this.slots.set(key, { value, expiresAt: this.now() + ttlMs });
    while (this.slots.size > this.maxEntries) {
      const oldest = this.slots.keys().next();
      if (oldest.done) break;
      this.slots.delete(oldest.value);
    }
  }

  get size(): number {
    return this.slots.size;
  }

  clear(): void {
    this.slots.clear();
  }
}
