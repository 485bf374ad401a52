/**
 * createBalancer: wires config, pool, strategy and proxy engine, and owns the request path:
 * pick a member, forward, record the outcome, and on a retryable failure try the next member with
 * the failed ones excluded. Nothing upstream reaches into a later stage's state.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeOptions, type BalancerOptions } from './config.js';
import type { Member, MemberSnapshot } from './pool/member.js';
import { Pool } from './pool/pool.js';
import { ReplayableBody, hasBody } from './proxy/body.js';
import { ProxyEngine, type ForwardOutcome } from './proxy/engine.js';
import { forwardedRequestHeaders } from './proxy/headers.js';
import { resolveStrategy } from './strategies/index.js';
import type { Strategy } from './strategies/strategy.js';

/** Plain-JSON state of a balancer, as {@link Balancer.snapshot} returns it. */
export interface BalancerSnapshot {
  strategy: string;
  members: MemberSnapshot[];
  totals: { requests: number; inFlight: number; failures: number; bytesSent: number; bytesReceived: number };
}

/**
 * A balancer: a request handler `(req, res, next?)` for Express, Connect or plain `node:http`,
 * with its pool, snapshot and close on it. It always answers the request itself.
 */
export interface Balancer {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** The members and their runtime controls (add, remove, drain, setWeight, ...). */
  readonly pool: Pool;
  /** The strategy in use. */
  readonly strategy: Strategy;
  /** Members, states and counters as plain JSON. */
  snapshot(): BalancerSnapshot;
  /** Releases every agent socket and timer. Requests still in flight end with an error. */
  close(): Promise<void>;
}

/** Idempotent methods (RFC 9110 9.2.2): safe to resend after the request reached a member. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Bodies up to this size are kept so a failed attempt can be replayed elsewhere. */
const MAX_REPLAY_BODY_BYTES = 64 * 1024;
/** Attempts per request at most, whatever the pool size (Apache's maxattempts tops out at 99). */
const MAX_ATTEMPTS = 10;

/**
 * Creates a balancer over `options.members`. Throws {@link BalancerConfigError} for any bad option.
 *
 * @example
 * ```ts
 * const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002' }] });
 * http.createServer(balancer).listen(8080);
 * ```
 */
export function createBalancer(options: BalancerOptions): Balancer {
  const config = normalizeOptions(options);
  const strategy = resolveStrategy(config.strategy);
  const pool = new Pool(config.members, strategy, config.retryMs);
  const engine = new ProxyEngine({ timeoutMs: config.timeoutMs, preserveHost: config.preserveHost });
  let closed = false;

  pool.on('memberRemoved', (member) => engine.retire(member));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closed) return respondError(res, 503, 'balancer is closed');
    req.headers = forwardedRequestHeaders(req, { upgrade: false });
    const body = hasBody(req) ? new ReplayableBody(req, MAX_REPLAY_BODY_BYTES) : undefined;
    const context = { req };
    const choose = (candidates: readonly Member[]): Member | undefined => strategy.pick(candidates, context);
    let tried: Set<Member> | undefined;
    let last: ForwardOutcome | undefined;
    const maxAttempts = Math.min(MAX_ATTEMPTS, Math.max(1, pool.members.length));
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const member = pool.select(choose, tried);
      if (member === undefined) break;
      const outcome = await attemptOn(member, req, res, body);
      if (outcome.failure === undefined || outcome.failure === 'client-abort' || outcome.responseStarted) return;
      last = outcome;
      if (!retryable(outcome, req, body)) break;
      (tried ??= new Set()).add(member);
    }
    if (last === undefined) return respondError(res, 503, 'no member is available');
    if (last.failure === 'timeout') return respondError(res, 504, 'the member did not answer in time');
    respondError(res, 502, 'no member answered');
  }

  /** One attempt: count it, forward it, record how it ended. */
  async function attemptOn(member: Member, req: IncomingMessage, res: ServerResponse, body: ReplayableBody | undefined): Promise<ForwardOutcome> {
    pool.begin(member);
    strategy.requestStart?.(member);
    const outcome = await engine.forward(req, res, member, { body });
    const failure = outcome.failure;
    const charged = failure !== undefined && failure !== 'client-abort';
    pool.finish(member, outcome.bytesSent, outcome.bytesReceived, charged);
    strategy.requestEnd?.(member, { bytesSent: outcome.bytesSent, bytesReceived: outcome.bytesReceived, durationMs: outcome.durationMs, ok: failure === undefined });
    if (failure === undefined) pool.markSuccess(member);
    else if (failure === 'connect') pool.markError(member, `connect failed: ${outcome.error?.code ?? outcome.error?.message ?? 'unknown'}`);
    if (member.removed) engine.retire(member);
    return outcome;
  }

  const balancer = function balancer(req: IncomingMessage, res: ServerResponse, _next?: (err?: unknown) => void): void {
    handle(req, res).catch((err: unknown) => {
      // A bug here must not take the process down: answer, and keep serving.
      process.emitWarning(`proxy-balancer: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
      respondError(res, 502, 'internal balancer error');
    });
  } as Balancer;

  Object.defineProperties(balancer, {
    pool: { value: pool, enumerable: true },
    strategy: { value: strategy, enumerable: true },
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
        return { strategy: strategy.name, members, totals };
      },
    },
    close: {
      value: async (): Promise<void> => {
        closed = true;
        engine.close();
      },
    },
  });
  return balancer;
}

/**
 * Whether a failed attempt may go to another member: any method when no byte reached the member;
 * idempotent methods also when the request went out but no response byte came back. A body is
 * resent only when it was kept whole.
 */
function retryable(outcome: ForwardOutcome, req: IncomingMessage, body: ReplayableBody | undefined): boolean {
  if (body !== undefined && !body.replayable) return false;
  if (outcome.failure === 'connect') return true;
  return outcome.failure === 'no-response' && IDEMPOTENT.has(req.method ?? '');
}

/** A short plain-text error; a response already under way is cut instead. */
function respondError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const text = `${status} ${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
