/**
 * The strategy interface: how a member is picked from the candidates the pool offers. Like Apache's
 * lbmethod providers and HAProxy's lb_*.c hooks, a strategy is one small object; it keeps its own
 * per-member bookkeeping (Apache's lbstatus, say) keyed by member and only reads member state.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Member } from '../pool/member.js';

/** What a strategy may read about the request being balanced. */
export interface PickContext {
  /** The client request (for hashing strategies); absent for synthetic picks. */
  readonly req?: IncomingMessage;
  /** The request's headers as the client sent them (the same object as `req.headers`). */
  readonly headers?: IncomingHttpHeaders;
}

/** How a request to a member ended, for strategies that count traffic or latency. */
export interface RequestEndInfo {
  /** Request body bytes sent to the member. */
  readonly bytesSent: number;
  /** Response body bytes received from the member. */
  readonly bytesReceived: number;
  /** Milliseconds from the start of the attempt to its end. */
  readonly durationMs: number;
  /** False when the attempt failed (no response, a timeout, a reset). */
  readonly ok: boolean;
}

/** Why the member list changed, for {@link Strategy.membersChanged}. */
export type MembersChange = 'added' | 'removed' | 'weight';

/**
 * A load-balancing strategy. `pick` is called with the candidates of one tier at a time, in the
 * order Apache walks them (configuration order, spares after regular members, standbys alone), and
 * returns one of them or `undefined` to let the next tier be offered.
 */
export interface Strategy {
  /** A short name, shown in snapshots and metrics. */
  readonly name: string;
  /**
   * Picks one of `candidates` (never empty) or returns undefined. The array is the pool's own and
   * is reused for the next pick: read it during the call, copy it to keep it.
   */
  pick(candidates: readonly Member[], context: PickContext): Member | undefined;
  /** Told when a request starts on a member (after the pick, or after a sticky route chose it). */
  requestStart?(member: Member): void;
  /** Told when a request on a member ends, with its byte counts and duration. */
  requestEnd?(member: Member, info: RequestEndInfo): void;
  /**
   * Told when a sticky route chose `member` without a pick, with every usable member of the pool,
   * so request counting stays as Apache's (its `updatelbstatus` hook, or the default accounting).
   */
  routed?(member: Member, usable: readonly Member[]): void;
  /** Told when members are added or removed or a weight changes. */
  membersChanged?(members: readonly Member[], change: MembersChange, member: Member): void;
  /** Forget all bookkeeping (Apache's `reset`, run when the lbmethod changes). */
  reset?(): void;
}
