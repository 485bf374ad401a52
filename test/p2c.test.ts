import { describe, expect, it } from 'vitest';
import { normalizeOptions } from '../src/config.js';
import { Pool } from '../src/pool/pool.js';
import { PowerOfTwoChoices } from '../src/strategies/p2c.js';
import { seeded } from './helpers/members.js';

function pool(weights: number[], strategy: PowerOfTwoChoices): Pool {
  const members = weights.map((weight, i) => ({ url: `http://127.0.0.1:${2000 + i}`, route: `m${i}`, weight }));
  return new Pool(normalizeOptions({ members }).members, strategy, 60_000);
}

describe('p2c (power of two choices)', () => {
  it('of the two drawn, picks the one with fewer requests in flight per weight', () => {
    // random() draws index 0 then index 0 of the remaining (so members 0 and 1).
    const strategy = new PowerOfTwoChoices(() => 0);
    const p = pool([1, 1, 1], strategy);
    const [a, b] = p.members;
    p.begin(a!);
    expect(strategy.pick(p.members)).toBe(b);
    p.begin(b!);
    p.begin(b!);
    expect(strategy.pick(p.members)).toBe(a);
  });

  it('weighs requests in flight by weight: weight 3 with 2 in flight ties weight 1 with none', () => {
    const strategy = new PowerOfTwoChoices(() => 0);
    const p = pool([3, 1], strategy);
    const [heavy, light] = p.members;
    p.begin(heavy!);
    p.begin(heavy!);
    expect(strategy.pick(p.members)).toBe(heavy); // 300/3 = 100/1: the tie goes to the first drawn
    p.begin(heavy!);
    expect(strategy.pick(p.members)).toBe(light); // 300/4 < 100/1
  });

  it('spreads idle picks evenly and never draws the same member twice', () => {
    const strategy = new PowerOfTwoChoices(seeded(42));
    const p = pool([1, 1, 1, 1], strategy);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const m = p.select((c) => strategy.pick(c))!;
      counts.set(m.route, (counts.get(m.route) ?? 0) + 1);
    }
    for (const route of ['m0', 'm1', 'm2', 'm3']) {
      expect(counts.get(route)).toBeGreaterThan(800);
      expect(counts.get(route)).toBeLessThan(1200);
    }
  });

  it('with one candidate returns it', () => {
    const strategy = new PowerOfTwoChoices();
    const p = pool([1], strategy);
    expect(strategy.pick(p.members)).toBe(p.members[0]);
  });
});
