/**
 * Apache's `lbstatus` credit, shared by byrequests, bybusyness and sticky accounting: every offered
 * member earns its lbfactor, the winner pays back the total offered. Kept per strategy instance,
 * keyed by member, never in the member (DESIGN: strategies own their bookkeeping).
 */
import type { Member } from '../pool/member.js';
import type { MembersChange } from './strategy.js';

export class LbStatus {
  // A Map keyed by member: O(1) and pruned on removal; members are few, so no array indexing tricks.
  readonly #status = new Map<Member, number>();

  get(member: Member): number {
    return this.#status.get(member) ?? 0;
  }

  /** `lbstatus += lbfactor`; returns the new value. Pass `lbfactor` when the caller has read it already. */
  credit(member: Member, lbfactor = member.lbfactor): number {
    const value = (this.#status.get(member) ?? 0) + lbfactor;
    this.#status.set(member, value);
    return value;
  }

  /** `lbstatus -= total`. */
  debit(member: Member, total: number): void {
    this.#status.set(member, (this.#status.get(member) ?? 0) - total);
  }

  /**
   * Apache's default accounting for a sticky hit (proxy_balancer_pre_request): every usable member,
   * in any lbset, earns its lbfactor; the routed member pays back the total.
   */
  routed(member: Member, usable: readonly Member[]): void {
    let total = 0;
    for (const m of usable) {
      const lbfactor = m.lbfactor; // read once: during slow start it moves with the clock
      this.credit(m, lbfactor);
      total += lbfactor;
    }
    this.debit(member, total);
  }

  /** A removed member is forgotten; a weight change sets every lbstatus to its lbfactor, as Apache's manager does. */
  membersChanged(members: readonly Member[], change: MembersChange, member: Member): void {
    if (change === 'removed') this.#status.delete(member);
    else if (change === 'weight') for (const m of members) this.#status.set(m, m.lbfactor);
  }

  reset(): void {
    this.#status.clear();
  }
}
