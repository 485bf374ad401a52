/**
 * Active health check options: the public `healthCheck` option (on the balancer and per member),
 * its defaults, its validation, and the merge of a member's partial override onto the balancer's.
 * Validation throws {@link BalancerConfigError} naming the option path and the value, like every option.
 */
import {
  BalancerConfigError,
  expectKnownKeys,
  denseArray,
  expectPlainObject,
  isArray,
  oneOf,
  optionalInteger,
  tokenPattern,
  MAX_TIMER_MS,
} from '../validate.js';

/** How a member is probed: `TCP` only connects; the others send that HTTP request. */
export type HealthCheckMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'TCP';

/**
 * One accepted status code, or an inclusive range of them: a number (`204`), a pair (`[200, 299]`),
 * or a string (`'204'`, `'200-299'`).
 */
export type StatusCodeSpec = number | readonly [number, number] | string;

/**
 * Active health checks (Apache's mod_proxy_hcheck `hc*` parameters, with HAProxy/Envoy counting).
 * Set on the balancer for every member; a member's own `healthCheck` overrides some fields, or is
 * `false` to turn its probes off. Every field is optional.
 *
 * A member leaves rotation after `fails` failed probes in a row and comes back after `passes` good
 * probes in a row. Apache's `hcfails`/`hcpasses` count failures (or passes) in total since the last
 * change instead: a good probe between two bad ones does not reset its count, so Apache's
 * `hcfails=3` can trip on three failures spread over an hour. Here they must be consecutive.
 *
 * Probes go to the member's own address, one at a time per member, each on a fresh connection
 * (`Connection: close`, no keep-alive pool) with `User-Agent: proxy-balancer-health/<version>`.
 * Members that are `disabled` or `stopped` are not probed. Probing goes on when every member is out,
 * so members come back as soon as they are really up.
 */
export interface HealthCheckOptions {
  /**
   * `'GET'` (default), `'HEAD'`, `'OPTIONS'` (sent to `path`, where Apache sends `OPTIONS *`), or
   * `'TCP'`: a probe passes when the connection opens (no TLS handshake, as Apache's `hcmethod=TCP`).
   */
  method?: HealthCheckMethod;
  /**
   * Path (and query) of the probe, joined onto the member URL's own path as Apache appends `hcuri`:
   * member `http://10.0.0.2/app` with `'/health'` probes `/app/health`. Must start with `/`.
   * Default `'/'`. Not used by `TCP`.
   */
  path?: string;
  /**
   * Time from the end of one probe to the start of the next, in ms (Apache `hcinterval`, whose
   * default of 30 s and minimum of 100 ms apply). Default 30000.
   */
  intervalMs?: number;
  /**
   * Time allowed for a whole probe (connect, response head, and the body up to 64 KiB), in ms; when
   * it passes the probe fails with `ETIMEDOUT` and its socket is destroyed. Default 5000. It may
   * exceed `intervalMs`: probes of a member never overlap, a slow probe only delays the next one.
   */
  timeoutMs?: number;
  /** Good probes in a row that bring an unhealthy member back (Apache `hcpasses`). Default 1. */
  passes?: number;
  /** Failed probes in a row that take a member out (Apache `hcfails`). Default 1. */
  fails?: number;
  /**
   * Status codes that pass an HTTP probe: one code or range, or an array of them (an array of two
   * numbers is two codes; write `[[200, 299]]` or `'200-299'` for a range). Default 200-399, as
   * Apache. Not used by `TCP`.
   */
  expectStatus?: StatusCodeSpec | readonly StatusCodeSpec[];
  /**
   * Text the response body must contain, or a RegExp it must match (its `g` and `y` flags are
   * dropped, so every probe matches alike). Only the first 64 KiB of the body are read. Unset by
   * default (any body). Not used by `TCP` or `HEAD`.
   */
  expectBody?: string | RegExp;
  /**
   * Extra request header fields, for example `{ host: 'app.example' }` for a name-based virtual host
   * or an authorization token. Connection-level fields (`connection`, `content-length`, ...) are
   * refused. A member's `headers` replace the balancer's as a whole. Not used by `TCP`.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Each wait between probes is `intervalMs` plus or minus up to this percentage, at random, so
   * that members (and balancers in several processes) do not probe in lockstep. Integer 0 to 50,
   * default 10. With a non-zero value, the first probe also comes at a random moment within
   * `min(intervalMs, 1000)` ms of the start; with 0 it comes at once.
   */
  jitterPercent?: number;
}

/** Inclusive status code range `[lowest, highest]`. */
export type StatusRange = readonly [number, number];

/** {@link HealthCheckOptions} after validation, with defaults applied. */
export interface HealthCheckConfig {
  readonly method: HealthCheckMethod;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly passes: number;
  readonly fails: number;
  /** Never empty. */
  readonly expectStatus: readonly StatusRange[];
  readonly expectBody: string | RegExp | undefined;
  /** Lower-case field names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly jitterPercent: number;
}

/** A member's validated override: only the fields it set (see {@link normalizeHealthCheckOverride}). */
export type HealthCheckOverride = Partial<HealthCheckConfig>;

/** Defaults of {@link HealthCheckOptions}. */
export const HEALTH_CHECK_DEFAULTS: HealthCheckConfig = Object.freeze({
  method: 'GET',
  path: '/',
  intervalMs: 30_000,
  timeoutMs: 5_000,
  passes: 1,
  fails: 1,
  expectStatus: Object.freeze([Object.freeze([200, 399] as const)]),
  expectBody: undefined,
  headers: Object.freeze({}),
  jitterPercent: 10,
});

const METHODS: readonly HealthCheckMethod[] = ['GET', 'HEAD', 'OPTIONS', 'TCP'];
const KEYS = ['method', 'path', 'intervalMs', 'timeoutMs', 'passes', 'fails', 'expectStatus', 'expectBody', 'headers', 'jitterPercent'] as const;
/** Fields an HTTP probe uses and a TCP probe does not. */
const HTTP_ONLY_KEYS = ['path', 'expectStatus', 'expectBody', 'headers'] as const;
/** Apache's watchdog tick (AP_WD_TM_SLICE), the smallest hcinterval it accepts. */
const MIN_INTERVAL_MS = 100;
const MAX_COUNT = 1000;
const MAX_JITTER_PERCENT = 50;
/** Visible ASCII without `#`: what a request target may hold unencoded. */
const PATH_PATTERN = /^\/[\x21-\x22\x24-\x7e]*$/;
const TOKEN_PATTERN = tokenPattern(256);
/**
 * Field values Node will send: tab, visible ASCII, space and U+0080-U+00FF (its own header check,
 * `validateHeaderValue`). Anything else would pass here and then fail every probe with
 * ERR_INVALID_CHAR, taking every member out of rotation.
 */
const FIELD_VALUE_PATTERN = /^[\t\x20-\x7e\x80-\xff]*$/;
/** The probe owns its connection and sends no body. */
const RESERVED_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade', 'expect']);
const STATUS_RANGE_TEXT = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/;

/**
 * Validates the balancer's `healthCheck` option and applies defaults. `undefined` and `false` mean
 * no health checks (undefined is returned); `{}` means checks with every default.
 */
export function normalizeHealthCheck(value: unknown, path: string): HealthCheckConfig | undefined {
  if (value === undefined || value === false) return undefined;
  return { ...HEALTH_CHECK_DEFAULTS, ...validateFields(value, path) };
}

/**
 * Validates a member's `healthCheck` option: a partial override (only the fields it sets are kept),
 * `false` (probes off for that member), or `undefined` (the balancer's settings).
 * Meant for member validation, so that `pool.add()` rejects a bad override up front.
 */
export function normalizeHealthCheckOverride(value: unknown, path: string): HealthCheckOverride | false | undefined {
  if (value === undefined || value === false) return value;
  return validateFields(value, path);
}

/**
 * A member's effective health check: the balancer's `base` (already normalized, or undefined when
 * the balancer has none) with the member's `override` on top. `override` may be raw options or the
 * result of {@link normalizeHealthCheckOverride}; it is validated here under `path`.
 * - `undefined`: the base as is.
 * - `false`: undefined (no probes for the member).
 * - an object: its fields replace the base's (defaults fill in when there is no base, so a member
 *   can have checks when the balancer has none). Fields the merged method does not use (HTTP
 *   fields under `TCP`, `expectBody` under `HEAD`) are dropped when they come from the other side
 *   (within one object they are errors), so a member can switch the balancer's GET check to TCP.
 */
export function mergeHealthCheck(base: HealthCheckConfig | undefined, override: unknown, path: string): HealthCheckConfig | undefined {
  const fields = normalizeHealthCheckOverride(override, path);
  if (fields === false) return undefined;
  if (fields === undefined) return base;
  const merged: HealthCheckConfig = { ...HEALTH_CHECK_DEFAULTS, ...base, ...fields };
  if (merged.method === 'TCP') {
    return {
      ...merged,
      path: HEALTH_CHECK_DEFAULTS.path,
      expectStatus: HEALTH_CHECK_DEFAULTS.expectStatus,
      expectBody: undefined,
      headers: HEALTH_CHECK_DEFAULTS.headers,
    };
  }
  if (merged.method === 'HEAD' && merged.expectBody !== undefined) return { ...merged, expectBody: undefined };
  return merged;
}

/** Whether `status` falls in one of `ranges`. */
export function statusMatches(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some(([low, high]) => status >= low && status <= high);
}

/** Checks every field an object sets; returns only those, normalized. */
function validateFields(value: unknown, path: string): HealthCheckOverride {
  expectPlainObject(value, path);
  expectKnownKeys(value, KEYS, path);
  const o = value as Record<(typeof KEYS)[number], unknown>;
  const out: { -readonly [K in keyof HealthCheckConfig]?: HealthCheckConfig[K] } = {};
  if (o.method !== undefined) out.method = oneOf(o.method, METHODS, `${path}.method`);
  // Fields that the same object's method cannot use are contradictions, so errors.
  if (out.method === 'TCP') {
    for (const key of HTTP_ONLY_KEYS) {
      if (o[key] !== undefined) throw new BalancerConfigError(`${path}.${key}`, o[key], "is not used by method 'TCP'");
    }
  }
  if (out.method === 'HEAD' && o.expectBody !== undefined) {
    throw new BalancerConfigError(`${path}.expectBody`, o.expectBody, "is not used by method 'HEAD' (no body comes back)");
  }
  if (o.path !== undefined) out.path = normalizePath(o.path, `${path}.path`);
  if (o.intervalMs !== undefined) out.intervalMs = optionalInteger(o.intervalMs, `${path}.intervalMs`, MIN_INTERVAL_MS, MAX_TIMER_MS, 0);
  if (o.timeoutMs !== undefined) out.timeoutMs = optionalInteger(o.timeoutMs, `${path}.timeoutMs`, 1, MAX_TIMER_MS, 0);
  if (o.passes !== undefined) out.passes = optionalInteger(o.passes, `${path}.passes`, 1, MAX_COUNT, 0);
  if (o.fails !== undefined) out.fails = optionalInteger(o.fails, `${path}.fails`, 1, MAX_COUNT, 0);
  if (o.jitterPercent !== undefined) out.jitterPercent = optionalInteger(o.jitterPercent, `${path}.jitterPercent`, 0, MAX_JITTER_PERCENT, 0);
  if (o.expectStatus !== undefined) out.expectStatus = normalizeExpectStatus(o.expectStatus, `${path}.expectStatus`);
  if (o.expectBody !== undefined) out.expectBody = normalizeExpectBody(o.expectBody, `${path}.expectBody`);
  if (o.headers !== undefined) out.headers = normalizeHeaders(o.headers, `${path}.headers`);
  return out;
}

function normalizePath(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length > 2048 || !PATH_PATTERN.test(value)) {
    throw new BalancerConfigError(path, value, 'must be a path starting with "/", of visible ASCII characters without "#" (percent-encode others)');
  }
  return value;
}

/** One code, one range, or a non-empty array of them, as inclusive ranges. */
function normalizeExpectStatus(value: unknown, path: string): StatusRange[] {
  if (!isArray(value, path)) return [statusRangeOf(value, path)];
  if (value.length === 0) throw new BalancerConfigError(path, value, 'must not be empty');
  return denseArray(value, path).map((entry: unknown, i) => statusRangeOf(entry, `${path}[${i}]`));
}

function statusRangeOf(value: unknown, path: string): StatusRange {
  const expectation = 'must be a status code 100-599, a [lowest, highest] pair, or a string like "204" or "200-299"';
  let low: number | undefined;
  let high: number | undefined;
  if (typeof value === 'number') {
    low = high = value;
  } else if (typeof value === 'string') {
    const match = STATUS_RANGE_TEXT.exec(value.trim());
    if (match !== null) {
      low = Number(match[1]);
      high = match[2] === undefined ? low : Number(match[2]);
    }
  } else if (isArray(value, path) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number') {
    [low, high] = value as [number, number];
  }
  if (low === undefined || high === undefined || !isStatusCode(low) || !isStatusCode(high)) {
    throw new BalancerConfigError(path, value, expectation);
  }
  if (low > high) throw new BalancerConfigError(path, value, 'must not have its lowest code above its highest');
  return [low, high];
}

function isStatusCode(n: number): boolean {
  return Number.isInteger(n) && n >= 100 && n <= 599;
}

function normalizeExpectBody(value: unknown, path: string): string | RegExp {
  if (value instanceof RegExp) {
    // g and y make test() stateful (lastIndex); a probe must match the same way every time.
    return new RegExp(value.source, value.flags.replace(/[gy]/g, ''));
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new BalancerConfigError(path, value, 'must be a non-empty string or a RegExp');
  }
  return value;
}

function normalizeHeaders(value: unknown, path: string): Record<string, string> {
  expectPlainObject(value, path);
  // No prototype: a field named __proto__ must stay a field.
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, field] of Object.entries(value)) {
    const lower = name.toLowerCase();
    if (!TOKEN_PATTERN.test(name)) throw new BalancerConfigError(`${path}.${name}`, name, 'must be a valid header field name');
    if (RESERVED_HEADERS.has(lower)) {
      throw new BalancerConfigError(`${path}.${name}`, field, 'is set by the probe itself and cannot be given');
    }
    if (typeof field !== 'string' || !FIELD_VALUE_PATTERN.test(field)) {
      throw new BalancerConfigError(`${path}.${name}`, field, 'must be a string without CR, LF or NUL, other control characters or characters above U+00FF');
    }
    if (Object.hasOwn(headers, lower)) throw new BalancerConfigError(`${path}.${name}`, field, 'duplicates another field name (names are case-insensitive)');
    headers[lower] = field;
  }
  return headers;
}
