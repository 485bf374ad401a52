/**
 * The member list: configuration order, lbset tiers, usability (Apache's selection walk), the error
 * state with its lazy retry timer, counters, and runtime changes (add, remove, drain, re-weight).
 */
import { EventEmitter } from 'node:events';
import { normalizeMember, normalizeWeight, type MemberConfig, type MemberOptions, type MemberStatus } from '../config.js';
import type { Strategy } from '../strategies/strategy.js';
import { BalancerConfigError, oneOf } from '../validate.js';
import { Member, lbfactorOf, type MemberState } from './member.js';

/** How a member is removed. */
export interface MemberRemoval {
  /** End its open Upgrade tunnels too (otherwise they live on). */
  endTunnels: boolean;
}

/** A sticky route's member, for {@link Pool.findByRoute}. */
export interface RouteLookup {
  /** Whether a member has this route. */
  found: boolean;
  /** That member when it is usable, else undefined. */
  member: Member | undefined;
}

/** Events of a {@link Pool}. */
export interface PoolEvents {
  /** A member was added. */
  memberAdded: [member: Member];
  /** A member was removed; `endTunnels` says whether its open tunnels are to be ended. */
  memberRemoved: [member: Member, removal: MemberRemoval];
  /** A member's status, weight or state changed; `reason` says why. */
  memberChanged: [member: Member, reason: string];
  /** A member went into the error state. */
  memberError: [member: Member, reason: string];
  /** A member in error served a request again after its retry timer ran out. */
  memberRecovered: [member: Member, reason: string];
  /** Active health checks took a member out (Apache's C flag set). */
  memberUnhealthy: [member: Member, reason: string];
  /** Active health checks put a member back (C, and any error state, cleared). */
  memberHealthy: [member: Member, reason: string];
  /** Outlier detection put a member in error for `durationMs`. */
  memberEjected: [member: Member, reason: string, durationMs: number];
  /** Every member was in error and all were cleared at once (Apache's forcerecovery). */
  forcedRecovery: [members: readonly Member[]];
}

const ALL_STATUSES: readonly (MemberStatus | 'active')[] = ['active', 'disabled', 'standby', 'spare', 'drain', 'stopped'];

/** One lbset's candidates, as the selection walk offers them. */
interface Tier {
  readonly lbset: number;
  /** Usable regular members in configuration order, then spares filling holes. */
  readonly regular: readonly Member[];
  readonly standbys: readonly Member[];
  /** The earliest retry timer of a member of this tier in error; Infinity when none. */
  retryAt: number;
}

/** A tier's regular members (and spares) are offered first, its standbys only when they yield nothing. */
function offer(tier: Tier, choose: ChooseFn): Member | undefined {
  const chosen = tier.regular.length > 0 ? choose(tier.regular) : undefined;
  if (chosen !== undefined || tier.standbys.length === 0) return chosen;
  return choose(tier.standbys);
}

/** Chooses one member from a tier's candidates; the pool offers tiers in order until one yields a member. */
export type ChooseFn = (candidates: readonly Member[]) => Member | undefined;

/**
 * The members of a balancer and everything about their state. Runtime changes go through its
 * methods, which take a member's route.
 */
export class Pool extends EventEmitter<PoolEvents> {
  #members: Member[] = [];
  #byRoute = new Map<string, Member>();
  /** Member URLs (`href`), for add's uniqueness check. */
  readonly #urls = new Set<string>();
  #strategy: Strategy;
  readonly #retryMs: number;
  readonly #now: () => number;
  readonly #slowStartMs: number;
  /** The balancer's connection cap per member (Infinity: none). */
  readonly #maxConnections: number;
  /** Whether any member has a cap: only then do picks look for room. */
  #capped = false;
  /** Each tier's candidates, lowest lbset first; undefined until the next pick rebuilds them. */
  #tiers: Tier[] | undefined = undefined;
  /** Every usable member, rebuilt with the tiers. */
  #usable: Member[] = [];

  /**
   * @internal Built by createBalancer. `now` is injectable for tests of timers; `slowStartMs` 0 turns
   * slow start off.
   */
  constructor(configs: readonly MemberConfig[], strategy: Strategy, retryMs: number, now: () => number = Date.now, slowStartMs = 0, maxConnections = Infinity) {
    super();
    this.#maxConnections = maxConnections;
    this.#strategy = strategy;
    this.#retryMs = retryMs;
    this.#now = now;
    this.#slowStartMs = slowStartMs;
    for (const config of configs) this.#insert(new Member(config, now));
    // Strategies that keep a table over the whole pool (hash) learn the starting members here.
    const last = this.#members.at(-1);
    if (last !== undefined) strategy.membersChanged?.(this.#members, 'added', last);
  }

  /** @internal Whether some member has a connection cap (picks then skip full members). */
  get capped(): boolean {
    return this.#capped;
  }

  /** Members in configuration order (added members last). */
  get members(): readonly Member[] {
    return this.#members;
  }

  /** The member with this route, or undefined. */
  get(route: string): Member | undefined {
    return this.#byRoute.get(route);
  }

  /**
   * Adds a member at the end of the configuration order, validated like the constructor's options.
   * It starts in the status given (active when absent), unlike Apache's manager, which adds members disabled.
   */
  add(options: MemberOptions): Member {
    const member = new Member(normalizeMember(options, 'member', { urls: this.#urls, routes: this.#byRoute }), this.#now);
    this.#insert(member);
    this.#startRamp(member);
    this.#strategy.membersChanged?.(this.#members, 'added', member);
    this.emit('memberAdded', member);
    return member;
  }

  /**
   * Removes a member. Requests already on it finish; it gets no new ones. Open Upgrade tunnels
   * (WebSockets) live on unless `endTunnels` is true.
   */
  remove(route: string, options: { endTunnels?: boolean } = {}): Member {
    const member = this.#require(route);
    this.#members = this.#members.filter((m) => m !== member);
    this.#byRoute.delete(route);
    this.#urls.delete(member.url.href);
    member.removed = true;
    this.#invalidate();
    this.#strategy.membersChanged?.(this.#members, 'removed', member);
    this.emit('memberRemoved', member, { endTunnels: options.endTunnels === true });
    return member;
  }

  /** Stops new sessions on a member; its sticky sessions and in-flight requests go on (Apache's N flag). */
  drain(route: string): Member {
    return this.setStatus(route, 'drain');
  }

  /** Takes a member out of all traffic, sticky included (Apache's D flag). */
  disable(route: string): Member {
    return this.setStatus(route, 'disabled');
  }

  /** Puts a member back into rotation, clearing drain, disabled, stopped and any error state. */
  enable(route: string): Member {
    const member = this.#require(route);
    const wasOut = !member.usable;
    member.admin = 'enabled';
    this.#clearError(member);
    if (wasOut) this.#startRamp(member);
    this.#changed(member, 'enabled');
    return member;
  }

  /**
   * Sets a member's status: `active`, `disabled`, `stopped`, `drain` (admin statuses) or `standby`,
   * `spare` (roles, which also re-enable the member). Apache's flags combine; this API sets one at a time.
   */
  setStatus(route: string, status: MemberStatus | 'active'): Member {
    const member = this.#require(route);
    oneOf(status, ALL_STATUSES, 'status');
    if (status === 'active' || status === 'standby' || status === 'spare') {
      member.role = status;
      member.admin = 'enabled';
    } else {
      member.admin = status;
    }
    this.#changed(member, `status ${status}`);
    return member;
  }

  /** Changes a member's weight (loadfactor, 1..100). */
  setWeight(route: string, weight: number): Member {
    const member = this.#require(route);
    member.weight = normalizeWeight(weight, 'weight');
    member.fullLbfactor = lbfactorOf(weight);
    this.#invalidate();
    this.#strategy.membersChanged?.(this.#members, 'weight', member);
    this.#changed(member, `weight ${weight}`);
    return member;
  }

  /** @internal Replaces the strategy that is told of membership changes. */
  useStrategy(strategy: Strategy): void {
    this.#strategy = strategy;
  }

  /**
   * Apache's selection walk (proxy_balancer_get_best_worker): lbsets in ascending order; in each,
   * members in configuration order. Draining members are skipped (a hole unless spare or standby);
   * members in error get the retry check; usable spares fill holes one for one after the regular
   * members; standbys are offered only when the tier yielded nothing. `exclude` holds members that
   * already failed this request. Returns the first member `choose` returns.
   *
   * The candidates of each tier are kept precomputed and rebuilt only when a member's state,
   * status, weight or set changes, or when a retry timer in the tier comes due: a first attempt
   * costs no walk over the members, whatever the pool's size. Retries, which exclude members,
   * walk the tiers as Apache does.
   */
  select(choose: ChooseFn, exclude?: ReadonlySet<Member>): Member | undefined {
    if (exclude !== undefined && exclude.size > 0) return this.#selectWalk(choose, exclude);
    const tiers = (this.#tiers ??= this.#buildTiers());
    let now = 0; // read only when a tier has a member in error
    for (let i = 0; i < tiers.length; i++) {
      let tier = tiers[i]!;
      if (tier.retryAt !== Infinity && tier.retryAt <= (now ||= this.#now())) {
        // A retry timer came due: Apache checks its members as the walk reaches them.
        this.#retryCheckTier(tier.lbset, now);
        tier = (this.#tiers ??= this.#buildTiers())[i]!;
        if (tier.retryAt <= now) tier.retryAt = Infinity; // nothing came back (a stopped member keeps its E)
      }
      const chosen = offer(tier, choose);
      if (chosen !== undefined) return chosen;
    }
    return undefined;
  }

  /** The walk with members excluded (a retry): the tiers built for this pick only. */
  #selectWalk(choose: ChooseFn, exclude: ReadonlySet<Member>): Member | undefined {
    const now = this.#now();
    for (const lbset of this.#lbsets()) {
      this.#retryCheckTier(lbset, now);
      const chosen = offer(this.#tierOf(lbset, exclude), choose);
      if (chosen !== undefined) return chosen;
    }
    return undefined;
  }

  /** Apache's retry check for every member of `lbset` in error, as its walk reaches the tier (draining members are skipped). */
  #retryCheckTier(lbset: number, now: number): void {
    for (const m of this.#members) if (m.lbset === lbset && m.admin !== 'drain' && m.errorSince !== 0) this.#retryCheck(m, now);
  }

  /** Every tier's candidates, lowest lbset first. */
  #buildTiers(): Tier[] {
    const tiers = this.#lbsets().map((lbset) => this.#tierOf(lbset, undefined));
    this.#usable = this.#members.filter((m) => m.usable);
    return tiers;
  }

  /** The lbsets in use, ascending. */
  #lbsets(): number[] {
    return [...new Set(this.#members.map((m) => m.lbset))].sort((a, b) => a - b);
  }

  /**
   * One tier's candidates as Apache's walk offers them: usable regular members in configuration
   * order, then usable spares filling the holes (unusable or draining regular members) one for
   * one; standbys apart. Fresh arrays: strategies may tell a rebuilt tier by its identity.
   */
  #tierOf(lbset: number, exclude: ReadonlySet<Member> | undefined): Tier {
    const regular: Member[] = [];
    const spares: Member[] = [];
    const standbys: Member[] = [];
    let holes = 0;
    let retryAt = Infinity;
    for (const m of this.#members) {
      if (m.lbset !== lbset) continue;
      if (m.admin === 'drain') {
        if (m.role === 'active') holes++;
        continue;
      }
      if (m.errorSince !== 0 && m.admin !== 'stopped' && m.errorUntil < retryAt) retryAt = m.errorUntil;
      const usable = m.usable && !(exclude?.has(m) ?? false);
      if (m.role === 'spare') {
        if (usable) spares.push(m);
      } else if (m.role === 'standby') {
        if (usable) standbys.push(m);
      } else if (usable) {
        regular.push(m);
      } else {
        holes++;
      }
    }
    for (let i = 0; i < spares.length && i < holes; i++) regular.push(spares[i]!);
    return { lbset, regular, standbys, retryAt };
  }

  /** Member state that decides candidacy changed: the tiers are rebuilt at the next pick. */
  #invalidate(): void {
    this.#tiers = undefined;
  }

  /**
   * Apache's find_route_worker for a sticky route: the member with that route, whatever its lbset,
   * usable after the retry check (a draining member is usable here: it keeps its sessions).
   * `found` tells a route that names an unusable member from one that names none.
   */
  findByRoute(route: string): RouteLookup {
    const member = this.#byRoute.get(route);
    if (member === undefined) return { found: false, member: undefined };
    if (member.errorSince !== 0) this.#retryCheck(member, this.#now());
    return { found: true, member: member.usable ? member : undefined };
  }

  /**
   * @internal Active health checks' verdict. Unhealthy takes the member out (Apache's C flag);
   * healthy clears it and any passive error state too, as mod_proxy_hcheck clears C and E.
   */
  setHealth(member: Member, healthy: boolean, reason: string): void {
    this.#invalidate();
    if (healthy) {
      const wasOut = member.unhealthy || member.errorSince !== 0;
      member.unhealthy = false;
      this.#clearError(member);
      if (wasOut) {
        member.stateSince = this.#now();
        member.consecutiveFailures = 0;
        this.#startRamp(member);
        this.emit('memberHealthy', member, reason);
      }
    } else if (!member.unhealthy) {
      member.unhealthy = true;
      member.stateSince = this.#now();
      member.lastError = { reason, at: member.stateSince };
      this.emit('memberUnhealthy', member, reason);
    }
  }

  /** Every usable member in any tier (Apache's PROXY_WORKER_IS_USABLE), for sticky accounting. Read-only. */
  usableMembers(): readonly Member[] {
    if (this.#tiers === undefined) this.#tiers = this.#buildTiers();
    return this.#usable;
  }

  /** @internal A request starts on `member`. */
  begin(member: Member): void {
    member.requests++;
    member.inFlight++;
  }

  /** @internal A request on `member` ended; `failed` charges the member a failure. */
  finish(member: Member, bytesSent: number, bytesReceived: number, failed: boolean): void {
    if (member.inFlight > 0) member.inFlight--;
    member.bytesSent += bytesSent;
    member.bytesReceived += bytesReceived;
    if (failed) member.failures++;
  }

  /** @internal The member answered; its failures in a row end, and a member back from its error timer has recovered. */
  markSuccess(member: Member): void {
    member.consecutiveFailures = 0;
    if (member.retries > 0 && member.errorSince === 0) {
      member.retries = 0;
      this.emit('memberRecovered', member, 'request succeeded after the retry timer');
    }
  }

  /**
   * @internal Puts a member in error (Apache's E flag) for its `retryMs`, or `durationMs`, with a
   * fresh timestamp each time. Returns whether it was newly put in error.
   */
  markError(member: Member, reason: string, durationMs = member.retryMs ?? this.#retryMs): boolean {
    const now = this.#now();
    const wasInError = member.errorSince !== 0;
    member.errorSince = now;
    member.errorUntil = now + durationMs;
    member.lastError = { reason, at: now };
    this.#invalidate();
    if (wasInError) return false;
    member.stateSince = now;
    this.emit('memberError', member, reason);
    return true;
  }

  /** @internal The member failed once more (outlier detection); returns its failures in a row. */
  noteFailure(member: Member): number {
    return ++member.consecutiveFailures;
  }

  /** @internal A long healthy spell forgives the member's earlier ejections (the next one is short again). */
  forgiveEjections(member: Member): void {
    member.ejections = 0;
  }

  /** The member's own error-state length. */
  retryMsOf(member: Member): number {
    return member.retryMs ?? this.#retryMs;
  }

  /**
   * @internal Outlier ejection: the error state for `durationMs`, unless `maxPercent` of the member's
   * lbset is already out (Envoy's max_ejection_percent, checked before ejecting). Returns whether it ejected.
   */
  eject(member: Member, reason: string, durationMs: number, maxPercent: number): boolean {
    let size = 0;
    let out = 0;
    for (const m of this.#members) {
      if (m.lbset !== member.lbset) continue;
      size++;
      if (m.errorSince !== 0 || m.unhealthy) out++;
    }
    if ((out * 100) / size >= maxPercent) return false;
    member.ejections++;
    member.lastEjectionEnd = this.#now() + durationMs;
    member.consecutiveFailures = 0;
    this.markError(member, reason, durationMs);
    this.emit('memberEjected', member, reason, durationMs);
    return true;
  }

  /**
   * @internal Apache's force_recovery: when every member is in error even after the retry check,
   * clear them all so the request is tried rather than refused. Only the error state counts: one
   * disabled or unhealthy member without it blocks recovery. Returns whether it recovered.
   */
  forceRecovery(): boolean {
    const members = this.#members;
    // The usual case, answered without reading the clock: the first member is not in error.
    if (members.length === 0 || members[0]!.errorSince === 0) return false;
    const now = this.#now();
    for (const m of members) {
      if (m.errorSince === 0) return false;
      this.#retryCheck(m, now);
      if (m.errorSince === 0) return false;
    }
    for (const m of members) {
      m.errorSince = 0;
      m.retries++;
      m.stateSince = now;
    }
    this.#invalidate();
    this.emit('forcedRecovery', members);
    return true;
  }

  /** Plain JSON of every member. */
  toJSON(): ReturnType<Member['toJSON']>[] {
    return this.#members.map((m) => m.toJSON());
  }

  /** Counts of members by state. */
  stateCounts(): Record<MemberState, number> {
    const counts: Record<MemberState, number> = { ok: 0, error: 0, unhealthy: 0, disabled: 0, stopped: 0, drain: 0 };
    for (const m of this.#members) counts[m.state]++;
    return counts;
  }

  /** Apache's ap_proxy_retry_worker: an errored member is usable again once its retry time has passed. */
  #retryCheck(member: Member, now: number): void {
    // Apache declines to retry a stopped (S) member: its E stays until S is cleared.
    if (member.admin !== 'stopped' && now >= member.errorUntil) {
      this.#invalidate();
      member.errorSince = 0;
      member.retries++;
      member.stateSince = now;
      this.#startRamp(member);
    }
  }

  /** Slow start: ramp the member's weight up from now, when slow start is on. */
  #startRamp(member: Member): void {
    if (this.#slowStartMs === 0) return;
    member.rampSince = this.#now();
    member.rampUntil = member.rampSince + this.#slowStartMs;
  }

  #clearError(member: Member): void {
    if (member.errorSince !== 0) {
      this.#invalidate();
      member.errorSince = 0;
      member.stateSince = this.#now();
    }
  }

  #insert(member: Member): void {
    member.maxConnections = member.ownMaxConnections ?? this.#maxConnections;
    if (Number.isFinite(member.maxConnections)) this.#capped = true;
    this.#members.push(member);
    this.#byRoute.set(member.route, member);
    this.#urls.add(member.url.href);
    this.#invalidate();
  }

  #require(route: string): Member {
    const member = typeof route === 'string' ? this.#byRoute.get(route) : undefined;
    if (member === undefined) throw new BalancerConfigError('route', route, 'must name a member of the pool');
    return member;
  }

  #changed(member: Member, reason: string): void {
    this.#invalidate(); // status, role or weight
    member.stateSince = this.#now();
    this.emit('memberChanged', member, reason);
  }
}
