/**
 * Assembly: once the whole file is read, the sticky-cookie Headers are matched to their balancers,
 * each balancer draft becomes createBalancer options (per-member values that all members share move
 * up to the balancer; scope-wide timeouts and ProxyPreserveHost are looked up from the balancer's
 * mount), and the report is sorted by line.
 */
import type { HealthCheckOptions } from '../health/options.js';
import type { StickyOptions } from '../sticky/options.js';
import { stickyHeader } from './cookies.js';
import type { ApacheImport, ImportedBalancer, ImportedBalancerOptions, ImportedMemberOptions } from './result.js';
import type { BalancerDraft, ImportState, Scope } from './state.js';

/** The import's result from everything read. */
export function finish(state: ImportState): ApacheImport {
  const drafts = [...state.balancers.values()];
  for (const node of state.stickyHeaders) stickyHeader(state, node, drafts);
  const balancers = drafts.map((b) => assemble(state, b));
  const unsupported = state.unsupported
    .map((entry, order) => ({ entry, order }))
    .sort((a, b) => a.entry.line - b.entry.line || a.order - b.order)
    .map(({ entry }) => entry);
  return { balancers, unsupported, ignored: state.ignored };
}

function assemble(state: ImportState, b: BalancerDraft): ImportedBalancer {
  const members = b.members.map((m) => ({ ...m.options }));
  const options: ImportedBalancerOptions = { members };
  if (b.strategy !== undefined) options.strategy = b.strategy;
  if (Object.keys(state.cookieDomain).length > 0 || Object.keys(state.cookiePath).length > 0) {
    options.reverse = {};
    if (Object.keys(state.cookieDomain).length > 0) options.reverse.cookieDomain = { ...state.cookieDomain };
    if (Object.keys(state.cookiePath).length > 0) options.reverse.cookiePath = { ...state.cookiePath };
  }

  const scope = b.mount?.scope ?? b.scope;
  const timeoutMs = hoist(members, 'timeoutMs') ?? lookup(scope, 'proxyTimeoutMs') ?? lookup(scope, 'serverTimeoutMs');
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const retryMs = hoist(members, 'retryMs');
  if (retryMs !== undefined) options.retryMs = retryMs;
  const preserveHost = b.preserveHost ?? lookup(scope, 'preserveHost');
  if (preserveHost !== undefined) options.preserveHost = preserveHost;

  const connect = b.members.map((m) => m.connectTimeout?.ms);
  if (connect.length > 0 && connect.every((ms) => ms !== undefined && ms === connect[0])) {
    options.connectTimeoutMs = connect[0]!;
  } else {
    for (const m of b.members.filter((d) => d.connectTimeout !== undefined)) {
      state.unsupported.push({
        directive: m.directive,
        parameter: m.connectTimeout!.parameter,
        line: m.line,
        reason: `connectiontimeout differs between the members of balancer://${b.name} (or some lack it); proxy-balancer has one connectTimeoutMs per balancer, so none is imported`,
      });
    }
  }
  if (b.maxAttempts !== undefined) options.retry = { attempts: b.maxAttempts + 1 };
  if (b.failOnStatus !== undefined) options.failOnStatus = b.failOnStatus;
  if (b.failOnTimeout !== undefined) options.failOnTimeout = b.failOnTimeout;
  if (b.queueTimeoutMs !== undefined) options.queueTimeoutMs = b.queueTimeoutMs;
  if (b.forceRecovery !== undefined) options.forceRecovery = b.forceRecovery;
  const names = b.stickyNames ?? {};
  if (names.cookie !== undefined || names.urlParam !== undefined) {
    const sticky: StickyOptions = { ...names };
    if (b.separator !== undefined) sticky.separator = b.separator;
    if (b.failover !== undefined) sticky.failover = b.failover;
    if (b.setCookie !== undefined) sticky.setCookie = b.setCookie;
    options.sticky = sticky;
  } else {
    state.unsupported.push(...b.stickyOnly);
  }
  const healthCheck = hoistHealth(members);
  if (healthCheck !== undefined) options.healthCheck = healthCheck;
  return { name: b.name, mountPath: b.mount?.path, options, line: b.line };
}

/** A setting's value from the innermost scope that sets it. */
function lookup<K extends 'preserveHost' | 'proxyTimeoutMs' | 'serverTimeoutMs'>(scope: Scope | undefined, key: K): Scope[K] | undefined {
  for (let s = scope; s !== undefined; s = s.parent) if (s[key] !== undefined) return s[key];
  return undefined;
}

/** Moves a per-member value up to the balancer when every member has the same one. */
function hoist(members: ImportedMemberOptions[], key: 'retryMs' | 'timeoutMs'): number | undefined {
  const first = members[0]?.[key];
  if (first === undefined || !members.every((m) => m[key] === first)) return undefined;
  for (const m of members) delete m[key];
  return first;
}

/** Moves the members' health checks up to the balancer when they are all the same. */
function hoistHealth(members: ImportedMemberOptions[]): HealthCheckOptions | undefined {
  const first = members[0]?.healthCheck;
  if (first === undefined || first === false) return undefined;
  const text = JSON.stringify(first);
  if (!members.every((m) => JSON.stringify(m.healthCheck) === text)) return undefined;
  for (const m of members) delete m.healthCheck;
  return first as HealthCheckOptions;
}
