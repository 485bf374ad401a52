/**
 * Properties of the pool and every built-in strategy under random sequences of pool changes (add,
 * remove, drain, disable, stop, enable, setWeight, lbset moves, errors, health verdicts, recoveries
 * as the clock moves) interleaved with picks and with requests that start and end. Driven without
 * sockets, the way the balancer drives them: `pool.select` + `strategy.pick`, then
 * `pool.begin`/`requestStart`, later `pool.finish`/`requestEnd`.
 *
 * Invariants:
 * - a pick is a member of the pool now, usable (not disabled, stopped, draining, in error after its
 *   retry time, or unhealthy), in the lowest lbset that has one; and no pick only when none is;
 * - a removed member is never picked;
 * - in-flight counts are never negative, match the requests started and not ended, and are zero
 *   once every request has ended;
 * - byrequests gives each candidate exactly its lbfactor share over every full cycle while nothing
 *   changes, from a balanced start (see the byrequests section for the one exception Apache has too).
 */
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Member } from '../src/pool/member.js';
import { ByBusyness, ByRequests, ByTraffic, HashStrategy, PowerOfTwoChoices, RoundRobin } from '../src/strategies/index.js';
import type { PickContext, Strategy } from '../src/strategies/strategy.js';
import { buildPool, seeded, type MemberSpec, type TestPool } from './helpers/members.js';

const RETRY_MS = 500;

/** Every built-in strategy, from a seed (p2c draws from it, so a failing case replays). */
const STRATEGIES: Record<string, (seed: number) => Strategy> = {
  byrequests: () => new ByRequests(),
  bytraffic: () => new ByTraffic(),
  bybusyness: () => new ByBusyness(),
  roundrobin: () => new RoundRobin(),
  p2c: (seed) => new PowerOfTwoChoices(seeded(seed)),
  hash: () => new HashStrategy({ key: 'url' }),
};

/** One step of a run. `target` picks a member of the pool by index (modulo its size). */
type Step =
  | { kind: 'pick'; key: number }
  | { kind: 'end'; index: number; failed: boolean; bytes: number }
  | { kind: 'add'; weight: number; lbset: number }
  | { kind: 'remove' | 'drain' | 'disable' | 'stop' | 'enable' | 'error' | 'unhealthy' | 'healthy'; target: number }
  | { kind: 'weight'; target: number; weight: number }
  | { kind: 'lbset'; target: number; lbset: number }
  | { kind: 'advance'; ms: number };

const lbsetArb = fc.integer({ min: 0, max: 2 });
/** Integer weights keep a byrequests cycle short (lbfactors 100..2000, so at most 100 picks); decimals come in the invariant runs. */
const intWeightArb = fc.integer({ min: 1, max: 20 });
const anyWeightArb = fc.oneof(
  intWeightArb,
  fc.integer({ min: 100, max: 10_000 }).map((n) => n / 100),
);

function stepArb(weightArb: fc.Arbitrary<number>): fc.Arbitrary<Step> {
  const target = fc.nat({ max: 99 });
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('pick' as const), key: fc.nat({ max: 999 }) }), weight: 8 },
    {
      arbitrary: fc.record({ kind: fc.constant('end' as const), index: fc.nat({ max: 99 }), failed: fc.boolean(), bytes: fc.nat({ max: 10_000 }) }),
      weight: 5,
    },
    fc.record({ kind: fc.constant('add' as const), weight: weightArb, lbset: lbsetArb }),
    fc.record({ kind: fc.constantFrom('remove' as const, 'drain' as const, 'disable' as const, 'stop' as const, 'enable' as const), target }),
    { arbitrary: fc.record({ kind: fc.constantFrom('error' as const, 'unhealthy' as const, 'healthy' as const), target }), weight: 2 },
    fc.record({ kind: fc.constant('weight' as const), target, weight: weightArb }),
    fc.record({ kind: fc.constant('lbset' as const), target, lbset: lbsetArb }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(10, 100, RETRY_MS) }),
  );
}

function membersArb(weightArb: fc.Arbitrary<number>): fc.Arbitrary<MemberSpec[]> {
  return fc
    .array(fc.record({ weight: weightArb, lbset: lbsetArb }), { minLength: 1, maxLength: 5 })
    .map((specs) => specs.map((s, i) => ({ route: `m${i}`, ...s })));
}

/**
 * A pool under test with the model the invariants are checked against: the requests started and
 * not ended, per member, and every member ever removed.
 */
class Run {
  readonly open: Member[] = [];
  readonly started = new Map<Member, number>();
  readonly removed = new Set<Member>();
  #added = 0;

  constructor(
    readonly t: TestPool,
    readonly strategy: Strategy,
  ) {}

  /** The members a pick may return now: enabled, healthy, not in error or past its retry time; the lowest lbset of them. */
  eligible(): Member[] {
    const now = this.t.clock.time;
    const usable = this.t.pool.members.filter((m) => m.admin === 'enabled' && !m.unhealthy && (m.errorSince === 0 || now >= m.errorUntil));
    const lowest = Math.min(...usable.map((m) => m.lbset));
    return usable.filter((m) => m.lbset === lowest);
  }

  /** One unsticky pick, checked against `eligible()`; the hash strategy gets a URL to hash. */
  pick(key: number): Member | undefined {
    const eligible = this.eligible();
    const context: PickContext = { req: { url: `/k${key}` } as IncomingMessage };
    const picked = this.t.pool.select((candidates) => this.strategy.pick(candidates, context));
    if (eligible.length === 0) {
      expect(picked).toBeUndefined();
      return undefined;
    }
    expect(picked).toBeDefined();
    expect(this.removed.has(picked!)).toBe(false);
    expect(eligible).toContain(picked);
    expect(picked!.usable).toBe(true);
    return picked;
  }

  apply(step: Step): void {
    const { pool, clock } = this.t;
    const members = pool.members;
    const target = 'target' in step ? members[step.target % Math.max(1, members.length)] : undefined;
    switch (step.kind) {
      case 'pick': {
        const member = this.pick(step.key);
        if (member === undefined) return;
        pool.begin(member);
        this.strategy.requestStart?.(member);
        this.open.push(member);
        this.started.set(member, (this.started.get(member) ?? 0) + 1);
        return;
      }
      case 'end': {
        if (this.open.length === 0) return;
        const [member] = this.open.splice(step.index % this.open.length, 1);
        this.end(member!, step.bytes, step.failed);
        return;
      }
      case 'add':
        pool.add({ url: `http://127.0.0.1:${20_000 + this.#added}`, route: `added${this.#added++}`, weight: step.weight, lbset: step.lbset });
        return;
      case 'advance':
        clock.advance(step.ms);
        return;
    }
    if (target === undefined) return;
    switch (step.kind) {
      case 'remove':
        this.removed.add(pool.remove(target.route));
        return;
      case 'lbset':
        // The pool has no lbset setter: a member moves tiers by being removed and added again.
        this.removed.add(pool.remove(target.route));
        pool.add({ url: target.url.href, route: target.route, weight: target.weight, lbset: step.lbset });
        return;
      case 'drain':
        pool.drain(target.route);
        return;
      case 'disable':
        pool.disable(target.route);
        return;
      case 'stop':
        pool.setStatus(target.route, 'stopped');
        return;
      case 'enable':
        pool.enable(target.route);
        return;
      case 'error':
        pool.markError(target, 'property');
        return;
      case 'unhealthy':
      case 'healthy':
        pool.setHealth(target, step.kind === 'healthy', 'property');
        return;
      case 'weight':
        pool.setWeight(target.route, step.weight);
        return;
    }
  }

  end(member: Member, bytes: number, failed: boolean): void {
    this.t.pool.finish(member, bytes, bytes, failed);
    this.strategy.requestEnd?.(member, { bytesSent: bytes, bytesReceived: bytes, durationMs: 1, ok: !failed });
    this.started.set(member, this.started.get(member)! - 1);
  }

  /** Every member that ever had a request, removed ones included, holds exactly the requests not ended. */
  checkInFlight(): void {
    for (const [member, open] of this.started) {
      expect(open).toBeGreaterThanOrEqual(0);
      expect(member.inFlight).toBe(open);
    }
  }
}

function startRun(specs: MemberSpec[], strategy: Strategy): Run {
  return new Run(buildPool(specs, { strategy, retryMs: RETRY_MS }), strategy);
}

describe.each(Object.keys(STRATEGIES))('pool and strategy properties: %s', (name) => {
  it('picks only usable members of the lowest usable lbset, never a removed one, and keeps in-flight counts exact', () => {
    fc.assert(
      fc.property(membersArb(anyWeightArb), fc.array(stepArb(anyWeightArb), { maxLength: 120 }), fc.integer(), (specs, steps, seed) => {
        const run = startRun(specs, STRATEGIES[name]!(seed));
        for (const step of steps) {
          run.apply(step);
          run.checkInFlight();
        }
        while (run.open.length > 0) run.end(run.open.pop()!, 0, false);
        run.checkInFlight();
        for (const member of [...run.t.pool.members, ...run.removed]) expect(member.inFlight).toBe(0);
      }),
      // hash rebuilds its 65,537-slot table on every membership change: fewer runs keep it as quick as the others.
      { numRuns: name === 'hash' ? 40 : 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// byrequests: exact shares over each full cycle while nothing changes.
//
// Apache's byrequests keeps each member's credit (lbstatus) across disable/enable, errors, drain and
// tier changes, and this one does too (test/strategies.test.ts checks it against a transcription of
// the C). So a member that comes back may be owed picks or be ahead, and the first cycles after
// such a change even that out: the shares are exact per cycle from a balanced start, that is a
// fresh pool or a weight change (which resets every credit to its lbfactor, as Apache's
// recalc_factors does), and settle into exact cycles otherwise.

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** After `steps`, past every error timer: the candidates, and the length of one full cycle over them. */
function settle(run: Run, steps: Step[]): { candidates: Member[]; cycle: number } {
  for (const step of steps) run.apply(step);
  run.t.clock.advance(10 * RETRY_MS); // every error timer runs out now, not in the middle of the cycles
  const candidates = run.eligible();
  const factors = candidates.map((m) => m.lbfactor);
  const cycle = factors.length === 0 ? 0 : factors.reduce((a, b) => a + b, 0) / factors.reduce(gcd);
  return { candidates, cycle };
}

/** `n` plain picks (the invariants of each pick are the first property's business). */
function picks(run: Run, n: number): (Member | undefined)[] {
  const choose = (candidates: readonly Member[]): Member | undefined => run.strategy.pick(candidates, {});
  return Array.from({ length: n }, () => run.t.pool.select(choose));
}

/** Whether every candidate got exactly its share in picks [from, from + cycle). */
function exactCycle(picks: (Member | undefined)[], from: number, candidates: Member[], cycle: number): boolean {
  const g = candidates.map((m) => m.lbfactor).reduce(gcd);
  return candidates.every((m) => picks.slice(from, from + cycle).filter((p) => p === m).length === m.lbfactor / g);
}

describe('byrequests: exact shares', () => {
  it('over every full cycle while nothing changes, from the first pick after a weight change, after any history', () => {
    fc.assert(
      fc.property(membersArb(intWeightArb), fc.array(stepArb(intWeightArb), { maxLength: 80 }), fc.nat(), intWeightArb, (specs, steps, which, weight) => {
        const run = startRun(specs, new ByRequests());
        for (const step of steps) run.apply(step);
        const members = run.t.pool.members;
        if (members.length === 0) return;
        const { candidates, cycle } = settle(run, [{ kind: 'weight', target: which, weight }]);
        if (cycle === 0) return;
        const sequence = picks(run, 3 * cycle);
        for (let k = 0; k < 3; k++) expect(exactCycle(sequence, k * cycle, candidates, cycle)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('settles into exact full cycles while nothing changes, after any history', () => {
    const CYCLES = 20;
    fc.assert(
      fc.property(membersArb(intWeightArb), fc.array(stepArb(intWeightArb), { maxLength: 80 }), (specs, steps) => {
        const run = startRun(specs, new ByRequests());
        const { candidates, cycle } = settle(run, steps);
        if (cycle === 0) return;
        const sequence = picks(run, CYCLES * cycle);
        // The last three cycles of twenty are exact: any stale credit has been evened out by then.
        for (let k = CYCLES - 3; k < CYCLES; k++) expect(exactCycle(sequence, k * cycle, candidates, cycle)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
