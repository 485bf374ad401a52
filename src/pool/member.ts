/**
 * One back-end member: where it is, how it is configured (weight, lbset, role, admin status), its
 * transient state (error timer, health) and its counters. Only the pool changes a member; strategies,
 * the request path and the management page read it.
 */
import type { MemberConfig, MemberStatus, TlsOptions } from '../options/member.js';
import type { HealthCheckOverride } from '../health/options.js';

/** Apache's H and R flags: how a member takes part in its lbset. */
export type MemberRole = 'active' | 'standby' | 'spare';
/** Apache's D, N and S flags: what the operator allows. */
export type MemberAdmin = 'enabled' | 'disabled' | 'drain' | 'stopped';
/** Why a member is out of rotation right now, if it is. */
export type MemberState = 'ok' | 'error' | 'unhealthy' | 'disabled' | 'stopped' | 'drain';

/** Plain-JSON view of a member, as `snapshot()` returns it. */
export interface MemberSnapshot {
  /** The member's route: its name in sticky cookies and the pool API. */
  route: string;
  /** The member URL. */
  url: string;
  /** Apache's loadfactor, 1 to 100. */
  weight: number;
  /** The tier: lower lbsets serve first. */
  lbset: number;
  /** The configured status: one of {@link MemberStatus}, or `active`. */
  status: MemberStatus | 'active';
  /** How it takes part in its lbset: `active`, `standby` (hot standby) or `spare` (hot spare). */
  role: MemberRole;
  /** What the operator allows: `enabled`, `disabled`, `drain` or `stopped`. */
  admin: MemberAdmin;
  /** Whether it takes new (unsticky) requests now, and if not, why. */
  state: MemberState;
  /** Epoch ms of the last state change. */
  stateSince: number;
  /** Epoch ms when an error state ends, or null when not in error. */
  errorUntil: number | null;
  /** Attempts sent to the member since the start (retries and WebSocket handshakes included). */
  requests: number;
  /** Attempts and open tunnels on the member now. */
  inFlight: number;
  /** Request body bytes sent to the member. */
  bytesSent: number;
  /** Response body bytes received from the member. */
  bytesReceived: number;
  /** Attempts charged to the member as failures. */
  failures: number;
  /** Times the member was tried again after its error timer ran out, since it last served. */
  retries: number;
  /** The lbfactor in effect now (below weight x 100 during slow start). */
  effectiveLbfactor: number;
  /** Failures in a row (outlier detection); a success resets it. */
  consecutiveFailures: number;
  /** Outlier ejections so far (each doubles the next one's length). */
  ejections: number;
  /** Open Upgrade tunnels (WebSockets) on the member. */
  tunnels: number;
  /** The member's connection cap (`maxConnections`), or null when it has none. */
  maxConnections: number | null;
  /** Whether it is at its cap now: new requests go elsewhere or wait in the queue. */
  full: boolean;
  /** Why the member last went into error or failed its health checks, and when (epoch ms); null if it never did. */
  lastError: LastError | null;
}

/** Why a member last went into error or failed its health checks. */
export interface LastError {
  /** What happened, in words. */
  reason: string;
  /** When, in epoch ms. */
  at: number;
}

/**
 * A back-end member, as the pool holds it. Read its fields; change it only through the pool.
 */
export class Member {
  /** Parsed member URL. */
  readonly url: URL;
  /** The URL's path without its trailing slash (`''` for `/`): prepended to every request target. */
  readonly basePath: string;
  /** Unique, cookie-safe name of the member. */
  readonly route: string;
  /** Apache loadfactor, 1..100. */
  weight: number;
  /** Apache's internal `lbfactor` at full weight: weight times 100, truncated, as mod_proxy keeps it. */
  fullLbfactor: number;
  /** The tier (lbset): lower tiers serve first. */
  lbset: number;
  /** This member's error-state length, or undefined for the balancer's. */
  readonly retryMs: number | undefined;
  /** This member's response-head timeout, or undefined for the balancer's. */
  readonly timeoutMs: number | undefined;
  /** @internal This member's health-check override (configuration only; probe state lives in the checker). */
  readonly healthCheck: HealthCheckOverride | false | undefined;
  /** @internal This member's own TLS fields, over the balancer's (configuration only). */
  readonly tls: TlsOptions | undefined;
  /** How it takes part in its lbset (Apache's H and R flags). */
  role: MemberRole;
  /** What the operator allows (Apache's D, N and S flags). */
  admin: MemberAdmin;
  /** Epoch ms when the member entered error; 0 when not in error (Apache's E flag and error_time). */
  errorSince = 0;
  /** Epoch ms when the error state may be retried. */
  errorUntil = 0;
  /** Set by active health checks (Apache's C flag). */
  unhealthy = false;
  /** Set when the member is removed from the pool, so in-flight work can tell. */
  removed = false;
  /** Epoch ms of the last state change. */
  stateSince: number;
  /** Slow start: epoch ms when the ramp began and ends; `rampUntil` 0 when at full weight. */
  rampSince = 0;
  /** Slow start: epoch ms when the ramp ends; 0 when at full weight. */
  rampUntil = 0;
  /** Failures in a row (outlier detection); reset by a success. */
  consecutiveFailures = 0;
  /** Outlier ejections so far (each doubles the next one's length); forgiven after a long healthy spell. */
  ejections = 0;
  /** Epoch ms of the last ejection's end, to forgive a member that stayed healthy. */
  lastEjectionEnd = 0;
  /** Why the member last went into error or failed its health checks (shown by the management page). */
  lastError: LastError | null = null;

  /** The most requests and tunnels in flight at once (Infinity: no cap); set by the pool. */
  maxConnections = Infinity;
  /** @internal This member's own cap, over the balancer's (configuration only). */
  readonly ownMaxConnections: number | undefined;

  /** Attempts sent to the member since the start. */
  requests = 0;
  /** Attempts and open tunnels on the member now. */
  inFlight = 0;
  /** Request body bytes sent to the member. */
  bytesSent = 0;
  /** Response body bytes received from the member. */
  bytesReceived = 0;
  /** Attempts charged to the member as failures. */
  failures = 0;
  /** Times the member was tried again after its error timer ran out, since it last served. */
  retries = 0;

  readonly #now: () => number;

  /** @internal Members are made by the pool from validated options. */
  constructor(config: MemberConfig, now: () => number) {
    this.#now = now;
    this.url = config.url;
    const path = config.url.pathname;
    this.basePath = path.endsWith('/') ? path.slice(0, -1) : path;
    this.route = config.route;
    this.weight = config.weight;
    this.fullLbfactor = lbfactorOf(config.weight);
    this.lbset = config.lbset;
    this.retryMs = config.retryMs;
    this.timeoutMs = config.timeoutMs;
    this.healthCheck = config.healthCheck;
    this.tls = config.tls;
    this.ownMaxConnections = config.maxConnections;
    this.role = config.status === 'standby' || config.status === 'spare' ? config.status : 'active';
    this.admin = config.status === 'disabled' || config.status === 'drain' || config.status === 'stopped' ? config.status : 'enabled';
    this.stateSince = now();
  }

  /**
   * The lbfactor strategies weigh with: the full one, or during slow start a share that grows
   * linearly from 10% to 100% (HAProxy's slowstart ramp). Reading it costs one field test when no
   * ramp is running.
   */
  get lbfactor(): number {
    if (this.rampUntil === 0) return this.fullLbfactor;
    const now = this.#now();
    if (now >= this.rampUntil) {
      this.rampUntil = 0;
      return this.fullLbfactor;
    }
    const share = Math.max(0.1, (now - this.rampSince) / (this.rampUntil - this.rampSince));
    return Math.max(1, Math.trunc(this.fullLbfactor * share));
  }

  /** Apache's PROXY_WORKER_IS_USABLE: not disabled, stopped, in error or failing health checks. Drain stays usable (for sticky traffic). */
  get usable(): boolean {
    return this.errorSince === 0 && !this.unhealthy && (this.admin === 'enabled' || this.admin === 'drain');
  }

  /** The configured status in the public option's terms. */
  get status(): MemberStatus | 'active' {
    return this.admin !== 'enabled' ? this.admin : this.role;
  }

  /** At its connection cap now. */
  get full(): boolean {
    return this.inFlight >= this.maxConnections;
  }

  /** Whether it takes new requests now, and if not, why. */
  get state(): MemberState {
    if (this.admin === 'disabled' || this.admin === 'stopped') return this.admin;
    if (this.errorSince !== 0) return 'error';
    if (this.unhealthy) return 'unhealthy';
    return this.admin === 'drain' ? 'drain' : 'ok';
  }

  /** Plain JSON of the member, as `snapshot()` lists it. */
  toJSON(): MemberSnapshot {
    return {
      route: this.route,
      url: this.url.href,
      weight: this.weight,
      lbset: this.lbset,
      status: this.status,
      role: this.role,
      admin: this.admin,
      state: this.state,
      stateSince: this.stateSince,
      errorUntil: this.errorSince === 0 ? null : this.errorUntil,
      requests: this.requests,
      inFlight: this.inFlight,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      failures: this.failures,
      retries: this.retries,
      effectiveLbfactor: this.lbfactor,
      consecutiveFailures: this.consecutiveFailures,
      ejections: this.ejections,
      tunnels: 0,
      maxConnections: Number.isFinite(this.maxConnections) ? this.maxConnections : null,
      full: this.full,
      lastError: this.lastError,
    };
  }
}

/** Apache keeps loadfactor times 100 as an int: `(int)(atof(val) * 100.0)`. */
export function lbfactorOf(weight: number): number {
  return Math.trunc(weight * 100);
}
