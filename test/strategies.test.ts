/**
 * Strategies against Apache 2.4 (modules/proxy/balancers/mod_lbmethod_{byrequests,bybusyness,bytraffic}.c
 * over proxy_util.c's proxy_balancer_get_best_worker). Expected sequences are literal: derived by
 * hand and with a throwaway transcription of the C, never from this library's code. The property
 * test compares against an oracle transcribed from the C below.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer } from '../src/index.js';
import type { MemberStatus } from '../src/config.js';
import type { Member } from '../src/pool/member.js';
import { ByBusyness } from '../src/strategies/bybusyness.js';
import { ByTraffic } from '../src/strategies/bytraffic.js';
import { RoundRobin } from '../src/strategies/roundrobin.js';
import type { RequestEndInfo, Strategy } from '../src/strategies/strategy.js';
import { buildPool, sequence, type MemberSpec } from './helpers/members.js';
import { closedPort, request, startBackend, startFront } from './helpers/servers.js';

/** Members named a, b, c, ... with these weights, all active in lbset 0. */
function weighted(...weights: number[]): MemberSpec[] {
  return weights.map((weight, i) => ({ route: String.fromCharCode(97 + i), weight }));
}

const repeat = (cycle: string[], times: number): string[] => Array.from({ length: times }, () => cycle).flat();

describe('byrequests: pinned sequences', () => {
  it('weights 1/2/3 give c b a c b c, repeating (the worked example)', () => {
    const { pool, strategy } = buildPool(weighted(1, 2, 3));
    expect(sequence(pool, strategy, 18)).toEqual(repeat(['c', 'b', 'a', 'c', 'b', 'c'], 3));
  });

  it('weights 25/75', () => {
    const { pool, strategy } = buildPool(weighted(25, 75));
    expect(sequence(pool, strategy, 12)).toEqual(repeat(['b', 'a', 'b', 'b'], 3));
  });

  it('weights 5/1/1', () => {
    const { pool, strategy } = buildPool(weighted(5, 1, 1));
    expect(sequence(pool, strategy, 14)).toEqual(repeat(['a', 'a', 'b', 'a', 'c', 'a', 'a'], 2));
  });

  it('weights 3/3/2/1', () => {
    const { pool, strategy } = buildPool(weighted(3, 3, 2, 1));
    expect(sequence(pool, strategy, 18)).toEqual(repeat(['a', 'b', 'c', 'd', 'a', 'b', 'c', 'a', 'b'], 2));
  });

  it("weights 1/1/1/2, the source comment's example: d twice as often as each of the others", () => {
    // The comment in mod_lbmethod_byrequests.c says "we could see: b a d c d a c d b d"; that is an
    // illustration. From a fresh start the code itself gives d a b c d.
    const { pool, strategy } = buildPool(weighted(1, 1, 1, 2));
    expect(sequence(pool, strategy, 15)).toEqual(repeat(['d', 'a', 'b', 'c', 'd'], 3));
  });

  it("the comment's other example: 25/25/25/25 with b disabled gives a c d a c d", () => {
    const { pool, strategy } = buildPool(weighted(25, 25, 25, 25));
    pool.disable('b');
    expect(sequence(pool, strategy, 6)).toEqual(['a', 'c', 'd', 'a', 'c', 'd']);
  });

  it('a decimal weight: 1.5 vs 1 is lbfactor 150 vs 100, a 3:2 cycle', () => {
    const { pool, strategy, member } = buildPool(weighted(1.5, 1));
    expect([member('a').lbfactor, member('b').lbfactor]).toEqual([150, 100]);
    expect(sequence(pool, strategy, 10)).toEqual(repeat(['a', 'b', 'a', 'b', 'a'], 2));
  });

  it('truncates weight x 100 as C does: 1.15 is lbfactor 114, 1.159 is 115', () => {
    // (int)(atof("1.15") * 100.0) is 114 in C too: 1.15 * 100 is 114.99999999999999 in binary floating point.
    const { member } = buildPool(weighted(1.15, 1.159, 100));
    expect([member('a').lbfactor, member('b').lbfactor, member('c').lbfactor]).toEqual([114, 115, 10_000]);
  });

  it('a disabled member earns no credit and gets no catch-up burst when it returns', () => {
    const { pool, strategy } = buildPool(weighted(1, 1, 1));
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
    pool.disable('b');
    expect(sequence(pool, strategy, 7)).toEqual(['c', 'c', 'a', 'c', 'a', 'c', 'a']);
    pool.enable('b');
    // b comes back with the credit it had when disabled: one turn per cycle, no run of b.
    expect(sequence(pool, strategy, 9)).toEqual(repeat(['b', 'c', 'a'], 3));
  });

  it('a member in error is skipped (no credit) and rejoins after the retry time', () => {
    const { pool, strategy, clock, member } = buildPool(weighted(1, 2, 3), { retryMs: 60_000 });
    expect(sequence(pool, strategy, 2)).toEqual(['c', 'b']);
    pool.markError(member('c'), 'test');
    clock.advance(100);
    expect(sequence(pool, strategy, 6)).toEqual(['a', 'b', 'a', 'b', 'b', 'a']);
    clock.advance(60_000);
    expect(sequence(pool, strategy, 6)).toEqual(['b', 'c', 'c', 'a', 'b', 'c']);
  });

  it('a weight change sets every credit to its lbfactor, as the balancer-manager does (recalc_factors)', () => {
    const { pool, strategy, member } = buildPool(weighted(1, 1));
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
    pool.setWeight('b', 2);
    expect(member('b').lbfactor).toBe(200);
    expect(sequence(pool, strategy, 7)).toEqual(['b', 'a', 'b', 'b', 'a', 'b', 'b']);
  });

  it('sticky accounting: a routed request credits every usable member and debits the routed one, then balancing continues', () => {
    // a/b/c weights 1/2/3, a standby s and an lbset-1 member d. Apache's default accounting in
    // proxy_balancer_pre_request credits every usable member, whatever its lbset or role.
    const { pool, strategy, member } = buildPool([...weighted(1, 2, 3), { route: 's', status: 'standby' }, { route: 'd', lbset: 1 }]);
    expect(sequence(pool, strategy, 2)).toEqual(['c', 'b']);
    strategy.routed!(member('a'), pool.usableMembers());
    expect(sequence(pool, strategy, 8)).toEqual(['c', 'b', 'c', 'c', 'b', 'c', 'a', 'b']);
  });

  it('sticky accounting leaves out unusable members', () => {
    const { pool, strategy, member } = buildPool(weighted(1, 1, 1));
    pool.disable('c');
    strategy.routed!(member('a'), pool.usableMembers());
    // a: +100 -200 = -100, b: +100, c untouched at 0.
    pool.enable('c');
    expect(sequence(pool, strategy, 6)).toEqual(['b', 'c', 'a', 'b', 'c', 'a']);
  });
});

// ---------------------------------------------------------------------------------------------
// The oracle: Apache's selection, transcribed from the C (proxy_util.c proxy_balancer_get_best_worker
// and ap_proxy_retry_worker; mod_lbmethod_byrequests.c is_best_byrequests and find_best_byrequests;
// mod_proxy_balancer.c find_route_worker and proxy_balancer_pre_request's default accounting;
// mod_proxy_balancer.c recalc_factors). Flags as in mod_proxy.h.

interface Worker {
  route: string;
  lbfactor: number;
  lbset: number;
  D: boolean;
  S: boolean;
  E: boolean;
  N: boolean;
  H: boolean;
  R: boolean;
  C: boolean;
  lbstatus: number;
  errorTime: number;
  retry: number;
}

/** PROXY_WORKER_IS_USABLE (every worker here is initialised). */
const apacheUsable = (w: Worker): boolean => !(w.D || w.S || w.E || w.C);

/** ap_proxy_retry_worker, with `now` in ms. */
function apacheRetry(w: Worker, now: number): void {
  if (w.E) {
    if (w.S) return;
    if (now > w.errorTime + w.retry) w.E = false;
  }
}

/** find_best_byrequests over proxy_balancer_get_best_worker; returns the route, or '-'. */
function apachePick(workers: Worker[], now: number): string {
  let total = 0;
  const isBest = (current: Worker, prevBest: Worker | undefined): boolean => {
    current.lbstatus += current.lbfactor;
    total += current.lbfactor;
    return prevBest === undefined || current.lbstatus > prevBest.lbstatus;
  };
  let best: Worker | undefined;
  let maxLbset = 0;
  for (let curLbset = 0; best === undefined && curLbset <= maxLbset; curLbset++) {
    let unusable = 0;
    const spares: Worker[] = [];
    const standbys: Worker[] = [];
    for (const w of workers) {
      if (w.lbset > maxLbset) maxLbset = w.lbset;
      if (w.lbset !== curLbset) continue;
      if (w.N) {
        if (!w.R && !w.H) unusable++;
        continue;
      }
      if (!apacheUsable(w)) apacheRetry(w, now);
      if (w.R) {
        if (apacheUsable(w)) spares.push(w);
      } else if (w.H) {
        if (apacheUsable(w)) standbys.push(w);
      } else if (apacheUsable(w)) {
        if (isBest(w, best)) best = w;
      } else {
        unusable++;
      }
    }
    for (let i = 0; i < spares.length && i < unusable; i++) if (isBest(spares[i]!, best)) best = spares[i];
    if (best === undefined) for (const w of standbys) if (isBest(w, best)) best = w;
  }
  if (best === undefined) return '-';
  best.lbstatus -= total;
  return best.route;
}

/** find_route_worker for a unique route, then the default sticky accounting; returns '~route' or '~-'. */
function apacheSticky(workers: Worker[], route: string, now: number): string {
  const w = workers.find((x) => x.route === route)!;
  if (!apacheUsable(w)) apacheRetry(w, now);
  if (!apacheUsable(w)) return '~-';
  let total = 0;
  for (const x of workers) {
    if (apacheUsable(x)) {
      x.lbstatus += x.lbfactor;
      total += x.lbfactor;
    }
  }
  w.lbstatus -= total;
  return `~${route}`;
}

/** What happens to the members between picks in the property test. */
type PoolEvent =
  | { at: number; target: number; kind: 'error' | 'disable' | 'drain' | 'enable' | 'sticky' | 'unhealthy' | 'healthy' }
  | { at: number; target: number; kind: 'weight'; weight: number };

interface PropMember {
  weight: number;
  lbset: number;
  status: MemberStatus | undefined;
}

const STEP_MS = 10;

/** Runs `picks` steps on the oracle. Events of step i happen before its pick, at the same time. */
function runOracle(members: PropMember[], events: PoolEvent[], retryMs: number, picks: number): string[] {
  const workers: Worker[] = members.map((m, i) => ({
    route: `m${i}`,
    lbfactor: Math.trunc(m.weight * 100), // (int)(atof(val) * 100.0)
    lbset: m.lbset,
    D: m.status === 'disabled',
    S: m.status === 'stopped',
    E: false,
    N: m.status === 'drain',
    H: m.status === 'standby',
    R: m.status === 'spare',
    C: false,
    lbstatus: 0,
    errorTime: 0,
    retry: retryMs,
  }));
  const out: string[] = [];
  for (let step = 0; step < picks; step++) {
    const now = step * STEP_MS;
    for (const e of events) {
      if (e.at !== step) continue;
      const w = workers[e.target % workers.length]!;
      switch (e.kind) {
        case 'error':
          w.E = true;
          w.errorTime = now;
          break;
        // This library's admin status is one of enabled/disabled/drain/stopped: setting one clears the others.
        case 'disable':
          w.D = true;
          w.S = false;
          w.N = false;
          break;
        case 'drain':
          w.N = true;
          w.D = false;
          w.S = false;
          break;
        case 'enable':
          w.D = false;
          w.S = false;
          w.N = false;
          w.E = false;
          break;
        case 'unhealthy':
          w.C = true;
          break;
        case 'healthy':
          w.C = false;
          w.E = false;
          break;
        case 'sticky':
          out.push(apacheSticky(workers, w.route, now));
          break;
        case 'weight':
          w.lbfactor = Math.trunc(e.weight * 100);
          for (const x of workers) x.lbstatus = x.lbfactor; // recalc_factors
          break;
      }
    }
    out.push(apachePick(workers, now));
  }
  return out;
}

/** The same steps on a real Pool and ByRequests. */
function runPool(members: PropMember[], events: PoolEvent[], retryMs: number, picks: number): string[] {
  const { pool, strategy, clock, member } = buildPool(
    members.map((m, i) => ({ route: `m${i}`, weight: m.weight, lbset: m.lbset, status: m.status })),
    { retryMs },
  );
  const start = clock.time;
  const out: string[] = [];
  for (let step = 0; step < picks; step++) {
    clock.time = start + step * STEP_MS;
    for (const e of events) {
      if (e.at !== step) continue;
      const route = `m${e.target % members.length}`;
      switch (e.kind) {
        case 'error':
          pool.markError(member(route), 'property');
          break;
        case 'disable':
          pool.disable(route);
          break;
        case 'drain':
          pool.drain(route);
          break;
        case 'enable':
          pool.enable(route);
          break;
        case 'unhealthy':
          pool.setHealth(member(route), false, 'property');
          break;
        case 'healthy':
          pool.setHealth(member(route), true, 'property');
          break;
        case 'sticky': {
          const found = pool.findByRoute(route).member;
          if (found !== undefined) strategy.routed!(found, pool.usableMembers());
          out.push(`~${found?.route ?? '-'}`);
          break;
        }
        case 'weight':
          pool.setWeight(route, e.weight);
          break;
      }
    }
    out.push(sequence(pool, strategy, 1)[0]!);
  }
  return out;
}

const PICKS = 200;
const weightArb = fc.oneof(
  fc.integer({ min: 1, max: 100 }),
  fc.integer({ min: 100, max: 10_000 }).map((n) => n / 100),
);
const memberArb: fc.Arbitrary<PropMember> = fc.record({
  weight: weightArb,
  lbset: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 1 }),
  status: fc.constantFrom<MemberStatus | undefined>(undefined, undefined, undefined, 'spare', 'spare', 'standby', 'disabled', 'drain', 'stopped'),
});
const eventArb: fc.Arbitrary<PoolEvent> = fc.oneof(
  fc.record({
    at: fc.integer({ min: 0, max: PICKS - 1 }),
    target: fc.nat({ max: 100 }),
    kind: fc.constantFrom(
      'error' as const,
      'error' as const,
      'disable' as const,
      'drain' as const,
      'enable' as const,
      'sticky' as const,
      'sticky' as const,
      'unhealthy' as const,
      'healthy' as const,
    ),
  }),
  fc.record({ at: fc.integer({ min: 0, max: PICKS - 1 }), target: fc.nat({ max: 100 }), kind: fc.constant('weight' as const), weight: weightArb }),
);
/** Retry times that never fall on a step, so Apache's `>` and the pool's `>=` cannot disagree. */
const retryArb = fc.constantFrom(5, 25, 95, 305);

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

describe('byrequests: properties', () => {
  it("pool.select + ByRequests equals the transcription of Apache's C for 200 picks, with statuses, tiers, errors, sticky hits and weight changes", () => {
    fc.assert(
      fc.property(fc.array(memberArb, { minLength: 1, maxLength: 7 }), fc.array(eventArb, { maxLength: 60 }), retryArb, (members, events, retryMs) => {
        expect(runPool(members, events, retryMs, PICKS)).toEqual(runOracle(members, events, retryMs, PICKS));
      }),
      { numRuns: 200 },
    );
  });

  it('over one full cycle, each usable member is picked exactly its lbfactor share, and the cycle repeats', () => {
    fc.assert(
      fc.property(fc.array(weightArb, { minLength: 1, maxLength: 6 }), (weights) => {
        const { pool, strategy, member } = buildPool(weighted(...weights));
        const factors = weights.map((_, i) => member(String.fromCharCode(97 + i)).lbfactor);
        const g = factors.reduce(gcd);
        const cycle = factors.reduce((a, b) => a + b, 0) / g;
        const first = sequence(pool, strategy, cycle);
        const counts = new Map<string, number>();
        for (const route of first) counts.set(route, (counts.get(route) ?? 0) + 1);
        factors.forEach((f, i) => expect(counts.get(String.fromCharCode(97 + i)) ?? 0).toBe(f / g));
        expect(sequence(pool, strategy, cycle)).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });
});

describe('bybusyness', () => {
  it('picks the member with the fewest requests in flight', () => {
    const strategy = new ByBusyness();
    const { pool, member } = buildPool(weighted(1, 1, 1), { strategy });
    pool.begin(member('a'));
    pool.begin(member('a'));
    pool.begin(member('c'));
    expect(sequence(pool, strategy, 3)).toEqual(['b', 'b', 'b']); // sequence() starts nothing, so b stays least busy
    pool.begin(member('b'));
    pool.begin(member('b'));
    expect(sequence(pool, strategy, 1)).toEqual(['c']);
    pool.finish(member('a'), 0, 0, false);
    pool.finish(member('a'), 0, 0, false);
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
  });

  it('splits equally busy members by weight through the byrequests credit', () => {
    const { pool, strategy } = buildPool(weighted(1, 2), { strategy: new ByBusyness() });
    expect(sequence(pool, strategy, 6)).toEqual(['b', 'a', 'b', 'b', 'a', 'b']);
    const three = buildPool(weighted(1, 2, 3), { strategy: new ByBusyness() });
    expect(sequence(three.pool, three.strategy, 6)).toEqual(['c', 'b', 'a', 'c', 'b', 'c']);
  });

  it('ignores weights when busyness differs, but keeps crediting: the loser gets a burst when it evens out', () => {
    const { pool, strategy, member } = buildPool(weighted(3, 1), { strategy: new ByBusyness() });
    pool.begin(member('a'));
    expect(sequence(pool, strategy, 4)).toEqual(['b', 'b', 'b', 'b']); // weight 3 busy 1 loses to weight 1 busy 0
    pool.finish(member('a'), 0, 0, false);
    // a earned +300 on each of those picks and paid nothing: it now wins many times running.
    expect(sequence(pool, strategy, 8)).toEqual(repeat(['a'], 8));
  });

  it('rotates by busyness when every pick starts a request that has not ended, whatever the weights', () => {
    const { pool, strategy } = buildPool(weighted(1, 3), { strategy: new ByBusyness() });
    const routes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const m = pool.select((c) => strategy.pick(c, {}))!;
      pool.begin(m);
      routes.push(m.route);
    }
    expect(routes).toEqual(['b', 'a', 'b', 'a', 'b', 'a', 'b', 'a']);
  });
});

describe('bytraffic', () => {
  const traffic = (bytesSent: number, bytesReceived: number): RequestEndInfo => ({ bytesSent, bytesReceived, durationMs: 1, ok: true });

  it('picks the lowest sent/lbfactor + received/lbfactor', () => {
    const strategy = new ByTraffic();
    const { pool, member } = buildPool(weighted(1, 2), { strategy });
    strategy.requestEnd(member('a'), traffic(1000, 0)); // 1000/100 = 10
    strategy.requestEnd(member('b'), traffic(1000, 800)); // 1000/200 + 800/200 = 5 + 4 = 9
    expect([strategy.score(member('a')), strategy.score(member('b'))]).toEqual([10, 9]);
    expect(sequence(pool, strategy, 3)).toEqual(['b', 'b', 'b']);
    strategy.requestEnd(member('b'), traffic(0, 400)); // 5 + 6 = 11
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
  });

  it('gives ties to the earlier member', () => {
    const strategy = new ByTraffic();
    const { pool, member } = buildPool(weighted(1, 1, 1), { strategy });
    expect(sequence(pool, strategy, 3)).toEqual(['a', 'a', 'a']);
    strategy.requestEnd(member('a'), traffic(500, 0));
    strategy.requestEnd(member('b'), traffic(0, 500));
    strategy.requestEnd(member('c'), traffic(300, 200));
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
    strategy.requestEnd(member('a'), traffic(100, 0));
    expect(sequence(pool, strategy, 1)).toEqual(['b']);
  });

  it('divides each direction separately in integers: bytes below lbfactor count as nothing', () => {
    const strategy = new ByTraffic();
    const { pool, member } = buildPool(weighted(1, 1), { strategy });
    strategy.requestEnd(member('a'), traffic(199, 199)); // 1 + 1 = 2, for 398 bytes
    strategy.requestEnd(member('b'), traffic(0, 300)); // 0 + 3 = 3, for 300 bytes
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
    const fresh = new ByTraffic();
    const other = buildPool(weighted(1, 1), { strategy: fresh });
    fresh.requestEnd(other.member('a'), traffic(99, 99));
    expect(fresh.score(other.member('a'))).toBe(0);
    expect(sequence(other.pool, fresh, 1)).toEqual(['a']); // 198 bytes, still a tie with the idle b
  });

  it('sends all new traffic to a new member until its bytes catch up', () => {
    const strategy = new ByTraffic();
    const { pool, member } = buildPool(weighted(1, 1), { strategy });
    strategy.requestEnd(member('a'), traffic(0, 10_000));
    strategy.requestEnd(member('b'), traffic(0, 10_000));
    pool.add({ url: 'http://127.0.0.1:10100', route: 'c' });
    const routes: string[] = [];
    for (let i = 0; i < 16; i++) {
      const m = pool.select((c) => strategy.pick(c))!;
      strategy.requestEnd(m, traffic(0, 1000));
      routes.push(m.route);
    }
    expect(routes).toEqual([...repeat(['c'], 10), 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('never lets counts decay: time passing and status changes keep them; only reset() zeroes them', () => {
    const strategy = new ByTraffic();
    const { pool, clock, member } = buildPool(weighted(1, 1), { strategy });
    strategy.requestEnd(member('a'), traffic(0, 5000));
    clock.advance(365 * 24 * 3600 * 1000);
    pool.disable('a');
    pool.enable('a');
    expect(strategy.score(member('a'))).toBe(50);
    expect(sequence(pool, strategy, 3)).toEqual(['b', 'b', 'b']);
    strategy.reset();
    expect(strategy.score(member('a'))).toBe(0);
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
  });

  it('forgets a removed member, so one added again at the same URL starts from zero', () => {
    const strategy = new ByTraffic();
    const { pool, member } = buildPool(weighted(1, 1), { strategy });
    strategy.requestEnd(member('a'), traffic(0, 5000));
    strategy.requestEnd(member('b'), traffic(0, 100));
    const url = member('a').url.href;
    pool.remove('a');
    const again = pool.add({ url, route: 'a' });
    expect(strategy.score(again)).toBe(0);
    expect(sequence(pool, strategy, 1)).toEqual(['a']);
  });
});

describe('roundrobin', () => {
  it('rotates over the offered members ignoring weights', () => {
    const strategy = new RoundRobin();
    const { pool } = buildPool(weighted(1, 5, 100), { strategy });
    expect(sequence(pool, strategy, 9)).toEqual(repeat(['a', 'b', 'c'], 3));
  });

  it('rotates over whatever tier the pool offers', () => {
    const strategy = new RoundRobin();
    const { pool } = buildPool([...weighted(1, 1), { route: 's', status: 'standby' }, { route: 't', status: 'standby' }], { strategy });
    pool.disable('a');
    pool.disable('b');
    expect(sequence(pool, strategy, 4)).toEqual(['s', 't', 's', 't']);
  });
});

describe('custom strategies', () => {
  it('a pick that declines a tier lets its standbys, then the next lbset, be offered', () => {
    const offeredTiers: string[][] = [];
    const strategy: Strategy = {
      name: 'standby-first',
      pick(candidates) {
        offeredTiers.push(candidates.map((m) => m.route));
        return candidates.find((m) => m.role === 'standby' || m.lbset > 0);
      },
    };
    const { pool } = buildPool([{ route: 'a' }, { route: 's', status: 'standby' }, { route: 'x', lbset: 1 }], { strategy });
    expect(sequence(pool, strategy, 1)).toEqual(['s']);
    pool.disable('s');
    expect(sequence(pool, strategy, 1)).toEqual(['x']);
    expect(offeredTiers).toEqual([['a'], ['s'], ['a'], ['x']]);
  });

  describe('through createBalancer, on real sockets', () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });

    it('plugs in as an object and has its hooks told of each attempt, with byte counts and the ok flag', async () => {
      let heldMs = -1; // how long the member held its last answer, by the clock durationMs is read with
      const live = await startBackend('live', (req, res) => {
        const arrivedAt = Date.now();
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        // The member answers late, so that the attempt's duration has something to cover.
        req.on('end', () =>
          setTimeout(() => {
            heldMs = Date.now() - arrivedAt;
            res.end(`got:${body}`);
          }, 20),
        );
      });
      cleanups.push(() => live.close());
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const picks: string[][] = [];
      const starts: string[] = [];
      const ends: { route: string; info: RequestEndInfo }[] = [];
      const strategy: Strategy = {
        name: 'first-offered',
        pick(candidates) {
          picks.push(candidates.map((m) => m.route));
          return candidates[0];
        },
        requestStart(member: Member) {
          starts.push(member.route);
        },
        requestEnd(member: Member, info: RequestEndInfo) {
          ends.push({ route: member.route, info });
        },
      };
      const balancer: Balancer = createBalancer({
        members: [
          { url: dead, route: 'dead' },
          { url: live.url, route: 'live' },
        ],
        strategy,
      });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      expect(balancer.strategy).toBe(strategy);

      const sentAt = Date.now();
      const reply = await request(`${front.url}/`, { method: 'POST', body: 'hello' });
      const waitedMs = Date.now() - sentAt;
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('got:hello');
      expect(picks).toEqual([['dead', 'live'], ['live']]); // the failed member is left out of the retry
      expect(starts).toEqual(['dead', 'live']);
      expect(ends.map((e) => e.route)).toEqual(['dead', 'live']);
      expect(ends[0]!.info).toMatchObject({ ok: false, bytesSent: 0, bytesReceived: 0 });
      expect(ends[1]!.info).toMatchObject({ ok: true, bytesSent: 5, bytesReceived: 9 });
      // The attempt's duration covers the member's answer and fits inside the client's wait.
      expect(heldMs).toBeGreaterThan(0);
      expect(ends[1]!.info.durationMs).toBeGreaterThanOrEqual(heldMs);
      expect(ends[1]!.info.durationMs).toBeLessThanOrEqual(waitedMs);

      // The dead member is now in error, so only the live one is offered.
      const again = await request(`${front.url}/`);
      expect(again.body).toBe('got:');
      expect(picks.at(-1)).toEqual(['live']);
      expect(ends.at(-1)).toMatchObject({ route: 'live', info: { ok: true, bytesSent: 0, bytesReceived: 4 } });
    });
  });
});
