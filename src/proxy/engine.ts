/**
 * The proxy engine seam. The request path calls `forward(req, res, member, upstream)` and learns
 * how the attempt ended (connected? response head? status? bytes? failure kind?), which is what
 * failover, passive health and `bytraffic` read. An engine owns the connection pools of its
 * members and the deadline sweep, and never answers the client with an error itself: the request
 * path decides between a retry and an error response. Engines differ only in how an HTTP attempt
 * reaches a member (engines/); Upgrade tunnels, deadlines and close are the same for all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { effectiveTls, type ProxyResponseHook, type ReverseConfig, type TlsOptions } from '../config.js';
import { BalancerClosedError } from '../errors.js';
import type { Member } from '../pool/member.js';
import type { ReplayableBody } from './body.js';
import { DeadlineSweep } from './deadlines.js';
import type { Exchange, ExchangeContext } from './exchange.js';
import type { ForwardOutcome } from './outcome.js';
import type { UpstreamRequest } from './target.js';
import { forwardUpgrade, type Tunnel, type UpgradeOutcome } from './upgrade.js';

/** Options every engine takes. */
export interface EngineOptions {
  /** Time allowed for the response head, in ms, from the attempt's start (a member's own `timeoutMs` wins). */
  timeoutMs: number;
  /** Time allowed to connect, in ms. */
  connectTimeoutMs: number;
  /** Longest silence allowed in a response body, in ms. */
  idleTimeoutMs: number;
  /** How often deadlines are checked, in ms: timeouts fire up to this late. */
  resolutionMs: number;
  /** Longest silence allowed in an open tunnel, in ms; 0: none. */
  tunnelIdleTimeoutMs: number;
  /** The balancer's TLS settings for `https:` members (each member may override fields). */
  tls: TlsOptions | undefined;
  /** ProxyPassReverse rewriting of response heads, or undefined when off. */
  reverse: ReverseConfig | undefined;
  /** The user's response-head hook, or undefined. */
  onProxyResponse: ProxyResponseHook | undefined;
}

/** An attempt after close(): it never starts, and nothing may retry it. */
const CLOSED_OUTCOME: ForwardOutcome = Object.freeze({
  failure: 'closed',
  status: 0,
  responseStarted: false,
  bytesSent: 0,
  bytesReceived: 0,
  durationMs: 0,
  error: new BalancerClosedError(),
  reusedSocket: false,
  setCookie: undefined,
});

/** The seam; `E` is the engine's own exchange class. */
export abstract class ProxyEngine<E extends Exchange = Exchange> {
  protected readonly options: EngineOptions;
  protected readonly sweep: DeadlineSweep;
  /** What every exchange of this engine shares. */
  protected readonly context: ExchangeContext;
  protected closed = false;
  readonly #closing = new AbortController();
  // Tunnels are few and long-lived, so a Set per member is fine here (unlike the request hot path).
  readonly #tunnels = new Map<Member, Set<Tunnel>>();

  constructor(options: EngineOptions) {
    this.options = options;
    this.sweep = new DeadlineSweep(options.resolutionMs);
    this.context = { sweep: this.sweep, reverse: options.reverse, onProxyResponse: options.onProxyResponse };
  }

  /**
   * Forwards one attempt of `req` to `member`, with `upstream.headers` as they are (Host included:
   * the request path sets it per member). `body` is the request body to send (and replay),
   * absent when the request has none; `responseHeaders` are extra fields for the response, flat
   * `[name, value, ...]` (the sticky Set-Cookie). Resolves when the exchange is over; never rejects.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    member: Member,
    upstream: UpstreamRequest,
    body: ReplayableBody | undefined,
    responseHeaders: readonly string[] | undefined,
  ): Promise<ForwardOutcome> {
    if (this.closed) return Promise.resolve(CLOSED_OUTCOME);
    return new Promise((resolve) => {
      const o = this.options;
      const timeouts = { connectMs: o.connectTimeoutMs, headMs: member.timeoutMs ?? o.timeoutMs, idleMs: o.idleTimeoutMs };
      const exchange = new this.exchangeClass(req, res, member, body, responseHeaders, this.context, timeouts, resolve);
      exchange.begin();
      this.send(exchange, upstream);
    });
  }

  /** The engine's own exchange class: what it hears back from the member. */
  protected abstract readonly exchangeClass: new (...args: ConstructorParameters<typeof Exchange>) => E;

  /**
   * Sends the request of one exchange (already watching its client and deadlines) to its member.
   * Must not throw; a failure to send settles the exchange. Not called after close().
   */
  protected abstract send(exchange: E, upstream: UpstreamRequest): void;

  /** The TLS settings of `member`'s connections, or undefined (http:, or Node's defaults). */
  protected tlsOf(member: Member): TlsOptions | undefined {
    return effectiveTls(this.options.tls, member);
  }

  /** Releases the connections kept for `member`. */
  protected abstract releaseConnections(member: Member): void;

  /** Releases every connection. */
  protected abstract releaseAll(): void;

  /**
   * Forwards an Upgrade handshake to `member` (on node:http for every engine: a tunnel needs the
   * handshake's non-101 answers relayed, and a failure before the 101 retried elsewhere).
   * An open tunnel is tracked until it closes.
   */
  async upgrade(
    socket: Duplex,
    head: Buffer,
    member: Member,
    upstream: UpstreamRequest,
    responseHeaders: readonly string[] | undefined,
  ): Promise<UpgradeOutcome> {
    const o = this.options;
    const timeouts = { connectMs: o.connectTimeoutMs, headMs: member.timeoutMs ?? o.timeoutMs, tunnelIdleMs: o.tunnelIdleTimeoutMs };
    const outcome = await forwardUpgrade(socket, head, member, upstream, responseHeaders, timeouts, this.tlsOf(member), this.#closing.signal);
    const tunnel = outcome.tunnel;
    if (tunnel !== undefined) {
      let open = this.#tunnels.get(member);
      if (open === undefined) this.#tunnels.set(member, (open = new Set()));
      open.add(tunnel);
      void tunnel.closed.then(() => {
        open.delete(tunnel);
        if (open.size === 0 && this.#tunnels.get(member) === open) this.#tunnels.delete(member);
      });
    }
    return outcome;
  }

  /** Open tunnels on a member. */
  tunnelCount(member: Member): number {
    return this.#tunnels.get(member)?.size ?? 0;
  }

  /** Ends every open tunnel on `member`. */
  endTunnels(member: Member): void {
    for (const tunnel of this.#tunnels.get(member) ?? []) tunnel.end();
  }

  /** Releases a removed member's connections once nothing is in flight on it. */
  retire(member: Member): void {
    if (member.inFlight > 0) return;
    this.releaseConnections(member);
  }

  /**
   * Ends every attempt in flight (each settles as `closed`, so nothing is retried), every tunnel and
   * handshake, and releases every connection. Later attempts settle as `closed` at once.
   */
  close(): void {
    this.closed = true;
    this.#closing.abort();
    this.sweep.forEach((entry) => (entry as Exchange).close());
    for (const tunnels of this.#tunnels.values()) for (const tunnel of tunnels) tunnel.end();
    this.releaseAll();
    this.sweep.stop();
  }
}
