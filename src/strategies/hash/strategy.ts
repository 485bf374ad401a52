/**
 * `hash`: consistent hashing on a request key (client address, URL, path, a header, a cookie or a
 * query parameter), for cache and shard affinity, as HAProxy's `hash-type consistent`, Envoy's
 * `ring_hash`/`maglev` and nginx's `hash ... consistent`. The key is read by key.ts, hashed by
 * murmur3.ts and looked up in the Maglev table of maglev.ts (see there why Maglev and not a ring).
 *
 * Agreement across processes: the table depends only on the members' routes and weights, never on
 * position or object identity, so every process with the same members builds the same table.
 *
 * Unusable members: the table is built over the pool's whole member list (told by `membersChanged`),
 * and a key whose slot belongs to a member that is not among this pick's candidates (in error,
 * draining, disabled, another tier) walks to the next slots until one belongs to a candidate, so
 * only the keys of the unusable member move, and they come back when it does. Members first seen
 * among candidates, when `membersChanged` was never called, are added and the table rebuilt.
 *
 * Weights are the configured ones: slow start does not ramp a member's share of the table (a table
 * rebuilt at every step of the ramp would move keys back and forth).
 *
 * A request without a key (header, cookie or parameter absent or empty) is balanced by weighted
 * round robin over the candidates (Apache's byrequests), as HAProxy falls back to round robin.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isHashConfig, normalizeHashOptions, type HashConfig, type HashOptions } from '../../options/hash.js';
import type { Member } from '../../pool/member.js';
import { ByRequests } from '../byrequests.js';
import type { MembersChange, PickContext, Strategy } from '../strategy.js';
import { keyOf } from './key.js';
import { buildMaglevTable, slotOfKey, type MaglevTable } from './maglev.js';

/** The consistent-hashing strategy. See the module comment for the algorithm and its guarantees. */
export class HashStrategy implements Strategy {
  readonly name = 'hash';
  /** The validated options. */
  readonly config: HashConfig;
  /** Weighted round robin for requests without a key. */
  readonly #fallback = new ByRequests();
  /**
   * Every member the table covers: route to full lbfactor (weight x 100). Slow start's ramping
   * lbfactor is not used: it changes on every read, and each change would rebuild the table and move keys.
   */
  #known = new Map<string, number>();
  #table: MaglevTable | undefined;
  /** Per-pick candidate marks, indexed like the table's routes: a pick's stamp marks its candidates. */
  #marks = new Uint32Array(0);
  #candidateAt: (Member | undefined)[] = [];
  #stamp = 0;
  /**
   * The candidates the current stamp marks. The pool replaces a tier's array when its members
   * change, and tells membersChanged when its member list does, so the same array needs no new
   * marks: a pick then costs O(1) whatever the pool's size.
   */
  #marked: readonly Member[] | undefined = undefined;

  /** Takes the public options (validated here; undefined hashes on the client address) or an already normalized `HashConfig`. */
  constructor(options?: HashOptions | HashConfig) {
    this.config = isHashConfig(options) ? options : normalizeHashOptions(options, 'hash');
  }

  pick(candidates: readonly Member[], context: PickContext): Member | undefined {
    const key = this.keyOf(context.req, context.headers);
    if (key === undefined) return this.#fallback.pick(candidates);
    return this.memberForKey(candidates, key);
  }

  /**
   * The candidate `key` maps to: its own slot's member if a candidate, else the first candidate in
   * the slots after it. Undefined only when `candidates` is empty.
   */
  memberForKey(candidates: readonly Member[], key: string): Member | undefined {
    if (candidates.length === 0) return undefined;
    let table = this.#table;
    let stamp = this.#stamp;
    if (candidates !== this.#marked || table === undefined) {
      table = this.#tableFor(candidates);
      stamp = this.#markCandidates(table, candidates);
      this.#marked = candidates;
    }
    const { slots } = table;
    const size = slots.length;
    let slot = slotOfKey(table, key);
    for (let step = 0; step < size; step++) {
      const index = slots[slot] as number;
      if (this.#marks[index] === stamp) return this.#candidateAt[index];
      slot = slot + 1 === size ? 0 : slot + 1;
    }
    return candidates[0]; // unreachable: every member holds a slot
  }

  /** The request's hash key, or undefined when it has none. */
  keyOf(req: IncomingMessage | undefined, headers: IncomingHttpHeaders | undefined = req?.headers): string | undefined {
    return keyOf(this.config.key, req, headers);
  }

  /** The pool's member list changed: rebuild the table, lazily, if routes or weights differ. */
  membersChanged(members: readonly Member[], change: MembersChange, member: Member): void {
    this.#marked = undefined;
    const known = new Map<string, number>();
    for (const m of members) known.set(m.route, m.fullLbfactor);
    if (!sameWeights(known, this.#known)) {
      this.#known = known;
      this.#table = undefined;
    }
    this.#fallback.membersChanged(members, change, member);
  }

  /** A sticky route chose `member`: keeps the round-robin fallback's accounting Apache's. */
  routed(member: Member, usable: readonly Member[]): void {
    this.#fallback.routed(member, usable);
  }

  reset(): void {
    this.#marked = undefined;
    this.#fallback.reset();
  }

  /** The table, rebuilt when the member list changed or a candidate is not in it yet. */
  #tableFor(candidates: readonly Member[]): MaglevTable {
    for (const c of candidates) {
      if (this.#known.get(c.route) !== c.fullLbfactor) {
        this.#known.set(c.route, c.fullLbfactor);
        this.#table = undefined;
      }
    }
    if (this.#table === undefined) {
      this.#table = buildMaglevTable(this.#known);
      this.#marks = new Uint32Array(this.#table.routes.length);
      this.#candidateAt = new Array<Member | undefined>(this.#table.routes.length);
      this.#stamp = 0;
    }
    return this.#table;
  }

  /** Marks this pick's candidates with a fresh stamp, so a slot's member is checked in O(1). */
  #markCandidates(table: MaglevTable, candidates: readonly Member[]): number {
    if (this.#stamp === 0xffffffff) {
      this.#marks.fill(0);
      this.#stamp = 0;
    }
    const stamp = ++this.#stamp;
    for (const c of candidates) {
      const index = table.indexByRoute.get(c.route) as number;
      this.#marks[index] = stamp;
      this.#candidateAt[index] = c;
    }
    return stamp;
  }
}

function sameWeights(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [route, weight] of a) if (b.get(route) !== weight) return false;
  return true;
}
