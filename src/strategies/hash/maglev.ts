/**
 * The Maglev lookup table of the `hash` strategy (Eisenbud et al., NSDI 2016; Envoy's `maglev`
 * policy): M slots, each owned by one member, filled from a per-member permutation of the slots.
 *
 * Why not a hash ring: lookup is one array read (a ring needs a binary search over its points);
 * each member owns almost exactly its weighted share of the slots (a ring's shares vary with the
 * random placement of its points), and the weights enter through the fill order (Envoy's scheme: a
 * member with half the top weight takes a slot every second round), so weight stays exact without
 * multiplying virtual nodes. The price is slightly more disruption than a ring when the member list
 * changes: a removed member's keys move, plus a small fraction more (Envoy: "minimal disruption
 * rather than an absolute guarantee"). M is the prime 65537 (Envoy's default) while members are at
 * most 655, so every member holds 100 or more slots; larger pools use 655373 or 5000011.
 *
 * The table depends only on the members' routes and weights: routes are sorted before the fill and
 * hashed with murmur3, so every process with the same members builds the same table.
 */
import { murmur3 } from './murmur3.js';

/** Prime table sizes; the smallest giving every member at least 100 slots is used, else the largest. */
const TABLE_SIZES = [65_537, 655_373] as const;
/** Envoy's upper limit; beyond 50,000 members, members get fewer than 100 slots each. */
const LARGEST_TABLE_SIZE = 5_000_011;
const SLOTS_PER_MEMBER = 100;
/** murmur3 seeds: two independent hashes of a route (Maglev's offset and skip), one for keys. */
const OFFSET_SEED = 0x1b873593;
const SKIP_SEED = 0xcc9e2d51;
const KEY_SEED = 0;

/** A Maglev table over a fixed, route-sorted member list. */
export interface MaglevTable {
  /** Routes in fill order (sorted). */
  readonly routes: readonly string[];
  readonly indexByRoute: ReadonlyMap<string, number>;
  /** Slot to member index into `routes`. */
  readonly slots: Int32Array;
}

/** The slot a key hashes to, where the lookup starts. */
export function slotOfKey(table: MaglevTable, key: string): number {
  return murmur3(key, KEY_SEED) % table.slots.length;
}

/**
 * Builds the Maglev table from route to weight: members sorted by route; each has a permutation of
 * the slots from two hashes of its route (offset, skip); in rounds, each member whose weight allows
 * it this round takes the next free slot of its permutation, until all slots are taken. Round r lets
 * a member in when r x weight >= slots taken so far x top weight, so shares follow the weights and
 * every member gets a slot in round 1.
 */
export function buildMaglevTable(weights: ReadonlyMap<string, number>): MaglevTable {
  const routes = [...weights.keys()].sort();
  const n = routes.length;
  const size: number = TABLE_SIZES.find((s) => s >= n * SLOTS_PER_MEMBER) ?? LARGEST_TABLE_SIZE;
  const slots = new Int32Array(size).fill(-1);
  const indexByRoute = new Map<string, number>();
  const next = new Float64Array(n);
  const skip = new Float64Array(n);
  const weight = new Float64Array(n);
  const taken = new Float64Array(n);
  let topWeight = 0;
  routes.forEach((route, i) => {
    indexByRoute.set(route, i);
    next[i] = murmur3(route, OFFSET_SEED) % size;
    skip[i] = (murmur3(route, SKIP_SEED) % (size - 1)) + 1;
    weight[i] = weights.get(route) as number;
    topWeight = Math.max(topWeight, weight[i] as number);
  });
  let filled = 0;
  for (let round = 1; filled < size && n > 0; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (round * (weight[i] as number) < (taken[i] as number) * topWeight) continue;
      let slot = next[i] as number;
      while ((slots[slot] as number) >= 0) slot = (slot + (skip[i] as number)) % size;
      slots[slot] = i;
      next[i] = (slot + (skip[i] as number)) % size;
      taken[i] = (taken[i] as number) + 1;
      filled++;
    }
  }
  return { routes, indexByRoute, slots };
}
