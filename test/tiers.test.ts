/**
 * Tiers and statuses: the pool's selection walk against Apache 2.4's proxy_balancer_get_best_worker
 * (modules/proxy/proxy_util.c) and ap_proxy_retry_worker. lbsets lowest first, hot spares (R) filling
 * holes one for one, hot standbys (H) only when their lbset yields nothing, drain (N) as a hole,
 * disabled (D) and stopped (S) never balanced, and the lazy retry timer of the error state (E).
 */
import { describe, expect, it } from 'vitest';
import type { Member } from '../src/pool/member.js';
import type { Pool } from '../src/pool/pool.js';
import { buildPool, sequence, type MemberSpec } from './helpers/members.js';

/**
 * The candidate lists the walk offers, tier by tier, when the strategy declines every one: exactly
 * what Apache's is_best would be shown, in order, if no member ever won.
 */
function offered(pool: Pool, exclude?: ReadonlySet<Member>): string[][] {
  const tiers: string[][] = [];
  const chosen = pool.select((candidates) => {
    tiers.push(candidates.map((m) => m.route));
    return undefined;
  }, exclude);
  expect(chosen).toBeUndefined();
  return tiers;
}

const spec = (route: string, extra: Partial<MemberSpec> = {}): MemberSpec => ({ route, ...extra });

describe('lbset tiers', () => {
  it('offers lbsets lowest first, each in configuration order, whatever the order of the list', () => {
    const { pool } = buildPool([spec('a', { lbset: 1 }), spec('b'), spec('c', { lbset: 2 }), spec('d')]);
    expect(offered(pool)).toEqual([['b', 'd'], ['a'], ['c']]);
  });

  it('balances only the lowest lbset with a usable member, and falls to the next when it has none', () => {
    const { pool, strategy } = buildPool([spec('a', { lbset: 1 }), spec('b'), spec('c', { lbset: 1 }), spec('d')]);
    expect(sequence(pool, strategy, 4)).toEqual(['b', 'd', 'b', 'd']);
    pool.disable('b');
    pool.setStatus('d', 'stopped');
    expect(sequence(pool, strategy, 4)).toEqual(['a', 'c', 'a', 'c']);
  });

  it('skips empty lbsets between used ones', () => {
    const { pool, strategy } = buildPool([spec('a', { lbset: 5, status: 'disabled' }), spec('z', { lbset: 99 })]);
    expect(offered(pool)).toEqual([['z']]);
    expect(sequence(pool, strategy, 2)).toEqual(['z', 'z']);
  });
});

describe('hot standby (H)', () => {
  it('is offered only when no regular member or spare of its lbset is usable', () => {
    const { pool, strategy } = buildPool([spec('a'), spec('s', { status: 'standby' }), spec('r', { status: 'spare' })]);
    expect(sequence(pool, strategy, 3)).toEqual(['a', 'a', 'a']);
    pool.disable('a'); // one hole: the spare takes it
    expect(sequence(pool, strategy, 3)).toEqual(['r', 'r', 'r']);
    pool.disable('r');
    expect(sequence(pool, strategy, 3)).toEqual(['s', 's', 's']);
    pool.enable('a');
    expect(sequence(pool, strategy, 2)).toEqual(['a', 'a']);
  });

  it('of lbset 0 beats every member of lbset 1', () => {
    const { pool, strategy } = buildPool([
      spec('x', { lbset: 1, weight: 100 }),
      spec('a', { status: 'disabled' }),
      spec('s', { status: 'standby' }),
      spec('y', { lbset: 1, weight: 100 }),
    ]);
    expect(offered(pool)).toEqual([['s'], ['x', 'y']]);
    expect(sequence(pool, strategy, 3)).toEqual(['s', 's', 's']);
    pool.disable('s');
    expect(sequence(pool, strategy, 2)).toEqual(['x', 'y']);
  });

  it('standbys of a tier are balanced among themselves by weight', () => {
    const { pool, strategy } = buildPool([spec('s1', { status: 'standby', weight: 1 }), spec('s2', { status: 'standby', weight: 2 })]);
    expect(sequence(pool, strategy, 6)).toEqual(['s2', 's1', 's2', 's2', 's1', 's2']);
  });
});

describe('hot spare (R)', () => {
  it('is not offered while every regular member is usable', () => {
    const { pool, strategy } = buildPool([spec('a'), spec('b'), spec('r', { status: 'spare' })]);
    expect(offered(pool)).toEqual([['a', 'b']]);
    expect(sequence(pool, strategy, 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('fills holes one for one: two regular members down and one spare leaves one hole unfilled', () => {
    const { pool } = buildPool([spec('a'), spec('b'), spec('c'), spec('d'), spec('r', { status: 'spare' })]);
    pool.disable('a');
    pool.markError(pool.get('b')!, 'test');
    // Two holes, one spare: the spare competes beside c and d; nothing takes the second hole.
    expect(offered(pool)).toEqual([['c', 'd', 'r']]);
  });

  it('with more spares than holes, only the first spares in configuration order stand in', () => {
    const { pool, strategy } = buildPool([
      spec('r', { status: 'spare' }),
      spec('a'),
      spec('t', { status: 'spare' }),
      spec('b'),
      spec('u', { status: 'spare' }),
    ]);
    pool.disable('a');
    expect(offered(pool)).toEqual([['b', 'r']]);
    pool.disable('b');
    expect(offered(pool)).toEqual([['r', 't']]);
    expect(sequence(pool, strategy, 4)).toEqual(['r', 't', 'r', 't']);
  });

  it('a spare that is itself unusable is passed over and the next usable spare stands in', () => {
    const { pool } = buildPool([spec('a'), spec('b'), spec('r', { status: 'spare' }), spec('t', { status: 'spare' })]);
    pool.disable('a');
    pool.setStatus('r', 'stopped');
    expect(offered(pool)).toEqual([['b', 't']]);
  });

  it('a draining regular member counts as a hole; a draining spare or standby does not', () => {
    const { pool } = buildPool([spec('a'), spec('b', { status: 'drain' }), spec('r', { status: 'spare' })]);
    expect(offered(pool)).toEqual([['a', 'r']]);

    const other = buildPool([spec('a'), spec('r1', { status: 'spare' }), spec('h', { status: 'standby' }), spec('r2', { status: 'spare' })]);
    other.pool.drain('r1');
    other.pool.drain('h');
    expect(offered(other.pool)).toEqual([['a']]);
  });

  it('an unusable spare or standby is not a hole', () => {
    const { pool } = buildPool([spec('a'), spec('r1', { status: 'spare' }), spec('h', { status: 'standby' }), spec('r2', { status: 'spare' })]);
    pool.disable('r1');
    pool.markError(pool.get('h')!, 'test');
    expect(offered(pool)).toEqual([['a']]);
  });

  it('fills holes of its own lbset only', () => {
    const { pool } = buildPool([spec('a', { status: 'disabled' }), spec('b'), spec('r', { status: 'spare', lbset: 1 })]);
    expect(offered(pool)).toEqual([['b']]);
  });

  it('a member excluded by this request (failover) is a hole, like a member Apache marked in error', () => {
    const { pool, member } = buildPool([spec('a'), spec('b'), spec('r', { status: 'spare' }), spec('s', { status: 'standby' })]);
    expect(offered(pool, new Set([member('a')]))).toEqual([['b', 'r'], ['s']]);
    expect(offered(pool, new Set([member('a'), member('b'), member('r')]))).toEqual([['s']]);
  });
});

describe('disabled, stopped, drain', () => {
  it('never balances disabled or stopped members, in any role', () => {
    const { pool, strategy } = buildPool([
      spec('d', { status: 'disabled', weight: 100 }),
      spec('s', { status: 'stopped', weight: 100 }),
      spec('a'),
      spec('r', { status: 'spare' }),
      spec('h', { status: 'standby' }),
    ]);
    pool.disable('r');
    pool.setStatus('h', 'stopped');
    expect(offered(pool)).toEqual([['a']]);
    pool.disable('a');
    expect(offered(pool)).toEqual([]);
    expect(sequence(pool, strategy, 3)).toEqual(['-', '-', '-']);
  });

  it('does not balance a draining member, which stays usable for its sticky sessions', () => {
    const { pool, strategy, member } = buildPool([spec('a'), spec('b')]);
    pool.drain('b');
    expect(sequence(pool, strategy, 3)).toEqual(['a', 'a', 'a']);
    expect(member('b').usable).toBe(true);
    expect(pool.usableMembers().map((m) => m.route)).toEqual(['a', 'b']);
    expect(member('b').state).toBe('drain');
  });

  it('a health-check failure (C) takes a member out until a pass clears it', () => {
    const { pool, strategy, member } = buildPool([spec('a'), spec('b')]);
    pool.setHealth(member('a'), false, 'test');
    expect(sequence(pool, strategy, 2)).toEqual(['b', 'b']);
    expect(member('a').state).toBe('unhealthy');
    pool.setHealth(member('a'), true, 'test');
    expect(offered(pool)).toEqual([['a', 'b']]);
  });
});

describe('error state and the lazy retry timer', () => {
  const RETRY_MS = 1000;

  it('skips a member in error until retryMs has passed on the injected clock, then uses it in that same walk', () => {
    const { pool, strategy, clock, member } = buildPool([spec('a'), spec('b')], { retryMs: RETRY_MS });
    const b = member('b');
    pool.markError(b, 'test');
    expect(b.state).toBe('error');
    expect(b.errorUntil).toBe(clock.time + RETRY_MS);
    clock.advance(RETRY_MS - 1);
    expect(sequence(pool, strategy, 3)).toEqual(['a', 'a', 'a']);
    expect(b.retries).toBe(0);
    // Apache's ap_proxy_retry_worker clears E when `now > error_time + retry` (strictly, in
    // microseconds); the pool uses `now >= errorUntil` in milliseconds, so the member is back at
    // exactly retryMs, one Apache tick sooner. Pinned here so a change is deliberate.
    clock.advance(1);
    expect(offered(pool)).toEqual([['a', 'b']]);
    expect(b.state).toBe('ok');
    expect(b.retries).toBe(1);
    expect(b.toJSON().errorUntil).toBeNull();
  });

  it('markError gives a fresh timestamp each time, so a member failing again waits a full retryMs', () => {
    const { pool, clock, member } = buildPool([spec('a'), spec('b')], { retryMs: RETRY_MS });
    const b = member('b');
    const errors: string[] = [];
    pool.on('memberError', (m, reason) => errors.push(`${m.route}: ${reason}`));
    const first = clock.time;
    pool.markError(b, 'first');
    clock.advance(600);
    pool.markError(b, 'second');
    expect(b.errorSince).toBe(first + 600);
    expect(b.errorUntil).toBe(first + 600 + RETRY_MS);
    clock.advance(RETRY_MS - 600); // the first timestamp's retry time: still in error
    expect(offered(pool)).toEqual([['a']]);
    clock.advance(600);
    expect(offered(pool)).toEqual([['a', 'b']]);
    expect(errors).toEqual(['b: first']); // one event per entry into error, not per failure
  });

  it("a member's own retryMs overrides the balancer's (Apache retry= on the BalancerMember)", () => {
    const { pool, clock, member } = buildPool([spec('a'), spec('b', { retryMs: 100 })], { retryMs: RETRY_MS });
    pool.markError(member('a'), 'test');
    pool.markError(member('b'), 'test');
    clock.advance(100);
    expect(offered(pool)).toEqual([['b']]);
    clock.advance(RETRY_MS - 100);
    expect(offered(pool)).toEqual([['a', 'b']]);
  });

  it('retryMs 0 makes a member in error usable at the next walk', () => {
    const { pool, member } = buildPool([spec('a'), spec('b')], { retryMs: 0 });
    pool.markError(member('a'), 'test');
    expect(offered(pool)).toEqual([['a', 'b']]);
  });

  it('runs the retry check on spares and standbys too', () => {
    const { pool, clock, member } = buildPool([spec('a', { status: 'disabled' }), spec('r', { status: 'spare' }), spec('s', { status: 'standby' })], {
      retryMs: RETRY_MS,
    });
    pool.markError(member('r'), 'test');
    pool.markError(member('s'), 'test');
    expect(offered(pool)).toEqual([]);
    clock.advance(RETRY_MS);
    expect(offered(pool)).toEqual([['r'], ['s']]);
  });

  it('does not retry a stopped member (ap_proxy_retry_worker declines S); it is retried once started again', () => {
    const { pool, strategy, clock, member } = buildPool([spec('a'), spec('b')], { retryMs: RETRY_MS });
    const b = member('b');
    pool.markError(b, 'test');
    pool.setStatus('b', 'stopped');
    clock.advance(RETRY_MS * 5);
    expect(sequence(pool, strategy, 2)).toEqual(['a', 'a']);
    expect(b.retries).toBe(0);
    expect(b.errorSince).not.toBe(0);
    pool.setStatus('b', 'active'); // clears S only, as Apache's manager would; E goes at the next walk
    expect(b.errorSince).not.toBe(0);
    expect(offered(pool)).toEqual([['a', 'b']]);
    expect(b.retries).toBe(1);
  });

  it('enable() clears the error state at once', () => {
    const { pool, member } = buildPool([spec('a'), spec('b')], { retryMs: RETRY_MS });
    pool.markError(member('b'), 'test');
    pool.enable('b');
    expect(member('b').state).toBe('ok');
    expect(offered(pool)).toEqual([['a', 'b']]);
  });

  it('a passing health check clears the error state too (mod_proxy_hcheck clears C and E)', () => {
    const { pool, member } = buildPool([spec('a'), spec('b')], { retryMs: RETRY_MS });
    pool.markError(member('b'), 'test');
    pool.setHealth(member('b'), true, 'test');
    expect(offered(pool)).toEqual([['a', 'b']]);
  });
});
