/**
 * Option types, defaults and validation. Every option is checked up front; a bad one throws a
 * {@link BalancerConfigError} whose message names the option path and the value it got.
 */
import { normalizeHealthCheck, normalizeHealthCheckOverride, type HealthCheckConfig, type HealthCheckOptions } from './health/options.js';
import { normalizeSticky, type StickyConfig, type StickyOptions } from './sticky/options.js';
import { normalizeHashOptions, type HashConfig, type HashOptions } from './options/hash.js';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Strategy } from './strategies/strategy.js';
import type { MemberConfig, MemberOptions, MemberStatus, TlsOptions } from './options/member.js';
import { hostAndPort } from './options/member-url.js';
import {
  BalancerConfigError,
  expectKnownKeys,
  expectPlainObject,
  denseArray,
  inspect,
  isArray,
  oneOf,
  optionalBoolean,
  optionalInteger,
  isRouteToken,
  MAX_TIMER_MS,
} from './validate.js';

export type { MemberConfig, MemberOptions, MemberStatus, TlsOptions } from './options/member.js';

/**
 * How HTTP attempts reach members: `undici` (the default: one undici Pool per member) or
 * `http-proxy-3` (node:http's client with a keep-alive agent). Both follow the same rules;
 * Upgrade tunnels are the same for both.
 */
export type EngineName = 'undici' | 'http-proxy-3';

/** Which member a hook is called for (a pool `Member` is one). */
export interface MemberRef {
  /** The member's route. */
  readonly route: string;
  /** The member's URL. */
  readonly url: URL;
}

/** Edits the request headers of one attempt on `member`, in place. */
export type ProxyRequestHook = (headers: OutgoingHttpHeaders, req: IncomingMessage, member: MemberRef) => void;

/** Edits a member's response headers (lower-case names) in place, before they go to the client. */
export type ProxyResponseHook = (headers: Record<string, string | string[]>, info: { status: number; req: IncomingMessage; member: MemberRef }) => void;

/** Options of the response rewriting (Apache's ProxyPassReverse family). */
export interface ReverseOptions {
  /**
   * The front end's origin (`https://www.example.com`) for rewritten URLs; without it they become
   * path-absolute (`/app/next`), which browsers resolve against the page. Never taken from a request.
   */
  origin?: string;
  /** `Set-Cookie` `Domain` mapping, member domain to public domain ('' drops the attribute): Apache's ProxyPassReverseCookieDomain. */
  cookieDomain?: Record<string, string>;
  /** `Set-Cookie` `Path` mapping by prefix, member path to public path: Apache's ProxyPassReverseCookiePath. */
  cookiePath?: Record<string, string>;
}

/** Response rewriting after validation. */
export interface ReverseConfig {
  /** The configured origin without a trailing slash, or ''. */
  origin: string;
  /** Lower-cased member domain (no leading dot) to public domain. */
  cookieDomain: ReadonlyMap<string, string>;
  /** [member prefix, public prefix], longest prefix first. */
  cookiePath: readonly (readonly [string, string])[];
}

/** The built-in strategies, named as Apache's lbmethods where Apache has them. */
export type StrategyName = 'byrequests' | 'bytraffic' | 'bybusyness' | 'roundrobin' | 'p2c' | 'hash';

/** Options of {@link createBalancer}. */
export interface BalancerOptions {
  /** The back-end members, in configuration order (the order Apache walks them in). */
  members: readonly MemberOptions[];
  /** How a member is picked: a built-in name or a {@link Strategy} object. Default `'byrequests'`. */
  strategy?: StrategyName | Strategy;
  /** The upstream engine. Default `'undici'`. */
  engine?: EngineName;
  /** TLS to `https:` members; each member may override fields with its own `tls`. */
  tls?: TlsOptions;
  /**
   * Apache's ProxyPassReverse: member URLs in `Location`, `Content-Location` and `URI` response
   * headers are rewritten to the front end's (path-absolute under the mount path, or under
   * `origin`), and Set-Cookie domains and paths mapped when asked. On by default; `false` turns it off.
   */
  reverse?: ReverseOptions | false;
  /**
   * Called before each attempt with the headers about to go to `member` (Host included), to edit
   * in place: add an auth header, remove a cookie. Synchronous; a throw answers the client 502 and
   * emits a warning. Framing and hop-by-hop fields (Transfer-Encoding, Connection) are not yours to set.
   */
  onProxyRequest?: ProxyRequestHook;
  /**
   * Called with each member response head before it goes to the client, as an object of
   * lower-case names, to edit in place: CORS headers, a security header, removing a version banner.
   * Synchronous; a throw answers 502 (if nothing was sent yet) and emits a warning. Not called for
   * 101 Switching Protocols.
   */
  onProxyResponse?: ProxyResponseHook;
  /** Time allowed for a member's response head, in ms (Apache `timeout`). 504 when it passes. Default 60000. */
  timeoutMs?: number;
  /** How long a member stays in error after a failed connection before it is tried again (Apache `retry`). Default 60000. */
  retryMs?: number;
  /** Send the client's `Host` header to members (Apache `ProxyPreserveHost On`). Default false: the member's own host. */
  preserveHost?: boolean;
  /** Time allowed to connect to a member, in ms. A connect timeout counts as "no byte reached the member". Default 5000. */
  connectTimeoutMs?: number;
  /** Longest silence allowed in a member's response body, in ms; the client then sees a cut response. Default 60000. */
  idleTimeoutMs?: number;
  /**
   * Longest silence allowed in an open Upgrade tunnel (WebSocket), both directions together, in ms
   * (HAProxy's `timeout tunnel`); the tunnel is then closed. Default 0: no limit, as nginx has none
   * for upgraded connections unless `proxy_read_timeout` is set.
   */
  tunnelIdleTimeoutMs?: number;
  /** How failed attempts are retried on other members. */
  retry?: RetryOptions;
  /** Member statuses that count as member failures (Apache `failonstatus`): the member goes into error; the client still gets the response. */
  failOnStatus?: readonly number[];
  /** A response-head timeout puts the member in error (Apache `failontimeout`). Default false (it is still counted as a failure). */
  failOnTimeout?: boolean;
  /** When every member is in error, clear them all and try again rather than answer 503 (Apache `forcerecovery`, on by default). */
  forceRecovery?: boolean;
  /** Eject members that fail repeatedly (Envoy outlier detection); `false` turns it off. */
  outlierDetection?: OutlierDetectionOptions | false;
  /**
   * The most requests (and open tunnels) in flight to one member at a time, HAProxy's `maxconn`
   * and Apache's `max=`; a member's own `maxConnections` wins. A request whose members are all
   * full waits in a FIFO queue (`queueLength`, `queueTimeoutMs`). Default: no limit.
   */
  maxConnections?: number;
  /** How long a request may wait for a member with room, in ms (HAProxy `timeout queue`, Apache's balancer `timeout=`); then 503 with Retry-After. Default 5000. */
  queueTimeoutMs?: number;
  /** The most requests waiting for room at once; past it, 503 with Retry-After at once. Default 1024. */
  queueLength?: number;
  /** The most requests through the balancer at once, queued ones included; past it, 503 at once (load shedding). Default: no limit. */
  maxInFlight?: number;
  /** Ramp a member's weight from 10% to full over this many ms after it is added or comes back from error (HAProxy `slowstart`). Default 0: off. */
  slowStartMs?: number;
  /** Active health checks (Apache mod_proxy_hcheck); absent or `false`: none. */
  healthCheck?: HealthCheckOptions | false;
  /** Sticky sessions: Apache-compatible route cookies and URL parameters, Set-Cookie, a session table. */
  sticky?: StickyOptions;
  /** The key of the `hash` strategy (consistent hashing): client address, URL, path, a header, cookie or query parameter. */
  hash?: HashOptions;
}

/** Options of the retry policy. */
export interface RetryOptions {
  /**
   * Attempts per request in all, the first included, each on a different member. Default: the number
   * of members, at most 10 (Apache's maxattempts default is members - 1 retries).
   */
  attempts?: number;
  /** Request bodies up to this size are kept so they can be replayed to another member. Default 65536. */
  maxBodyBytes?: number;
  /** Retries of requests that reached a member may be at most this percentage of requests in flight (Envoy retry budget). Default 20. */
  budgetPercent?: number;
  /** Retries allowed in flight whatever the percentage. Default 10. */
  budgetMin?: number;
}

/** Options of outlier detection. */
export interface OutlierDetectionOptions {
  /** Consecutive failures (errors, timeouts, 5xx) that eject a member. Default 5. */
  consecutiveFailures?: number;
  /** Never eject when this percentage of the member's lbset is already out. Default 50. */
  maxEjectionPercent?: number;
  /** Ejections last `retryMs`, doubling for a repeat offender up to this. Default 300000. */
  maxEjectionMs?: number;
}

export interface RetryConfig {
  attempts: number | undefined;
  maxBodyBytes: number;
  budgetPercent: number;
  budgetMin: number;
}

export interface OutlierDetectionConfig {
  consecutiveFailures: number;
  maxEjectionPercent: number;
  maxEjectionMs: number;
}

/** Balancer options after validation, with defaults applied. */
export interface BalancerConfig {
  members: MemberConfig[];
  strategy: StrategyName | Strategy;
  engine: EngineName;
  tls: TlsOptions | undefined;
  reverse: ReverseConfig | undefined;
  onProxyRequest: ProxyRequestHook | undefined;
  onProxyResponse: ProxyResponseHook | undefined;
  timeoutMs: number;
  retryMs: number;
  preserveHost: boolean;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  tunnelIdleTimeoutMs: number;
  retry: RetryConfig;
  failOnStatus: ReadonlySet<number>;
  failOnTimeout: boolean;
  forceRecovery: boolean;
  outlierDetection: OutlierDetectionConfig | undefined;
  slowStartMs: number;
  maxConnections: number;
  queueTimeoutMs: number;
  queueLength: number;
  maxInFlight: number;
  healthCheck: HealthCheckConfig | undefined;
  sticky: StickyConfig | undefined;
  hash: HashConfig;
}

export const DEFAULTS = {
  strategy: 'byrequests',
  engine: 'undici',
  timeoutMs: 60_000,
  retryMs: 60_000,
  preserveHost: false,
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  tunnelIdleTimeoutMs: 0,
  maxBodyBytes: 64 * 1024,
  budgetPercent: 20,
  budgetMin: 10,
  maxAttempts: 10,
  failOnTimeout: false,
  forceRecovery: true,
  consecutiveFailures: 5,
  maxEjectionPercent: 50,
  maxEjectionMs: 300_000,
  slowStartMs: 0,
  queueTimeoutMs: 5_000,
  queueLength: 1024,
  weight: 1,
  lbset: 0,
} as const;

/** The engine names, the default first. */
export const ENGINE_NAMES: readonly EngineName[] = ['undici', 'http-proxy-3'];
const STRATEGY_NAMES: readonly StrategyName[] = ['byrequests', 'bytraffic', 'bybusyness', 'roundrobin', 'p2c', 'hash'];
const MEMBER_STATUSES: readonly MemberStatus[] = ['disabled', 'standby', 'spare', 'drain', 'stopped'];
export const BALANCER_KEYS = [
  'members',
  'strategy',
  'engine',
  'tls',
  'reverse',
  'onProxyRequest',
  'onProxyResponse',
  'timeoutMs',
  'retryMs',
  'preserveHost',
  'connectTimeoutMs',
  'idleTimeoutMs',
  'tunnelIdleTimeoutMs',
  'retry',
  'failOnStatus',
  'failOnTimeout',
  'forceRecovery',
  'outlierDetection',
  'slowStartMs',
  'maxConnections',
  'queueTimeoutMs',
  'queueLength',
  'maxInFlight',
  'healthCheck',
  'sticky',
  'hash',
] as const;
const MEMBER_KEYS = ['url', 'route', 'weight', 'lbset', 'status', 'retryMs', 'timeoutMs', 'healthCheck', 'tls', 'maxConnections'] as const;
const TLS_KEYS = ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized', 'minVersion'] as const;
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
/** A DNS name for SNI (an IP address is not allowed there, RFC 6066 3). */
const SERVERNAME_PATTERN =
  /^(?=.{1,253}$)(?!\d+(\.\d+){3}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const RETRY_KEYS = ['attempts', 'maxBodyBytes', 'budgetPercent', 'budgetMin'] as const;
const OUTLIER_KEYS = ['consecutiveFailures', 'maxEjectionPercent', 'maxEjectionMs'] as const;
const MAX_TIMEOUT_MS = MAX_TIMER_MS;

/** Validates balancer options and applies defaults. Throws {@link BalancerConfigError}. */
export function normalizeOptions(options: unknown): BalancerConfig {
  expectPlainObject(options, 'options');
  expectKnownKeys(options, BALANCER_KEYS, 'options');
  const o = options as Partial<BalancerOptions>;
  if (!isArray(o.members, 'members')) {
    throw new BalancerConfigError('members', o.members, 'must be an array of member options');
  }
  if (o.hash !== undefined && o.strategy !== 'hash') {
    throw new BalancerConfigError('hash', o.hash, "applies only with strategy 'hash'");
  }
  const members: MemberConfig[] = [];
  const taken = { urls: new Set<string>(), routes: new Set<string>() };
  denseArray(o.members, 'members').forEach((m, i) => {
    const member = normalizeMember(m, `members[${i}]`, taken);
    taken.urls.add(member.url.href);
    taken.routes.add(member.route);
    members.push(member);
  });
  return {
    members,
    strategy: normalizeStrategy(o.strategy === undefined ? DEFAULTS.strategy : o.strategy, 'strategy'),
    engine: o.engine === undefined ? DEFAULTS.engine : oneOf(o.engine, ENGINE_NAMES, 'engine'),
    tls: normalizeTls(o.tls, 'tls'),
    reverse: normalizeReverse(o.reverse, 'reverse'),
    onProxyRequest: optionalFunction(o.onProxyRequest, 'onProxyRequest', '(headers, req, member) => void'),
    onProxyResponse: optionalFunction(o.onProxyResponse, 'onProxyResponse', '(headers, { status, req, member }) => void'),
    timeoutMs: optionalInteger(o.timeoutMs, 'timeoutMs', 1, MAX_TIMEOUT_MS, DEFAULTS.timeoutMs),
    retryMs: optionalInteger(o.retryMs, 'retryMs', 0, MAX_TIMEOUT_MS, DEFAULTS.retryMs),
    preserveHost: optionalBoolean(o.preserveHost, 'preserveHost', DEFAULTS.preserveHost),
    connectTimeoutMs: optionalInteger(o.connectTimeoutMs, 'connectTimeoutMs', 1, MAX_TIMEOUT_MS, DEFAULTS.connectTimeoutMs),
    idleTimeoutMs: optionalInteger(o.idleTimeoutMs, 'idleTimeoutMs', 1, MAX_TIMEOUT_MS, DEFAULTS.idleTimeoutMs),
    tunnelIdleTimeoutMs: optionalInteger(o.tunnelIdleTimeoutMs, 'tunnelIdleTimeoutMs', 0, MAX_TIMEOUT_MS, DEFAULTS.tunnelIdleTimeoutMs),
    retry: normalizeRetry(o.retry, 'retry'),
    failOnStatus: normalizeStatusList(o.failOnStatus, 'failOnStatus'),
    failOnTimeout: optionalBoolean(o.failOnTimeout, 'failOnTimeout', DEFAULTS.failOnTimeout),
    forceRecovery: optionalBoolean(o.forceRecovery, 'forceRecovery', DEFAULTS.forceRecovery),
    outlierDetection: normalizeOutlierDetection(o.outlierDetection, 'outlierDetection'),
    slowStartMs: optionalInteger(o.slowStartMs, 'slowStartMs', 0, MAX_TIMEOUT_MS, DEFAULTS.slowStartMs),
    maxConnections: o.maxConnections === undefined ? Infinity : optionalInteger(o.maxConnections, 'maxConnections', 1, 1_000_000, 0),
    queueTimeoutMs: optionalInteger(o.queueTimeoutMs, 'queueTimeoutMs', 0, MAX_TIMEOUT_MS, DEFAULTS.queueTimeoutMs),
    queueLength: optionalInteger(o.queueLength, 'queueLength', 0, 1_000_000, DEFAULTS.queueLength),
    maxInFlight: o.maxInFlight === undefined ? Infinity : optionalInteger(o.maxInFlight, 'maxInFlight', 1, 10_000_000, 0),
    healthCheck: normalizeHealthCheck(o.healthCheck, 'healthCheck'),
    sticky: normalizeSticky(o.sticky, 'sticky'),
    hash: normalizeHashOptions(o.hash, 'hash'),
  };
}

function normalizeRetry(value: unknown, path: string): RetryConfig {
  if (value === undefined) value = {};
  expectPlainObject(value, path);
  expectKnownKeys(value, RETRY_KEYS, path);
  return {
    attempts: value.attempts === undefined ? undefined : optionalInteger(value.attempts, `${path}.attempts`, 1, 100, 1),
    maxBodyBytes: optionalInteger(value.maxBodyBytes, `${path}.maxBodyBytes`, 0, 64 * 1024 * 1024, DEFAULTS.maxBodyBytes),
    budgetPercent: optionalInteger(value.budgetPercent, `${path}.budgetPercent`, 0, 100, DEFAULTS.budgetPercent),
    budgetMin: optionalInteger(value.budgetMin, `${path}.budgetMin`, 0, 100_000, DEFAULTS.budgetMin),
  };
}

function normalizeOutlierDetection(value: unknown, path: string): OutlierDetectionConfig | undefined {
  if (value === false) return undefined;
  if (value === undefined) value = {};
  expectPlainObject(value, path);
  expectKnownKeys(value, OUTLIER_KEYS, path);
  return {
    consecutiveFailures: optionalInteger(value.consecutiveFailures, `${path}.consecutiveFailures`, 1, 1_000_000, DEFAULTS.consecutiveFailures),
    maxEjectionPercent: optionalInteger(value.maxEjectionPercent, `${path}.maxEjectionPercent`, 0, 100, DEFAULTS.maxEjectionPercent),
    maxEjectionMs: optionalInteger(value.maxEjectionMs, `${path}.maxEjectionMs`, 1, MAX_TIMEOUT_MS, DEFAULTS.maxEjectionMs),
  };
}

function normalizeStatusList(value: unknown, path: string): ReadonlySet<number> {
  if (value === undefined) return new Set();
  if (!isArray(value, path)) throw new BalancerConfigError(path, value, 'must be an array of HTTP status codes');
  denseArray(value, path).forEach((code, i) => optionalInteger(code, `${path}[${i}]`, 100, 599, 0));
  return new Set(value as number[]);
}

/** The URLs (`href`) and routes already taken, for the uniqueness checks of {@link normalizeMember}. */
export interface TakenNames {
  readonly urls: { has(href: string): boolean };
  readonly routes: { has(route: string): boolean };
}

/** The names `configs` take. */
export function takenNames(configs: readonly MemberConfig[]): TakenNames {
  return { urls: new Set(configs.map((c) => c.url.href)), routes: new Set(configs.map((c) => c.route)) };
}

/**
 * Validates one member's options against the names already taken (routes and URLs are unique).
 * Shared by the constructor and `pool.add()`; one check costs O(1), so a pool is validated in
 * linear time.
 */
export function normalizeMember(options: unknown, path: string, taken: TakenNames): MemberConfig {
  expectPlainObject(options, path);
  expectKnownKeys(options, MEMBER_KEYS, path);
  const m = options as Partial<MemberOptions>;
  const url = parseMemberUrl(m.url, `${path}.url`);
  if (taken.urls.has(url.href)) {
    throw new BalancerConfigError(`${path}.url`, m.url, 'duplicates another member');
  }
  let route: string;
  if (m.route === undefined) {
    route = deriveRoute(url, taken.routes);
  } else {
    if (typeof m.route !== 'string' || !isRouteToken(m.route)) {
      throw new BalancerConfigError(`${path}.route`, m.route, "must be 1 to 64 token characters (letters, digits, or !#$%&'*+-.^_`|~)");
    }
    if (taken.routes.has(m.route)) {
      throw new BalancerConfigError(`${path}.route`, m.route, "duplicates another member's route");
    }
    route = m.route;
  }
  return {
    url,
    route,
    weight: normalizeWeight(m.weight === undefined ? DEFAULTS.weight : m.weight, `${path}.weight`),
    lbset: optionalInteger(m.lbset, `${path}.lbset`, 0, 99, DEFAULTS.lbset),
    status: m.status === undefined ? 'active' : oneOf(m.status, MEMBER_STATUSES, `${path}.status`),
    retryMs: m.retryMs === undefined ? undefined : optionalInteger(m.retryMs, `${path}.retryMs`, 0, MAX_TIMEOUT_MS, 0),
    timeoutMs: m.timeoutMs === undefined ? undefined : optionalInteger(m.timeoutMs, `${path}.timeoutMs`, 1, MAX_TIMEOUT_MS, 0),
    maxConnections: m.maxConnections === undefined ? undefined : optionalInteger(m.maxConnections, `${path}.maxConnections`, 1, 1_000_000, 0),
    healthCheck: normalizeHealthCheckOverride(m.healthCheck, `${path}.healthCheck`),
    tls: memberTls(m.tls, url, `${path}.tls`),
  };
}

function memberTls(value: unknown, url: URL, path: string): TlsOptions | undefined {
  if (value === undefined) return undefined;
  if (url.protocol !== 'https:') throw new BalancerConfigError(path, value, 'applies only to an https: member');
  return normalizeTls(value, path);
}

/** Checks TLS options: PEM as strings or Buffers, and the few settings a proxy needs. */
export function normalizeTls(value: unknown, path: string): TlsOptions | undefined {
  if (value === undefined) return undefined;
  expectPlainObject(value, path);
  expectKnownKeys(value, TLS_KEYS, path);
  const tls: TlsOptions = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const pem = value[key];
    if (pem === undefined) continue;
    const list = isArray(pem, `${path}.${key}`) ? denseArray(pem, `${path}.${key}`) : [pem];
    list.forEach((item, i) => {
      if (typeof item !== 'string' && !Buffer.isBuffer(item)) {
        throw new BalancerConfigError(isArray(pem, path) ? `${path}.${key}[${i}]` : `${path}.${key}`, item, 'must be PEM text as a string or a Buffer');
      }
    });
    tls[key] = pem as TlsOptions['ca'];
  }
  if (value.passphrase !== undefined) {
    if (typeof value.passphrase !== 'string') throw new BalancerConfigError(`${path}.passphrase`, '***', 'must be a string');
    tls.passphrase = value.passphrase;
  }
  if (value.servername !== undefined) {
    if (typeof value.servername !== 'string' || !SERVERNAME_PATTERN.test(value.servername)) {
      throw new BalancerConfigError(`${path}.servername`, value.servername, 'must be a DNS host name (SNI takes no IP address)');
    }
    tls.servername = value.servername;
  }
  if (value.rejectUnauthorized !== undefined) tls.rejectUnauthorized = optionalBoolean(value.rejectUnauthorized, `${path}.rejectUnauthorized`, true);
  if (value.minVersion !== undefined) tls.minVersion = oneOf(value.minVersion, TLS_VERSIONS, `${path}.minVersion`);
  return tls;
}

function optionalFunction<F>(value: unknown, path: string, shape: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new BalancerConfigError(path, value, `must be a function ${shape}`);
  return value as F;
}

const REVERSE_KEYS = ['origin', 'cookieDomain', 'cookiePath'] as const;
const ORIGIN_PATTERN = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\/?$/;
const COOKIE_ATTRIBUTE_TEXT = /^[\x21-\x3a\x3c-\x7e]*$/;

function normalizeReverse(value: unknown, path: string): ReverseConfig | undefined {
  if (value === false) return undefined;
  if (value === undefined) value = {};
  expectPlainObject(value, path);
  expectKnownKeys(value, REVERSE_KEYS, path);
  let origin = '';
  if (value.origin !== undefined) {
    if (typeof value.origin !== 'string' || !ORIGIN_PATTERN.test(value.origin)) {
      throw new BalancerConfigError(`${path}.origin`, value.origin, 'must be an http: or https: origin such as "https://www.example.com", with no path');
    }
    origin = value.origin.replace(/\/$/, '');
  }
  const mapping = (key: 'cookieDomain' | 'cookiePath'): [string, string][] => {
    const map = value[key];
    if (map === undefined) return [];
    expectPlainObject(map, `${path}.${key}`);
    return Object.entries(map).map(([from, to]) => {
      if (from === '' || !COOKIE_ATTRIBUTE_TEXT.test(from) || typeof to !== 'string' || !COOKIE_ATTRIBUTE_TEXT.test(to)) {
        throw new BalancerConfigError(`${path}.${key}.${from}`, to, 'must map cookie attribute text to cookie attribute text (visible ASCII, no ";")');
      }
      if (key === 'cookiePath' && (!from.startsWith('/') || !to.startsWith('/'))) {
        throw new BalancerConfigError(`${path}.${key}.${from}`, to, 'must map a path starting with "/" to a path starting with "/"');
      }
      return [key === 'cookieDomain' ? from.toLowerCase().replace(/^\./, '') : from, to];
    });
  };
  return {
    origin,
    cookieDomain: new Map(mapping('cookieDomain')),
    cookiePath: mapping('cookiePath').sort((a, b) => b[0].length - a[0].length),
  };
}

/**
 * The TLS settings of one member's connections: the balancer's `tls` with the member's own fields
 * over them; undefined for an `http:` member, or when neither sets anything.
 */
export function effectiveTls(balancer: TlsOptions | undefined, member: { url: URL; tls: TlsOptions | undefined }): TlsOptions | undefined {
  if (member.url.protocol !== 'https:' || (balancer === undefined && member.tls === undefined)) return undefined;
  return { ...balancer, ...member.tls };
}

/** Apache's loadfactor rule: 1..100, decimals allowed. */
export function normalizeWeight(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 100) {
    throw new BalancerConfigError(path, value, 'must be a number from 1 to 100');
  }
  return value;
}

/** Checks a strategy name or object; a custom strategy needs a `name` and a `pick` function. */
export function normalizeStrategy(value: unknown, path: string): StrategyName | Strategy {
  if (typeof value === 'string') return oneOf(value, STRATEGY_NAMES, path);
  if (value === null || typeof value !== 'object') {
    throw new BalancerConfigError(path, value, `must be one of ${STRATEGY_NAMES.join(', ')} or a strategy object`);
  }
  const s = value as Record<string, unknown>;
  inspect(() => s.name, path);
  if (typeof s.name !== 'string' || s.name.length === 0) {
    throw new BalancerConfigError(`${path}.name`, s.name, 'must be a non-empty string');
  }
  if (typeof s.pick !== 'function') {
    throw new BalancerConfigError(`${path}.pick`, s.pick, 'must be a function (candidates, context) => member | undefined');
  }
  for (const hook of ['requestStart', 'requestEnd', 'routed', 'membersChanged', 'reset'] as const) {
    if (s[hook] !== undefined && typeof s[hook] !== 'function') {
      throw new BalancerConfigError(`${path}.${hook}`, s[hook], 'must be a function when given');
    }
  }
  return value as Strategy;
}

function parseMemberUrl(value: unknown, path: string): URL {
  if (typeof value !== 'string') throw new BalancerConfigError(path, value, 'must be an absolute http: or https: URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BalancerConfigError(path, value, 'must be an absolute http: or https: URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BalancerConfigError(path, value, 'must use http: or https:');
  }
  if (url.username || url.password) {
    // The credentials are left out of the error, which may well be logged.
    const shown = new URL(url.href);
    shown.username = '***';
    shown.password = '';
    throw new BalancerConfigError(path, shown.href, 'must not contain credentials');
  }
  // An empty `?` or `#` counts too: it leaves url.search/url.hash empty but stays in href.
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    throw new BalancerConfigError(path, value, 'must not contain a query or fragment');
  }
  return url;
}

/** A stable, readable route from host and port (`127.0.0.1:3001` gives `127_0_0_1-3001`), unique in the pool. */
function deriveRoute(url: URL, routes: TakenNames['routes']): string {
  const { host, port } = hostAndPort(url);
  const base = `${host.replace(/[^A-Za-z0-9]/g, '_').replace(/^_+/, '')}-${port}`.slice(0, 60);
  let route = base;
  for (let n = 2; routes.has(route); n++) route = `${base}-${n}`;
  return route;
}
