/**
 * One attempt of one request on one member, whichever engine carries it: the deadlines (connect,
 * response head, body idle) on the shared sweep, the response relayed to the client (status line
 * checked, hop-by-hop fields dropped, the sticky cookie added, the body with backpressure, 1xx
 * relayed), and the outcome, settled exactly once. An engine subclass supplies how to stop
 * talking to the member and feeds the events it sees to the methods here.
 */
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  BalancerClosedError,
  BodyTimeoutError,
  ClientGoneError,
  ConnectTimeoutError,
  HeadersTimeoutError,
  InvalidResponseError,
  RequestBodyTimeoutError,
} from '../errors.js';
import type { ProxyResponseHook, ReverseConfig } from '../config.js';
import type { Member } from '../pool/member.js';
import type { ReplayableBody } from './body.js';
import { DeadlineEntry, type DeadlineSweep } from './deadlines.js';
import { forwardedResponseHead, invalidStatusLine } from './headers.js';
import type { FailureKind, ForwardOutcome } from './outcome.js';
import { mountPathOf, reverseCookie, reverseUrl, URL_FIELDS } from './reverse.js';

/** What every exchange of one engine shares: the deadline sweep and the response rules. */
export interface ExchangeContext {
  readonly sweep: DeadlineSweep;
  /** ProxyPassReverse rewriting, or undefined when it is off. */
  readonly reverse: ReverseConfig | undefined;
  /** The user's hook on response heads, or undefined. */
  readonly onProxyResponse: ProxyResponseHook | undefined;
}

/** The deadlines of one attempt, in ms. */
export interface ExchangeTimeouts {
  connectMs: number;
  headMs: number;
  idleMs: number;
}

const kExchange = Symbol('proxy-balancer.exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/** The client's response closed: unless it had finished, the client went away. */
function onClientClose(this: TaggedResponse): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.settle('client-abort', new ClientGoneError());
}

export abstract class Exchange extends DeadlineEntry {
  settled = false;
  connected = false;
  headReceived = false;
  responseStarted = false;
  status = 0;
  bytesReceived = 0;
  /** Epoch ms when the response last moved: the idle deadline counts from it, not from a sweep. */
  lastActivity = 0;
  /** Epoch ms when the whole request (body included) had gone to the member; 0 until then. */
  sentAt = 0;
  setCookie: readonly string[] | undefined = undefined;
  readonly start = Date.now();

  /** The member speaks TLS: connected means after the handshake. */
  readonly secure: boolean;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly member: Member,
    readonly body: ReplayableBody | undefined,
    /** Extra response fields, flat `[name, value, ...]` (the sticky Set-Cookie). */
    readonly responseHeaders: readonly string[] | undefined,
    readonly context: ExchangeContext,
    readonly timeouts: ExchangeTimeouts,
    readonly resolve: (outcome: ForwardOutcome) => void,
  ) {
    super();
    this.secure = member.url.protocol === 'https:';
    // The first check comes at the earliest of the deadlines that may apply; expire() works out the rest.
    this.deadline = this.start + Math.min(timeouts.connectMs, timeouts.headMs, body === undefined ? Infinity : timeouts.idleMs);
  }

  /** Stops talking to the member (the attempt failed or is abandoned). */
  protected abstract abortUpstream(): void;
  /** Whether the attempt went out on a keep-alive connection that had served before. */
  protected abstract reusedConnection(): boolean;

  /** Watches the client and the deadlines; call once, before the attempt goes out. */
  begin(): void {
    (this.res as TaggedResponse)[kExchange] = this;
    this.res.on('close', onClientClose);
    this.context.sweep.add(this);
  }

  /**
   * A deadline passed: the connect timeout; while the request body is going out, the upload's idle
   * time (the client's silence: 408, not the member's fault) or the member's refusal to take it;
   * then the response-head timeout, counted from when the request was sent, as nginx's
   * `proxy_read_timeout` is, so a long upload is not cut for its length; then the response body's
   * idle time counted from its last byte (a client that is slow to read does not count as silence).
   */
  expire(now: number): void {
    if (this.settled) return;
    const { connectMs, headMs, idleMs } = this.timeouts;
    if (!this.connected && now >= this.start + connectMs) {
      this.settle('connect', new ConnectTimeoutError(connectMs));
    } else if (!this.headReceived) {
      const body = this.body;
      let due: number;
      let clientSilent = false;
      if (this.sentAt !== 0 || body === undefined) due = (this.sentAt || this.start) + headMs;
      else if (body.ended) due = Math.max(this.start, body.endedAt) + headMs;
      else if (body.blockedSince !== 0) due = Math.max(this.start, body.blockedSince) + headMs;
      else {
        due = Math.max(this.start, body.lastDataAt) + idleMs;
        clientSilent = true;
      }
      if (now < due) this.deadline = this.connected ? due : Math.min(due, this.start + connectMs);
      else if (clientSilent) this.settle('client-timeout', new RequestBodyTimeoutError(idleMs));
      else this.settle('timeout', new HeadersTimeoutError(headMs));
    } else if (this.res.writableNeedDrain) {
      this.deadline = now + idleMs;
    } else if (this.lastActivity + idleMs > now) {
      this.deadline = this.lastActivity + idleMs;
    } else {
      this.settle('truncated', new BodyTimeoutError(idleMs));
    }
  }

  /** The connection to the member is up (no byte reached it before this). */
  onConnected(): void {
    this.connected = true;
  }

  /** The whole request, body included, went to the member: the response-head deadline starts. */
  requestSent(): void {
    if (this.settled) return;
    this.sentAt = Date.now();
    this.deadline = this.sentAt + this.timeouts.headMs;
  }

  /**
   * Relays the member's final response head. False when it cannot be relayed (a status outside
   * 200-599, a control byte in the reason, a field Node refuses): the attempt is then settled as
   * `bad-response` and nothing reached the client.
   */
  respond(status: number, reason: string | undefined, rawHeaders: readonly (string | Buffer)[]): boolean {
    this.headReceived = true;
    this.connected = true;
    this.status = status;
    this.lastActivity = Date.now();
    this.deadline = this.lastActivity + this.timeouts.idleMs;
    const invalid = invalidStatusLine(status, reason);
    if (invalid !== undefined) {
      this.settle('bad-response', new InvalidResponseError(invalid));
      return false;
    }
    const head = forwardedResponseHead(rawHeaders);
    this.setCookie = head.setCookie;
    const { reverse, onProxyResponse } = this.context;
    let fields = head.fields;
    if (reverse !== undefined && (head.urls || head.setCookie !== undefined)) reverseHead(fields, this.member, reverse, this.req);
    if (this.responseHeaders !== undefined) fields.push(...this.responseHeaders);
    if (onProxyResponse !== undefined) {
      try {
        fields = hookedFields(fields, status, onProxyResponse, this.req, this.member);
      } catch (err) {
        process.emitWarning(`proxy-balancer: onProxyResponse threw: ${err instanceof Error ? err.stack : String(err)}`);
        this.settle('internal', err as Error);
        return false;
      }
    }
    const res = this.res;
    try {
      res.writeHead(status, reason, fields);
    } catch (err) {
      // Whatever Node refuses to write is the member's bad response; the fields it may have set
      // before throwing are not the 502's.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      this.settle('bad-response', new InvalidResponseError((err as Error).message));
      return false;
    }
    this.responseStarted = true;
    return true;
  }

  /**
   * Relays a member's 1xx (RFC 9110 15.2: a proxy forwards them): 102, and 103 Early Hints with
   * its `Link` fields. 100 is the front server's own business (it answered the client's Expect);
   * HTTP/1.0 clients get none.
   */
  informational(status: number, link: string | string[] | undefined): void {
    const { req, res } = this;
    if (this.settled || res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
    try {
      if (status === 102) res.writeProcessing();
      else if (status === 103 && link !== undefined) res.writeEarlyHints({ link });
    } catch {
      // An invalid Link value: the hint is dropped, the final response still comes.
    }
  }

  /** Relays a body chunk. False when the client's buffer is full: pause the member until `res` drains. */
  relay(chunk: Buffer): boolean {
    this.bytesReceived += chunk.length;
    this.lastActivity = Date.now();
    return this.res.write(chunk);
  }

  /** The member's response is whole; its trailers, raw `[name, value, ...]`, go to the client too. */
  complete(trailers?: readonly (string | Buffer)[] | null): void {
    if (this.settled) return;
    if (trailers != null && trailers.length > 0) relayTrailers(this.res, trailers);
    this.res.end();
    this.settle(undefined, undefined);
  }

  /** The member side failed: classified by how far the attempt got. */
  fail(err: Error & { code?: string }): void {
    if (this.settled) return;
    if (this.res.destroyed || this.req.socket.destroyed) this.settle('client-abort', err);
    else if (!this.connected) this.settle('connect', err);
    else if (!this.headReceived) this.settle('no-response', err);
    else this.settle('truncated', err);
  }

  /** The balancer closed: the attempt ends now, and a response under way is cut. */
  close(): void {
    this.settle('closed', new BalancerClosedError());
  }

  settle(failure: FailureKind | undefined, error: (Error & { code?: string }) | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.context.sweep.remove(this);
    const res = this.res as TaggedResponse;
    res.removeListener('close', onClientClose);
    if (res[kExchange] === this) res[kExchange] = undefined;
    this.body?.detach();
    if (failure !== undefined) {
      this.abortUpstream();
      // The client must see a cut response, never a spliced one.
      if (this.responseStarted) res.destroy();
    }
    this.resolve({
      failure,
      status: this.status,
      responseStarted: this.responseStarted,
      bytesSent: this.connected ? (this.body?.bytesRead ?? 0) : 0,
      bytesReceived: this.bytesReceived,
      durationMs: Date.now() - this.start,
      error,
      reusedSocket: this.reusedConnection(),
      setCookie: this.setCookie,
    });
  }
}

/** Rewrites, in place, the member URLs and cookie attributes of a response head (ProxyPassReverse). */
function reverseHead(fields: string[], member: Member, reverse: ReverseConfig, req: IncomingMessage): void {
  let prefix: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const lower = fields[i]!.toLowerCase();
    if (URL_FIELDS.has(lower)) fields[i + 1] = reverseUrl(fields[i + 1]!, member, (prefix ??= reverse.origin + mountPathOf(req)));
    else if (lower === 'set-cookie') fields[i + 1] = reverseCookie(fields[i + 1]!, reverse);
  }
}

/** Runs the user's response hook on the head as an object (lower-case names), and flattens it again. */
function hookedFields(fields: string[], status: number, hook: ProxyResponseHook, req: IncomingMessage, member: Member): string[] {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    const value = fields[i + 1]!;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  hook(headers, { status, req, member });
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, String(v));
    else flat.push(name, String(value));
  }
  return flat;
}

/**
 * Adds a member's trailers to the response (sent after a chunked body; Node drops them for a body
 * with a length, or for an HTTP/1.0 client, as it must). A field Node refuses is left out.
 */
function relayTrailers(res: ServerResponse, raw: readonly (string | Buffer)[]): void {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString();
    const value = raw[i + 1]!.toString();
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
      pairs.push([name, value]);
    } catch {
      // an invalid trailer field is dropped, the rest still go
    }
  }
  if (pairs.length > 0) res.addTrailers(pairs); // one call: each call replaces the set
}
