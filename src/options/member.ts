/**
 * A member's option types: what `members[i]` and `pool.add()` take (MemberOptions), the TLS settings
 * a member may carry, and the validated form the Member class is built from (MemberConfig). Part of
 * the options layer, apart from config.ts, so pool/member.ts reads them without importing config.ts
 * (config.ts imports the Strategy type, which names the Member class: that was an import cycle).
 * Re-exported by config.ts; validated there (normalizeMember).
 */
import type { HealthCheckOptions, HealthCheckOverride } from '../health/options.js';

/**
 * A member's administrative status, as Apache's `status=` flags:
 * - `disabled` (D): takes no traffic, not even sticky sessions.
 * - `stopped` (S): like `disabled`; also skipped by health checks.
 * - `drain` (N): takes no new sessions, keeps serving its sticky ones.
 * - `standby` (H, hot standby): serves only when nothing else in its lbset can.
 * - `spare` (R, hot spare): stands in one for one for unusable members of its lbset.
 */
export type MemberStatus = 'disabled' | 'standby' | 'spare' | 'drain' | 'stopped';

/** One back-end member (Apache's `BalancerMember`). */
export interface MemberOptions {
  /** Absolute `http:` or `https:` URL; a path is prepended to every request path, as Apache does. */
  url: string;
  /** Cookie-safe token naming the member in sticky cookies and the pool API. Derived from the URL when absent. */
  route?: string;
  /** Apache's `loadfactor`: a number from 1 to 100 (kept times 100, truncated, as Apache 2.4 does). Default 1. */
  weight?: number;
  /** Apache's `lbset` tier: lower tiers are used first. Integer >= 0, default 0. */
  lbset?: number;
  /** Administrative status; absent means an ordinary active member. */
  status?: MemberStatus;
  /** This member's own error-state length (Apache `retry=` on a BalancerMember); default the balancer's `retryMs`. */
  retryMs?: number;
  /** This member's own response-head timeout (Apache `timeout=` on a BalancerMember); default the balancer's `timeoutMs`. */
  timeoutMs?: number;
  /** This member's health check: fields that override the balancer's `healthCheck`, or `false` for none. */
  healthCheck?: Partial<HealthCheckOptions> | false;
  /** This member's own connection cap (Apache `max=`); default the balancer's `maxConnections`. */
  maxConnections?: number;
  /** TLS settings for this `https:` member: fields that override the balancer's `tls`. */
  tls?: TlsOptions;
}

/**
 * How the balancer speaks TLS to `https:` members (proxying, Upgrade tunnels and health probes).
 * Absent fields keep Node's defaults: the system's CAs, the member's host as SNI, verification on.
 */
export interface TlsOptions {
  /** Trusted CA certificates (PEM), replacing the system's: for members with a private CA. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** A client certificate chain (PEM), for members that ask for one (mutual TLS). */
  cert?: string | Buffer | readonly (string | Buffer)[];
  /** The client certificate's private key (PEM). */
  key?: string | Buffer | readonly (string | Buffer)[];
  /** The private key's passphrase. */
  passphrase?: string;
  /** The server name sent in SNI and checked against the member's certificate. Default: the URL's host name. */
  servername?: string;
  /** Verify the member's certificate. Default true; false only for tests and trusted links. */
  rejectUnauthorized?: boolean;
  /** Lowest TLS version offered. Default Node's (TLSv1.2). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** A member's options after validation, with defaults applied. */
export interface MemberConfig {
  url: URL;
  route: string;
  weight: number;
  lbset: number;
  status: MemberStatus | 'active';
  /** Undefined: the balancer's value. */
  retryMs: number | undefined;
  timeoutMs: number | undefined;
  healthCheck: HealthCheckOverride | false | undefined;
  /** Undefined: the balancer's value. */
  maxConnections: number | undefined;
  /** The member's own TLS fields (merged over the balancer's by {@link effectiveTls}). */
  tls: TlsOptions | undefined;
}
