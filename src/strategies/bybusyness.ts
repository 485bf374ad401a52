/**
 * `bybusyness`: Apache 2.4's least-busy method (mod_lbmethod_bybusyness.c). Fewest requests in
 * flight wins; on equal counts the byrequests credit decides, and that credit is kept on every pick,
 * so equally busy members split by weight while weights are ignored when busyness differs.
 */
import type { Member } from '../pool/member.js';
import { ByRequests } from './byrequests.js';

export class ByBusyness extends ByRequests {
  override readonly name: string = 'bybusyness';

  /** is_best_bybusyness: fewer in flight, or as many and strictly more credit. */
  protected override isBetter(current: Member, status: number, best: Member, bestStatus: number): boolean {
    return current.inFlight < best.inFlight || (current.inFlight === best.inFlight && status > bestStatus);
  }
}
