/**
 * One coarse timer for every in-flight exchange's deadline. A per-request timer (http-proxy's
 * `proxyTimeout`) cost 3-5% CPU per request in a prototype; a sweep over an intrusive list costs
 * nothing measurable. A `Set` of in-flight requests tripled GC time, so the list is intrusive:
 * each entry carries its own links and unlinking allocates nothing.
 */

/** An entry in the sweep: set `deadline` (epoch ms, 0 for none) and implement `expire`. */
export abstract class DeadlineEntry {
  /** @internal */ prev: DeadlineEntry | undefined = undefined;
  /** @internal */ next: DeadlineEntry | undefined = undefined;
  /** @internal */ linked = false;
  /** Epoch ms at which `expire` runs; 0 means no deadline right now. */
  deadline = 0;
  /** Called once by the sweep when `deadline` has passed. */
  abstract expire(now: number): void;
}

export class DeadlineSweep {
  #head: DeadlineEntry | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #resolutionMs: number;

  /** `resolutionMs`: how often the list is swept, so deadlines fire up to this late. */
  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs;
  }

  add(entry: DeadlineEntry): void {
    if (entry.linked) return;
    entry.linked = true;
    entry.prev = undefined;
    entry.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = entry;
    this.#head = entry;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#resolutionMs);
      this.#timer.unref();
    }
  }

  remove(entry: DeadlineEntry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev !== undefined) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    entry.prev = entry.next = undefined;
    if (this.#head === undefined) this.stop();
  }

  /** Stops the timer (the list refills it on the next add). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Calls `fn` for every entry (it may remove the entry it is given). */
  forEach(fn: (entry: DeadlineEntry) => void): void {
    let entry = this.#head;
    while (entry !== undefined) {
      const next = entry.next;
      fn(entry);
      entry = next;
    }
  }

  #sweep(): void {
    const now = Date.now();
    let entry = this.#head;
    while (entry !== undefined) {
      const next = entry.next;
      if (entry.deadline !== 0 && now >= entry.deadline) {
        entry.deadline = 0;
        entry.expire(now);
      }
      entry = next;
    }
  }
}
