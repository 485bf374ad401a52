/**
 * The session table (bounds, idle expiry on an injected clock, lazy forgetting of a removed member's
 * sessions, refusal of bad ids), session ids from Cookie and Set-Cookie headers, and validation of
 * the `sticky` option.
 */
import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BalancerConfigError, describeValue } from '../src/validate.js';
import { normalizeSticky } from '../src/sticky/options.js';
import { SessionTable, isSessionId, sessionIdFromCookies, sessionIdFromSetCookie } from '../src/sticky/table.js';

/** A clock the test moves by hand; starts above 0, which lru-cache reads as "no start time". */
function manualClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SessionTable', () => {
  it('holds at most maxEntries sessions, dropping the least recently used', () => {
    const table = new SessionTable({ maxEntries: 3, ttlMs: 60_000 });
    table.remember('s1', 'a');
    table.remember('s2', 'b');
    table.remember('s3', 'c');
    expect(table.lookup('s1')).toBe('a'); // s1 is now the most recent, s2 the least
    table.remember('s4', 'd');
    expect(table.size).toBe(3);
    expect(table.lookup('s2')).toBeUndefined();
    expect([table.lookup('s1'), table.lookup('s3'), table.lookup('s4')]).toEqual(['a', 'c', 'd']);
  });

  it('expires an entry after ttlMs without use, each lookup restarting the idle time', () => {
    const clock = manualClock();
    const table = new SessionTable({ maxEntries: 10, ttlMs: 100, now: clock.now });
    table.remember('s1', 'a');
    table.remember('s2', 'b');
    clock.advance(60);
    expect(table.lookup('s1')).toBe('a'); // s1 idle again from here
    clock.advance(41); // s2 idle for 101 ms, s1 for 41 ms
    expect(table.lookup('s2')).toBeUndefined();
    expect(table.lookup('s1')).toBe('a');
    clock.advance(100);
    expect(table.lookup('s1')).toBe('a'); // exactly ttlMs idle is still alive
    clock.advance(101);
    expect(table.lookup('s1')).toBeUndefined();
  });

  it('updates a session that moves to another member', () => {
    const table = new SessionTable({ maxEntries: 10, ttlMs: 60_000 });
    table.remember('s1', 'a');
    table.remember('s1', 'b');
    expect(table.lookup('s1')).toBe('b');
    expect(table.size).toBe(1);
  });

  it('arms no timer, unlike lru-cache with its default ttlResolution', () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const table = new SessionTable({ maxEntries: 10, ttlMs: 100, now: clock.now });
    for (let i = 0; i < 20; i++) {
      table.remember(`s${i}`, 'a');
      table.lookup(`s${i}`);
      clock.advance(10);
    }
    expect(vi.getTimerCount()).toBe(0);
    // The contrast shows the check can see such timers at all.
    const plain = new LRUCache<string, string>({ max: 10, ttl: 100, perf: { now: clock.now } });
    plain.set('k', 'v');
    plain.get('k');
    expect(vi.getTimerCount()).toBeGreaterThan(0);
  });

  it('forgets every session of a removed member, lazily, and keeps sessions remembered for its route later', () => {
    const table = new SessionTable({ maxEntries: 10, ttlMs: 60_000 });
    table.remember('s1', 'a');
    table.remember('s2', 'a');
    table.remember('s3', 'b');
    table.forgetRoute('a');
    expect(table.size).toBe(3); // marked, not yet dropped
    expect(table.lookup('s1')).toBeUndefined();
    expect(table.lookup('s2')).toBeUndefined();
    expect(table.lookup('s3')).toBe('b');
    expect(table.size).toBe(1);
    table.remember('s4', 'a'); // a member added back under route a
    table.remember('s1', 'a');
    expect([table.lookup('s4'), table.lookup('s1')]).toEqual(['a', 'a']);
    table.forgetRoute('nobody');
    expect(table.lookup('s3')).toBe('b');
  });

  it('forgets one session', () => {
    const table = new SessionTable({ maxEntries: 10, ttlMs: 60_000 });
    table.remember('s1', 'a');
    table.forget('s1');
    expect(table.lookup('s1')).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('never stores an id that is too long or not cookie-safe', () => {
    const table = new SessionTable({ maxEntries: 100, ttlMs: 60_000 });
    const bad = ['', 'x'.repeat(257), 'a b', 'a;b', 'a,b', 'a"b', 'a\\b', 'a\r\nb', 'é', '\u0000', 42 as unknown as string];
    for (const id of bad) {
      expect(table.remember(id, 'a')).toBe(false);
      expect(table.lookup(id)).toBeUndefined();
      table.forget(id);
    }
    expect(table.size).toBe(0);
    expect(table.remember('x'.repeat(256), 'a')).toBe(true);
    expect(table.remember('s%3Aabc.def-_=!#$&', 'a')).toBe(true);
    expect(table.size).toBe(2);
  });

  it('refuses bounds that are not positive integers', () => {
    expect(() => new SessionTable({ maxEntries: 0, ttlMs: 1 })).toThrow(RangeError);
    expect(() => new SessionTable({ maxEntries: 1, ttlMs: 1.5 })).toThrow(RangeError);
  });
});

describe('isSessionId', () => {
  it('accepts 1 to 256 RFC 6265 cookie-octets only', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary-ascii', maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 20 }),
          fc.stringMatching(/^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]{250,260}$/),
        ),
        (s) => {
          const expected = s.length >= 1 && s.length <= 256 && [...s].every((c) => /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]$/.test(c));
          expect(isSessionId(s)).toBe(expected);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('sessionIdFromCookies', () => {
  it('reads the session cookie verbatim, first occurrence winning', () => {
    expect(sessionIdFromCookies('a=1; connect.sid=s%3Aabc.def; b=2', 'connect.sid')).toBe('s%3Aabc.def');
    expect(sessionIdFromCookies('connect.sid=one; connect.sid=two', 'connect.sid')).toBe('one');
    expect(sessionIdFromCookies(['a=1', 'connect.sid=abc'], 'connect.sid')).toBe('abc');
    expect(sessionIdFromCookies('  connect.sid  =  abc  ', 'connect.sid')).toBe('abc');
  });

  it('finds nothing when absent, empty, quoted, too long or unsafe', () => {
    expect(sessionIdFromCookies(undefined, 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('', 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('other=1', 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('sid=', 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('sid="abc"', 'sid')).toBeUndefined();
    expect(sessionIdFromCookies(`sid=${'x'.repeat(257)}`, 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('sid=a\r\nb', 'sid')).toBeUndefined();
    expect(sessionIdFromCookies('xsid=abc', 'sid')).toBeUndefined();
  });

  it('copes with malformed, huge and crowded headers', () => {
    for (const header of [';;;', '=;=a;', 'sid', '\r\n', ';sid=abc;', '==sid==abc']) {
      expect(() => sessionIdFromCookies(header, 'sid')).not.toThrow();
    }
    expect(sessionIdFromCookies(';sid=abc;', 'sid')).toBe('abc');
    const crowd = Array.from({ length: 5_000 }, (_, i) => `k${i}=${i}`).join('; ');
    expect(sessionIdFromCookies(`${crowd}; sid=abc`, 'sid')).toBe('abc');
    expect(sessionIdFromCookies(`sid=${'a'.repeat(100_000)}`, 'sid')).toBeUndefined();
    expect(sessionIdFromCookies(`x=${'a'.repeat(100_000)}; sid=abc`, 'sid')).toBeUndefined();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.stringMatching(/^[sid=; ,"a\r\n]{0,100}$/)), (header) => {
        const id = sessionIdFromCookies(header, 'sid');
        expect(id === undefined || isSessionId(id)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('sessionIdFromSetCookie', () => {
  it('learns a new session id from a member response', () => {
    expect(sessionIdFromSetCookie(['a=1', 'connect.sid=s%3Aabc; Path=/; HttpOnly'], 'connect.sid')).toEqual({ kind: 'set', sessionId: 's%3Aabc' });
    expect(sessionIdFromSetCookie('connect.sid=abc', 'connect.sid')).toEqual({ kind: 'set', sessionId: 'abc' });
  });

  it('sees a deleted session cookie, or one replaced by an id it cannot keep', () => {
    const now = Date.UTC(2025, 0, 1);
    expect(sessionIdFromSetCookie('sid=; Path=/', 'sid', now)).toEqual({ kind: 'cleared' });
    expect(sessionIdFromSetCookie('sid=abc; Max-Age=0', 'sid', now)).toEqual({ kind: 'cleared' });
    expect(sessionIdFromSetCookie('sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'sid', now)).toEqual({ kind: 'cleared' });
    expect(sessionIdFromSetCookie('sid=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT', 'sid', now)).toEqual({ kind: 'set', sessionId: 'abc' });
    expect(sessionIdFromSetCookie(`sid=${'x'.repeat(300)}`, 'sid', now)).toEqual({ kind: 'cleared' });
  });

  it('lets Max-Age win over Expires, as browsers do (RFC 6265 5.3), so a member clock behind ours loses no session', () => {
    const now = Date.UTC(2025, 0, 1);
    const past = 'Thu, 01 Jan 1970 00:00:00 GMT';
    const future = 'Fri, 01 Jan 2100 00:00:00 GMT';
    expect(sessionIdFromSetCookie(`sid=abc; Max-Age=3600; Expires=${past}`, 'sid', now)).toEqual({ kind: 'set', sessionId: 'abc' });
    expect(sessionIdFromSetCookie(`sid=abc; Expires=${past}; Max-Age=3600`, 'sid', now)).toEqual({ kind: 'set', sessionId: 'abc' });
    expect(sessionIdFromSetCookie(`sid=abc; Max-Age=0; Expires=${future}`, 'sid', now)).toEqual({ kind: 'cleared' });
    expect(sessionIdFromSetCookie(`sid=abc; Max-Age=soon; Expires=${past}`, 'sid', now)).toEqual({ kind: 'cleared' }); // an invalid Max-Age is ignored
  });

  it('lets the last Set-Cookie for the name win, and ignores other names and non-strings', () => {
    expect(sessionIdFromSetCookie(['sid=one', 'sid=two'], 'sid')).toEqual({ kind: 'set', sessionId: 'two' });
    expect(sessionIdFromSetCookie(['sid=one', 'sid=; Max-Age=0'], 'sid')).toEqual({ kind: 'cleared' });
    expect(sessionIdFromSetCookie(['other=1', 'xsid=2'], 'sid')).toBeUndefined();
    expect(sessionIdFromSetCookie(undefined, 'sid')).toBeUndefined();
    expect(sessionIdFromSetCookie(5, 'sid')).toBeUndefined();
    expect(sessionIdFromSetCookie(`sid=${'a'.repeat(100_000)}`, 'sid')).toBeUndefined();
  });
});

/** The value at an option path such as `sticky.setCookie.path`, in the `sticky` value. */
function valueAt(value: unknown, path: string): unknown {
  return path
    .split('.')
    .slice(1)
    .reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
}

describe('normalizeSticky', () => {
  it('applies the defaults', () => {
    expect(normalizeSticky(undefined, 'sticky')).toBeUndefined();
    expect(normalizeSticky({ cookie: 'ROUTEID', setCookie: true, table: { cookie: 'connect.sid' } }, 'sticky')).toEqual({
      cookie: 'ROUTEID',
      urlParam: undefined,
      separator: '.',
      failover: true,
      setCookie: { path: '/', domain: undefined, maxAgeSec: undefined, secure: false, httpOnly: true, sameSite: 'lax' },
      table: { cookie: 'connect.sid', maxEntries: 10_000, ttlMs: 1_800_000 },
    });
    expect(normalizeSticky({ urlParam: 'jsessionid', separator: false, failover: false, setCookie: false }, 'sticky')).toMatchObject({
      urlParam: 'jsessionid',
      separator: false,
      failover: false,
      setCookie: undefined,
      table: undefined,
    });
  });

  it.each([
    ['sticky', 'yes', 'must be an object'],
    ['sticky', {}, 'needs at least one of cookie, urlParam or table'],
    ['sticky.nofailover', { cookie: 'R', nofailover: true }, 'is not a known option'],
    ['sticky.cookie', { cookie: 'a b' }, 'must be a cookie name'],
    ['sticky.cookie', { cookie: '' }, 'must be a cookie name'],
    ['sticky.cookie', { cookie: 7 }, 'must be a cookie name'],
    ['sticky.urlParam', { urlParam: 'a=b' }, 'must be a URL parameter name'],
    ['sticky.separator', { cookie: 'R', separator: '..' }, 'must be one printable character'],
    ['sticky.separator', { cookie: 'R', separator: ';' }, 'must be one printable character'],
    ['sticky.separator', { cookie: 'R', separator: true }, 'must be one printable character'],
    ['sticky.failover', { cookie: 'R', failover: 'no' }, 'must be true or false'],
    ['sticky.setCookie', { urlParam: 'j', setCookie: true }, 'needs sticky.cookie'],
    ['sticky.setCookie', { cookie: 'R', setCookie: 'yes' }, 'must be true, false or an object'],
    ['sticky.setCookie', { cookie: 'sid', setCookie: true, table: { cookie: 'sid' } }, 'would overwrite the session cookie sticky.table.cookie names'],
    ['sticky.setCookie.expires', { cookie: 'R', setCookie: { expires: 1 } }, 'is not a known option'],
    ['sticky.setCookie.sameSite', { cookie: 'R', setCookie: { sameSite: 'none' } }, "can be 'none' only with secure: true"],
    ['sticky.setCookie.sameSite', { cookie: 'R', setCookie: { sameSite: 'Lax' } }, 'must be one of'],
    ['sticky.setCookie.path', { cookie: 'R', setCookie: { path: 'app' } }, 'must be a path starting with /'],
    ['sticky.setCookie.path', { cookie: 'R', setCookie: { path: '/a;b' } }, 'must be a path starting with /'],
    ['sticky.setCookie.domain', { cookie: 'R', setCookie: { domain: 'exa mple.com' } }, 'must be a domain name'],
    ['sticky.setCookie.maxAgeSec', { cookie: 'R', setCookie: { maxAgeSec: 0 } }, 'must be an integer from 1 to 34560000'],
    ['sticky.setCookie.maxAgeSec', { cookie: 'R', setCookie: { maxAgeSec: 1.5 } }, 'must be an integer'],
    ['sticky.setCookie.httpOnly', { cookie: 'R', setCookie: { httpOnly: 1 } }, 'must be true or false'],
    ['sticky.table', { table: 'connect.sid' }, 'must be an object'],
    ['sticky.table.cookie', { table: {} }, 'is required'],
    ['sticky.table.cookie', { table: { cookie: 'a;b' } }, 'must be a cookie name'],
    ['sticky.table.maxEntries', { table: { cookie: 'sid', maxEntries: 0 } }, 'must be an integer from 1 to 10000000'],
    ['sticky.table.maxEntries', { table: { cookie: 'sid', maxEntries: 10_000_001 } }, 'must be an integer from 1 to 10000000'],
    ['sticky.table.ttlMs', { table: { cookie: 'sid', ttlMs: -1 } }, 'must be an integer from 1'],
  ])('rejects %s in %j', (path, value, expectation) => {
    let error: unknown;
    try {
      normalizeSticky(value, 'sticky');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BalancerConfigError);
    const e = error as BalancerConfigError;
    expect(e.path).toBe(path);
    expect(e.message.startsWith(`${path} `)).toBe(true);
    expect(e.message).toContain(expectation);
    // The error carries the value found at that path, and the message ends with it.
    expect(e.value).toEqual(valueAt(value, path));
    expect(e.message.endsWith(`, got ${describeValue(valueAt(value, path))}`)).toBe(true);
  });
});
