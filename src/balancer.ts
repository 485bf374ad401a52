/**
 * createBalancer: wires config, pool, strategy, sticky sessions, health checks and the proxy engine
 * to the request path (request-path.ts), and exposes the handler, snapshot, events and close.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { normalizeOptions, type BalancerOptions } from './config.js';
import { BalancerEventHub, type BalancerEvents } from './events.js';
import { HealthChecker, type MemberHealth } from './health/checker.js';
import { PassiveHealth } from './health/passive.js';
import { renderMetrics } from './manage/metrics.js';
import { RequestStats } from './manage/request-stats.js';
import type { MemberSnapshot } from './pool/member.js';
import { Pool } from './pool/pool.js';
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
  const config = normalizeOptions(options);
  const strategy = resolveStrategy(config.strategy, config.hash);
  const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
  const pool = new Pool(config.members, strategy, config.retryMs, Date.now, config.slowStartMs);
  const shortest = Math.min(config.timeoutMs, config.connectTimeoutMs, config.idleTimeoutMs, ...config.members.map((m) => m.timeoutMs ?? Infinity));
  const engine = createEngine(config.engine, {
    timeoutMs: config.timeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    resolutionMs: Math.min(1000, Math.max(5, Math.floor(shortest / 10))),
    tunnelIdleTimeoutMs: config.tunnelIdleTimeoutMs,
    tls: config.tls,
    reverse: config.reverse,
    onProxyResponse: config.onProxyResponse,
  });
  const passive = new PassiveHealth(pool, config);
  const health = new HealthChecker(pool, config.healthCheck, (member) => member.healthCheck, config.tls);
  const events = new BalancerEventHub();
  events.relay(pool);
  const stats = new RequestStats(pool, health); // metrics: request outcomes, ejections, probe results
  health.start();
  const path = new RequestPath({ config, pool, strategy, sticky, engine, passive, events, recorder: stats });

  pool.on('memberRemoved', (member, removal) => {
    if (removal.endTunnels) engine.endTunnels(member);
    engine.retire(member);
    sticky?.forgetRoute(member.route);
  });

  const balancer = function balancer(req: IncomingMessage, res: ServerResponse, _next?: (err?: unknown) => void): void {
    path.handle(req, res).catch((err: unknown) => {
      // A bug, or a throw in user code (a strategy), must not take the process down: answer, and keep serving.
      process.emitWarning(`proxy-balancer: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
      respondError(res, 502, 'internal balancer error');
    });
  } as Balancer;

  const upgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    path.upgrade(req, socket, head).catch((err: unknown) => {
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
          inFlight: { requests: path.requestsInFlight, retries: path.retriesInFlight },
          retries: { made: path.retriesMade, refusedByBudget: path.retriesRefused },
          health: health.snapshot(),
        };
      },
    },
    metrics: { value: (): string => renderMetrics(balancer.snapshot(), stats) },
    close: {
      value: async (): Promise<void> => {
        path.closed = true;
        health.close();
        engine.close();
      },
    },
  });
  return balancer;
}

type AnyListener = (...args: unknown[]) => void;
const untyped = (hub: BalancerEventHub): import('node:events').EventEmitter => hub as unknown as import('node:events').EventEmitter;
