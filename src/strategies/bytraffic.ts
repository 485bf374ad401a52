/**
 * `bytraffic`: Apache 2.4's traffic-weighted method (mod_lbmethod_bytraffic.c). Score is
 * `sent / lbfactor + received / lbfactor` in integer division, lowest wins, ties go to the earlier
 * member. Counts are cumulative and never decay, as in Apache, so a new member takes the new traffic
 * until its bytes catch up. Apache counts as it streams: `transferred` is everything passed to the
 * member, request headers included (ap_proxy_pass_brigade), and `read` the status line plus the
 * response body (mod_proxy_http.c). This counts request and response body bytes when the request ends.
 */
import type { Member } from '../pool/member.js';
import type { MembersChange, RequestEndInfo, Strategy } from './strategy.js';

interface Traffic {
  sent: number;
  received: number;
}

export class ByTraffic implements Strategy {
  readonly name = 'bytraffic';
  readonly #traffic = new Map<Member, Traffic>();

  pick(candidates: readonly Member[]): Member | undefined {
    let best: Member | undefined;
    let bestScore = 0;
    for (const c of candidates) {
      const score = this.score(c);
      if (best === undefined || score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }

  /** Apache's integer score; exposed for snapshots and tests. */
  score(member: Member): number {
    const t = this.#traffic.get(member);
    if (t === undefined) return 0;
    return Math.floor(t.sent / member.lbfactor) + Math.floor(t.received / member.lbfactor);
  }

  requestEnd(member: Member, info: RequestEndInfo): void {
    const t = this.#traffic.get(member);
    if (t === undefined) this.#traffic.set(member, { sent: info.bytesSent, received: info.bytesReceived });
    else {
      t.sent += info.bytesSent;
      t.received += info.bytesReceived;
    }
  }

  membersChanged(_members: readonly Member[], change: MembersChange, member: Member): void {
    if (change === 'removed') this.#traffic.delete(member);
  }

  reset(): void {
    this.#traffic.clear();
  }
}
