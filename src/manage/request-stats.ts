/**
 * What the metrics need that the members do not count already: finished requests by member and
 * status class, their duration histogram, outlier ejections and health check results. The request
 * path calls {@link RequestStats.requestEnded} once per finished request; ejections and probe
 * results come from the events the pool and the health checker emit anyway. The rest of the
 * metrics (in flight, bytes, failures, retries) are read from the members and the snapshot at
 * scrape time. It implements the request path's RequestRecorder and imports nothing above the
 * request path, so the balancer can hold one without a cycle.
 */
import type { HealthChecker } from '../health/checker.js';
import type { Member } from '../pool/member.js';
import type { Pool } from '../pool/pool.js';
import type { RequestRecorder } from '../request-path.js';

/**
 * Upper bounds of the request duration histogram's buckets, in seconds: Prometheus' usual ones,
 * plus 30 and 60 because a member's response may take up to `timeoutMs` (60 s by default).
 */
export const DURATION_BOUNDS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The status recorded for a request whose client went away before any answer was written
 * (nginx's 499, "client closed request"); the request path reports it as 0.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** The counts kept for one member (or for requests no member was tried for). */
export class MemberRequestStats {
  /** Finished requests by status class: index 1 for 1xx up to 5xx (6 to 9 for codes a member made up). */
  readonly byClass = new Float64Array(10);
  /** Observations per duration bucket, not cumulative; the last entry is beyond the last bound. */
  readonly durationBuckets = new Float64Array(DURATION_BOUNDS_SECONDS.length + 1);
  /** Sum of the observed durations, in seconds. */
  durationSeconds = 0;
  /** Outlier ejections since the member joined the pool (the member's own count is forgiven over time). */
  ejections = 0;
  healthPasses = 0;
  healthFails = 0;

  /** One finished request: a status class and a bucket incremented, a sum grown. No allocation. */
  observe(status: number, seconds: number): void {
    const statusClass = Math.trunc(status / 100);
    this.byClass[statusClass >= 1 && statusClass <= 9 ? statusClass : 5]! += 1;
    let bucket = 0;
    while (bucket < DURATION_BOUNDS_SECONDS.length && seconds > DURATION_BOUNDS_SECONDS[bucket]!) bucket++;
    this.durationBuckets[bucket]! += 1;
    this.durationSeconds += seconds;
  }
}

/**
 * The per-balancer recorder. Counts are kept per member object, apart from the member (member
 * state lives in pool/); a removed member's counts are dropped with it.
 */
export class RequestStats implements RequestRecorder {
  readonly #pool: Pool;
  readonly #byMember = new Map<Member, MemberRequestStats>();
  /** Requests that ended before any member was tried (every member out: 503). */
  readonly unassigned = new MemberRequestStats();

  constructor(pool: Pool, health: HealthChecker) {
    this.#pool = pool;
    pool.on('memberEjected', (member) => {
      const stats = this.#of(member);
      if (stats !== undefined) stats.ejections++;
    });
    pool.on('memberRemoved', (member) => this.#byMember.delete(member));
    health.on('probe', (member, result) => {
      const stats = this.#of(member);
      if (stats === undefined) return;
      if (result.ok) stats.healthPasses++;
      else stats.healthFails++;
    });
  }

  /**
   * A request is over: `member` answered it last (or was tried last; undefined when none was),
   * `status` is what the client got (0 when it left first, counted as
   * {@link CLIENT_CLOSED_STATUS}), and its attempts took `durationMs` in all, as the engine timed
   * them. Called once per request by the request path.
   */
  requestEnded(member: Member | undefined, status: number, durationMs: number): void {
    const stats = member === undefined ? this.unassigned : this.#of(member);
    stats?.observe(status === 0 ? CLIENT_CLOSED_STATUS : status, durationMs / 1000);
  }

  /** The counts of the member with this route, or undefined when it has none yet. */
  forRoute(route: string): MemberRequestStats | undefined {
    const member = this.#pool.get(route);
    return member === undefined ? undefined : this.#byMember.get(member);
  }

  /** A member's counts, created on first use; undefined once it left the pool (its late requests are not kept). */
  #of(member: Member): MemberRequestStats | undefined {
    let stats = this.#byMember.get(member);
    if (stats === undefined && !member.removed) {
      stats = new MemberRequestStats();
      this.#byMember.set(member, stats);
    }
    return stats;
  }
}
