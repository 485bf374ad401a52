/**
 * The session table: for applications whose session cookie carries no route (`connect.sid`,
 * `PHPSESSID`, Tomcat without `jvmRoute`), it remembers which member served each session, as
 * HAProxy's stick tables and nginx's `sticky learn` do. Apache has no equivalent.
 *
 * Bounded in entries (least recently used dropped first) and in idle time, over lru-cache with no
 * timers at all: `ttlAutopurge` is off, so expired entries die when next looked up or when evicted,
 * and `ttlResolution` is 0, because lru-cache otherwise arms a timer to expire its cached clock
 * reading. Session ids are kept only when they are at most 256 cookie-safe characters.
 */
import { parseSetCookie } from 'cookie';
import { LRUCache } from 'lru-cache';
import { readCookie, verbatim } from './cookie.js';
import type { StickyTableConfig } from './options.js';
import { MAX_SCAN_CHARS } from './route.js';
import { cookieOctetPattern } from '../validate.js';

/** Session ids longer than this are never stored. */
export const MAX_SESSION_ID_CHARS = 256;

/** RFC 6265 cookie-octets only. */
const SESSION_ID = cookieOctetPattern(MAX_SESSION_ID_CHARS);

/** Whether `value` may be a session table key: 1 to 256 RFC 6265 cookie-octets. */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

/**
 * One member's route as the table stores it. All sessions of a route share one object, so
 * {@link SessionTable.forgetRoute} retires them all at once by marking it, in O(1).
 */
interface RouteEntry {
  readonly route: string;
  retired: boolean;
}

/** Options of a {@link SessionTable}. */
export interface SessionTableOptions extends Pick<StickyTableConfig, 'maxEntries' | 'ttlMs'> {
  /** Clock for idle expiry, in ms (tests inject one). Default `performance.now`. Must be above 0: lru-cache reads a start time of 0 as "no expiry". */
  now?: () => number;
}

/** Maps session ids to member routes, bounded by `maxEntries` and an idle `ttlMs`. */
export class SessionTable {
  readonly #cache: LRUCache<string, RouteEntry>;
  readonly #routes = new Map<string, RouteEntry>();

  constructor(options: SessionTableOptions) {
    const { maxEntries, ttlMs, now } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
    this.#cache = new LRUCache<string, RouteEntry>({
      max: maxEntries,
      ttl: ttlMs,
      ttlAutopurge: false,
      ttlResolution: 0,
      updateAgeOnGet: true,
      ...(now !== undefined && { perf: { now } }),
    });
  }

  /**
   * The route remembered for `sessionId`, or undefined (unknown, expired, its member removed, or not
   * a valid session id). A hit restarts the entry's idle time.
   */
  lookup(sessionId: string): string | undefined {
    if (!isSessionId(sessionId)) return undefined;
    const entry = this.#cache.get(sessionId);
    if (entry === undefined) return undefined;
    if (entry.retired) {
      this.#cache.delete(sessionId);
      return undefined;
    }
    return entry.route;
  }

  /** Remembers that `route` serves `sessionId`. Returns false, storing nothing, when `sessionId` is not a valid session id. */
  remember(sessionId: string, route: string): boolean {
    if (!isSessionId(sessionId) || typeof route !== 'string') return false;
    let entry = this.#routes.get(route);
    if (entry === undefined) {
      entry = { route, retired: false };
      this.#routes.set(route, entry);
    }
    this.#cache.set(sessionId, entry);
    return true;
  }

  /** Drops `sessionId` (its session ended). */
  forget(sessionId: string): void {
    if (isSessionId(sessionId)) this.#cache.delete(sessionId);
  }

  /**
   * Drops every session of `route` (its member was removed). Lazy, O(1): the entries are marked and
   * die at their next lookup or by eviction; {@link size} counts them until then. Sessions remembered
   * for the same route afterwards (a member added back under that route) are live.
   */
  forgetRoute(route: string): void {
    const entry = this.#routes.get(route);
    if (entry === undefined) return;
    entry.retired = true;
    this.#routes.delete(route);
  }

  /** Entries held, including expired or retired ones not yet dropped. */
  get size(): number {
    return this.#cache.size;
  }
}

/**
 * The session id in cookie `name` of a request's `Cookie` header, or undefined when absent, empty or
 * not a valid session id (over 256 characters or not cookie-safe). Never throws.
 */
export function sessionIdFromCookies(cookieHeader: string | string[] | undefined, name: string): string | undefined {
  const value = readCookie(cookieHeader, name);
  return isSessionId(value) ? value : undefined;
}

/** What a response's `Set-Cookie` headers do to a session cookie. */
export type SessionCookieChange = { kind: 'set'; sessionId: string } | { kind: 'cleared' };

/**
 * What a member's response does to session cookie `name`, for learning new sessions: `set` with the
 * new id; `cleared` when it deletes the cookie (empty value, `Max-Age` of 0 or less, or without
 * `Max-Age` an `Expires` not after `nowMs`) or replaces it with an id the table cannot hold (so the old id should be forgotten);
 * undefined when it does not touch the cookie. Of several
 * `Set-Cookie` headers for the name, the last wins, as browsers apply them in order. Never throws.
 */
export function sessionIdFromSetCookie(
  setCookie: string | readonly string[] | number | undefined,
  name: string,
  nowMs: number = Date.now(),
): SessionCookieChange | undefined {
  const headers = typeof setCookie === 'string' ? [setCookie] : Array.isArray(setCookie) ? setCookie : [];
  let change: SessionCookieChange | undefined;
  for (const header of headers) {
    if (typeof header !== 'string' || header.length > MAX_SCAN_CHARS) continue;
    const cookie = parseSetCookie(header, { decode: verbatim });
    if (cookie.name !== name) continue;
    // Max-Age wins over Expires when both are given (RFC 6265 5.3, step 3), as browsers apply them.
    const expired = cookie.maxAge !== undefined ? cookie.maxAge <= 0 : cookie.expires !== undefined && cookie.expires.getTime() <= nowMs;
    change = !expired && isSessionId(cookie.value) ? { kind: 'set', sessionId: cookie.value } : { kind: 'cleared' };
  }
  return change;
}
