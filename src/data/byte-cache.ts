/** A least-recently-used cache of decoded images, bounded by bytes; concurrent misses share one decode. */
export class ByteLruCache<K = number> {
  readonly #entries = new Map<K, Uint8Array>();
  readonly #pending = new Map<K, Promise<Uint8Array>>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** The cached value for `key`, else `load(key)` (cached if it fits). */
  async get(key: K, load: (key: K) => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key); // re-insert: Map order is recency order
      this.#entries.set(key, hit);
      return hit;
    }
    const inFlight = this.#pending.get(key);
    if (inFlight) return inFlight;
    const p = load(key).then(
      (value) => {
        this.#pending.delete(key);
        this.#put(key, value);
        return value;
      },
      (e: unknown) => {
        this.#pending.delete(key);
        throw e;
      },
    );
    this.#pending.set(key, p);
    return p;
  }

  #put(key: K, value: Uint8Array): void {
    if (value.byteLength > this.maxBytes || this.#entries.has(key)) return;
    this.#entries.set(key, value);
    this.#bytes += value.byteLength;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.byteLength;
    }
  }
}
