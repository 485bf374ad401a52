/**
 * createBalancer: wires config, pool, strategy, sticky sessions, health checks and the proxy engine
 * to the request path (request-path.ts), and exposes the handler, snapshot, events and close.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { normalizeOptions, type BalancerOptions } from './config.js';
import { BalancerEventHub, type BalancerEvents } from './events.js';
import { HealthChecker, type MemberHealth } from './health/checker.js';
import { PassiveHealth } from './health/passive.js';
import { renderMetrics } from './manage/metrics.js';
import { RequestStats } from './manage/request-stats.js';
import type { MemberSnapshot } from './pool/member.js';
import { Pool } from './pool/pool.js';
import type { ProxyEngine } from './proxy/engine.js';
import { createEngine } from './proxy/engines/index.js';
import { RequestPath, respondError } from './request-path.js';
import { StickySessions } from './sticky/sessions.js';
import { resolveStrategy } from './strategies/index.js';
import type { Strategy } from './strategies/strategy.js';

/** Plain-JSON state of a balancer, as {@link Balancer.snapshot} returns it. */
export interface BalancerSnapshot {
  /** The strategy's name. */
  strategy: string;
  /** Every member, in configuration order. */
  members: MemberSnapshot[];
  /** The members' counters added up. */
  totals: SnapshotTotals;
  /** Requests the balancer is serving now, and retries among them. */
  inFlight: {
    /** Client requests (and handshakes) in progress. */
    requests: number;
    /** Retry attempts in progress among them (what the retry budget counts). */
    retries: number;
  };
  /** Requests waiting for a member with room (`maxConnections`), and the members at their cap now. */
  queue: {
    /** Requests waiting now. */
    length: number;
    /** Routes of the members at their cap. */
    full: string[];
  };
  /** Retries made, and retries refused by the budget, since the start. */
  retries: {
    /** Retry attempts made. */
    made: number;
    /** Retries the budget refused. */
    refusedByBudget: number;
  };
  /** Active health check state per member (empty when health checks are off). */
  health: MemberHealth[];
}

/** The members' counters added up, in {@link BalancerSnapshot.totals}. */
export interface SnapshotTotals {
  /** Attempts sent to members. */
  requests: number;
  /** Attempts and tunnels open now. */
  inFlight: number;
  /** Attempts charged to members as failures. */
  failures: number;
  /** Request body bytes sent to members. */
  bytesSent: number;
  /** Response body bytes received from members. */
  bytesReceived: number;
}

/** A listener of balancer event `K`. */
export type Listener<K extends keyof BalancerEvents> = (...args: BalancerEvents[K]) => void;

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
  /**
   * The metrics in the Prometheus text exposition format (version 0.0.4): requests by member and
   * status class, a duration histogram, members' in-flight, up, bytes, failures, retries, ejections
   * and health checks. Read at call time; see docs/management.md for every family.
   */
  metrics(): string;
  /** Releases every agent socket and timer. Requests still in flight end with an error. */
  close(): Promise<void>;
  /** Listens to a balancer event (also published on diagnostics channel `proxy-balancer:<event>`). */
  on<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
  /** Listens to one occurrence of a balancer event. */
  once<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
  /** Stops listening. */
  off<K extends keyof BalancerEvents>(event: K, listener: Listener<K>): Balancer;
}

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
  const core = new BalancerCore(options);
  const balancer = function balancer(req: IncomingMessage, res: ServerResponse, _next?: (err?: unknown) => void): void {
    core.handle(req, res);
  } as Balancer;
  const hub = core.events as unknown as EventEmitter;
  Object.defineProperties(balancer, {
    pool: { value: core.pool, enumerable: true },
    upgrade: { value: core.upgrade, enumerable: true },
    strategy: { value: core.strategy, enumerable: true },
    // The emitter's methods, returning the balancer for chaining; the hub keeps the listeners.
    on: { value: (event: string, listener: AnyListener) => (hub.on(event, listener), balancer) },
    once: { value: (event: string, listener: AnyListener) => (hub.once(event, listener), balancer) },
    off: { value: (event: string, listener: AnyListener) => (hub.off(event, listener), balancer) },
    snapshot: { value: (): BalancerSnapshot => core.snapshot() },
    metrics: { value: (): string => core.metrics() },
    close: { value: (): Promise<void> => core.close() },
  });
  return balancer;
}

type AnyListener = (...args: unknown[]) => void;

/** The parts of one balancer, wired together; {@link createBalancer}'s handler stands in front of it. */
class BalancerCore {
  readonly pool: Pool;
  readonly strategy: Strategy;
  readonly events = new BalancerEventHub();
  readonly #engine: ProxyEngine;
  readonly #health: HealthChecker;
  readonly #stats: RequestStats;
  readonly #path: RequestPath;

  constructor(options: BalancerOptions) {
    const config = normalizeOptions(options);
    const strategy = (this.strategy = resolveStrategy(config.strategy, config.hash));
    const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
    const pool = (this.pool = new Pool(config.members, strategy, config.retryMs, Date.now, config.slowStartMs, config.maxConnections));
    const shortest = Math.min(config.timeoutMs, config.connectTimeoutMs, config.idleTimeoutMs, ...config.members.map((m) => m.timeoutMs ?? Infinity));
    const engine = (this.#engine = createEngine(config.engine, {
      timeoutMs: config.timeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      resolutionMs: Math.min(1000, Math.max(5, Math.floor(shortest / 10))),
      tunnelIdleTimeoutMs: config.tunnelIdleTimeoutMs,
      tls: config.tls,
      reverse: config.reverse,
      onProxyResponse: config.onProxyResponse,
    }));
    const passive = new PassiveHealth(pool, config);
    const health = (this.#health = new HealthChecker(pool, config.healthCheck, (member) => member.healthCheck, config.tls));
    this.events.relay(pool);
    this.#stats = new RequestStats(pool, health); // metrics: request outcomes, ejections, probe results
    health.start();
    this.#path = new RequestPath({ config, pool, strategy, sticky, engine, passive, events: this.events, recorder: this.#stats });
    pool.on('memberRemoved', (member, removal) => {
      if (removal.endTunnels) engine.endTunnels(member);
      engine.retire(member);
      sticky?.forgetRoute(member.route);
    });
  }

  /** Serves a plain request; a bug, or a throw in user code (a strategy), is answered 502 and the process serves on. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#path.handle(req, res).catch((err: unknown) => {
      process.emitWarning(`proxy-balancer: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
      respondError(res, 502, 'internal balancer error');
    });
  }

  /** Serves an Upgrade request (bound: it is handed to `server.on('upgrade')` as it is). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.#path.upgrade(req, socket, head).catch((err: unknown) => {
      process.emitWarning(`proxy-balancer: unexpected upgrade error: ${err instanceof Error ? err.stack : String(err)}`);
      socket.destroy();
    });
  };

  snapshot(): BalancerSnapshot {
    const members = this.pool.toJSON();
    const totals: SnapshotTotals = { requests: 0, inFlight: 0, failures: 0, bytesSent: 0, bytesReceived: 0 };
    for (const m of members) {
      totals.requests += m.requests;
      totals.inFlight += m.inFlight;
      totals.failures += m.failures;
      totals.bytesSent += m.bytesSent;
      totals.bytesReceived += m.bytesReceived;
      m.tunnels = this.#engine.tunnelCount(this.pool.get(m.route)!);
    }
    const path = this.#path;
    return {
      strategy: this.strategy.name,
      members,
      totals,
      inFlight: { requests: path.requestsInFlight, retries: path.retriesInFlight },
      queue: { length: path.queueLength, full: members.filter((m) => m.full).map((m) => m.route) },
      retries: { made: path.retriesMade, refusedByBudget: path.retriesRefused },
      health: this.#health.snapshot(),
    };
  }

  metrics(): string {
    return renderMetrics(this.snapshot(), this.#stats);
  }

  async close(): Promise<void> {
    this.#path.closed = true;
    this.#health.close();
    this.#engine.close();
  }
}
