/**
 * A bounded in-process work queue with a few lanes. Items with the same key (a repository)
 * always go to the same lane and are handled in arrival order, so two hints about one
 * repository never race; different repositories proceed in parallel.
 */

export interface EventQueueOptions<T> {
  /** Items waiting or running at most; default 10 000. */
  capacity?: number;
  /** Parallel lanes; default 4. */
  lanes?: number;
  handle(item: T): Promise<void>;
  /** Called when `handle` throws; the queue goes on. */
  onError(item: T, err: unknown): void;
}

export class EventQueue<T> {
  readonly capacity: number;
  readonly #lanes: T[][];
  readonly #busy: boolean[];
  readonly #options: EventQueueOptions<T>;
  #size = 0;
  #closed = false;
  #waiters: Array<() => void> = [];

  constructor(options: EventQueueOptions<T>) {
    this.#options = options;
    this.capacity = options.capacity ?? 10_000;
    const n = Math.max(1, options.lanes ?? 4);
    this.#lanes = Array.from({ length: n }, () => []);
    this.#busy = Array.from({ length: n }, () => false);
  }

  /** Items waiting or being handled. */
  get size(): number {
    return this.#size;
  }

  free(): number {
    return this.#closed ? 0 : this.capacity - this.#size;
  }

  /** False when the queue is full or closed. */
  push(key: string, item: T): boolean {
    if (this.free() <= 0) return false;
    const lane = hash(key) % this.#lanes.length;
    this.#lanes[lane]!.push(item);
    this.#size++;
    if (!this.#busy[lane]) void this.#drain(lane);
    return true;
  }

  async #drain(lane: number): Promise<void> {
    this.#busy[lane] = true;
    const items = this.#lanes[lane]!;
    while (items.length > 0) {
      const item = items.shift()!;
      try {
        await this.#options.handle(item);
      } catch (err) {
        try {
          this.#options.onError(item, err);
        } catch {
          // An error reporter must not stop the lane.
        }
      }
      this.#size--;
    }
    this.#busy[lane] = false;
    if (this.#size === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when every queued item has been handled. */
  idle(): Promise<void> {
    if (this.#size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Accepts nothing more and waits for what is queued, up to `graceMs`. True when drained. */
  async close(graceMs: number): Promise<boolean> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
      timer.unref();
    });
    const drained = await Promise.race([this.idle().then(() => true), timeout]);
    clearTimeout(timer);
    return drained;
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
