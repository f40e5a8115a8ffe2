/**
 * Items in the order first added, each once; cleared and reused. Meant for the few items one
 * command or batch touches: up to SCAN_LIMIT a scan of the list answers membership (a Set's
 * `clear()` allocates a new table every time), beyond it a Set takes over (a tick that touches
 * many).
 */
const SCAN_LIMIT = 16;

export class FirstSeen<T> {
  readonly items: T[] = [];
  private many: Set<T> | null = null;

  /** Add `x` unless it is in already; whether it was new. */
  add(x: T): boolean {
    const items = this.items;
    if (this.many !== null) {
      if (this.many.has(x)) return false;
      this.many.add(x);
    } else {
      for (let i = 0; i < items.length; i++) if (items[i] === x) return false;
      if (items.length >= SCAN_LIMIT) this.many = new Set(items).add(x);
    }
    items.push(x);
    return true;
  }

  clear(): void {
    // Emptied by pops: `length = 0` drops the backing store, which the next add reallocates
    // (every command clears these lists, so that was an allocation or two per command).
    const items = this.items;
    while (items.length > 0) items.pop();
    this.many = null;
  }
}
