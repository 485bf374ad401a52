/**
 * The active health checker: schedules probes of every member that has a health check, counts
 * consecutive passes and failures, and gives the pool its verdict through `pool.setHealth`.
 * Probe state (counters, last result, timers) lives here, keyed by member, not in the member.
 *
 * Counting differs from Apache on purpose. mod_proxy_hcheck.c (hc_check) increments `pcount` while
 * the worker is out (C or E flag) and `fcount` while it is in, and resets a counter only when it
 * reaches `hcpasses`/`hcfails`; a probe with the opposite outcome never resets it, so `hcfails=3`
 * means three failures in total since the last change, however far apart. Here, as in HAProxy
 * (rise/fall) and Envoy (healthy/unhealthy thresholds), a good probe resets the failure count and
 * a bad one the pass count: `fails` and `passes` count probes in a row.
 *
 * As in Apache, good probes also end a member's passive error state (E): `passes` good probes
 * after the error began clear it (pool.setHealth clears both). Unlike Apache, failed probes count
 * while a member is in error too, so a member that is down stays out after its retry timer instead
 * of being handed live requests to fail again.
 *
 * Scheduling: the wait between two probes of a member runs from the end of one to the start of the
 * next (Apache's `updated + interval`), so probes of a member never overlap, with `jitterPercent`
 * of random spread. The first probe comes within `min(intervalMs, 1000)` ms of `start()` (or of a
 * member's arrival or re-enabling), at a random moment, where Apache waits a whole interval: a dead
 * member should leave rotation in seconds, not after 30 s, yet many members should not be probed in
 * the same millisecond. Members that are `disabled` or `stopped` are not probed (Apache still
 * probes D members and skips only S); probing resumes when they are re-enabled. Timers are
 * `unref()`ed, so probing never keeps a process alive, and `close()` clears them.
 */
import { EventEmitter } from 'node:events';
import type { Member } from '../pool/member.js';
import type { Pool } from '../pool/pool.js';
import { mergeHealthCheck, type HealthCheckConfig, type HealthCheckMethod, type HealthCheckOverride } from './options.js';
import { effectiveTls, type TlsOptions } from '../config.js';
import { describeProbe, probeTargetOf, runProbe, type ProbeResult, type ProbeTarget } from './probe.js';

/** Events of a {@link HealthChecker}. */
export interface HealthCheckerEvents {
  /**
   * A probe of `member` ended. Emitted after its verdict reached the pool, so a listener sees the
   * member's new state (and `memberUnhealthy`/`memberHealthy` on the pool came first).
   */
  probe: [member: Member, result: ProbeResult];
}

/** A member's own health check override, already validated (see `normalizeHealthCheckOverride`). */
export type MemberOverrideFn = (member: Member) => HealthCheckOverride | false | undefined;

/** Plain-JSON health check state of one member, as `balancer.snapshot().health` lists it. */
export interface MemberHealth {
  /** The member's route. */
  route: string;
  /** How it is probed (`TCP`, or the HTTP method). */
  method: HealthCheckMethod;
  /** What is probed, for example `GET http://127.0.0.1:3001/health`. */
  target: string;
  /** Time between probes, in ms. */
  intervalMs: number;
  /** Whether probes are scheduled: false while the member is disabled or stopped, and after close(). */
  probing: boolean;
  /** Whether the member passes its health checks (false: out of rotation, Apache's C flag). */
  healthy: boolean;
  /** Good probes in a row up to the last one. */
  consecutivePasses: number;
  /** Failed probes in a row up to the last one. */
  consecutiveFails: number;
  /** Probes completed since the checker started. */
  probes: number;
  /** The last probe's result, or null before the first. */
  lastProbe: ProbeResult | null;
}

/** Largest window for the first probe's random start. */
const FIRST_PROBE_WINDOW_MS = 1000;

/** One member's probe schedule and counters. */
class ProbeState {
  timer: NodeJS.Timeout | undefined;
  inFlight: AbortController | undefined;
  consecutivePasses = 0;
  consecutiveFails = 0;
  probes = 0;
  lastProbe: ProbeResult | null = null;
  readonly description: string;

  constructor(
    readonly member: Member,
    readonly config: HealthCheckConfig,
    readonly target: ProbeTarget,
  ) {
    this.description = describeProbe(target, config.method);
  }

  get scheduled(): boolean {
    return this.timer !== undefined || this.inFlight !== undefined;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Aborting destroys the probe's socket; its result is then ignored.
    this.inFlight?.abort();
    this.inFlight = undefined;
  }
}

/**
 * Probes the members of a pool and marks them healthy or unhealthy. Construct it after the pool,
 * call `start()`, and `close()` when done:
 *
 * ```ts
 * const health = new HealthChecker(pool, config.healthCheck, (member) => member.healthCheck);
 * health.start();
 * // ... later
 * health.close();
 * ```
 *
 * A member is probed when it has an effective check: the balancer's `base` merged with the
 * member's override (`false` turns it off; an object turns it on even without a base). Members
 * added to the pool later are probed too; removed members stop being probed.
 */
export class HealthChecker extends EventEmitter<HealthCheckerEvents> {
  readonly #pool: Pool;
  readonly #base: HealthCheckConfig | undefined;
  readonly #overrideOf: MemberOverrideFn;
  readonly #tls: TlsOptions | undefined;
  readonly #states = new Map<Member, ProbeState>();
  #started = false;
  #closed = false;

  readonly #onAdded = (member: Member): void => this.#track(member);
  readonly #onRemoved = (member: Member): void => this.#untrack(member);
  readonly #onChanged = (member: Member): void => this.#adminChanged(member);
  // Passes that end an error state count from the error's start, as Apache's pcount does.
  readonly #onError = (member: Member): void => {
    const state = this.#states.get(member);
    if (state !== undefined) state.consecutivePasses = 0;
  };

  /**
   * @param pool The members to probe; its `memberAdded`, `memberRemoved`, `memberChanged` and
   *   `memberError` events keep the schedule in step.
   * @param base The balancer's normalized `healthCheck`, or undefined when it has none.
   * @param overrideOf A member's validated override (`normalizeHealthCheckOverride`), read once
   *   when the member is first tracked. Default: no overrides.
   * @param tls The balancer's TLS settings: probes of `https:` members speak TLS as proxying does.
   */
  constructor(pool: Pool, base: HealthCheckConfig | undefined, overrideOf: MemberOverrideFn = () => undefined, tls?: TlsOptions) {
    super();
    this.#pool = pool;
    this.#base = base;
    this.#overrideOf = overrideOf;
    this.#tls = tls;
  }

  /** Starts probing every member that has a check. Calling it again, or after `close()`, does nothing. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#pool.on('memberAdded', this.#onAdded);
    this.#pool.on('memberRemoved', this.#onRemoved);
    this.#pool.on('memberChanged', this.#onChanged);
    this.#pool.on('memberError', this.#onError);
    for (const member of this.#pool.members) this.#track(member);
  }

  /** Stops every timer and aborts probes in flight (their sockets are destroyed). Final. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('memberAdded', this.#onAdded);
    this.#pool.off('memberRemoved', this.#onRemoved);
    this.#pool.off('memberChanged', this.#onChanged);
    this.#pool.off('memberError', this.#onError);
    for (const state of this.#states.values()) state.stop();
  }

  /** The health check state of a member (or route), or undefined when it has no check. */
  status(member: Member | string): MemberHealth | undefined {
    const key = typeof member === 'string' ? this.#pool.get(member) : member;
    const state = key === undefined ? undefined : this.#states.get(key);
    if (state === undefined) return undefined;
    return {
      route: state.member.route,
      method: state.config.method,
      target: state.description,
      intervalMs: state.config.intervalMs,
      probing: state.scheduled,
      healthy: !state.member.unhealthy,
      consecutivePasses: state.consecutivePasses,
      consecutiveFails: state.consecutiveFails,
      probes: state.probes,
      lastProbe: state.lastProbe,
    };
  }

  /** {@link status} of every member that has a check, in pool order. Plain JSON. */
  snapshot(): MemberHealth[] {
    const result: MemberHealth[] = [];
    for (const member of this.#pool.members) {
      const health = this.status(member);
      if (health !== undefined) result.push(health);
    }
    return result;
  }

  #track(member: Member): void {
    if (this.#states.has(member)) return;
    const config = mergeHealthCheck(this.#base, this.#overrideOf(member), `members[${member.route}].healthCheck`);
    if (config === undefined) return;
    const state = new ProbeState(member, config, probeTargetOf(member.url, config.path, effectiveTls(this.#tls, member)));
    this.#states.set(member, state);
    if (probeable(member)) this.#schedule(state, firstProbeDelayMs(config.intervalMs, config.jitterPercent));
  }

  #untrack(member: Member): void {
    this.#states.get(member)?.stop();
    this.#states.delete(member);
  }

  #adminChanged(member: Member): void {
    const state = this.#states.get(member);
    if (state === undefined) return;
    if (!probeable(member)) state.stop();
    else if (!state.scheduled) this.#schedule(state, firstProbeDelayMs(state.config.intervalMs, state.config.jitterPercent));
  }

  #schedule(state: ProbeState, delayMs: number): void {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.#probe(state);
    }, delayMs);
    state.timer.unref();
  }

  #probe(state: ProbeState): void {
    if (this.#closed || !probeable(state.member)) return;
    const controller = new AbortController();
    state.inFlight = controller;
    void runProbe(state.target, state.config, controller.signal).then((result) => {
      // A stopped probe (close, disable, removal) was replaced or dropped: its result is stale.
      if (state.inFlight !== controller) return;
      state.inFlight = undefined;
      // Schedule first, so that a throwing listener cannot stop the probing.
      this.#schedule(state, nextProbeDelayMs(state.config.intervalMs, state.config.jitterPercent));
      try {
        this.#record(state, result);
        this.emit('probe', state.member, result);
      } catch (err) {
        // A listener's bug (memberHealthy, memberUnhealthy, probe) must not become an unhandled rejection that ends the process.
        process.emitWarning(`proxy-balancer: a health event listener threw: ${err instanceof Error ? err.stack : String(err)}`);
      }
    });
  }

  /** Counts the result and, at a threshold, tells the pool. */
  #record(state: ProbeState, result: ProbeResult): void {
    const { member, config } = state;
    state.probes++;
    state.lastProbe = result;
    if (result.ok) {
      state.consecutivePasses++;
      state.consecutiveFails = 0;
      const out = member.unhealthy || member.errorSince !== 0;
      if (out && state.consecutivePasses >= config.passes) {
        this.#pool.setHealth(member, true, `${state.description}: ${plural(state.consecutivePasses, 'good probe')} in a row`);
      }
    } else {
      state.consecutiveFails++;
      state.consecutivePasses = 0;
      if (!member.unhealthy && state.consecutiveFails >= config.fails) {
        const status = result.status === null ? '' : ` (status ${result.status})`;
        this.#pool.setHealth(member, false, `${state.description}: ${plural(state.consecutiveFails, 'failed probe')} in a row, last ${result.error}${status}`);
      }
    }
  }
}

/** Disabled and stopped members take no traffic at all, so they are not probed. */
function probeable(member: Member): boolean {
  return !member.removed && member.admin !== 'disabled' && member.admin !== 'stopped';
}

/**
 * @internal The wait before a member's next probe: `intervalMs` plus or minus up to
 * `jitterPercent` of it, uniformly at random.
 */
export function nextProbeDelayMs(intervalMs: number, jitterPercent: number, random: () => number = Math.random): number {
  const spread = (intervalMs * jitterPercent) / 100;
  return Math.max(0, Math.round(intervalMs + (random() * 2 - 1) * spread));
}

/**
 * @internal The wait before a member's first probe: at once without jitter, else a random moment
 * within `min(intervalMs, 1000)` ms, so that members added together are not probed together.
 */
export function firstProbeDelayMs(intervalMs: number, jitterPercent: number, random: () => number = Math.random): number {
  if (jitterPercent === 0) return 0;
  return Math.floor(random() * Math.min(intervalMs, FIRST_PROBE_WINDOW_MS));
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
