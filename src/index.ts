/**
 * proxy-balancer: an in-process load balancer for Node.js with Apache mod_proxy_balancer's
 * semantics. Public exports only.
 *
 * @packageDocumentation
 * @module proxy-balancer
 */
export { createBalancer, type Balancer, type BalancerSnapshot, type SnapshotTotals, type Listener } from './balancer.js';
export { BalancerConfigError } from './validate.js';
export { createManager, type Manager, type ManagerOptions } from './manage/manager.js';
export { upgradeUnder, type UpgradeListener } from './mount.js';
export { type BalancerOptions, type MemberOptions, type MemberStatus, type StrategyName } from './config.js';
export { Pool, type PoolEvents, type ChooseFn, type MemberRemoval, type RouteLookup } from './pool/pool.js';
export { Member, type MemberSnapshot, type MemberRole, type MemberAdmin, type MemberState, type LastError } from './pool/member.js';
export type { Strategy, PickContext, RequestEndInfo, MembersChange } from './strategies/strategy.js';
export { ByRequests, ByTraffic, ByBusyness, RoundRobin, PowerOfTwoChoices, HashStrategy } from './strategies/index.js';
export type { HealthCheckOptions, HealthCheckMethod, StatusCodeSpec } from './health/options.js';
export type { MemberHealth } from './health/checker.js';
export type { ProbeResult, ProbeErrorCode } from './health/probe.js';
export type { BalancerEvents, MemberEvent, RetryEvent, RequestEvent, EjectionEvent, ForcedRecoveryEvent, QueueEvent, ShedEvent } from './events.js';
export type { FailureKind } from './proxy/outcome.js';
export type { EngineName, TlsOptions, ReverseOptions, ProxyRequestHook, ProxyResponseHook, MemberRef } from './config.js';
export {
  ProxyBalancerError,
  ConnectTimeoutError,
  HeadersTimeoutError,
  BodyTimeoutError,
  RequestBodyTimeoutError,
  MemberClosedError,
  InvalidResponseError,
  BalancerClosedError,
  ClientGoneError,
} from './errors.js';
export type { RetryOptions, OutlierDetectionOptions } from './config.js';
export { fromApacheConfig, type ApacheImport, type ImportedBalancer, type ImportedBalancerOptions, type UnsupportedDirective } from './apache/import.js';
export { ApacheConfigError } from './apache/lexer.js';
export type { StickyOptions, StickySetCookieOptions, StickyTableOptions } from './sticky/options.js';
export type { HashOptions, HashKey, HashConfig } from './options/hash.js';
