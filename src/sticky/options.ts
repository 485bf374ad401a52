/**
 * The `sticky` option: its public shape, its validation, and the normalized form the request path
 * reads. Mirrors Apache's `stickysession=COOKIE|urlparam`, `stickysessionsep` and `nofailover`,
 * plus a balancer-set route cookie (Apache's documented mod_headers recipe, built in) and a bounded
 * session table for applications whose session cookie carries no route.
 */
import { serialize } from 'cookie';
import {
  BalancerConfigError,
  expectKnownKeys,
  expectPlainObject,
  isPlainObject,
  oneOf,
  optionalBoolean,
  optionalInteger,
  cookieOctetPattern,
  tokenPattern,
} from '../validate.js';

/** Attributes of the route cookie the balancer sets itself (`sticky.setCookie`). */
export interface StickySetCookieOptions {
  /** `Path` attribute. Default `'/'`, as in Apache's documented `ROUTEID=.route; path=/` recipe. */
  path?: string;
  /** `Domain` attribute; absent means host-only, as browsers default. */
  domain?: string;
  /** `Max-Age` in seconds, 1 to 34560000 (400 days, the browsers' cap); absent means a session cookie, as in Apache's recipe. */
  maxAgeSec?: number;
  /** `Secure` attribute. Default false: the balancer cannot know whether clients reach it over HTTPS. Set it when they do. */
  secure?: boolean;
  /**
   * `HttpOnly` attribute. Default true: only the balancer reads the route cookie, so page scripts have
   * no use for it, and hiding it keeps member names away from injected scripts.
   */
  httpOnly?: boolean;
  /**
   * `SameSite` attribute. Default `'lax'`: what current browsers assume for a cookie without the
   * attribute, written out so every browser behaves alike. `'strict'` would drop the cookie on the
   * first request from a link on another site, so that request would be balanced anew and the
   * cookie rewritten. `'none'` requires `secure: true`, as browsers do.
   */
  sameSite?: 'strict' | 'lax' | 'none';
}

/** Session table: remembers which member served a session whose cookie carries no route. */
export interface StickyTableOptions {
  /** Name of the application's session cookie, for example `'connect.sid'` or `'JSESSIONID'`. Required. */
  cookie: string;
  /**
   * Sessions remembered at most, 1 to 10,000,000; the least recently used is dropped first. Default 10000.
   * The table reserves about 44 bytes per entry up front (lru-cache 11 preallocates its key, value,
   * link and TTL arrays), so the maximum costs about 440 MB before the first session.
   */
  maxEntries?: number;
  /** Idle lifetime of an entry in ms: each lookup or update restarts it. Default 1800000 (30 minutes). */
  ttlMs?: number;
}

/**
 * Sticky sessions, as Apache's mod_proxy_balancer does them: the route (a member's `route`) is read
 * from a URL parameter first, then from a cookie; the part after the first `separator` is the route.
 * At least one of `cookie`, `urlParam` and `table` is required.
 *
 * @example Balancer-set route cookie (Apache's ROUTEID recipe)
 * ```ts
 * sticky: { cookie: 'ROUTEID', setCookie: true }
 * ```
 * @example Tomcat's JSESSIONID (id.jvmRoute), in the cookie or as ;jsessionid= in the URL
 * ```ts
 * sticky: { cookie: 'JSESSIONID', urlParam: 'jsessionid' }
 * ```
 */
export interface StickyOptions {
  /**
   * Cookie holding the route (Apache's `stickysession`, cookie half), case-sensitive. Its value is
   * `<anything><separator><route>`, for example `.pi2` or Tomcat's `A1B2C3.pi2`.
   */
  cookie?: string;
  /**
   * URL parameter holding the route (Apache's `stickysession`, the part after `|`), such as
   * `jsessionid` for `;jsessionid=A1B2C3.pi2` or `?jsessionid=A1B2C3.pi2`. It wins over the cookie.
   * Unlike Apache's single-name form (`stickysession=NAME`, which searches the URL for NAME too),
   * the URL is searched only when this is set: give `cookie` and `urlParam` the same name for that.
   */
  urlParam?: string;
  /** The character before the route (Apache's `stickysessionsep`), or false: the whole value is the route. Default `'.'`. */
  separator?: string | false;
  /**
   * When the route's member cannot serve, send the request to another member (true, the default),
   * or answer 503 (false: Apache's `nofailover=On`). A route that names no member is always balanced.
   */
  failover?: boolean;
  /**
   * Set the route cookie when a request was balanced rather than routed (no valid route, or its
   * member could not serve): `<cookie>=<separator><route>`, as Apache's documented
   * `Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED`.
   * Requires `cookie`, and a different one from `table.cookie`. Default false (Apache sets no cookie itself).
   */
  setCookie?: boolean | StickySetCookieOptions;
  /** Session table for session cookies without a route. */
  table?: StickyTableOptions;
}

/** `sticky.setCookie` after validation, with defaults applied. */
export interface StickySetCookieConfig {
  path: string;
  domain: string | undefined;
  maxAgeSec: number | undefined;
  secure: boolean;
  httpOnly: boolean;
  sameSite: 'strict' | 'lax' | 'none';
}

/** `sticky.table` after validation, with defaults applied. */
export interface StickyTableConfig {
  cookie: string;
  maxEntries: number;
  ttlMs: number;
}

/** `sticky` after validation, with defaults applied. */
export interface StickyConfig {
  cookie: string | undefined;
  urlParam: string | undefined;
  /** One character, or false when the whole value is the route. */
  separator: string | false;
  failover: boolean;
  /** Undefined when the balancer sets no cookie. */
  setCookie: StickySetCookieConfig | undefined;
  /** Undefined when there is no session table. */
  table: StickyTableConfig | undefined;
}

/** Defaults of the `sticky` option, in one place. */
export const STICKY_DEFAULTS = {
  separator: '.',
  failover: true,
  setCookie: { path: '/', secure: false, httpOnly: true, sameSite: 'lax' },
  table: { maxEntries: 10_000, ttlMs: 30 * 60_000 },
} as const;

/**
 * @internal RFC 9110 `tchar`, which is also RFC 6265's cookie-name `token`: the characters of
 * cookie names, URL parameter names and routes.
 */
const NAME_PATTERN = tokenPattern(256);
/** One RFC 6265 cookie-octet: the separator sits inside the cookie value. */
const COOKIE_OCTET = cookieOctetPattern(1);
const STICKY_KEYS = ['cookie', 'urlParam', 'separator', 'failover', 'setCookie', 'table'] as const;
const SET_COOKIE_KEYS = ['path', 'domain', 'maxAgeSec', 'secure', 'httpOnly', 'sameSite'] as const;
const TABLE_KEYS = ['cookie', 'maxEntries', 'ttlMs'] as const;
const SAME_SITE = ['strict', 'lax', 'none'] as const;
const MAX_COOKIE_AGE_SEC = 400 * 24 * 3600;
const MAX_TABLE_ENTRIES = 10_000_000;
const MAX_TABLE_TTL_MS = 400 * 24 * 3600 * 1000;

/**
 * Validates the `sticky` option (at `path`, normally `'sticky'`) and applies defaults; undefined
 * means no stickiness. Throws {@link BalancerConfigError} naming the offending path and value.
 */
export function normalizeSticky(value: unknown, path: string): StickyConfig | undefined {
  if (value === undefined) return undefined;
  expectPlainObject(value, path);
  expectKnownKeys(value, STICKY_KEYS, path);
  const cookie = optionalName(value.cookie, `${path}.cookie`, 'cookie name');
  const urlParam = optionalName(value.urlParam, `${path}.urlParam`, 'URL parameter name');
  const table = normalizeTable(value.table, `${path}.table`);
  if (cookie === undefined && urlParam === undefined && table === undefined) {
    throw new BalancerConfigError(path, value, 'needs at least one of cookie, urlParam or table');
  }
  const separator = normalizeSeparator(value.separator, `${path}.separator`);
  const setCookie = normalizeSetCookie(value.setCookie, `${path}.setCookie`);
  if (setCookie !== undefined && cookie === undefined) {
    throw new BalancerConfigError(`${path}.setCookie`, value.setCookie, `needs ${path}.cookie, the cookie to set`);
  }
  // The route cookie written over the application's session cookie would end every session.
  if (setCookie !== undefined && table !== undefined && table.cookie === cookie) {
    throw new BalancerConfigError(
      `${path}.setCookie`,
      value.setCookie,
      `would overwrite the session cookie ${path}.table.cookie names; give the route a cookie of its own, such as ROUTEID`,
    );
  }
  return {
    cookie,
    urlParam,
    separator,
    failover: optionalBoolean(value.failover, `${path}.failover`, STICKY_DEFAULTS.failover),
    setCookie,
    table,
  };
}

function optionalName(value: unknown, path: string, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new BalancerConfigError(path, value, `must be a ${what}: 1 to 256 token characters (letters, digits, or !#$%&'*+-.^_\`|~)`);
  }
  return value;
}

function normalizeSeparator(value: unknown, path: string): string | false {
  if (value === undefined) return STICKY_DEFAULTS.separator;
  if (value === false) return false;
  if (typeof value !== 'string' || !COOKIE_OCTET.test(value)) {
    throw new BalancerConfigError(path, value, 'must be one printable character other than space, ", comma, ; or \\ (or false)');
  }
  return value;
}

function normalizeSetCookie(value: unknown, path: string): StickySetCookieConfig | undefined {
  if (value === undefined || value === false) return undefined;
  const defaults = STICKY_DEFAULTS.setCookie;
  if (value === true) return { ...defaults, domain: undefined, maxAgeSec: undefined };
  if (!isPlainObject(value, path)) {
    throw new BalancerConfigError(path, value, 'must be true, false or an object of cookie attributes');
  }
  const o = value as Record<string, unknown>;
  expectKnownKeys(o, SET_COOKIE_KEYS, path);
  const config: StickySetCookieConfig = {
    path: o.path === undefined ? defaults.path : cookiePath(o.path, `${path}.path`),
    domain: o.domain === undefined ? undefined : cookieDomain(o.domain, `${path}.domain`),
    maxAgeSec: o.maxAgeSec === undefined ? undefined : optionalInteger(o.maxAgeSec, `${path}.maxAgeSec`, 1, MAX_COOKIE_AGE_SEC, 0),
    secure: optionalBoolean(o.secure, `${path}.secure`, defaults.secure),
    httpOnly: optionalBoolean(o.httpOnly, `${path}.httpOnly`, defaults.httpOnly),
    sameSite: o.sameSite === undefined ? defaults.sameSite : oneOf(o.sameSite, SAME_SITE, `${path}.sameSite`),
  };
  if (config.sameSite === 'none' && !config.secure) {
    throw new BalancerConfigError(`${path}.sameSite`, o.sameSite, "can be 'none' only with secure: true (browsers reject SameSite=None without Secure)");
  }
  return config;
}

/** A path the cookie package will serialize, and an absolute one, as the Path attribute needs. */
function cookiePath(value: unknown, path: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || !serializes({ path: value })) {
    throw new BalancerConfigError(path, value, 'must be a path starting with / without control characters or ;');
  }
  return value;
}

function cookieDomain(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '' || !serializes({ domain: value })) {
    throw new BalancerConfigError(path, value, 'must be a domain name such as example.com');
  }
  return value;
}

/** Validates an attribute with the same code that will write it, so config and header agree. */
function serializes(attributes: { path?: string; domain?: string }): boolean {
  try {
    serialize('x', 'x', attributes);
    return true;
  } catch {
    return false;
  }
}

function normalizeTable(value: unknown, path: string): StickyTableConfig | undefined {
  if (value === undefined) return undefined;
  expectPlainObject(value, path);
  expectKnownKeys(value, TABLE_KEYS, path);
  if (value.cookie === undefined) {
    throw new BalancerConfigError(`${path}.cookie`, value.cookie, "is required: the name of the application's session cookie");
  }
  const defaults = STICKY_DEFAULTS.table;
  return {
    cookie: optionalName(value.cookie, `${path}.cookie`, 'cookie name') as string,
    maxEntries: optionalInteger(value.maxEntries, `${path}.maxEntries`, 1, MAX_TABLE_ENTRIES, defaults.maxEntries),
    ttlMs: optionalInteger(value.ttlMs, `${path}.ttlMs`, 1, MAX_TABLE_TTL_MS, defaults.ttlMs),
  };
}
