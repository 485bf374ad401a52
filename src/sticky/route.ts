/**
 * Reads the sticky route a request asks for, by Apache 2.4's rules (mod_proxy_balancer.c:
 * find_session_route, get_path_param, get_cookie_param), quirks included, so clients and back ends
 * written for Apache keep their sessions:
 *
 * - The URL is searched first; if it yields a value, the cookie is not read, even when that value
 *   holds no route.
 * - URL: a plain substring search for `<urlParam>` followed by `=`, with no word boundary
 *   (`xjsessionid=` matches `jsessionid`). After a candidate whose next character is not `=`, the
 *   search resumes one character past the end of the name, as Apache's loop does. The value runs
 *   to the first `?` or `&`; leading `?`/`&` are skipped (apr_strtok); `=` at the very end is no value.
 *   Apache's `scolonpathdelim=On` (`;` also ends the value) is not offered: without it
 *   `;jsessionid=ABC.n1;x=1` yields the route `n1;x=1`, which is no valid route, so such a request
 *   is balanced normally, as it would be in Apache (no member has that route).
 * - Cookie: the name must start the header or follow `;`, `,` or a C-locale space; spaces may come
 *   before `=`; the value runs to the first `;` or `,`, is not unquoted, and the first match wins even
 *   when its value is empty. After a name match that is not followed by `=`, the search resumes two
 *   characters past where the `=` was expected, as Apache's pointer arithmetic does.
 * - Route: everything after the first separator (`abc.def.n1` gives `def.n1`); no separator, no route;
 *   with separator false, the whole value.
 *
 * Which URL: the request target (`req.url`), its path percent-decoded and its query as sent. Apache
 * searches `r->uri`, the decoded path; 2.4.0 to 2.4.61 appended `?` and the raw query (`r->args`);
 * since 2.4.62 (PR 69168: canonicalisation moved after member selection) the query is left out
 * unless `nocanon` is set, so `?jsessionid=` is missed there. That change came with a
 * canonicalisation fix, not as a change of stickiness; the manual still says "the web server
 * searches for a query parameter in the URL"; and the path form `;jsessionid=` works either way.
 * Hence the path and the query, as 2.4.0 to 2.4.61 did. Malformed escapes are left as they are
 * (Apache answers 400 before balancing).
 *
 * Where Apache reads past the end of its string (a name or `=` at the very end), we stop searching.
 * Whatever the input, these functions never throw, look at most at {@link MAX_SCAN_CHARS} characters
 * (so the work is bounded by that times the name's length, whatever the header's size), and return
 * only a route that is a valid route token.
 */
import { isRouteToken } from '../validate.js';
import type { StickyConfig } from './options.js';

/** The route a request asks for, and where it was found (Apache's BALANCER_SESSION_STICKY/ROUTE). */
export interface RequestedRoute {
  /** The route: a valid route token (1 to 64 token characters). */
  route: string;
  /** `url` when found in the URL parameter, `cookie` when in the cookie. */
  source: 'url' | 'cookie';
  /** The URL parameter or cookie name it was found under. */
  name: string;
}

/**
 * Inputs longer than this are searched only this far, and a value cut by the limit counts as absent.
 * Far above Node's default 16 KiB header limit, so it only bounds pathological inputs.
 */
export const MAX_SCAN_CHARS = 65_536;

/**
 * The route the request asks for, or undefined. `url` is the request target (`req.url`),
 * `cookieHeader` the `Cookie` header (several are joined with `, `, as Apache merges them).
 * Never throws; a route that is not a valid token is treated as no route.
 */
export function routeFromRequest(
  url: string,
  cookieHeader: string | string[] | undefined,
  config: Pick<StickyConfig, 'cookie' | 'urlParam' | 'separator'>,
): RequestedRoute | undefined {
  let value: string | undefined;
  let source: RequestedRoute['source'] = 'url';
  let name: string | undefined = config.urlParam;
  if (name !== undefined && typeof url === 'string') value = pathParam(url, name);
  if (value === undefined && config.cookie !== undefined) {
    const header = joinCookieHeaders(cookieHeader);
    if (header !== undefined) {
      value = cookieParam(header, config.cookie);
      source = 'cookie';
      name = config.cookie;
    }
  }
  if (value === undefined || name === undefined) return undefined;
  const route = routeOf(value, config.separator);
  return route !== undefined && isRouteToken(route) ? { route, source, name } : undefined;
}

/** find_session_route: everything after the first separator, or the whole value without one. */
function routeOf(value: string, separator: string | false): string | undefined {
  if (separator === false) return value;
  const at = value.indexOf(separator);
  return at < 0 ? undefined : value.slice(at + 1);
}

function joinCookieHeaders(header: string | string[] | undefined): string | undefined {
  if (typeof header === 'string') return header;
  if (Array.isArray(header)) return header.filter((h) => typeof h === 'string').join(', ');
  return undefined;
}

/** Bounds the scanned text; `cut` tells whether anything was left off. */
function bounded(text: string): { text: string; cut: boolean } {
  return text.length > MAX_SCAN_CHARS ? { text: text.slice(0, MAX_SCAN_CHARS), cut: true } : { text, cut: false };
}

/** A value that runs to the end of a cut text may be longer than we saw: absent. */
function complete(text: string, cut: boolean, start: number, end: number): string | undefined {
  return cut && end === text.length ? undefined : text.slice(start, end);
}

/** The URL as Apache searches it: the path percent-decoded (`r->uri`), then the query as sent. */
function searchedUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const decoded = path.includes('%') ? path.replace(PERCENT_ESCAPE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))) : path;
  return q < 0 ? decoded : decoded + url.slice(q);
}

const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;

/** get_path_param with scolonpathdelim off: the value after `name=`, up to `?` or `&`. */
function pathParam(url: string, name: string): string | undefined {
  // Bound before decoding: decoding only shortens, and a value cut by the bound still reaches the end.
  const { text: raw, cut } = bounded(url);
  const text = searchedUrl(raw);
  const n = text.length;
  for (let at = text.indexOf(name); at >= 0;) {
    const after = at + name.length;
    if (after >= n) return undefined; // Apache reads past the end here
    if (text.charCodeAt(after) === EQUALS) {
      if (after + 1 >= n) return undefined; // `name=` at the end: Apache reads past the end
      // apr_strtok: skip leading delimiters; none left means no value, and the search ends.
      let start = after + 1;
      while (start < n && isPathDelimiter(text.charCodeAt(start))) start++;
      if (start >= n) return undefined;
      let end = start + 1;
      while (end < n && !isPathDelimiter(text.charCodeAt(end))) end++;
      return complete(text, cut, start, end);
    }
    at = text.indexOf(name, after + 1);
  }
  return undefined;
}

/** get_cookie_param: the value of cookie `name`, up to `;` or `,`; empty counts as found. */
function cookieParam(input: string, name: string): string | undefined {
  const { text, cut } = bounded(input);
  const n = text.length;
  for (let at = text.indexOf(name); at >= 0;) {
    if (at !== 0 && !isNameBoundary(text.charCodeAt(at - 1))) {
      at = text.indexOf(name, at + 1);
      continue;
    }
    let p = at + name.length;
    while (p < n && isCSpace(text.charCodeAt(p))) p++;
    if (p >= n) return undefined; // Apache reads past the end here
    const c = text.charCodeAt(p++);
    if (c === EQUALS) {
      if (p >= n) return undefined; // `name=` at the end: Apache reads past the end
      let end = p;
      while (end < n && !isCookieDelimiter(text.charCodeAt(end))) end++;
      return complete(text, cut, p, end);
    }
    at = text.indexOf(name, p + 1);
  }
  return undefined;
}

const EQUALS = 0x3d;

function isPathDelimiter(c: number): boolean {
  return c === 0x3f /* ? */ || c === 0x26; /* & */
}

function isCookieDelimiter(c: number): boolean {
  return c === 0x3b /* ; */ || c === 0x2c; /* , */
}

function isNameBoundary(c: number): boolean {
  return c === 0x3b || c === 0x2c || isCSpace(c);
}

/** C isspace() in the C locale: space, \t, \n, \v, \f, \r. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}
