/**
 * Validation building blocks shared by every options module: the error type and the checks that
 * name the option path and the value in their messages.
 */

/** RFC 9110 token characters (as a regex character class body): also valid in cookie names and values. */
export const TOKEN_CHARS = "!#$%&'*+\\-.^_`|~0-9A-Za-z";

/** A pattern for tokens of 1 to `max` characters. */
export function tokenPattern(max: number): RegExp {
  return new RegExp(`^[${TOKEN_CHARS}]{1,${max}}$`);
}

/** The longest route, in characters (httpd's own limit is 63). */
export const MAX_ROUTE_CHARS = 64;
const ROUTE_TOKEN = tokenPattern(MAX_ROUTE_CHARS);

/**
 * Whether `value` is a valid route: 1 to 64 token characters, safe in a cookie value and a header.
 * The one rule for member routes (config) and for routes read from requests (sticky).
 */
export function isRouteToken(value: string): boolean {
  return ROUTE_TOKEN.test(value);
}

/** RFC 6265 cookie-octets (as a regex character class body): printable US-ASCII except space, `"`, `,`, `;` and `\`. */
export const COOKIE_OCTET_CHARS = '\\x21\\x23-\\x2B\\x2D-\\x3A\\x3C-\\x5B\\x5D-\\x7E';

/** A pattern for 1 to `max` cookie-octets. */
export function cookieOctetPattern(max: number): RegExp {
  return new RegExp(`^[${COOKIE_OCTET_CHARS}]{1,${max}}$`);
}

/** The longest delay `setTimeout` takes, in ms: the ceiling of every `...Ms` option. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Thrown for any invalid option; `path` names the option (`members[1].weight`) and `value` is what it got. */
export class BalancerConfigError extends Error {
  /** Stable error code for programmatic checks. */
  readonly code = 'ERR_BALANCER_CONFIG';
  /** Always `BalancerConfigError`. */
  override readonly name = 'BalancerConfigError';
  constructor(
    /** The option path, for example `members[1].weight`. */
    readonly path: string,
    /** The offending value. */
    readonly value: unknown,
    expectation: string,
  ) {
    super(`${path} ${expectation}, got ${describeValue(value)}`);
  }
}

/**
 * A plain object: `{...}` or `Object.create(null)`. A Date, Map, class instance or array is not an
 * option group, and a revoked Proxy is refused by name rather than by a TypeError.
 */
export function expectPlainObject(value: unknown, path: string): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || isArray(value, path)) throw new BalancerConfigError(path, value, 'must be an object');
  if (!isPlainObject(value, path)) throw new BalancerConfigError(path, value, 'must be a plain object');
}

/** Whether `value` is a plain object; a revoked Proxy is a {@link BalancerConfigError} at `path`. */
export function isPlainObject(value: unknown, path: string): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = inspect(() => Object.getPrototypeOf(value) as unknown, path);
  return proto === Object.prototype || proto === null;
}

/** `Array.isArray`, with a revoked Proxy refused as a {@link BalancerConfigError} at `path`. */
export function isArray(value: unknown, path: string): value is readonly unknown[] {
  return inspect(() => Array.isArray(value), path);
}

/** Runs a look at a value that throws only for a revoked Proxy. */
export function inspect<T>(look: () => T, path: string): T {
  try {
    return look();
  } catch {
    throw new BalancerConfigError(path, REVOKED, 'must be a plain value');
  }
}

/** An array with no holes (`[, m]` and `new Array(3)` are refused: a hole is no member). */
export function denseArray(value: readonly unknown[], path: string): readonly unknown[] {
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw new BalancerConfigError(`${path}[${i}]`, undefined, 'must be given (the array has a hole here)');
  }
  return value;
}

/** Stands for a value that cannot be looked at, in error messages. */
const REVOKED = Symbol('a revoked Proxy');

export function expectKnownKeys(value: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new BalancerConfigError(path === 'options' ? key : `${path}.${key}`, value[key], `is not a known option (known: ${known.join(', ')})`);
    }
  }
}

export function optionalInteger(value: unknown, path: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BalancerConfigError(path, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalBoolean(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new BalancerConfigError(path, value, 'must be true or false');
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new BalancerConfigError(path, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

/** A short, safe rendering of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (value === REVOKED) return 'a revoked Proxy';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof RegExp) return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return 'a value that cannot be shown';
    }
  }
}
