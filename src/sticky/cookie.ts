/**
 * Cookie reading and writing for stickiness, through the `cookie` package so every name, value and
 * attribute is validated before it reaches a header. The route cookie is written as Apache's
 * documented recipe writes it: `ROUTEID=.<route>; path=/` (the `.` is the separator, so the route
 * reader finds the route after it).
 */
import { parse, serialize } from 'cookie';
import type { StickyConfig } from './options.js';
import { isRouteToken } from '../validate.js';
import { MAX_SCAN_CHARS } from './route.js';

/** @internal Values are compared and stored exactly as sent: no percent-decoding or -encoding. */
export const verbatim = (value: string): string => value;

/**
 * The `Set-Cookie` header value that pins a client to `route`: `<cookie>=<separator><route>` with
 * the configured attributes (just `<cookie>=<route>` when the separator is false).
 * Throws a TypeError when stickiness has no cookie or `route` is not a valid route token: both are
 * programming errors, as config validation guarantees the one and member routes the other.
 */
export function setCookieValue(config: Pick<StickyConfig, 'cookie' | 'separator' | 'setCookie'>, route: string): string {
  if (config.cookie === undefined) throw new TypeError('sticky.cookie is not set');
  if (typeof route !== 'string' || !isRouteToken(route)) throw new TypeError(`not a valid route: ${JSON.stringify(route)}`);
  const value = config.separator === false ? route : `${config.separator}${route}`;
  const a = config.setCookie;
  return serialize(config.cookie, value, {
    encode: verbatim,
    path: a?.path ?? '/',
    ...(a?.domain !== undefined && { domain: a.domain }),
    ...(a?.maxAgeSec !== undefined && { maxAge: a.maxAgeSec }),
    secure: a?.secure ?? false,
    httpOnly: a?.httpOnly ?? false,
    ...(a !== undefined && { sameSite: a.sameSite }),
  });
}

/**
 * The value of cookie `name` in a `Cookie` header (several headers are read as one), parsed by the
 * `cookie` package: first occurrence wins, surrounding spaces are trimmed, the value is not decoded.
 * Undefined when absent or empty. Never throws; of a header longer than {@link MAX_SCAN_CHARS},
 * only the complete `name=value;` pairs within that length are read.
 */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  let text = typeof header === 'string' ? header : Array.isArray(header) ? header.filter((h) => typeof h === 'string').join('; ') : undefined;
  if (text === undefined) return undefined;
  if (text.length > MAX_SCAN_CHARS) text = text.slice(0, text.lastIndexOf(';', MAX_SCAN_CHARS) + 1);
  if (text.length === 0) return undefined;
  const value = parse(text, { decode: verbatim })[name];
  return value === undefined || value === '' ? undefined : value;
}
