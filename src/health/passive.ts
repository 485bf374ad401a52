/**
 * Passive health: what live traffic says about a member. Apache's rules first (a failed connection,
 * a `failonstatus` status or, with `failontimeout`, a response-head timeout put the member in error
 * for its retry time), then Envoy's outlier detection on top: consecutive failures eject a member,
 * for longer each time it offends again, never more than a share of its lbset at once.
 */
import type { BalancerConfig } from '../config.js';
import type { Member } from '../pool/member.js';
import type { Pool } from '../pool/pool.js';
import type { ForwardOutcome } from '../proxy/outcome.js';

/** A healthy spell this many ejection-lengths long forgives a member's earlier ejections. */
const FORGIVE_AFTER_EJECTIONS = 4;

export class PassiveHealth {
  readonly #pool: Pool;
  readonly #config: Pick<BalancerConfig, 'failOnStatus' | 'failOnTimeout' | 'outlierDetection'>;

  constructor(pool: Pool, config: Pick<BalancerConfig, 'failOnStatus' | 'failOnTimeout' | 'outlierDetection'>) {
    this.#pool = pool;
    this.#config = config;
  }

  /**
   * Records how an attempt on `member` ended and returns whether it counts as the member's
   * failure. `keepAliveRace` marks a reset on a reused keep-alive socket before any response byte:
   * as in Apache's mod_proxy_http, the member is assumed fine (it closed an idle connection as it
   * was reused), so it is not charged.
   */
  record(member: Member, outcome: ForwardOutcome, keepAliveRace: boolean): boolean {
    const pool = this.#pool;
    switch (outcome.failure) {
      case undefined:
        if (this.#config.failOnStatus.has(outcome.status)) {
          pool.markError(member, `status ${outcome.status} (failOnStatus)`);
          return this.#failed(member, `status ${outcome.status}`);
        }
        if (outcome.status >= 500) return this.#failed(member, `status ${outcome.status}`);
        pool.markSuccess(member);
        return false;
      case 'client-abort':
      case 'client-timeout':
      case 'closed':
      case 'internal':
        return false;
      case 'connect':
        pool.markError(member, `connect failed: ${outcome.error?.code ?? outcome.error?.message ?? 'unknown'}`);
        return this.#failed(member, 'connect failed');
      case 'timeout':
        if (this.#config.failOnTimeout) pool.markError(member, 'response timeout (failOnTimeout)');
        return this.#failed(member, 'response timeout');
      case 'no-response':
        if (keepAliveRace) return false;
        return this.#failed(member, `no response: ${outcome.error?.code ?? 'closed'}`);
      case 'truncated':
        return this.#failed(member, `response cut: ${outcome.error?.code ?? 'closed'}`);
      case 'bad-response':
        return this.#failed(member, `invalid response: ${outcome.error?.message ?? 'unknown'}`);
    }
  }

  #failed(member: Member, reason: string): true {
    const outlier = this.#config.outlierDetection;
    const pool = this.#pool;
    const failures = pool.noteFailure(member);
    if (outlier === undefined || failures < outlier.consecutiveFailures || member.errorSince !== 0) return true;
    const now = Date.now();
    const base = pool.retryMsOf(member);
    if (member.ejections > 0 && now - member.lastEjectionEnd > FORGIVE_AFTER_EJECTIONS * Math.max(base, 1)) pool.forgiveEjections(member);
    const durationMs = Math.min(outlier.maxEjectionMs, base * 2 ** member.ejections);
    pool.eject(member, `${failures} consecutive failures, last: ${reason}`, durationMs, outlier.maxEjectionPercent);
    return true;
  }
}
