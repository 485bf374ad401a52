/**
 * The `hash` strategy: key movement when a member leaves, balance by weight, agreement between
 * independent instances, candidate exclusion, key extraction and the keyless fallback, and option
 * validation. Counts over 100,000 fixed keys, so every number here is deterministic.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../src/validate.js';
import type { Member } from '../src/pool/member.js';
import type { Pool } from '../src/pool/pool.js';
import { normalizeHashOptions } from '../src/options/hash.js';
import { murmur3 } from '../src/strategies/hash/murmur3.js';
import { HashStrategy } from '../src/strategies/hash/strategy.js';
import { buildPool, type MemberSpec } from './helpers/members.js';

const KEYS = 100_000;
const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);

/** A pool over made-up loopback URLs (nothing connects to them) whose changes `strategy` is told of. */
function poolOf(specs: readonly MemberSpec[], strategy: HashStrategy): Pool {
  return buildPool(specs, { strategy }).pool;
}

/** The pool tells strategies of changes only; hand this one the initial list as the balancer should. */
function announce(pool: Pool, strategy: HashStrategy): void {
  const first = pool.members[0];
  if (first !== undefined) strategy.membersChanged(pool.members, 'added', first);
}

function routesOf(strategy: HashStrategy, candidates: readonly Member[]): string[] {
  return keys.map((k) => strategy.memberForKey(candidates, k)?.route ?? '-');
}

function countBy(routes: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of routes) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** A request as the strategy reads it: url, headers, peer address. Pure input, no socket involved. */
function req(url: string, headers: Record<string, string | string[]> = {}, remoteAddress = '127.0.0.1'): IncomingMessage {
  return { url, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

const ten = Array.from({ length: 10 }, (_, i) => ({ route: `m${i}` }));

describe('murmur3', () => {
  it('matches the published MurmurHash3 x86_32 test vectors, UTF-8 included', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3('\0\0\0\0', 0)).toBe(0x2362f9de);
    expect(murmur3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3('abc', 0x9747b28c)).toBe(0xc84a62dd);
    expect(murmur3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
    expect(murmur3('ππππππππ', 0x9747b28c)).toBe(0xd58063c1);
  });

  it('hashes keys longer than its scratch buffer the same way', () => {
    const long = 'x'.repeat(100_000);
    expect(murmur3(long, 7)).toBe(murmur3(long, 7));
    expect(murmur3(long, 7)).not.toBe(murmur3(`${long}y`, 7));
  });
});

describe('hash strategy: consistency', () => {
  it('moves about 1/10 of the keys when 1 of 10 members leaves the pool, nearly all of them from that member', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf(ten, strategy);
    announce(pool, strategy);
    const before = routesOf(strategy, pool.members);
    pool.remove('m3'); // the pool tells the strategy, which rebuilds its table
    const after = routesOf(strategy, pool.members);
    let moved = 0;
    let movedFromOthers = 0;
    for (let i = 0; i < KEYS; i++) {
      if (before[i] !== after[i]) {
        moved++;
        if (before[i] !== 'm3') movedFromOthers++;
      }
    }
    expect(after).not.toContain('m3');
    expect(moved / KEYS).toBeGreaterThan(0.08);
    expect(moved / KEYS).toBeLessThan(0.14);
    // Maglev's "minimal disruption": beyond the leaver's own keys, only a sliver moves.
    expect(movedFromOthers / KEYS).toBeLessThan(0.02);
  });

  it('puts each member within 15% of its share over 100,000 keys, equal weights', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf(ten, strategy);
    announce(pool, strategy);
    const counts = countBy(routesOf(strategy, pool.members));
    expect(counts.size).toBe(10);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan((KEYS / 10) * 0.85);
      expect(count).toBeLessThan((KEYS / 10) * 1.15);
    }
  });

  it('gives a weight-2 member twice the keys of a weight-1 member, each within 15% of its share', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf(
      [
        { route: 'a', weight: 1 },
        { route: 'b', weight: 2 },
        { route: 'c', weight: 1 },
        { route: 'd', weight: 2 },
      ],
      strategy,
    );
    announce(pool, strategy);
    const counts = countBy(routesOf(strategy, pool.members));
    const shares = { a: 1 / 6, b: 2 / 6, c: 1 / 6, d: 2 / 6 };
    for (const [route, share] of Object.entries(shares)) {
      expect(counts.get(route)).toBeGreaterThan(KEYS * share * 0.85);
      expect(counts.get(route)).toBeLessThan(KEYS * share * 1.15);
    }
  });

  it('follows a weight change told through the pool', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf([{ route: 'a' }, { route: 'b' }], strategy);
    announce(pool, strategy);
    const even = countBy(routesOf(strategy, pool.members));
    expect(even.get('a')).toBeGreaterThan(KEYS * 0.5 * 0.85);
    pool.setWeight('b', 3);
    const skewed = countBy(routesOf(strategy, pool.members));
    expect(skewed.get('b')).toBeGreaterThan(KEYS * 0.75 * 0.85);
    expect(skewed.get('b')).toBeLessThan(KEYS * 0.75 * 1.15);
  });

  it('agrees between two independent instances given the members in different orders, one told and one learning', () => {
    const told = new HashStrategy({ key: 'url' });
    const learning = new HashStrategy({ key: 'url' });
    const poolA = poolOf(ten, told);
    const poolB = poolOf([...ten].reverse(), learning);
    announce(poolA, told); // `learning` only ever sees candidates
    expect(poolB.members.map((m) => m.route)).not.toEqual(poolA.members.map((m) => m.route));
    expect(routesOf(learning, poolB.members)).toEqual(routesOf(told, poolA.members));
  });

  it('moves only the keys of a member missing from the candidates, and they come back with it', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf(ten, strategy);
    announce(pool, strategy);
    const all = pool.members;
    const before = routesOf(strategy, all);
    const without = routesOf(
      strategy,
      all.filter((m) => m.route !== 'm7'),
    );
    let moved = 0;
    let movedWrongly = 0;
    for (let i = 0; i < KEYS; i++) {
      if (before[i] !== without[i]) moved++;
      if (before[i] === 'm7' ? without[i] === 'm7' : without[i] !== before[i]) movedWrongly++;
    }
    expect(movedWrongly).toBe(0);
    expect(moved).toBe(countBy(before).get('m7'));
    // The displaced keys spread over the others instead of piling onto one neighbour.
    const receivers = countBy(without.filter((_, i) => before[i] === 'm7'));
    expect(receivers.size).toBeGreaterThanOrEqual(8);
    expect(routesOf(strategy, all)).toEqual(before);
  });

  it('serves a tier whose members hold few slots, such as standbys offered alone', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf([...ten, { route: 'standby', status: 'standby' }], strategy);
    announce(pool, strategy);
    const standby = pool.members.filter((m) => m.route === 'standby');
    expect(new Set(routesOf(strategy, standby))).toEqual(new Set(['standby']));
  });

  it('returns the candidate object itself and nothing for no candidates', () => {
    const strategy = new HashStrategy({ key: 'url' });
    const pool = poolOf(ten, strategy);
    const chosen = strategy.memberForKey(pool.members, 'k');
    expect(pool.members).toContain(chosen);
    expect(strategy.memberForKey([], 'k')).toBeUndefined();
  });

  it('keeps picking through the pool walk: a member in error loses only its own keys', () => {
    const strategy = new HashStrategy({ key: { header: 'x-user' } });
    const pool = poolOf(ten, strategy);
    announce(pool, strategy);
    const users = keys.slice(0, 5_000);
    const pickFor = (user: string): string | undefined => pool.select((candidates) => strategy.pick(candidates, { req: req('/', { 'x-user': user }) }))?.route;
    const before = users.map(pickFor);
    pool.markError(pool.get('m2') as Member, 'test');
    const after = users.map(pickFor);
    const movedWrongly = users.filter((_, i) => (before[i] === 'm2' ? after[i] === 'm2' : after[i] !== before[i]));
    expect(movedWrongly).toEqual([]);
    expect(before).toContain('m2');
    expect(after).not.toContain('m2');
  });
});

describe('hash strategy: keys', () => {
  function routeFor(strategy: HashStrategy, request: IncomingMessage, candidates: readonly Member[]): string | undefined {
    return strategy.pick(candidates, { req: request })?.route;
  }

  it('reads each kind of key from the request', () => {
    expect(new HashStrategy({ key: 'client' }).keyOf(req('/', {}, '10.1.2.3'))).toBe('10.1.2.3');
    expect(new HashStrategy({ key: 'client' }).keyOf(req('/', {}, '::ffff:10.1.2.3'))).toBe('10.1.2.3');
    expect(new HashStrategy({ key: 'client' }).keyOf(req('/', {}, '::1'))).toBe('::1');
    expect(new HashStrategy({ key: 'url' }).keyOf(req('/a/b?x=1'))).toBe('/a/b?x=1');
    expect(new HashStrategy({ key: 'path' }).keyOf(req('/a/b?x=1'))).toBe('/a/b');
    expect(new HashStrategy({ key: 'path' }).keyOf(req('/a/b'))).toBe('/a/b');
    expect(new HashStrategy({ key: { header: 'X-User' } }).keyOf(req('/', { 'x-user': 'alice' }))).toBe('alice');
    expect(new HashStrategy({ key: { header: 'x-user' } }).keyOf(req('/', { 'x-user': ['a', 'b'] }))).toBe('a, b');
    expect(new HashStrategy({ key: { cookie: 'sid' } }).keyOf(req('/', { cookie: 'a=1; sid=abc%20; b=2' }))).toBe('abc%20');
    expect(new HashStrategy({ key: { query: 'user' } }).keyOf(req('/p?x=1&user=bob%20k&user=2'))).toBe('bob k');
  });

  it('finds no key when the header, cookie or parameter is absent or empty, or there is no request', () => {
    expect(new HashStrategy({ key: { header: 'x-user' } }).keyOf(req('/'))).toBeUndefined();
    expect(new HashStrategy({ key: { header: 'x-user' } }).keyOf(req('/', { 'x-user': '' }))).toBeUndefined();
    expect(new HashStrategy({ key: { cookie: 'sid' } }).keyOf(req('/', { cookie: 'sid=' }))).toBeUndefined();
    expect(new HashStrategy({ key: { query: 'user' } }).keyOf(req('/p?user='))).toBeUndefined();
    expect(new HashStrategy({ key: { query: 'user' } }).keyOf(req('/p'))).toBeUndefined();
    expect(new HashStrategy({ key: 'url' }).keyOf(undefined)).toBeUndefined();
  });

  it('sends the same key to the same member every time', () => {
    const strategy = new HashStrategy({ key: { cookie: 'sid' } });
    const pool = poolOf(ten, strategy);
    const first = routeFor(strategy, req('/', { cookie: 'sid=user-42' }), pool.members);
    for (let i = 0; i < 50; i++) expect(routeFor(strategy, req(`/${i}`, { cookie: 'sid=user-42' }), pool.members)).toBe(first);
  });

  it('balances keyless requests by weighted round robin over the candidates', () => {
    const strategy = new HashStrategy({ key: { header: 'x-user' } });
    const pool = poolOf(
      [
        { route: 'a', weight: 1 },
        { route: 'b', weight: 2 },
        { route: 'c', weight: 3 },
      ],
      strategy,
    );
    const picks = Array.from({ length: 6 }, () => routeFor(strategy, req('/'), pool.members));
    expect(picks).toEqual(['c', 'b', 'a', 'c', 'b', 'c']); // Apache byrequests' cycle for 1:2:3
  });
});

describe('normalizeHashOptions', () => {
  it('defaults to the client address and normalizes names', () => {
    expect(normalizeHashOptions(undefined, 'hash')).toEqual({ key: { kind: 'client' } });
    expect(normalizeHashOptions({ key: 'path' }, 'hash')).toEqual({ key: { kind: 'path' } });
    expect(normalizeHashOptions({ key: { header: 'X-Tenant' } }, 'hash')).toEqual({ key: { kind: 'header', name: 'x-tenant' } });
    expect(normalizeHashOptions({ key: { cookie: 'SID' } }, 'hash')).toEqual({ key: { kind: 'cookie', name: 'SID' } });
    expect(normalizeHashOptions({ key: { query: 'user id' } }, 'hash')).toEqual({ key: { kind: 'query', name: 'user id' } });
  });

  it.each([
    [null, 'hash', 'must be an object'],
    [{ key: 'ip' }, 'hash.key', "must be one of 'client', 'url', 'path'"],
    [{ key: {} }, 'hash.key', 'must be one of'],
    [{ key: { header: 'a', cookie: 'b' } }, 'hash.key', 'must be one of'],
    [{ key: { body: 'a' } }, 'hash.key', 'must be one of'],
    [{ key: { header: 'bad name' } }, 'hash.key.header', 'must be a header name'],
    [{ key: { cookie: 'a;b' } }, 'hash.key.cookie', 'must be a cookie name'],
    [{ key: { query: '' } }, 'hash.key.query', 'must be a parameter name'],
    [{ key: 'url', seed: 1 }, 'hash.seed', 'is not a known option'],
  ])('rejects %j at %s', (value, path, expectation) => {
    let error: unknown;
    try {
      normalizeHashOptions(value, 'hash');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BalancerConfigError);
    expect((error as BalancerConfigError).path).toBe(path);
    expect((error as BalancerConfigError).message).toContain(expectation);
    expect((error as BalancerConfigError).message).toContain(`${path} `);
  });

  it('is applied by the constructor, which also takes a normalized config as it is', () => {
    expect(() => new HashStrategy({ key: 'nope' as never })).toThrow(BalancerConfigError);
    expect(new HashStrategy().name).toBe('hash');
    expect(new HashStrategy().config).toEqual({ key: { kind: 'client' } });
    const config = normalizeHashOptions({ key: { header: 'X-User' } }, 'hash');
    expect(new HashStrategy(config).config).toBe(config);
    expect(new HashStrategy({ key: { header: 'X-User' } }).keyOf(req('/', { 'x-user': 'u' }))).toBe('u');
  });
});
