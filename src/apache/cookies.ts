/**
 * The cookie recipes: the documented sticky-cookie `Header add Set-Cookie
 * "NAME=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED` (which becomes a balancer's
 * `sticky.setCookie`), and the `ProxyPassReverseCookieDomain` and `ProxyPassReverseCookiePath`
 * mappings (which become `reverse.cookieDomain` and `reverse.cookiePath`).
 */
import { normalizeSticky, type StickySetCookieOptions } from '../sticky/options.js';
import type { ApacheDirective } from './lexer.js';
import type { BalancerDraft, ImportState } from './state.js';
import { integer, quote, refusal } from './values.js';

/** `ProxyPassReverseCookieDomain internal public` / `ProxyPassReverseCookiePath internal public`. */
export function reverseCookie(state: ImportState, node: ApacheDirective): void {
  const [internal, publicValue, ...rest] = node.args;
  if (internal === undefined || publicValue === undefined || rest.some((a) => a.toLowerCase() !== 'interpolate')) {
    return state.report(node, `${node.name} needs an internal and a public value`);
  }
  if (rest.length > 0) state.report(node, 'interpolate has no equivalent (no environment variables); the values are taken as written', 'interpolate');
  if (node.name.toLowerCase() === 'proxypassreversecookiedomain') state.cookieDomain[internal] = publicValue;
  else state.cookiePath[internal] = publicValue;
}

/**
 * Reads `Header [always|onsuccess] add Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; attrs" env=BALANCER_ROUTE_CHANGED`
 * into the sticky cookie of every balancer whose stickysession names that cookie. Run once the
 * whole file is read, since the Header may come before the balancer.
 */
export function stickyHeader(state: ImportState, node: ApacheDirective, balancers: readonly BalancerDraft[]): void {
  const args = [...node.args];
  if (['always', 'onsuccess'].includes((args[0] ?? '').toLowerCase())) args.shift();
  const [action, header, value, condition, ...extra] = args;
  const recipe = /^([^=;\s]+)=([^;]*?)%\{BALANCER_WORKER_ROUTE\}e\s*((?:;.*)?)$/.exec(value ?? '');
  if (
    action?.toLowerCase() !== 'add' ||
    header?.toLowerCase() !== 'set-cookie' ||
    recipe === null ||
    condition?.toLowerCase() !== 'env=balancer_route_changed' ||
    extra.length > 0
  ) {
    state.report(
      node,
      'only the documented sticky-cookie recipe is imported: Header add Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED',
    );
    return;
  }
  const [, cookie, prefix, attributeText] = recipe as unknown as [string, string, string, string];
  const targets = balancers.filter((b) => b.stickyNames?.cookie === cookie);
  if (targets.length === 0) {
    state.report(node, `no balancer has stickysession=${cookie} (cookie names are case-sensitive); this cookie is not imported`);
    return;
  }
  const setCookie = cookieAttributes(state, node, attributeText);
  for (const b of targets) {
    const separator = b.separator ?? '.';
    const expected = separator === false ? '' : separator;
    if (prefix !== expected) {
      state.report(
        node,
        `the cookie value must be ${quote(expected)} then the route to match balancer://${b.name}'s stickysessionsep; got ${quote(prefix)}, not imported`,
      );
    } else if (b.setCookieLine !== undefined) {
      state.report(node, `balancer://${b.name}'s sticky cookie is already set by the Header on line ${b.setCookieLine}; not imported`);
    } else {
      b.setCookie = setCookie;
      b.setCookieLine = node.line;
    }
  }
}

/** The recipe's cookie attributes, as far as browsers accept them (RFC 6265bis: Max-Age capped at 400 days). */
function cookieAttributes(state: ImportState, node: ApacheDirective, text: string): StickySetCookieOptions {
  const attributes: StickySetCookieOptions = {};
  // Path, Domain and Max-Age as proxy-balancer's own validation takes them (the cookie name is a stand-in).
  const accepted = (attribute: StickySetCookieOptions): boolean =>
    refusal(() => normalizeSticky({ cookie: 'c', setCookie: attribute }, 'sticky')) === undefined;
  for (const part of text
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : part.slice(eq + 1).trim();
    const lower = name.toLowerCase();
    const sameSite = value?.toLowerCase();
    const maxAge = value === undefined ? undefined : integer(value);
    if (lower === 'path' && value !== undefined && accepted({ path: value })) attributes.path = value;
    else if (lower === 'domain' && value !== undefined && accepted({ domain: value })) attributes.domain = value;
    else if (lower === 'max-age' && maxAge !== undefined && accepted({ maxAgeSec: maxAge })) attributes.maxAgeSec = maxAge;
    else if (lower === 'secure' && value === undefined) attributes.secure = true;
    else if (lower === 'httponly' && value === undefined) attributes.httpOnly = true;
    else if (lower === 'samesite' && (sameSite === 'strict' || sameSite === 'lax' || sameSite === 'none')) attributes.sameSite = sameSite;
    else state.report(node, `the cookie attribute ${part} is not imported`, 'Set-Cookie');
  }
  if (attributes.sameSite === 'none' && attributes.secure !== true) {
    state.report(node, 'the cookie attribute SameSite=None is not imported: browsers reject it without Secure', 'Set-Cookie');
    delete attributes.sameSite;
  }
  return attributes;
}
