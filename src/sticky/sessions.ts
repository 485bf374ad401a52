/**
 * Sticky sessions for the request path: which route a request asks for (Apache's cookie or URL
 * parameter, or the session table), the Set-Cookie to add when the route was chosen or changed
 * (Apache's BALANCER_ROUTE_CHANGED recipe), and what the table learns from the member's answer.
 */
import type { IncomingMessage } from 'node:http';
import type { Member } from '../pool/member.js';
import { setCookieValue } from './cookie.js';
import type { StickyConfig } from './options.js';
import { routeFromRequest, type RequestedRoute } from './route.js';
import { SessionTable, sessionIdFromCookies, sessionIdFromSetCookie } from './table.js';

/** What one request carries for stickiness. */
export interface StickyRequest {
  /** The route the cookie or URL parameter asked for. */
  readonly requested: RequestedRoute | undefined;
  /** The session id under the table's cookie, if a table is kept. */
  readonly sessionId: string | undefined;
  /** The route to look up: the requested one, else the table's entry for the session. */
  readonly route: string | undefined;
}

export class StickySessions {
  readonly config: StickyConfig;
  readonly #table: SessionTable | undefined;
  /**
   * The Set-Cookie value per route: it depends only on the config and the route, and serializing
   * it costs microseconds, paid by every balanced request of a client that keeps no cookie.
   */
  readonly #setCookieByRoute = new Map<string, string>();

  constructor(config: StickyConfig) {
    this.config = config;
    this.#table = config.table === undefined ? undefined : new SessionTable(config.table);
  }

  /** Reads what `req` asks for. */
  read(req: IncomingMessage): StickyRequest {
    const cookie = req.headers.cookie;
    const requested = routeFromRequest(req.url ?? '/', cookie, this.config);
    const sessionId = this.#table === undefined ? undefined : sessionIdFromCookies(cookie, this.config.table!.cookie);
    const route = requested?.route ?? (sessionId === undefined ? undefined : this.#table!.lookup(sessionId));
    return { requested, sessionId, route };
  }

  /**
   * The `Set-Cookie` field to add to the response from `member`, as a flat `[name, value]` list:
   * only when the balancer sets the cookie and the request had no valid route or another one.
   */
  responseHeaders(request: StickyRequest, member: Member): string[] | undefined {
    if (this.config.setCookie === undefined || request.requested?.route === member.route) return undefined;
    let value = this.#setCookieByRoute.get(member.route);
    if (value === undefined) {
      value = setCookieValue(this.config, member.route);
      this.#setCookieByRoute.set(member.route, value);
    }
    return ['Set-Cookie', value];
  }

  /** After `member` answered: the table remembers the session's member, or forgets a cleared one. */
  learn(request: StickyRequest, member: Member, setCookie: readonly string[] | undefined): void {
    const table = this.#table;
    if (table === undefined) return;
    const change = setCookie === undefined ? undefined : sessionIdFromSetCookie(setCookie, this.config.table!.cookie);
    if (change?.kind === 'set') table.remember(change.sessionId, member.route);
    else if (change?.kind === 'cleared') {
      if (request.sessionId !== undefined) table.forget(request.sessionId);
    } else if (request.sessionId !== undefined && request.route !== member.route) {
      table.remember(request.sessionId, member.route);
    }
  }

  /** A removed member's sessions are forgotten (lazily), and its cookie value. */
  forgetRoute(route: string): void {
    this.#table?.forgetRoute(route);
    this.#setCookieByRoute.delete(route);
  }
}
