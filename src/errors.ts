/**
 * Named errors with stable codes, in undici's style: what an attempt on a member failed with, as
 * `memberError` events and outcomes report it. Bottom layer: imports nothing from the package.
 */

/** Base of the balancer's own errors; `code` is stable for programmatic checks. */
export class ProxyBalancerError extends Error {
  /** Stable error code. */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No connection to the member within `connectTimeoutMs`: no byte reached it. */
export class ConnectTimeoutError extends ProxyBalancerError {
  constructor(ms: number) {
    super(`no connection within ${ms} ms`, 'PB_ERR_CONNECT_TIMEOUT');
  }
}

/** No response head within `timeoutMs` (or the member's own). */
export class HeadersTimeoutError extends ProxyBalancerError {
  constructor(ms: number) {
    super(`no response head within ${ms} ms`, 'PB_ERR_HEADERS_TIMEOUT');
  }
}

/** The response body was silent for `idleTimeoutMs`. */
export class BodyTimeoutError extends ProxyBalancerError {
  constructor(ms: number) {
    super(`response body idle for ${ms} ms`, 'PB_ERR_BODY_TIMEOUT');
  }
}

/** The client stopped sending its request body for `idleTimeoutMs` (answered 408). */
export class RequestBodyTimeoutError extends ProxyBalancerError {
  constructor(ms: number) {
    super(`request body idle for ${ms} ms`, 'PB_ERR_REQUEST_BODY_TIMEOUT');
  }
}

/** The member closed the connection before the response was whole. */
export class MemberClosedError extends ProxyBalancerError {
  constructor(message = 'member closed mid-response') {
    super(message, 'PB_ERR_MEMBER_CLOSED');
  }
}

/** A member response that cannot be relayed to the client (answered 502). */
export class InvalidResponseError extends ProxyBalancerError {
  constructor(message: string) {
    super(message, 'PB_ERR_INVALID_RESPONSE');
  }
}

/** The balancer was closed while the attempt was under way. */
export class BalancerClosedError extends ProxyBalancerError {
  constructor() {
    super('the balancer is closed', 'PB_ERR_CLOSED');
  }
}

/** The client went away before the exchange was over. */
export class ClientGoneError extends ProxyBalancerError {
  constructor() {
    super('the client closed the connection', 'PB_ERR_CLIENT_GONE');
  }
}
