/**
 * Apache's ProxyPassReverse for responses: a member's own URLs in `Location`, `Content-Location`
 * and `URI` become the front end's, so a redirect never leaks a member's address; and, when asked,
 * `Set-Cookie` `Domain` and `Path` attributes are mapped (ProxyPassReverseCookieDomain and
 * ProxyPassReverseCookiePath). Pure functions over one header value.
 */
import type { IncomingMessage } from 'node:http';
import type { ReverseConfig } from '../config.js';
import { hostAndPort } from '../options/member-url.js';
import type { Member } from '../pool/member.js';

/** The response fields that carry a URL to rewrite, lower-cased. */
export const URL_FIELDS: ReadonlySet<string> = new Set(['location', 'content-location', 'uri']);

const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is;

/**
 * `value` with the member's URL (scheme, host, port, base path) replaced by `frontPrefix` (the
 * configured origin, if any, and the mount path); a path under the member's base path gets the
 * same. Anything else (another host, a path outside the base path) is returned as it is.
 */
export function reverseUrl(value: string, member: Member, frontPrefix: string): string {
  let rest: string;
  const absolute = ABSOLUTE_URL.exec(value);
  if (absolute !== null) {
    const [, scheme, authority, tail] = absolute as unknown as [string, string, string, string];
    if (`${scheme.toLowerCase()}:` !== member.url.protocol || !sameAuthority(authority, member.url)) return value;
    rest = tail;
  } else if (value.startsWith('/') && !value.startsWith('//') && member.basePath !== '') {
    rest = value;
  } else {
    return value;
  }
  const base = member.basePath;
  if (!rest.startsWith(base)) return value;
  const after = rest.slice(base.length);
  if (after !== '' && after[0] !== '/' && after[0] !== '?' && after[0] !== '#') return value; // /base2 is not under /base
  return frontPrefix + (after === '' || after[0] !== '/' ? `/${after}` : after);
}

/** The authority as the member URL has it, the default port written or not. */
function sameAuthority(authority: string, url: URL): boolean {
  const lower = authority.toLowerCase();
  if (lower === url.host) return true;
  return url.port === '' && lower === `${url.hostname}:${hostAndPort(url).port}`;
}

/** A Set-Cookie value with its `Domain` and `Path` attributes mapped; '' as a domain removes the attribute. */
export function reverseCookie(value: string, config: ReverseConfig): string {
  const { cookieDomain, cookiePath } = config;
  if (cookieDomain.size === 0 && cookiePath.length === 0) return value;
  const parts = value.split(';');
  const out = [parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const attr = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (name === 'domain') {
      const mapped = cookieDomain.get(attr.toLowerCase().replace(/^\./, ''));
      if (mapped === '') continue;
      if (mapped !== undefined) {
        out.push(` Domain=${mapped}`);
        continue;
      }
    } else if (name === 'path') {
      const rule = cookiePath.find(([from]) => attr.startsWith(from));
      if (rule !== undefined) {
        out.push(` Path=${rule[1]}${attr.slice(rule[0].length)}`);
        continue;
      }
    }
    out.push(part);
  }
  return out.join(';');
}

/**
 * Where the balancer is mounted, as the app in front stripped it: Express's `baseUrl`, else what
 * Connect's `originalUrl` has before `url`; '' on plain node:http.
 */
export function mountPathOf(req: IncomingMessage): string {
  const r = req as IncomingMessage & { baseUrl?: unknown; originalUrl?: unknown };
  if (typeof r.baseUrl === 'string') return r.baseUrl;
  const original = r.originalUrl;
  const url = req.url ?? '';
  if (typeof original !== 'string' || original === url) return '';
  if (original.endsWith(url)) return original.slice(0, original.length - url.length);
  const q = original.indexOf('?');
  const path = q < 0 ? original : original.slice(0, q);
  return url.startsWith('/?') || url === '/' ? path.replace(/\/$/, '') : '';
}
