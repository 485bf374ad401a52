/**
 * createBalancer: wires config, pool, strategy and proxy engine, and owns the request path:
 * pick a member, forward, record the outcome, and on a retryable failure try the next member with
 * the failed ones excluded. Nothing upstream reaches into a later stage's state.
 */
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import pRetry, { AbortError } from 'p-retry';
import { normalizeOptions, DEFAULTS, type BalancerOptions } from './config.js';
import { BalancerEventHub, type BalancerEvents, type RetryEvent } from './events.js';
import { HealthChecker, type MemberHealth } from './health/checker.js';
import { PassiveHealth } from './health/passive.js';
import type { Member, MemberSnapshot } from './pool/member.js';
import { Pool } from './pool/pool.js';
import { ReplayableBody, hasBody } from './proxy/body.js';
import { createEngine } from './proxy/engines/index.js';
import type { ForwardOutcome } from './proxy/outcome.js';
import { buildUpstreamRequest, RequestRefusedError, type UpstreamRequest } from './proxy/target.js';
import { StickySessions, type StickyRequest } from './sticky/sessions.js';
import { resolveStrategy } from './strategies/index.js';
import type { PickContext, Strategy } from './strategies/strategy.js';

/** Plain-JSON state of a balancer, as {@link Balancer.snapshot} returns it. */
export interface BalancerSnapshot {
  /** The strategy's name. */
  strategy: string;
  /** Every member, in configuration order. */
  members: MemberSnapshot[];
  /** The members' counters added up. */
  totals: { requests: number; inFlight: number; failures: number; bytesSent: number; bytesReceived: number };
  /** Requests the balancer is serving now, and retries among them. */
  inFlight: { requests: number; retries: number };
  /** Retries made, and retries refused by the budget, since the start. */
  retries: { made: number; refusedByBudget: number };
  /** Active health check state per member (empty when health checks are off). */
  health: MemberHealth[];
}

type Listener<K extends keyof BalancerEvents> = (...args: BalancerEvents[K]) => void;

/**
 * A balancer: a request handler `(req, res, next?)` for Express, Connect or plain `node:http`,
 * with its pool, snapshot, events and close on it. It always answers the request itself.
 */
export interface Balancer {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** The members and their runtime controls (add, remove, drain, setWeight, ...). */
  readonly pool: Pool;
  /** The strategy in use. */
  readonly strategy: Strategy;
  /**
   * Proxies Upgrade requests (WebSocket and others): `server.on('upgrade', balancer.upgrade)`.
   * Same members, strategy, tiers and retries as plain requests; an open tunnel counts as in flight.
   */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Members, states and counters as plain JSON. */
  snapshot(): BalancerSnapshot;
  /** Releases every agent socket and timer. Requests still in flight end with an error. */
  close(): Promise<void>;
  /** Listens to a balancer event (also published on diagnostics channel `proxy-balancer:<event>`). */
  on<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
  /** Listens to one occurrence of a balancer event. */
  once<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
  /** Stops listening. */
  off<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
}

/** Idempotent methods (RFC 9110 9.2.2): safe to resend after the request reached a member. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** A failed attempt that may be retried; p-retry's signal to go on. */
class RetryableAttempt extends Error {}

/**
 * What one client request carries through its attempts. Plain requests and Upgrade handshakes
 * differ only in how an attempt is made and how a final failure is answered.
 */
interface RequestState {
  readonly req: IncomingMessage;
  /** What every attempt sends upstream (target, headers), built once. */
  readonly upstream: UpstreamRequest;
  /** What the request asks for by sticky route; undefined without sticky sessions. */
  readonly sticky: StickyRequest | undefined;
  /** One attempt on one member; true when the request is over for good. */
  attempt(member: Member): Promise<boolean>;
  /** False when the request has a body that is not kept (too large, or keeping is off). */
  replayable(): boolean;
  /** The client is gone or already answered. */
  clientGone(): boolean;
  /** Answers the client with an error status and a short text. */
  answer(status: number, message: string): void;
  tried: Set<Member> | undefined;
  last: AttemptOutcome | undefined;
  lastMember: Member | undefined;
  /** Set when `failover: false` forbids any member but the session's own (Apache's nofailover: 503). */
  stickyRefused: boolean;
}

/** What the request path reads of an attempt's outcome, plain or upgrade. */
type AttemptOutcome = Pick<ForwardOutcome, 'failure' | 'error' | 'responseStarted'>;

/**
 * Creates a balancer over `options.members`. Throws {@link BalancerConfigError} for any bad option.
 *
 * @example
 * ```ts
 * const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002' }] });
 * const server = http.createServer(balancer).listen(8080);
 * server.on('upgrade', balancer.upgrade);
 * ```
 */
export function createBalancer(options: BalancerOptions): Balancer {
  const config = normalizeOptions(options);
  const strategy = resolveStrategy(config.strategy, config.hash);
  const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
  const pool = new Pool(config.members, strategy, config.retryMs, Date.now, config.slowStartMs);
  const shortest = Math.min(config.timeoutMs, config.connectTimeoutMs, config.idleTimeoutMs, ...config.members.map((m) => m.timeoutMs ?? Infinity));
  const engine = createEngine(config.engine, {
    timeoutMs: config.timeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    preserveHost: config.preserveHost,
    resolutionMs: Math.min(1000, Math.max(5, Math.floor(shortest / 10))),
    tunnelIdleTimeoutMs: config.tunnelIdleTimeoutMs,
  });
  const passive = new PassiveHealth(pool, config);
  const health = new HealthChecker(pool, config.healthCheck, (member) => member.healthCheck);
  const events = new BalancerEventHub();
  events.relay(pool);
  health.start();
  const { maxBodyBytes, budgetPercent, budgetMin } = config.retry;
  let closed = false;
  let requestsInFlight = 0;
  let retriesInFlight = 0;
  let retriesMade = 0;
  let retriesRefused = 0;

  pool.on('memberRemoved', (member, removal) => {
    if (removal.endTunnels) engine.endTunnels(member);
    engine.retire(member);
    sticky?.forgetRoute(member.route);
  });

  // The per-request states are classes declared here, once per balancer, so that a request
  // allocates one object instead of a handful of closures (the hot path is measured by npm run bench).

  /** What both kinds of request carry through their attempts. */
  abstract class BaseRequestState implements RequestState {
    readonly sticky: StickyRequest | undefined;
    tried: Set<Member> | undefined = undefined;
    last: AttemptOutcome | undefined = undefined;
    lastMember: Member | undefined = undefined;
    stickyRefused = false;

    constructor(
      readonly req: IncomingMessage,
      readonly upstream: UpstreamRequest,
    ) {
      this.sticky = sticky?.read(req);
    }

    abstract attempt(member: Member): Promise<boolean>;
    abstract replayable(): boolean;
    abstract clientGone(): boolean;
    abstract answer(status: number, message: string): void;
  }

  /** A plain HTTP request through its attempts. */
  class HttpRequestState extends BaseRequestState {
    constructor(
      req: IncomingMessage,
      upstream: UpstreamRequest,
      readonly res: ServerResponse,
      readonly body: ReplayableBody | undefined,
      readonly withBody: boolean,
    ) {
      super(req, upstream);
    }

    #attempts = 0;

    async attempt(member: Member): Promise<boolean> {
      // http-proxy-3 leaves a 'close' listener on res and an 'error' listener on req per attempt;
      // many retries of one request are legitimate, so raise the ceiling instead of warning.
      if (++this.#attempts > 5) {
        this.res.setMaxListeners(this.res.getMaxListeners() + 1);
        this.req.setMaxListeners(this.req.getMaxListeners() + 1);
      }
      pool.begin(member);
      strategy.requestStart?.(member);
      const outcome = await engine.forward(this.req, this.res, member, this.upstream, this.body, stickyHeaders(this, member));
      return settleAttempt(this, member, outcome, outcome.bytesSent, outcome.bytesReceived);
    }

    replayable(): boolean {
      return this.body === undefined ? !this.withBody : this.body.replayable;
    }

    clientGone(): boolean {
      return this.res.destroyed || this.res.writableEnded;
    }

    answer(status: number, message: string): void {
      respondError(this.res, status, message);
    }
  }

  /** An Upgrade handshake (WebSocket) through its attempts: same members, rules and retries. */
  class UpgradeRequestState extends BaseRequestState {
    constructor(
      req: IncomingMessage,
      upstream: UpstreamRequest,
      readonly socket: Duplex,
      readonly head: Buffer,
    ) {
      super(req, upstream);
    }

    async attempt(member: Member): Promise<boolean> {
      pool.begin(member);
      strategy.requestStart?.(member);
      const outcome = await engine.upgrade(this.socket, this.head, member, this.upstream, stickyHeaders(this, member));
      const tunnel = outcome.tunnel;
      if (tunnel === undefined) return settleAttempt(this, member, outcome, 0, outcome.bytesReceived);
      passive.record(member, outcome, false);
      // The member stays busy for as long as the tunnel is open (bybusyness sees it); bytes count at the end.
      void tunnel.closed.then(({ bytesSent, bytesReceived }) => {
        pool.finish(member, bytesSent, bytesReceived, false);
        strategy.requestEnd?.(member, { bytesSent, bytesReceived, durationMs: outcome.durationMs, ok: true });
        if (member.removed) engine.retire(member);
      });
      return true;
    }

    replayable(): boolean {
      return true; // a handshake has no body
    }

    clientGone(): boolean {
      return this.socket.destroyed || this.socket.writableEnded;
    }

    answer(status: number, message: string): void {
      respondRawError(this.socket, status, message);
    }
  }

  /** The request path for plain HTTP requests. */
  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closed) return Promise.resolve(respondError(res, 503, 'balancer is closed'));
    const upstream = refusedOr(req, false, (status, message) => respondError(res, status, message, true));
    if (upstream === undefined) return Promise.resolve();
    if (upstream.target === '*') return Promise.resolve(void res.writeHead(200, { 'content-length': 0 }).end());
    const withBody = hasBody(req);
    // Kept up to maxBodyBytes for replays; with 0 it still relays (an engine may destroy its body stream).
    const body = withBody ? new ReplayableBody(req, maxBodyBytes) : undefined;
    return run(new HttpRequestState(req, upstream, res, body, withBody));
  }

  /** The request path for Upgrade handshakes. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', ignore); // a client reset must not crash the process; the tunnel notices 'close'
    if (closed) return Promise.resolve(respondRawError(socket, 503, 'balancer is closed'));
    const upstream = refusedOr(req, true, (status, message) => respondRawError(socket, status, message));
    if (upstream === undefined) return Promise.resolve();
    return run(new UpgradeRequestState(req, upstream, socket, head));
  }

  // One context object and one choose function for every pick: pool.select and strategy.pick are
  // synchronous, so the request is set just before and cleared just after (no closure per request).
  const pickContext: { req: IncomingMessage | undefined; headers: IncomingHttpHeaders | undefined } = { req: undefined, headers: undefined };
  const choose = (candidates: readonly Member[]): Member | undefined => strategy.pick(candidates, pickContext as PickContext);

  function stickyHeaders(state: RequestState, member: Member): string[] | undefined {
    return state.sticky === undefined ? undefined : sticky!.responseHeaders(state.sticky, member);
  }

  /**
   * The member for the next attempt: the sticky route's member when it is usable and not yet tried
   * (Apache's find_session_route, with its accounting), else a balanced pick. Under
   * `failover: false` a route whose member exists but cannot serve gets no member at all (503).
   */
  function pick(state: RequestState): Member | undefined {
    const route = state.sticky?.route;
    if (route !== undefined) {
      const { found, member } = pool.findByRoute(route);
      if (member !== undefined && !(state.tried?.has(member) ?? false)) {
        strategy.routed?.(member, pool.usableMembers());
        return member;
      }
      if (found && !sticky!.config.failover) {
        state.stickyRefused = true;
        return undefined;
      }
    }
    pickContext.req = state.req;
    pickContext.headers = state.req.headers;
    try {
      return pool.select(choose, state.tried);
    } finally {
      pickContext.req = undefined;
      pickContext.headers = undefined;
    }
  }

  /** Records how an attempt ended; true when the request is over for good. */
  function settleAttempt(state: RequestState, member: Member, outcome: ForwardOutcome, bytesSent: number, bytesReceived: number): boolean {
    const keepAliveRace = outcome.failure === 'no-response' && outcome.reusedSocket;
    const failed = passive.record(member, outcome, keepAliveRace);
    pool.finish(member, bytesSent, bytesReceived, failed);
    strategy.requestEnd?.(member, { bytesSent, bytesReceived, durationMs: outcome.durationMs, ok: outcome.failure === undefined });
    if (member.removed) engine.retire(member);
    if (outcome.failure === undefined && state.sticky !== undefined) sticky!.learn(state.sticky, member, outcome.setCookie);
    if (outcome.failure === undefined || outcome.failure === 'client-abort' || outcome.responseStarted) return true;
    state.last = outcome;
    state.lastMember = member;
    (state.tried ??= new Set()).add(member);
    return false;
  }

  /** Picks a member, makes the first attempt, and on a retryable failure retries elsewhere. */
  async function run(state: RequestState): Promise<void> {
    if (config.forceRecovery) pool.forceRecovery();
    requestsInFlight++;
    try {
      const member = pick(state);
      if (member === undefined) return state.answer(503, 'no member is available');
      if (await state.attempt(member)) return;
      if (retryable(state)) await retryElsewhere(state);
      else answerFailure(state);
    } finally {
      requestsInFlight--;
    }
  }

  /** Attempts after the first, each on a member not yet tried, through p-retry. */
  async function retryElsewhere(state: RequestState): Promise<void> {
    const attempts = config.retry.attempts ?? Math.min(DEFAULTS.maxAttempts, pool.members.length);
    if (attempts < 2) return answerFailure(state);
    try {
      await pRetry(
        async (attemptNumber) => {
          if (closed) throw new AbortError('balancer closed');
          if (state.clientGone()) throw new AbortError('client gone');
          const member = pick(state);
          if (member === undefined) throw new AbortError('no other member');
          const failed = state.last!;
          const event: RetryEvent = { route: state.lastMember!.route, reason: failed.error?.code ?? failed.failure ?? 'failed', attempt: attemptNumber, method: state.req.method ?? '' };
          // The budget limits retries that add work on members; a refused connection reached none.
          const budgeted = failed.failure !== 'connect';
          if (budgeted && retriesInFlight >= Math.max(budgetMin, Math.floor((requestsInFlight * budgetPercent) / 100))) {
            retriesRefused++;
            events.publish('retryBudgetExhausted', event);
            throw new AbortError('retry budget exhausted');
          }
          retriesMade++;
          events.publish('retry', event);
          if (budgeted) retriesInFlight++;
          try {
            if (await state.attempt(member)) return;
          } finally {
            if (budgeted) retriesInFlight--;
          }
          if (!retryable(state)) throw new AbortError('not retryable');
          throw new RetryableAttempt();
        },
        { retries: attempts - 2, minTimeout: 0, maxTimeout: 0, randomize: false, shouldRetry: ({ error }) => error instanceof RetryableAttempt },
      );
    } catch {
      // Every way out of the loop but success ends here; the last outcome says what to answer.
      answerFailure(state);
    }
  }

  const balancer = function balancer(req: IncomingMessage, res: ServerResponse, _next?: (err?: unknown) => void): void {
    handle(req, res).catch((err: unknown) => {
      // A bug here must not take the process down: answer, and keep serving.
      process.emitWarning(`proxy-balancer: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
      respondError(res, 502, 'internal balancer error');
    });
  } as Balancer;

  const upgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgrade(req, socket, head).catch((err: unknown) => {
      process.emitWarning(`proxy-balancer: unexpected upgrade error: ${err instanceof Error ? err.stack : String(err)}`);
      socket.destroy();
    });
  };

  Object.defineProperties(balancer, {
    pool: { value: pool, enumerable: true },
    upgrade: { value: upgradeHandler, enumerable: true },
    strategy: { value: strategy, enumerable: true },
    // The emitter's methods, returning the balancer for chaining; the hub keeps the listeners.
    on: { value: (event: keyof BalancerEvents, listener: AnyListener) => (untyped(events).on(event, listener), balancer) },
    once: { value: (event: keyof BalancerEvents, listener: AnyListener) => (untyped(events).once(event, listener), balancer) },
    off: { value: (event: keyof BalancerEvents, listener: AnyListener) => (untyped(events).off(event, listener), balancer) },
    snapshot: {
      value: (): BalancerSnapshot => {
        const members = pool.toJSON();
        const totals = { requests: 0, inFlight: 0, failures: 0, bytesSent: 0, bytesReceived: 0 };
        for (const m of members) {
          totals.requests += m.requests;
          totals.inFlight += m.inFlight;
          totals.failures += m.failures;
          totals.bytesSent += m.bytesSent;
          totals.bytesReceived += m.bytesReceived;
        }
        for (const m of members) m.tunnels = engine.tunnelCount(pool.get(m.route)!);
        return {
          strategy: strategy.name,
          members,
          totals,
          inFlight: { requests: requestsInFlight, retries: retriesInFlight },
          retries: { made: retriesMade, refusedByBudget: retriesRefused },
          health: health.snapshot(),
        };
      },
    },
    close: {
      value: async (): Promise<void> => {
        closed = true;
        health.close();
        engine.close();
      },
    },
  });
  return balancer;
}

type AnyListener = (...args: unknown[]) => void;
function ignore(): void {}
const untyped = (hub: BalancerEventHub): import('node:events').EventEmitter => hub as unknown as import('node:events').EventEmitter;

/**
 * Answers the client after the last failed attempt: 503 when `failover: false` kept the session
 * from other members (as Apache's nofailover does), 504 for a head timeout, else 502.
 */
function answerFailure(state: RequestState): void {
  const failure = state.last?.failure;
  if (state.stickyRefused) state.answer(503, 'the session\'s member is unavailable');
  else if (failure === 'timeout') state.answer(504, 'the member did not answer in time');
  else if (failure === 'bad-response') state.answer(502, 'the member sent an invalid response');
  else if (failure === 'closed') state.answer(502, 'the balancer closed');
  else state.answer(502, 'no member answered');
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

/**
 * Whether a failed attempt may go to another member: any method when no byte reached the member;
 * idempotent methods also when the request went out but no response byte came back. A body is
 * resent only when it was kept whole.
 */
function retryable(state: RequestState): boolean {
  const failure = state.last?.failure;
  if (!state.replayable()) return false;
  if (failure === 'connect') return true;
  return failure === 'no-response' && IDEMPOTENT.has(state.req.method ?? '');
}

/** The same short error written raw on an upgrade's socket, which has no ServerResponse. */
function respondRawError(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || socket.writableEnded) return;
  const text = `${status} ${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}

/**
 * A short plain-text error; a response already under way is cut instead. `close`: end the
 * connection after it (the request was refused, so its body is not to be read on).
 */
function respondError(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const text = `${status} ${message}\n`;
  const headers: Record<string, string | number> = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' };
  if (close) headers.connection = 'close';
  // The reason is explicit: a writeHead that threw on a member's reason phrase left it in statusMessage.
  res.writeHead(status, STATUS_CODES[status] ?? '', headers);
  res.end(text);
}
