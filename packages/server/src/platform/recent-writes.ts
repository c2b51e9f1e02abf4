/**
 * What this instance wrote lately, kept for the request that usually follows (a verify after a create, an answer
 * after a claim) so that it reads nothing first. A hint only: the statement that acts checks every condition again in
 * the database, and a request sent to another instance, or after the entry was dropped, reads the row. Bounded: the
 * oldest entry goes first.
 */
export class RecentWrites<V> {
  readonly #entries = new Map<string, V>();

  constructor(private readonly maxEntries = 10_000) {}

  add(id: string, value: V): void {
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(id, value);
  }

  /** The entry, removed: after the request acts on it, it may be out of date. */
  take(id: string): V | undefined {
    const value = this.#entries.get(id);
    this.#entries.delete(id);
    return value;
  }
}
