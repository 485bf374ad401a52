/**
 * `byrequests`: Apache 2.4's weighted request counting (mod_lbmethod_byrequests.c), the same
 * smooth weighted round robin as nginx's. Each offered candidate earns its lbfactor; the one with the
 * highest credit wins (strictly higher, so ties go to the earlier member) and pays back the total.
 * Weights 1:2:3 give the cycle c b a c b c.
 */
import type { Member } from '../pool/member.js';
import { LbStatus } from './lbstatus.js';
import type { MembersChange, Strategy } from './strategy.js';

export class ByRequests implements Strategy {
  readonly name: string = 'byrequests';
  /** Apache's per-member lbstatus credit, kept here rather than in the member. */
  protected readonly lbstatus = new LbStatus();

  pick(candidates: readonly Member[]): Member | undefined {
    let best: Member | undefined;
    let bestStatus = 0;
    let total = 0;
    for (const c of candidates) {
      const lbfactor = c.lbfactor; // read once: during slow start it moves with the clock
      const status = this.lbstatus.credit(c, lbfactor);
      total += lbfactor;
      if (best === undefined || this.isBetter(c, status, best, bestStatus)) {
        best = c;
        bestStatus = status;
      }
    }
    if (best !== undefined) this.lbstatus.debit(best, total);
    return best;
  }

  /** is_best_byrequests: strictly more credit. */
  protected isBetter(_current: Member, status: number, _best: Member, bestStatus: number): boolean {
    return status > bestStatus;
  }

  routed(member: Member, usable: readonly Member[]): void {
    this.lbstatus.routed(member, usable);
  }

  membersChanged(members: readonly Member[], change: MembersChange, member: Member): void {
    this.lbstatus.membersChanged(members, change, member);
  }

  reset(): void {
    this.lbstatus.reset();
  }
}
