/**
 * proxy-balancer: an in-process load balancer for Node.js with Apache mod_proxy_balancer's
 * semantics. Public exports only.
 *
 * @packageDocumentation
 */
export { createBalancer, type Balancer, type BalancerSnapshot } from './balancer.js';
export {
  BalancerConfigError,
  type BalancerOptions,
  type MemberOptions,
  type MemberStatus,
  type StrategyName,
} from './config.js';
export { Pool, type PoolEvents } from './pool/pool.js';
export { Member, type MemberSnapshot, type MemberRole, type MemberAdmin, type MemberState } from './pool/member.js';
export type { Strategy, PickContext, RequestEndInfo, MembersChange } from './strategies/strategy.js';
export { ByRequests, ByTraffic, ByBusyness, RoundRobin, PowerOfTwoChoices } from './strategies/index.js';
