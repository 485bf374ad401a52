/**
 * `roundrobin`: plain rotation over the offered candidates, ignoring weights (HAProxy's static-rr
 * with equal weights). For weighted rotation use `byrequests`.
 */
import type { Member } from '../pool/member.js';
import type { Strategy } from './strategy.js';

export class RoundRobin implements Strategy {
  readonly name = 'roundrobin';
  #next = 0;

  pick(candidates: readonly Member[]): Member | undefined {
    const member = candidates[this.#next % candidates.length];
    this.#next = (this.#next + 1) % 0x7fffffff;
    return member;
  }

  reset(): void {
    this.#next = 0;
  }
}
