/** The built-in strategies by name, and the resolution of the `strategy` option. */
import type { StrategyName } from '../config.js';
import type { HashConfig } from '../options/hash.js';
import { HashStrategy } from './hash/strategy.js';
import { ByBusyness } from './bybusyness.js';
import { ByRequests } from './byrequests.js';
import { ByTraffic } from './bytraffic.js';
import { PowerOfTwoChoices } from './p2c.js';
import { RoundRobin } from './roundrobin.js';
import type { Strategy } from './strategy.js';

const BUILT_IN: Record<StrategyName, (hash: HashConfig) => Strategy> = {
  byrequests: () => new ByRequests(),
  bytraffic: () => new ByTraffic(),
  bybusyness: () => new ByBusyness(),
  roundrobin: () => new RoundRobin(),
  p2c: () => new PowerOfTwoChoices(),
  hash: (hash) => new HashStrategy(hash),
};

/** A fresh instance of a built-in strategy (`hash` keyed as configured), or the user's own object as it is. */
export function resolveStrategy(strategy: StrategyName | Strategy, hash: HashConfig = { key: { kind: 'client' } }): Strategy {
  return typeof strategy === 'string' ? BUILT_IN[strategy](hash) : strategy;
}

export { ByBusyness, ByRequests, ByTraffic, HashStrategy, PowerOfTwoChoices, RoundRobin };
