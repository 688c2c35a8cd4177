/**
 * A Map that never holds more than `capacity` entries: reading or writing an entry makes it the
 * most recent, and adding one to a full map drops the least recently used. Every operation is
 * O(1) (a JavaScript Map keeps insertion order). What the door remembers about clients and users
 * lives here, so a flood of distinct addresses costs bounded memory: the oldest are forgotten.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry (made the most recent), or undefined. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** The entry without touching its recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
