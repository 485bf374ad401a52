/**
 * `p2c`: power of two choices, weighted least request (Envoy's least_request with choice_count 2,
 * HAProxy's `random(2)`). Two distinct candidates are drawn at random and the one with more weight
 * per request in flight, `lbfactor / (inFlight + 1)`, wins. O(1) per pick, and no herd: unlike
 * bybusyness, concurrent pickers rarely all land on the same least-busy member.
 */
import type { Member } from '../pool/member.js';
import type { Strategy } from './strategy.js';

export class PowerOfTwoChoices implements Strategy {
  readonly name = 'p2c';
  readonly #random: () => number;

  /** `random` returns a number in [0, 1); injectable so tests can replay a sequence. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(candidates: readonly Member[]): Member | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const i = Math.floor(this.#random() * n);
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++; // a second index distinct from the first, uniformly
    const a = candidates[i]!;
    const b = candidates[j]!;
    // a.lbfactor / (a.inFlight + 1) >= b.lbfactor / (b.inFlight + 1), without division
    return a.lbfactor * (b.inFlight + 1) >= b.lbfactor * (a.inFlight + 1) ? a : b;
  }
}
