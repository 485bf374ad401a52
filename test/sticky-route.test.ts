/**
 * Sticky route extraction by Apache 2.4's rules (mod_proxy_balancer.c: find_session_route,
 * get_path_param, get_cookie_param), and the route cookie the balancer writes. Pure functions:
 * every case is a string in, a route (or none) out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setCookieValue } from '../src/sticky/cookie.js';
import { normalizeSticky, type StickyConfig, type StickyOptions } from '../src/sticky/options.js';
import { MAX_SCAN_CHARS, routeFromRequest } from '../src/sticky/route.js';
import { isRouteToken } from '../src/validate.js';

function sticky(options: StickyOptions): StickyConfig {
  const config = normalizeSticky(options, 'sticky');
  if (config === undefined) throw new Error('sticky config expected');
  return config;
}

const routeid = sticky({ cookie: 'ROUTEID' });
const tomcat = sticky({ cookie: 'JSESSIONID', urlParam: 'jsessionid' });
const wholeValue = sticky({ cookie: 'ROUTEID', separator: false });

/** The route only, for compact expectations. */
function route(url: string, cookie: string | string[] | undefined, config: StickyConfig = routeid): string | undefined {
  return routeFromRequest(url, cookie, config)?.route;
}

describe('routeFromRequest: cookie', () => {
  it('reads a balancer-set ROUTEID cookie', () => {
    expect(routeFromRequest('/', 'ROUTEID=.pi2', routeid)).toEqual({ route: 'pi2', source: 'cookie', name: 'ROUTEID' });
  });

  it("reads Tomcat's JSESSIONID=<id>.<jvmRoute>", () => {
    expect(routeFromRequest('/app', 'JSESSIONID=A1B2C3D4.node2', tomcat)).toEqual({ route: 'node2', source: 'cookie', name: 'JSESSIONID' });
  });

  it('takes everything after the first separator', () => {
    expect(route('/', 'ROUTEID=abc.def.n1')).toBe('def.n1');
  });

  it('finds no route without a separator, unless the separator is false', () => {
    expect(route('/', 'ROUTEID=n1')).toBeUndefined();
    expect(route('/', 'ROUTEID=n1', wholeValue)).toBe('n1');
    expect(route('/', 'ROUTEID=.n1', wholeValue)).toBe('.n1');
  });

  it('uses the configured separator', () => {
    expect(route('/', 'JSESSIONID=abc!wl1', sticky({ cookie: 'JSESSIONID', separator: '!' }))).toBe('wl1');
    expect(route('/', 'JSESSIONID=abc.wl1', sticky({ cookie: 'JSESSIONID', separator: '!' }))).toBeUndefined();
  });

  it('takes an empty value as found: the first match wins and gives no route', () => {
    expect(route('/', 'ROUTEID=; other=1')).toBeUndefined();
    expect(route('/', 'ROUTEID=; ROUTEID=.n2')).toBeUndefined();
    expect(route('/', 'ROUTEID=, ROUTEID=.n2')).toBeUndefined();
    expect(route('/', 'ROUTEID=;', wholeValue)).toBeUndefined();
    expect(route('/', 'a=1; ROUTEID=')).toBeUndefined();
    expect(route('/', 'ROUTEID')).toBeUndefined();
  });

  it('accepts the name at the start or after ;, comma or a space, and nowhere else', () => {
    expect(route('/', 'ROUTEID=.n1; a=b')).toBe('n1');
    expect(route('/', 'a=b;ROUTEID=.n1')).toBe('n1');
    expect(route('/', 'a=b,ROUTEID=.n1')).toBe('n1');
    expect(route('/', 'a=b ROUTEID=.n1')).toBe('n1');
    expect(route('/', 'a=b;\tROUTEID=.n1')).toBe('n1');
    expect(route('/', 'XROUTEID=.n1')).toBeUndefined();
    expect(route('/', 'MYROUTEID=.n9; ROUTEID=.n1')).toBe('n1');
    expect(route('/', 'a=xROUTEID=.n9; ROUTEID=.n1')).toBe('n1');
  });

  it('is case-sensitive in the name', () => {
    expect(route('/', 'routeid=.n1')).toBeUndefined();
  });

  it('allows white space before =, and keeps any after it in the value', () => {
    expect(route('/', 'ROUTEID =.n1')).toBe('n1');
    expect(route('/', 'ROUTEID \t =.n1')).toBe('n1');
    expect(route('/', 'ROUTEID= .n1')).toBe('n1'); // value " .n1": the route follows the first "."
    expect(route('/', 'ROUTEID= n1', wholeValue)).toBeUndefined(); // " n1" is no token
  });

  it('ends the value at ; or comma and does not unquote it', () => {
    expect(route('/', 'ROUTEID=.n1;x=1')).toBe('n1');
    expect(route('/', 'ROUTEID=.n1,x=1')).toBe('n1');
    expect(route('/', 'ROUTEID=".n1"')).toBeUndefined(); // route `n1"` is no token
  });

  it("resumes the search where Apache's pointer does after a name without =", () => {
    // After `ROUTEID ` the examined character is `R`; Apache resumes two past it, missing the second name.
    expect(route('/', 'ROUTEID ROUTEID=.n1')).toBeUndefined();
    expect(route('/', 'ROUTEIDx; ROUTEID=.n1')).toBe('n1');
  });

  it('reads several Cookie headers as one, as Apache merges them', () => {
    expect(route('/', ['a=1', 'ROUTEID=.n1'])).toBe('n1');
    expect(route('/', [])).toBeUndefined();
  });

  it('reads no cookie when only a URL parameter is configured', () => {
    expect(route('/', 'jsessionid=a.n1', sticky({ urlParam: 'jsessionid' }))).toBeUndefined();
  });
});

describe('routeFromRequest: URL', () => {
  it('reads the ;jsessionid= path parameter', () => {
    expect(routeFromRequest('/app;jsessionid=A1B2.node2', undefined, tomcat)).toEqual({ route: 'node2', source: 'url', name: 'jsessionid' });
    expect(route('/app;jsessionid=A1B2.node2?x=1', undefined, tomcat)).toBe('node2');
  });

  it('reads a query parameter too (the URL searched includes the query)', () => {
    expect(route('/app?x=1&jsessionid=A1B2.node2&y=2', undefined, tomcat)).toBe('node2');
  });

  it('wins over the cookie', () => {
    expect(routeFromRequest('/;jsessionid=A.n1', 'JSESSIONID=B.n2', tomcat)).toEqual({ route: 'n1', source: 'url', name: 'jsessionid' });
  });

  it('shadows the cookie with a value that holds no route, as Apache does', () => {
    expect(route('/;jsessionid=A', 'JSESSIONID=B.n2', tomcat)).toBeUndefined();
  });

  it('does not end the value at ; (no scolonpathdelim): a following path parameter spoils the route', () => {
    expect(route('/app;jsessionid=A.n1;x=1', 'JSESSIONID=B.n2', tomcat)).toBeUndefined();
  });

  it('skips leading ? and & after = (apr_strtok), and lets the cookie speak when nothing is left', () => {
    expect(route('/?jsessionid=&A.n3', 'JSESSIONID=B.n2', tomcat)).toBe('n3');
    expect(route('/?jsessionid=&&', 'JSESSIONID=B.n2', tomcat)).toBe('n2');
    expect(route('/x;jsessionid=?', 'JSESSIONID=B.n2', tomcat)).toBe('n2');
    expect(route('/x;jsessionid=', 'JSESSIONID=B.n2', tomcat)).toBe('n2');
  });

  it('matches the name as a plain substring: xjsessionid= counts', () => {
    expect(route('/?xjsessionid=A.n1', undefined, tomcat)).toBe('n1');
    expect(route('/;jsessionidx=A.n1;jsessionid=B.n2', undefined, tomcat)).toBe('n2');
  });

  it("resumes one past the name after a miss, as Apache's loop does", () => {
    // The second name starts right where the first ended, inside the skipped character: Apache misses it.
    expect(route('/jsessionidjsessionid=A.n1', undefined, tomcat)).toBeUndefined();
    expect(route('/jsessionidXjsessionid=A.n1', undefined, tomcat)).toBe('n1');
  });

  it('searches the path percent-decoded (r->uri) and the query as sent (r->args)', () => {
    expect(route('/app%3Bjsessionid%3DA%2En1', undefined, tomcat)).toBe('n1');
    expect(route('/app;jsessionid=A%2en1?x', undefined, tomcat)).toBe('n1');
    expect(route('/app;jsessionid=A.n1%3Fx', undefined, tomcat)).toBe('n1'); // a decoded ? ends the value
    expect(route('/app?jsessionid=A%2En1', undefined, tomcat)).toBeUndefined(); // no separator in the raw query
    // Malformed escapes stay as sent (Apache would answer 400 before balancing).
    expect(route('/app;jsessionid=A.n1%', undefined, tomcat)).toBe('n1%');
    expect(route('/app;jsessionid=A.n1%zz?', undefined, tomcat)).toBe('n1%zz');
    expect(route('/app;jsessionid=A.n1%0D%0AX:%20y', undefined, tomcat)).toBeUndefined(); // decoded CRLF is no token
  });
});

describe('routeFromRequest: hostile input', () => {
  it('never echoes a route that is not a token', () => {
    expect(route('/', 'ROUTEID=.n1\r\nSet-Cookie: evil=1')).toBeUndefined();
    expect(route('/', 'ROUTEID=.n1 ')).toBeUndefined();
    expect(route('/', 'ROUTEID=.<script>')).toBeUndefined();
    expect(route('/', 'ROUTEID=.é')).toBeUndefined();
    expect(route('/', `ROUTEID=.${'a'.repeat(65)}`)).toBeUndefined();
    expect(route('/', `ROUTEID=.${'a'.repeat(64)}`)).toBe('a'.repeat(64));
    expect(route('/;jsessionid=A.n1\r\nX: y', undefined, tomcat)).toBeUndefined();
  });

  it('ignores a 100 KB value and anything past the scan limit', () => {
    expect(route('/', `ROUTEID=.${'a'.repeat(100_000)}`)).toBeUndefined();
    expect(route('/', `ROUTEID=${'a'.repeat(100_000)}.n1`)).toBeUndefined();
    expect(route('/', `x=${'a'.repeat(100_000)}; ROUTEID=.n1`)).toBeUndefined();
    expect(route(`/;jsessionid=${'a'.repeat(100_000)}.n1`, 'JSESSIONID=B.n2', tomcat)).toBe('n2');
  });

  it('finds the route after 5,000 other cookies within the limit, and copes with 5,000 decoys', () => {
    const many = Array.from({ length: 5_000 }, (_, i) => `k${i}=${i}`).join('; ');
    expect(many.length).toBeLessThan(MAX_SCAN_CHARS);
    expect(route('/', `${many}; ROUTEID=.n1`)).toBe('n1');
    const decoys = Array.from({ length: 5_000 }, () => 'XROUTEID=.bad; ROUTEID ').join('');
    expect(route('/', decoys)).toBeUndefined();
    expect(route('/', 'ROUTEID'.repeat(10_000))).toBeUndefined();
    expect(route('/;jsessionid'.repeat(5_000), undefined, tomcat)).toBeUndefined();
  });

  it('never throws and returns only token routes, for any URL and Cookie header', () => {
    const anyText = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.stringMatching(/^[ ;,=.a-zA-Z\r\n\t"]{0,200}$/));
    const header = fc.oneof(fc.constant(undefined), anyText, fc.array(anyText, { maxLength: 5 }));
    const config = fc.constantFrom(routeid, tomcat, wholeValue, sticky({ cookie: 'a', urlParam: 'a', separator: '=' }));
    fc.assert(
      fc.property(anyText, header, config, (url, cookie, cfg) => {
        const found = routeFromRequest(url, cookie, cfg);
        if (found === undefined) return;
        expect(isRouteToken(found.route)).toBe(true);
        expect(found.name).toBe(found.source === 'url' ? cfg.urlParam : cfg.cookie);
      }),
      { numRuns: 2_000 },
    );
  });
});

const routeArb = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,64}$/);
/** A session id without separators or cookie/URL delimiters. */
const idArb = fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/);
const otherCookieArb = fc.tuple(fc.stringMatching(/^[a-z]{1,10}$/), fc.stringMatching(/^[A-Za-z0-9.=]{0,20}$/)).map(([n, v]) => `${n}=${v}`);

describe('routeFromRequest: properties', () => {
  it('finds <id>.<route> in a cookie among any other cookies', () => {
    fc.assert(
      fc.property(
        routeArb,
        idArb,
        fc.array(otherCookieArb, { maxLength: 20 }),
        fc.array(otherCookieArb, { maxLength: 20 }),
        fc.constantFrom('; ', ';', ', ', ','),
        (r, id, before, after, sep) => {
          const header = [...before, `JSESSIONID=${id}.${r}`, ...after].join(sep);
          expect(route('/', header, tomcat)).toBe(r);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('finds <id>.<route> in the URL, path or query form, whatever cookie comes with it', () => {
    fc.assert(
      fc.property(
        routeArb,
        idArb,
        fc.stringMatching(/^[a-z/]{0,30}$/),
        fc.stringMatching(/^[a-z=]{0,30}$/),
        fc.boolean(),
        fc.string({ maxLength: 50 }),
        (r, id, path, query, inQuery, cookie) => {
          fc.pre(!r.includes('?') && !r.includes('&'));
          fc.pre(inQuery || !/%[0-9A-Fa-f]{2}/.test(r)); // the path is percent-decoded before the search
          fc.pre(!path.includes('jsessionid') && !query.includes('jsessionid'));
          const url = inQuery ? `/${path}?${query}&jsessionid=${id}.${r}` : `/${path};jsessionid=${id}.${r}?${query}`;
          expect(routeFromRequest(url, cookie, tomcat)).toEqual({ route: r, source: 'url', name: 'jsessionid' });
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('reads back every route the balancer writes', () => {
    const configs = [
      sticky({ cookie: 'ROUTEID', setCookie: true }),
      sticky({ cookie: 'ROUTEID', separator: '!', setCookie: { secure: true, sameSite: 'none' } }),
      sticky({ cookie: 'ROUTEID', separator: false, setCookie: true }),
    ];
    fc.assert(
      fc.property(routeArb, fc.constantFrom(...configs), fc.array(otherCookieArb, { maxLength: 5 }), (r, config, others) => {
        const pair = setCookieValue(config, r).split('; ')[0] as string;
        expect(route('/', [...others, pair].join('; '), config)).toBe(r);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('setCookieValue', () => {
  it("writes Apache's recipe with the safe defaults: path=/, HttpOnly, SameSite=Lax", () => {
    expect(setCookieValue(sticky({ cookie: 'ROUTEID', setCookie: true }), 'pi2')).toBe('ROUTEID=.pi2; Path=/; HttpOnly; SameSite=Lax');
  });

  it('writes every configured attribute', () => {
    const config = sticky({
      cookie: 'ROUTEID',
      setCookie: { path: '/app', domain: 'example.com', maxAgeSec: 3600, secure: true, httpOnly: false, sameSite: 'none' },
    });
    expect(setCookieValue(config, 'pi2')).toBe('ROUTEID=.pi2; Max-Age=3600; Domain=example.com; Path=/app; Secure; SameSite=None');
  });

  it('puts the separator before the route, or nothing when it is false', () => {
    expect(setCookieValue(sticky({ cookie: 'R', separator: '!', setCookie: true }), 'n1')).toMatch(/^R=!n1;/);
    expect(setCookieValue(sticky({ cookie: 'R', separator: false, setCookie: true }), 'n1')).toMatch(/^R=n1;/);
  });

  it('writes token characters verbatim, not percent-encoded', () => {
    expect(setCookieValue(sticky({ cookie: 'R', setCookie: true }), "a+b|c%d#e'f")).toMatch(/^R=\.a\+b\|c%d#e'f;/);
  });

  it('writes the bare recipe when setCookie is off', () => {
    expect(setCookieValue(routeid, 'n1')).toBe('ROUTEID=.n1; Path=/');
  });

  it('refuses a route that is not a token, and a config without a cookie', () => {
    const config = sticky({ cookie: 'ROUTEID', setCookie: true });
    for (const bad of ['', 'a;b', 'n1\r\nX: y', 'a b', 'a,b', 'é', 'x'.repeat(65)]) {
      expect(() => setCookieValue(config, bad)).toThrow(TypeError);
    }
    expect(() => setCookieValue(sticky({ urlParam: 'jsessionid' }), 'n1')).toThrow(TypeError);
  });
});
