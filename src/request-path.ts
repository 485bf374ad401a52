/**
 * One client request through its attempts, in one place: build the upstream request, pick a member
 * (sticky route or balanced pick), forward, settle the outcome (counters, passive health, the
 * strategy's hooks, the sticky table), and on a retryable failure try the next member with the
 * failed ones excluded, in a plain bounded loop. Plain requests and Upgrade handshakes share it;
 * they differ only in how an attempt is made and how a final failure is answered.
 */
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { DEFAULTS, type BalancerConfig } from './config.js';
import type { BalancerEventHub, RetryEvent } from './events.js';
import type { PassiveHealth } from './health/passive.js';
import type { Member } from './pool/member.js';
import type { Pool } from './pool/pool.js';
import { ReplayableBody, bodyAlreadyRead, hasBody, reencodedBody } from './proxy/body.js';
import type { ProxyEngine } from './proxy/engine.js';
import type { FailureKind, ForwardOutcome } from './proxy/outcome.js';
import { buildUpstreamRequest, RequestRefusedError, withWholeBody, type UpstreamRequest } from './proxy/target.js';
import type { StickyRequest, StickySessions } from './sticky/sessions.js';
import type { PickContext, Strategy } from './strategies/strategy.js';

/** Idempotent methods (RFC 9110 9.2.2): safe to resend after the request reached a member. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** What the request path reads of an attempt's outcome, plain or upgrade. */
type AttemptOutcome = Pick<ForwardOutcome, 'failure' | 'error' | 'responseStarted'>;

/** Told once of every finished request: the metrics' recorder (manage/request-stats.ts). */
export interface RequestRecorder {
  /**
   * `member` made the last attempt (undefined when none was tried); `status` is what the client got
   * (0 when nothing: it left first); `durationMs` is the time its attempts took, as the engine timed them.
   */
  requestEnded(member: Member | undefined, status: number, durationMs: number): void;
}

/** Seconds a client is told to wait (Retry-After) when shed or timed out of the queue. */
const RETRY_AFTER_SEC = 1;

/** A request waiting in the queue for a member with room. */
interface Waiter {
  readonly request: ProxiedRequest;
  readonly since: number;
  readonly timer: NodeJS.Timeout;
  /** Hands it the member that has room, and takes it out of the queue. */
  readonly admit: (member: Member) => void;
}

/** The candidates that are below their connection cap (the same array when all are). */
function withRoom(candidates: readonly Member[]): readonly Member[] {
  for (let i = 0; i < candidates.length; i++) {
    if (candidates[i]!.full) return candidates.filter((m) => !m.full);
  }
  return candidates;
}

/** The parts a request goes through, shared by every request of one balancer. */
export interface RequestPathParts {
  readonly config: BalancerConfig;
  readonly pool: Pool;
  readonly strategy: Strategy;
  readonly sticky: StickySessions | undefined;
  readonly engine: ProxyEngine;
  readonly passive: PassiveHealth;
  readonly events: BalancerEventHub;
  readonly recorder: RequestRecorder;
}

/** What one client request carries through its attempts. */
abstract class ProxiedRequest {
  readonly sticky: StickyRequest | undefined;
  /** Members already tried (excluded from later picks); undefined until a first failure. */
  tried: Set<Member> | undefined = undefined;
  /** The last failed attempt's outcome. */
  last: AttemptOutcome | undefined = undefined;
  /** The member of the last attempt. */
  lastMember: Member | undefined = undefined;
  /** Set when `failover: false` forbids any member but the session's own (Apache's nofailover: 503). */
  stickyRefused = false;
  /** For the `request` event: what the client got and what the attempts cost. */
  attempts = 0;
  status = 0;
  failure: FailureKind | undefined = undefined;
  bytesSent = 0;
  bytesReceived = 0;
  readonly start = Date.now();
  /** For the metrics: time spent in attempts, as the engine timed them (no clock read of its own). */
  elapsedMs = 0;

  constructor(
    readonly path: RequestPath,
    readonly req: IncomingMessage,
    readonly upstream: UpstreamRequest,
  ) {
    this.sticky = path.sticky?.read(req);
  }

  /** Answers the client with an error status and a short text. */
  answer(status: number, message: string, retryAfterSec?: number): void {
    this.status = status;
    this.send(status, message, retryAfterSec);
  }

  protected abstract send(status: number, message: string, retryAfterSec?: number): void;

  /** One attempt on one member; true when the request is over for good. */
  abstract attempt(member: Member): Promise<boolean>;
  /** False when the request has a body that is not kept whole (too large for a replay). */
  abstract replayable(): boolean;
  /** The client's end: a ServerResponse, or the socket of an Upgrade request. */
  protected abstract readonly client: Writable;

  /** The client is gone or already answered. */
  clientGone(): boolean {
    return this.client.destroyed || this.client.writableEnded;
  }

  /** Calls `onGone` once if the client leaves; returns the way to stop watching. */
  watchGone(onGone: () => void): () => void {
    this.client.once('close', onGone);
    return () => this.client.removeListener('close', onGone);
  }
}

/** A plain HTTP request through its attempts. */
class HttpRequest extends ProxiedRequest {
  constructor(
    path: RequestPath,
    req: IncomingMessage,
    upstream: UpstreamRequest,
    readonly res: ServerResponse,
    readonly body: ReplayableBody | undefined,
  ) {
    super(path, req, upstream);
  }

  protected get client(): Writable {
    return this.res;
  }

  async attempt(member: Member): Promise<boolean> {
    const path = this.path;
    path.prepare(this, member);
    path.begin(member, this);
    const outcome = await path.engine.forward(this.req, this.res, member, this.upstream, this.body, path.stickyHeaders(this, member));
    return path.settle(this, member, outcome, outcome.bytesSent, outcome.bytesReceived);
  }

  replayable(): boolean {
    return this.body === undefined || this.body.replayable;
  }

  protected send(status: number, message: string, retryAfterSec?: number): void {
    // After a 408 the rest of the body will not be read: the connection cannot carry another request.
    respondError(this.res, status, message, status === 408, retryAfterSec);
  }
}

/** An Upgrade handshake (WebSocket) through its attempts: same members, rules and retries. */
class UpgradeRequest extends ProxiedRequest {
  constructor(
    path: RequestPath,
    req: IncomingMessage,
    upstream: UpstreamRequest,
    readonly socket: Duplex,
    readonly head: Buffer,
  ) {
    super(path, req, upstream);
  }

  protected get client(): Writable {
    return this.socket;
  }

  async attempt(member: Member): Promise<boolean> {
    const path = this.path;
    path.prepare(this, member);
    path.begin(member, this);
    const outcome = await path.engine.upgrade(this.socket, this.head, member, this.upstream, path.stickyHeaders(this, member));
    const tunnel = outcome.tunnel;
    if (tunnel === undefined) return path.settle(this, member, outcome, 0, outcome.bytesReceived);
    this.elapsedMs += outcome.durationMs;
    path.passive.record(member, outcome, false);
    this.status = 101;
    // The member stays busy for as long as the tunnel is open (bybusyness sees it); bytes count at the end.
    void tunnel.closed.then(({ bytesSent, bytesReceived }) => path.end(member, bytesSent, bytesReceived, outcome.durationMs, true, false));
    return true;
  }

  replayable(): boolean {
    return true; // a handshake has no body
  }

  protected send(status: number, message: string, retryAfterSec?: number): void {
    respondRawError(this.socket, status, message, retryAfterSec);
  }
}

/** The request path of one balancer: the parts, the counters, and `handle`/`upgrade`. */
export class RequestPath {
  readonly config: BalancerConfig;
  readonly pool: Pool;
  readonly strategy: Strategy;
  readonly sticky: StickySessions | undefined;
  readonly engine: ProxyEngine;
  readonly passive: PassiveHealth;
  readonly events: BalancerEventHub;
  readonly recorder: RequestRecorder;
  closed = false;
  requestsInFlight = 0;
  retriesInFlight = 0;
  retriesMade = 0;
  retriesRefused = 0;
  /** Requests waiting for a member with room (maxConnections), oldest first. */
  readonly #queue: Waiter[] = [];
  /**
   * One context object and one choose function for every pick: pool.select and strategy.pick are
   * synchronous, so the request is set just before and cleared just after (no closure per request).
   */
  readonly #pickContext: { req: IncomingMessage | undefined; headers: IncomingHttpHeaders | undefined } = { req: undefined, headers: undefined };
  readonly #choose: (candidates: readonly Member[]) => Member | undefined;

  constructor(parts: RequestPathParts) {
    this.config = parts.config;
    this.pool = parts.pool;
    this.strategy = parts.strategy;
    this.sticky = parts.sticky;
    this.engine = parts.engine;
    this.passive = parts.passive;
    this.events = parts.events;
    this.recorder = parts.recorder;
    const strategy = this.strategy;
    const context = this.#pickContext as PickContext;
    const pool = this.pool;
    // With connection caps, full members are no candidates: byrequests skips them as Apache skips a
    // busy worker, and bybusyness and p2c never weigh them. No cap, no cost.
    this.#choose = (candidates) => {
      if (!pool.capped) return strategy.pick(candidates, context);
      const roomy = withRoom(candidates);
      return roomy.length === 0 ? undefined : strategy.pick(roomy, context);
    };
  }

  /** A plain HTTP request: answered by a member, or with an error status. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closed) return respondError(res, 503, 'balancer is closed');
    if (this.#shed(req)) return respondError(res, 503, 'the balancer is at its limit', false, RETRY_AFTER_SEC);
    let upstream = refusedOr(req, false, (status, message) => respondError(res, status, message, true));
    if (upstream === undefined) return;
    if (upstream.target === '*') return void res.writeHead(200, { 'content-length': 0 }).end();
    let body: ReplayableBody | undefined;
    if (hasBody(req)) {
      if (bodyAlreadyRead(req)) {
        // A body parser in front (express.json()) read the stream: send what it parsed, re-encoded.
        const whole = reencodedBody(req);
        if (whole === undefined) return respondError(res, 500, 'the request body was read before the balancer', true);
        upstream = withWholeBody(upstream, whole.length);
        body = new ReplayableBody(whole, whole.length);
      } else {
        // Kept up to maxBodyBytes for replays; with 0 it still relays (an engine may destroy its body stream).
        body = new ReplayableBody(req, this.config.retry.maxBodyBytes);
      }
    }
    return this.#run(new HttpRequest(this, req, upstream, res, body));
  }

  /** An Upgrade handshake: tunnelled to a member, or answered with an error status. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignore); // a client reset must not crash the process; the tunnel notices 'close'
    if (this.closed) return respondRawError(socket, 503, 'balancer is closed');
    if (this.#shed(req)) return respondRawError(socket, 503, 'the balancer is at its limit', RETRY_AFTER_SEC);
    const upstream = refusedOr(req, true, (status, message) => respondRawError(socket, status, message));
    if (upstream === undefined) return;
    return this.#run(new UpgradeRequest(this, req, upstream, socket, head));
  }

  /**
   * The headers for an attempt on `member`: its Host (or the client's, with preserveHost), then
   * the user's onProxyRequest. Before begin(), so a hook that throws leaves no count behind.
   */
  prepare(request: ProxiedRequest, member: Member): void {
    const { upstream, req } = request;
    upstream.headers.host = this.config.preserveHost ? upstream.clientHost : member.url.host;
    this.config.onProxyRequest?.(upstream.headers, req, member);
  }

  /** An attempt starts on `member`. */
  begin(member: Member, request: ProxiedRequest): void {
    request.attempts++;
    request.lastMember = member;
    this.pool.begin(member);
    this.strategy.requestStart?.(member);
  }

  /** An attempt on `member` ended: counters and the strategy's bookkeeping. */
  end(member: Member, bytesSent: number, bytesReceived: number, durationMs: number, ok: boolean, failed: boolean): void {
    this.pool.finish(member, bytesSent, bytesReceived, failed);
    this.strategy.requestEnd?.(member, { bytesSent, bytesReceived, durationMs, ok });
    if (member.removed) this.engine.retire(member);
    if (this.#queue.length > 0) this.#dequeue(); // a place came free
  }

  /** Records how an attempt ended; true when the request is over for good. */
  settle(request: ProxiedRequest, member: Member, outcome: ForwardOutcome, bytesSent: number, bytesReceived: number): boolean {
    request.status = outcome.responseStarted ? outcome.status : 0;
    request.failure = outcome.failure;
    request.bytesSent += bytesSent;
    request.bytesReceived += bytesReceived;
    request.elapsedMs += outcome.durationMs;
    const keepAliveRace = outcome.failure === 'no-response' && outcome.reusedSocket;
    const failed = this.passive.record(member, outcome, keepAliveRace);
    this.end(member, bytesSent, bytesReceived, outcome.durationMs, outcome.failure === undefined, failed);
    if (outcome.failure === undefined && request.sticky !== undefined) this.sticky!.learn(request.sticky, member, outcome.setCookie);
    if (outcome.failure === undefined || outcome.failure === 'client-abort' || outcome.responseStarted) return true;
    request.last = outcome;
    (request.tried ??= new Set()).add(member);
    return false;
  }

  /** The sticky Set-Cookie for a response from `member`, if any. */
  stickyHeaders(request: ProxiedRequest, member: Member): string[] | undefined {
    return request.sticky === undefined ? undefined : this.sticky!.responseHeaders(request.sticky, member);
  }

  /**
   * Picks a member and makes the first attempt; on a retryable failure, retries on members not yet
   * tried, up to `retry.attempts` in all and within the retry budget. Errors thrown by user code
   * (a strategy's pick or hooks) propagate the same way on every attempt.
   */
  async #run(request: ProxiedRequest): Promise<void> {
    if (this.config.forceRecovery) this.pool.forceRecovery();
    this.requestsInFlight++;
    try {
      // While requests wait for room, a newcomer queues behind them (FIFO), as HAProxy's queue does.
      let first = this.#queue.length > 0 ? undefined : this.#pick(request);
      if (first === undefined && this.#roomIsWhatIsMissing(request)) first = await this.#waitForRoom(request);
      if (first === undefined) return request.clientGone() ? undefined : request.answer(503, 'no member is available');
      if (await request.attempt(first)) return;
      const attempts = this.config.retry.attempts ?? Math.min(DEFAULTS.maxAttempts, this.pool.members.length);
      for (let attempt = 2; attempt <= attempts; attempt++) {
        if (!this.#retryable(request) || this.closed || request.clientGone()) break;
        let member = this.#pick(request);
        if (member === undefined && this.#roomIsWhatIsMissing(request)) {
          // The members left are full: a retry waits for room like a first attempt (or is answered 503).
          member = await this.#waitForRoom(request);
          if (member === undefined) return;
        }
        if (member === undefined) break;
        const failed = request.last!;
        const event: RetryEvent = {
          route: request.lastMember!.route,
          reason: failed.error?.code ?? failed.failure ?? 'failed',
          attempt: attempt - 1,
          method: request.req.method ?? '',
        };
        // The budget limits retries that add work on members; a refused connection reached none.
        const budgeted = failed.failure !== 'connect';
        if (
          budgeted &&
          this.retriesInFlight >= Math.max(this.config.retry.budgetMin, Math.floor((this.requestsInFlight * this.config.retry.budgetPercent) / 100))
        ) {
          this.retriesRefused++;
          this.events.publish('retryBudgetExhausted', event);
          break;
        }
        this.retriesMade++;
        this.events.publish('retry', event);
        if (budgeted) this.retriesInFlight++;
        try {
          if (await request.attempt(member)) return;
        } finally {
          if (budgeted) this.retriesInFlight--;
        }
      }
      answerFailure(request);
    } finally {
      this.requestsInFlight--;
      this.recorder.requestEnded(request.lastMember, request.status, request.elapsedMs); // the metrics' one call per request
      if (this.events.wants('request')) this.#published(request);
    }
  }

  /** Requests waiting for room now. */
  get queueLength(): number {
    return this.#queue.length;
  }

  /** Load shedding: past maxInFlight the request is refused at once. */
  #shed(req: IncomingMessage): boolean {
    if (this.requestsInFlight < this.config.maxInFlight) return false;
    this.events.publish('shed', { method: req.method ?? '', url: req.url ?? '', reason: 'maxInFlight' });
    return true;
  }

  /** The pick found nothing because usable members are full (not because none is usable). */
  #roomIsWhatIsMissing(request: ProxiedRequest): boolean {
    if (!this.pool.capped || request.stickyRefused) return false;
    for (const m of this.pool.usableMembers()) if (m.full) return true;
    return false;
  }

  /**
   * Waits in the FIFO queue for a member with room, up to queueTimeoutMs; past queueLength, or
   * when the time is up, the client gets 503 with Retry-After and no member is charged. A client
   * that leaves is taken out at once. Resolves with the member, or undefined when answered or gone.
   */
  #waitForRoom(request: ProxiedRequest): Promise<Member | undefined> {
    const { req } = request;
    if (this.#queue.length >= this.config.queueLength) {
      this.events.publish('shed', { method: req.method ?? '', url: req.url ?? '', reason: 'queueFull' });
      request.answer(503, 'every member is at its limit', RETRY_AFTER_SEC);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const leave = (): void => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        clearTimeout(waiter.timer);
        stopWatching();
      };
      const waiter: Waiter = {
        request,
        since: Date.now(),
        timer: setTimeout(() => {
          leave();
          this.events.publish('shed', { method: req.method ?? '', url: req.url ?? '', reason: 'queueTimeout' });
          request.answer(503, 'no member had room in time', RETRY_AFTER_SEC);
          resolve(undefined);
        }, this.config.queueTimeoutMs),
        admit: (member) => {
          leave();
          this.events.publish('dequeued', {
            method: req.method ?? '',
            url: req.url ?? '',
            queueLength: this.#queue.length,
            waitedMs: Date.now() - waiter.since,
          });
          resolve(member);
        },
      };
      const stopWatching = request.watchGone(() => {
        leave();
        resolve(undefined);
      });
      this.#queue.push(waiter);
      this.events.publish('queued', { method: req.method ?? '', url: req.url ?? '', queueLength: this.#queue.length, waitedMs: 0 });
    });
  }

  /** A member has room again: the oldest waiter gets it, if a pick for it finds one. */
  #dequeue(): void {
    const head = this.#queue[0];
    if (head === undefined) return;
    const member = this.#pick(head.request);
    if (member !== undefined) head.admit(member);
  }

  /** The `request` event of a finished request. */
  #published(request: ProxiedRequest): void {
    this.events.publish('request', {
      method: request.req.method ?? '',
      url: request.req.url ?? '',
      route: request.lastMember?.route,
      status: request.status,
      bytesSent: request.bytesSent,
      bytesReceived: request.bytesReceived,
      durationMs: Date.now() - request.start,
      attempts: request.attempts,
      failure: request.failure,
      upgrade: request instanceof UpgradeRequest,
      client: request.req.socket.remoteAddress,
    });
  }

  /**
   * Whether a failed attempt may go to another member: any method when no byte reached the member;
   * idempotent methods also when the request went out but no response byte came back. A body is
   * resent only when it was kept whole.
   */
  #retryable(request: ProxiedRequest): boolean {
    const failure = request.last?.failure;
    if (!request.replayable()) return false;
    if (failure === 'connect') return true;
    return failure === 'no-response' && IDEMPOTENT.has(request.req.method ?? '');
  }

  /**
   * The member for the next attempt: the sticky route's member when it is usable and not yet tried
   * (Apache's find_session_route, with its accounting), else a balanced pick. Under
   * `failover: false` a route whose member exists but cannot serve gets no member at all (503).
   */
  #pick(request: ProxiedRequest): Member | undefined {
    const route = request.sticky?.route;
    if (route !== undefined) {
      const { found, member } = this.pool.findByRoute(route);
      if (member !== undefined && !(request.tried?.has(member) ?? false)) {
        if (member.full) return undefined; // the session's member is at its cap: wait for it
        this.strategy.routed?.(member, this.pool.usableMembers());
        return member;
      }
      if (found && !this.sticky!.config.failover) {
        request.stickyRefused = true;
        return undefined;
      }
    }
    const context = this.#pickContext;
    context.req = request.req;
    context.headers = request.req.headers;
    try {
      return this.pool.select(this.#choose, request.tried);
    } finally {
      context.req = undefined;
      context.headers = undefined;
    }
  }
}

function ignore(): void {}

/**
 * Answers the client after the last failed attempt: 503 when `failover: false` kept the session
 * from other members (as Apache's nofailover does), 504 for a head timeout, else 502.
 */
function answerFailure(request: ProxiedRequest): void {
  const failure = request.last?.failure;
  if (request.stickyRefused) request.answer(503, "the session's member is unavailable");
  else if (failure === 'timeout') request.answer(504, 'the member did not answer in time');
  else if (failure === 'bad-response') request.answer(502, 'the member sent an invalid response');
  else if (failure === 'client-timeout') request.answer(408, 'the request body stopped arriving');
  else if (failure === 'closed') request.answer(502, 'the balancer closed');
  else if (failure === 'internal') request.answer(502, 'internal balancer error');
  else request.answer(502, 'no member answered');
}

/**
 * The request's upstream form, or undefined after `refuse` answered a request that no member
 * may see (a malformed target, a second Host, an Upgrade with a body).
 */
function refusedOr(req: IncomingMessage, upgrade: boolean, refuse: (status: number, message: string) => void): UpstreamRequest | undefined {
  try {
    return buildUpstreamRequest(req, upgrade);
  } catch (err) {
    if (!(err instanceof RequestRefusedError)) throw err;
    refuse(err.status, err.message);
    return undefined;
  }
}

/** The same short error written raw on an upgrade's socket, which has no ServerResponse. */
export function respondRawError(socket: Duplex, status: number, message: string, retryAfterSec?: number): void {
  if (socket.destroyed || socket.writableEnded) return;
  const text = `${status} ${message}\n`;
  const retryAfter = retryAfterSec === undefined ? '' : `retry-after: ${retryAfterSec}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${retryAfter}connection: close\r\n\r\n${text}`,
  );
}

/**
 * A short plain-text error; a response already under way is cut instead. `close`: end the
 * connection after it (the request was refused, so its body is not to be read on).
 */
export function respondError(res: ServerResponse, status: number, message: string, close = false, retryAfterSec?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const text = `${status} ${message}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  };
  if (close) headers.connection = 'close';
  if (retryAfterSec !== undefined) headers['retry-after'] = retryAfterSec;
  // The reason is explicit: a writeHead that threw on a member's reason phrase left it in statusMessage.
  res.writeHead(status, STATUS_CODES[status] ?? '', headers);
  res.end(text);
}
