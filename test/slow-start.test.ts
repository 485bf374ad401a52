import { describe, expect, it } from 'vitest';
import { normalizeOptions } from '../src/config.js';
import { Pool } from '../src/pool/pool.js';
import { ByRequests } from '../src/strategies/byrequests.js';

const URLS = ['http://127.0.0.1:1001', 'http://127.0.0.1:1002'];

/** A pool on a hand-driven clock, so the ramp is read at chosen instants. */
function rampPool(slowStartMs: number): { pool: Pool; strategy: ByRequests; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const strategy = new ByRequests();
  const pool = new Pool(normalizeOptions({ members: URLS.map((url) => ({ url })) }).members, strategy, 60_000, () => clock.now, slowStartMs);
  return { pool, strategy, clock };
}

function picks(pool: Pool, strategy: ByRequests, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const m = pool.select((c) => strategy.pick(c))!;
    counts.set(m.route, (counts.get(m.route) ?? 0) + 1);
  }
  return counts;
}

describe('slow start', () => {
  it('ramps an added member from 10% to full weight over slowStartMs, counted in picks', async () => {
    const { pool, strategy, clock } = rampPool(1000);
    const added = pool.add({ url: 'http://127.0.0.1:1003', route: 'new' });
    expect(added.lbfactor).toBe(10);
    const early = picks(pool, strategy, 210); // weights 100:100:10
    expect(early.get('new')).toBeGreaterThanOrEqual(9);
    expect(early.get('new')).toBeLessThanOrEqual(11);

    clock.now += 500;
    expect(added.lbfactor).toBe(50);
    const half = picks(pool, strategy, 250); // 100:100:50
    expect(half.get('new')).toBeGreaterThanOrEqual(48);
    expect(half.get('new')).toBeLessThanOrEqual(52);

    clock.now += 500;
    expect(added.lbfactor).toBe(100);
    const full = picks(pool, strategy, 300);
    expect(full.get('new')).toBeGreaterThanOrEqual(98);
    expect(full.get('new')).toBeLessThanOrEqual(102);
  });

  it('ramps a member that comes back from its error timer', () => {
    const { pool, clock } = rampPool(1000);
    const member = pool.members[0]!;
    pool.markError(member, 'test');
    clock.now += 60_000;
    expect(pool.select((c) => c[0])).toBe(member); // the retry check clears the error
    expect(member.lbfactor).toBe(10);
    clock.now += 1000;
    expect(member.lbfactor).toBe(100);
  });

  it('is off by default: an added member weighs its full weight at once', () => {
    const { pool } = rampPool(0);
    expect(pool.add({ url: 'http://127.0.0.1:1003' }).lbfactor).toBe(100);
  });
});
