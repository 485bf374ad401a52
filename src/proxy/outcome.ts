/**
 * How one attempt on one member ended, in the terms the request path reads: failover, passive
 * health and `bytraffic` all decide from this, whichever engine made the attempt.
 */

/**
 * How an attempt failed:
 * - `connect`: no connection, so no byte reached the member (refused, unreachable, DNS, connect timeout).
 * - `no-response`: connected, the request may have reached the member, no response byte came back.
 * - `timeout`: no response head within `timeoutMs`.
 * - `truncated`: the response head went to the client, then the member failed mid-body.
 * - `bad-response`: the member's response cannot be relayed (a status outside 200-599, a control
 *   byte in the reason phrase): the client gets 502 and the member is charged.
 * - `client-abort`: the client went away; not the member's fault.
 * - `client-timeout`: the client stopped sending its request body for `idleTimeoutMs`: 408, not
 *   the member's fault.
 * - `closed`: the balancer was closed under the attempt; nothing is retried.
 * - `internal`: the balancer's own code or a user's hook threw: 502, not charged, not retried.
 */
export type FailureKind = 'connect' | 'no-response' | 'timeout' | 'truncated' | 'bad-response' | 'client-abort' | 'client-timeout' | 'closed' | 'internal';

/** How one attempt on one member ended. */
export interface ForwardOutcome {
  /** Undefined when the response went to the client whole. */
  readonly failure: FailureKind | undefined;
  /** The member's status code, or 0 when no response head came. */
  readonly status: number;
  /** True once the response head was written to the client: nothing may be retried after that. */
  readonly responseStarted: boolean;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly durationMs: number;
  readonly error: (Error & { code?: string }) | undefined;
  /** The attempt went out on a reused keep-alive socket (a reset then may be a keep-alive race). */
  readonly reusedSocket: boolean;
  /** The member's Set-Cookie fields, for the sticky session table. */
  readonly setCookie: readonly string[] | undefined;
}
