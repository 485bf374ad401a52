/**
 * The balancer's events: one place that turns pool and request-path happenings into plain event
 * objects, emitted on the balancer's EventEmitter and published on `node:diagnostics_channel`
 * channels named `proxy-balancer:<event>` (published only when someone subscribes).
 */
import diagnostics from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { Member } from './pool/member.js';
import type { Pool } from './pool/pool.js';
import type { FailureKind } from './proxy/outcome.js';

/** A member-related event. */
export interface MemberEvent {
  /** The member's route. */
  route: string;
  /** The member's URL. */
  url: string;
  /** Why it happened, in words. */
  reason: string;
}

/** A failed attempt about to be retried on another member. */
export interface RetryEvent {
  /** The member whose attempt failed. */
  route: string;
  /** How it failed: an error code or a failure kind. */
  reason: string;
  /** The attempt that failed, 1 for the first. */
  attempt: number;
  /** The request's method. */
  method: string;
}

/** One finished request (or Upgrade handshake), for access logs and metrics. */
export interface RequestEvent {
  /** The request's method. */
  method: string;
  /** The request target as the balancer received it (after any mount path was stripped). */
  url: string;
  /** The member that answered last, or undefined when no member was tried. */
  route: string | undefined;
  /** The status the client got: the member's, or the balancer's own (400, 502, 503, 504); 0 when the client left first. */
  status: number;
  /** Request body bytes sent to members, over all attempts. */
  bytesSent: number;
  /** Response body bytes relayed to the client. */
  bytesReceived: number;
  /** From the request's arrival at the balancer to its end, in ms. */
  durationMs: number;
  /** Attempts made on members (0 when none was tried). */
  attempts: number;
  /** How the last attempt failed, if it did. */
  failure: FailureKind | undefined;
  /** True for an Upgrade handshake (the event comes when the handshake is over, not the tunnel). */
  upgrade: boolean;
  /** The client's address (its socket's remote address); undefined once the socket is gone. */
  client: string | undefined;
}

/** Every member was in error and all were cleared at once (Apache's forcerecovery). */
export interface ForcedRecoveryEvent {
  /** The routes of the members cleared. */
  routes: string[];
}

/** An outlier ejection: the member is in error for `durationMs`. */
export interface EjectionEvent extends MemberEvent {
  /** How long the ejection lasts, in ms. */
  durationMs: number;
}

/** A request that waits for, or got, a member with room (`maxConnections`). */
export interface QueueEvent {
  /** The request's method. */
  method: string;
  /** The request target as the balancer received it. */
  url: string;
  /** Requests waiting now. */
  queueLength: number;
  /** How long it waited, in ms (0 when it just joined). */
  waitedMs: number;
}

/** A request refused for load, with 503 and Retry-After. */
export interface ShedEvent {
  /** The request's method. */
  method: string;
  /** The request target as the balancer received it. */
  url: string;
  /** `maxInFlight` reached, the queue full (`queueLength`), or no room within `queueTimeoutMs`. */
  reason: 'maxInFlight' | 'queueFull' | 'queueTimeout';
}

/** Event names and their payloads. */
export interface BalancerEvents {
  /** A member went into the error state (connect failure, failOnStatus, failOnTimeout). */
  memberError: [MemberEvent];
  /** A member came back: it served after its error timer ran out. */
  memberRecovered: [MemberEvent];
  /** Outlier detection ejected a member for `durationMs` (the pool's event of the same name). */
  memberEjected: [EjectionEvent];
  /** @deprecated The old name of {@link BalancerEvents.memberEjected}, still emitted; listen to `memberEjected`. */
  ejected: [EjectionEvent];
  /** Active health checks took a member out. */
  memberUnhealthy: [MemberEvent];
  /** Active health checks put a member back. */
  memberHealthy: [MemberEvent];
  /** Every member was in error; all were cleared (forceRecovery). */
  forcedRecovery: [ForcedRecoveryEvent];
  /** A failed attempt is retried on another member. */
  retry: [RetryEvent];
  /** A retry was refused because the retry budget was spent. */
  retryBudgetExhausted: [RetryEvent];
  /** A member was added to the pool. */
  memberAdded: [MemberEvent];
  /** A member was removed from the pool. */
  memberRemoved: [MemberEvent];
  /** A member's status, weight or state was changed (drain, enable, setWeight, ...). */
  memberChanged: [MemberEvent];
  /** Every member a request could go to is at its cap: it waits in the queue. */
  queued: [QueueEvent];
  /** A queued request got a member with room. */
  dequeued: [QueueEvent];
  /** A request was refused for load (503 with Retry-After). */
  shed: [ShedEvent];
  /** A request is over (answered, cut or abandoned by its client): one event each. */
  request: [RequestEvent];
}

/** Channel name prefix for `node:diagnostics_channel`. */
export const CHANNEL_PREFIX = 'proxy-balancer:';

/** Emits on an EventEmitter and publishes on the matching diagnostics channel. */
export class BalancerEventHub extends EventEmitter<BalancerEvents> {
  readonly #channels = new Map<string, diagnostics.Channel>();

  publish<K extends keyof BalancerEvents>(event: K, ...payload: BalancerEvents[K]): void {
    const channel = this.#channel(event);
    if (channel.hasSubscribers) channel.publish(payload[0]);
    // EventEmitter's typed emit wants the exact tuple; the payload is it.
    (this.emit as (event: K, ...args: BalancerEvents[K]) => boolean)(event, ...payload);
  }

  /** Whether anyone listens to `event`: a payload built per request is built only then. */
  wants(event: keyof BalancerEvents): boolean {
    return this.listenerCount(event) > 0 || this.#channel(event).hasSubscribers;
  }

  #channel(event: keyof BalancerEvents): diagnostics.Channel {
    let channel = this.#channels.get(event);
    if (channel === undefined) {
      channel = diagnostics.channel(CHANNEL_PREFIX + event);
      this.#channels.set(event, channel);
    }
    return channel;
  }

  /** Relays the pool's member events. */
  relay(pool: Pool): void {
    const view = (member: Member, reason: string): MemberEvent => ({ route: member.route, url: member.url.href, reason });
    pool.on('memberError', (m, reason) => this.publish('memberError', view(m, reason)));
    pool.on('memberRecovered', (m, reason) => this.publish('memberRecovered', view(m, reason)));
    pool.on('memberEjected', (m, reason, durationMs) => {
      const event = { ...view(m, reason), durationMs };
      this.publish('memberEjected', event);
      this.publish('ejected', event); // the deprecated name, for listeners written before the rename
    });
    pool.on('memberUnhealthy', (m, reason) => this.publish('memberUnhealthy', view(m, reason)));
    pool.on('memberHealthy', (m, reason) => this.publish('memberHealthy', view(m, reason)));
    pool.on('forcedRecovery', (members) => this.publish('forcedRecovery', { routes: members.map((m) => m.route) }));
    pool.on('memberAdded', (m) => this.publish('memberAdded', view(m, 'added')));
    pool.on('memberRemoved', (m) => this.publish('memberRemoved', view(m, 'removed')));
    pool.on('memberChanged', (m, reason) => this.publish('memberChanged', view(m, reason)));
  }
}
