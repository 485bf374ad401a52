/**
 * The one upstream request builder: what every attempt of a client request sends to a member,
 * HTTP requests and Upgrade handshakes alike. Its rules (docs/security.md):
 * - the target host never comes from the request: absolute-form URIs keep only their path and
 *   query, and `Host` is the member's own unless `preserveHost` is on;
 * - the member's base path is prepended to the request target exactly as the app in front saw it:
 *   no decoding, no dot-segment, slash or backslash rewriting (the app routed on those bytes);
 * - a target whose dot segments would climb above the root is refused (400), never rewritten;
 * - a body leaves framed: chunked when it came chunked, else with its exact length;
 * - forwarding fields go first, so a client's many headers cannot push them out of what a member keeps.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Member } from '../pool/member.js';
import { connectionTokens, HOP_BY_HOP } from './headers.js';

/** A client request the balancer refuses before any member sees it; answered with `status`. */
export class RequestRefusedError extends Error {
  override readonly name = 'RequestRefusedError';
  readonly code = 'ERR_REQUEST_REFUSED';
  constructor(
    message: string,
    /** The status to answer with (400 for a malformed request). */
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The parts of a member request that are the same for every attempt; `Host` is set per member. */
export interface UpstreamRequest {
  readonly method: string;
  /**
   * The client's target in origin form (`/path?query`), as the app in front saw it; or `*` for
   * `OPTIONS *`, which the balancer answers itself (it asks about the server, and that is the
   * balancer: Apache's core answers it too, and it has no member path to go to).
   */
  readonly target: string;
  /**
   * Request headers for members: `host` first (written per attempt by the engine), then the
   * forwarding fields, then the client's end-to-end fields, `Content-Length` included.
   */
  readonly headers: OutgoingHttpHeaders;
  /**
   * The body came chunked and must leave chunked (`Transfer-Encoding` is hop-by-hop, so it is not
   * in `headers`: each engine sets its own framing from this and `Content-Length`).
   */
  readonly chunked: boolean;
  /** The client's `Host`, for `preserveHost`. */
  readonly clientHost: string | undefined;
}

/** Any byte outside visible ASCII and obs-text: never valid in a request target. */
const INVALID_TARGET_CHAR = /[^\x21-\xff]/;
const ABSOLUTE_FORM = /^https?:\/\//i;
/** Fields this hop writes itself: a client's X-Forwarded-For is appended to, the others replaced. */
const SET_HERE = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/**
 * The request target in origin form, checked: origin-form passes as it is, absolute-form keeps
 * only its path and query, asterisk-form only for OPTIONS. Throws {@link RequestRefusedError}.
 */
export function originTarget(url: string, method: string): string {
  let target: string;
  if (url.charCodeAt(0) === 0x2f /* / */) {
    target = url;
  } else if (url === '*') {
    if (method !== 'OPTIONS') throw new RequestRefusedError('the asterisk-form target is only for OPTIONS');
    return url;
  } else if (ABSOLUTE_FORM.test(url)) {
    // The authority ends at the first '/', '?' or '#'; what follows is the path (empty means '/').
    const authorityStart = url.indexOf('//') + 2;
    let end = authorityStart;
    while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
    const rest = url.slice(end);
    target = rest === '' || rest[0] !== '/' ? `/${rest}` : rest;
  } else {
    throw new RequestRefusedError('the request target must be a path, an absolute URI or *');
  }
  if (INVALID_TARGET_CHAR.test(target)) throw new RequestRefusedError('the request target holds a byte no target may hold');
  if (climbsAboveRoot(target)) throw new RequestRefusedError('the request target climbs above the root');
  return target;
}

/**
 * Whether the path's dot segments, literal or percent-encoded, would climb above the root. Counted
 * the most cautious way a member might read the path: `\`, `%2f` and `%5c` also separate segments.
 * An empty segment adds no depth, so `//..` is refused however the member merges slashes.
 */
export function climbsAboveRoot(target: string): boolean {
  let end = target.length;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) {
      end = i;
      break;
    }
  }
  const path = target.slice(0, end);
  if (!path.includes('.') && !path.includes('%')) return false; // the usual path: nothing to count
  let depth = 0;
  let i = 0;
  while (i < path.length) {
    // One segment: from i up to the next separator.
    let dots = 0;
    let other = false;
    while (i < path.length) {
      const c = path.charCodeAt(i);
      if (c === 0x2f || c === 0x5c) break;
      if (c === 0x25 /* % */ && i + 2 < path.length) {
        const hex = path.slice(i + 1, i + 3).toLowerCase();
        if (hex === '2f' || hex === '5c') break;
        if (hex === '2e') {
          dots++;
          i += 3;
          continue;
        }
      }
      if (c === 0x2e) dots++;
      else other = true;
      i++;
    }
    if (!other && dots === 2) {
      if (--depth < 0) return true;
    } else if (other || dots > 2) {
      depth++;
    }
    // Skip the separator (one byte, or three for %2f / %5c).
    if (i < path.length) i += path.charCodeAt(i) === 0x25 ? 3 : 1;
  }
  return false;
}

/** The path a member receives: its base path (no trailing slash) and then the client's target. */
export function upstreamPath(member: Member, target: string): string {
  return member.basePath + target;
}

/**
 * Builds the member-bound request of `req` once, for all its attempts. Refuses (throws
 * {@link RequestRefusedError}) a malformed target, a second `Host`, and an Upgrade request that
 * carries a body. `upgrade` keeps `Connection: upgrade` and `Upgrade` (WebSocket handshakes).
 */
export function buildUpstreamRequest(req: IncomingMessage, upgrade: boolean): UpstreamRequest {
  const method = req.method ?? 'GET';
  const target = originTarget(req.url ?? '/', method);
  if (upgrade && target === '*') throw new RequestRefusedError('an Upgrade request must target a path');
  const incoming = req.headers;
  if (hostCount(req.rawHeaders) > 1) throw new RequestRefusedError('the request has more than one Host header');
  const chunked = incoming['transfer-encoding'] !== undefined;
  const length = incoming['content-length'];
  if (upgrade && (chunked || (length !== undefined && length !== '0'))) throw new RequestRefusedError('an Upgrade request must not carry a body');

  // Host first (written per member), then the forwarding fields, then the client's own.
  const headers: OutgoingHttpHeaders = { host: incoming.host };
  const clientAddress = req.socket.remoteAddress ?? '';
  const prior = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${clientAddress}` : clientAddress;
  headers['x-forwarded-proto'] = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  if (incoming.host !== undefined) headers['x-forwarded-host'] = incoming.host;
  const named = connectionTokens(incoming.connection);
  for (const key in incoming) {
    if (HOP_BY_HOP.has(key) || key === 'expect' || named?.has(key) || SET_HERE.has(key)) continue;
    headers[key] = incoming[key];
  }
  if (upgrade && incoming.upgrade !== undefined) {
    headers.connection = 'upgrade';
    headers.upgrade = incoming.upgrade;
  }
  // Node's parser accepts Transfer-Encoding only as a final `chunked`, and never with a Content-Length.
  return { method, target, headers, chunked, clientHost: incoming.host };
}

/** How many `Host` fields the client sent (`req.headers` keeps only the first). */
function hostCount(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

/**
 * The same upstream request with a body of exactly `length` bytes that it did not arrive as (a
 * parser's result encoded again): its own Content-Length, not chunked, and no Content-Encoding,
 * since the parser decoded it.
 */
export function withWholeBody(upstream: UpstreamRequest, length: number): UpstreamRequest {
  const headers: OutgoingHttpHeaders = { ...upstream.headers, 'content-length': String(length) };
  delete headers['content-encoding'];
  return { ...upstream, headers, chunked: false };
}
