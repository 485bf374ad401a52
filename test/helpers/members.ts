/**
 * Pools without sockets, for strategy and tier tests: builds a Pool from member specs through the
 * real option validation, with a clock the test moves by hand, and runs a strategy over it.
 * Member URLs are data only; nothing connects to them.
 */
import { normalizeOptions, type MemberOptions } from '../../src/config.js';
import type { Member } from '../../src/pool/member.js';
import { Pool } from '../../src/pool/pool.js';
import { ByRequests } from '../../src/strategies/byrequests.js';
import type { Strategy } from '../../src/strategies/strategy.js';

/** A member spec: a route is required (tests name members by it); the URL is made up when absent. */
export type MemberSpec = Partial<MemberOptions> & { route: string };

/** A clock that moves only when the test says so. */
export class ManualClock {
  constructor(public time = 1_000_000) {}
  /** Reads the time; pass as `now` (bound). */
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export interface TestPool {
  pool: Pool;
  strategy: Strategy;
  clock: ManualClock;
  /** The member with this route; throws when there is none. */
  member(route: string): Member;
}

/**
 * A pool of `specs` in configuration order. The i-th member without a URL gets
 * `http://127.0.0.1:<10001+i>`, so routes stay the only thing tests care about.
 */
export function buildPool(specs: readonly MemberSpec[], options: { strategy?: Strategy; retryMs?: number; clock?: ManualClock } = {}): TestPool {
  const strategy = options.strategy ?? new ByRequests();
  const clock = options.clock ?? new ManualClock();
  const members = specs.map((s, i) => ({ url: `http://127.0.0.1:${10_001 + i}`, ...s }));
  const pool = new Pool(normalizeOptions({ members }).members, strategy, options.retryMs ?? 60_000, clock.now);
  const member = (route: string): Member => {
    const m = pool.get(route);
    if (m === undefined) throw new Error(`no member ${route}`);
    return m;
  };
  return { pool, strategy, clock, member };
}

/** Routes of `n` unsticky picks, as the balancer makes them; `-` where nothing was usable. */
export function sequence(pool: Pool, strategy: Strategy, n: number): string[] {
  const routes: string[] = [];
  for (let i = 0; i < n; i++) routes.push(pool.select((c) => strategy.pick(c, {}), undefined)?.route ?? '-');
  return routes;
}

/** A repeatable pseudo-random sequence (mulberry32), so the picks are the same on every run. */
export function seeded(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}
