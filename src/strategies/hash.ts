/**
 * `hash`: consistent hashing on a request key (client address, URL, path, a header, a cookie or a
 * query parameter), for cache and shard affinity, as HAProxy's `hash-type consistent`, Envoy's
 * `ring_hash`/`maglev` and nginx's `hash ... consistent`.
 *
 * Data structure: a Maglev lookup table (Eisenbud et al., NSDI 2016; Envoy's `maglev` policy), not
 * a hash ring. Lookup is one array read (a ring needs a binary search over its points);
 * each member owns almost exactly its weighted share of the M slots (a ring's shares vary with the
 * random placement of its points), and the weights enter through the fill order (Envoy's scheme: a
 * member with half the top weight takes a slot every second round), so weight stays exact without
 * multiplying virtual nodes. The price is slightly more disruption than a ring when the member list
 * changes: a removed member's keys move, plus a small fraction more (Envoy: "minimal disruption
 * rather than an absolute guarantee"). M is the prime 65537 (Envoy's default) while members are at
 * most 655, so every member holds 100 or more slots; larger pools use 655373 or 5000011.
 *
 * Agreement across processes: the table depends only on the members' routes and weights. Members
 * are sorted by route before the fill and hashed by route with murmur3 (32-bit, over UTF-8), never by
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
import { BalancerConfigError, expectKnownKeys, expectPlainObject, isPlainObject, oneOf, tokenPattern } from '../validate.js';
import type { Member } from '../pool/member.js';
import { readCookie } from '../sticky/cookie.js';
import { ByRequests } from './byrequests.js';
import type { MembersChange, PickContext, Strategy } from './strategy.js';

/**
 * What a request is hashed on:
 * - `'client'`: the peer's IP address (an IPv4-mapped IPv6 address counts as IPv4). Behind another
 *   proxy every request has that proxy's address: hash a forwarding header instead.
 * - `'url'`: the request target, path and query. `'path'`: the path without the query.
 * - `{ header }`: a request header (case-insensitive name; repeated headers joined with `, `).
 * - `{ cookie }`: a cookie's value. `{ query }`: a query parameter's decoded value (first occurrence).
 */
export type HashKey = 'client' | 'url' | 'path' | { header: string } | { cookie: string } | { query: string };

/** Options of the `hash` strategy (the balancer's `hash` option). */
export interface HashOptions {
  /** What to hash. Default `'client'` when the `hash` option is absent. */
  key: HashKey;
}

/** `hash` options after validation: the key kind and, for header, cookie and query keys, the name (headers lower-cased). */
export interface HashConfig {
  key: { kind: 'client' | 'url' | 'path' } | { kind: 'header' | 'cookie' | 'query'; name: string };
}

const KEY_KINDS = ['client', 'url', 'path'] as const;
const NAMED_KINDS = ['header', 'cookie', 'query'] as const;
const NAME_PATTERN = tokenPattern(256);
const QUERY_NAME_PATTERN = /^[^\x00-\x1f\x7f]{1,256}$/;

/**
 * Validates the `hash` option (at `path`, normally `'hash'`); undefined gives the default key `'client'`.
 * Throws {@link BalancerConfigError} naming the offending path and value.
 */
export function normalizeHashOptions(value: unknown, path: string): HashConfig {
  if (value === undefined) return { key: { kind: 'client' } };
  expectPlainObject(value, path);
  expectKnownKeys(value, ['key'], path);
  const key = value.key;
  const keyPath = `${path}.key`;
  if (typeof key === 'string') return { key: { kind: oneOf(key, KEY_KINDS, keyPath) } };
  const expectation = `must be one of 'client', 'url', 'path', { header: name }, { cookie: name } or { query: name }`;
  if (!isPlainObject(key, keyPath)) throw new BalancerConfigError(keyPath, key, expectation);
  const names = Object.keys(key);
  const kind = names[0];
  if (names.length !== 1 || kind === undefined || !(NAMED_KINDS as readonly string[]).includes(kind)) {
    throw new BalancerConfigError(keyPath, key, expectation);
  }
  const name = (key as Record<string, unknown>)[kind];
  const namePath = `${keyPath}.${kind}`;
  if (kind === 'query') {
    if (typeof name !== 'string' || !QUERY_NAME_PATTERN.test(name)) {
      throw new BalancerConfigError(namePath, name, 'must be a parameter name of 1 to 256 characters without control characters');
    }
    return { key: { kind, name } };
  }
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new BalancerConfigError(namePath, name, `must be a ${kind} name: 1 to 256 token characters (letters, digits, or !#$%&'*+-.^_\`|~)`);
  }
  return { key: { kind: kind as 'header' | 'cookie', name: kind === 'header' ? name.toLowerCase() : name } };
}

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
interface MaglevTable {
  /** Routes in fill order (sorted). */
  readonly routes: readonly string[];
  readonly indexByRoute: ReadonlyMap<string, number>;
  /** Slot to member index into `routes`. */
  readonly slots: Int32Array;
}

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
    let slot = murmur3(key, KEY_SEED) % size;
    for (let step = 0; step < size; step++) {
      const index = slots[slot] as number;
      if (this.#marks[index] === stamp) return this.#candidateAt[index];
      slot = slot + 1 === size ? 0 : slot + 1;
    }
    return candidates[0]; // unreachable: every member holds a slot
  }

  /** The request's hash key, or undefined when it has none. */
  keyOf(req: IncomingMessage | undefined, headers: IncomingHttpHeaders | undefined = req?.headers): string | undefined {
    if (req === undefined) return undefined;
    const key = this.config.key;
    let value: string | undefined;
    switch (key.kind) {
      case 'client':
        value = clientAddress(req.socket?.remoteAddress);
        break;
      case 'url':
        value = req.url;
        break;
      case 'path': {
        const url = req.url;
        const q = url === undefined ? -1 : url.indexOf('?');
        value = q < 0 ? url : url?.slice(0, q);
        break;
      }
      case 'header': {
        const header = headers?.[key.name];
        value = Array.isArray(header) ? header.join(', ') : header;
        break;
      }
      case 'cookie':
        value = readCookie(headers?.cookie, key.name);
        break;
      case 'query':
        value = queryParam(req.url, key.name);
        break;
    }
    return typeof value === 'string' && value.length > 0 ? value : undefined;
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

/**
 * Builds the Maglev table: members sorted by route; each has a permutation of the slots from two
 * hashes of its route (offset, skip); in rounds, each member whose weight allows it this round takes
 * the next free slot of its permutation, until all slots are taken. Round r lets a member in when
 * r x weight >= slots taken so far x top weight, so shares follow the weights and every member gets a
 * slot in round 1.
 */
function buildMaglevTable(weights: ReadonlyMap<string, number>): MaglevTable {
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

function isHashConfig(value: HashOptions | HashConfig | undefined): value is HashConfig {
  return value !== undefined && typeof value.key === 'object' && value.key !== null && 'kind' in value.key;
}

function sameWeights(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [route, weight] of a) if (b.get(route) !== weight) return false;
  return true;
}

/** The peer address, with IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as plain IPv4, so dual-stack listeners agree. */
function clientAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function queryParam(url: string | undefined, name: string): string | undefined {
  const q = url === undefined ? -1 : url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams((url as string).slice(q + 1)).get(name) ?? undefined;
}

const encoder = new TextEncoder();
/** Scratch space for UTF-8 encoding of short keys; longer ones get their own buffer. */
let scratch = new Uint8Array(1024);
const MAX_SCRATCH_BYTES = 65_536;

/**
 * MurmurHash3 x86 32-bit of the UTF-8 bytes of `text` (lone surrogates as U+FFFD), as an unsigned
 * 32-bit integer. Stable across processes and platforms: the same text and seed give the same hash.
 */
export function murmur3(text: string, seed = 0): number {
  const maxBytes = text.length * 3;
  let bytes: Uint8Array;
  let length: number;
  if (maxBytes <= MAX_SCRATCH_BYTES) {
    if (scratch.length < maxBytes) scratch = new Uint8Array(Math.max(maxBytes, scratch.length * 2));
    length = encoder.encodeInto(text, scratch).written;
    bytes = scratch;
  } else {
    bytes = encoder.encode(text);
    length = bytes.length;
  }
  return murmur3Bytes(bytes, length, seed);
}

function murmur3Bytes(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (bytes[blocks + 2] as number) << 16;
    if (rest >= 2) k ^= (bytes[blocks + 1] as number) << 8;
    k ^= bytes[blocks] as number;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
