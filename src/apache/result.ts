/**
 * What an Apache import returns: the balancer's own option types, restricted to what plain JSON can
 * carry, plus the report of what was not imported. Re-exported by import.ts, the entry.
 */
import type { BalancerOptions, MemberOptions, StrategyName } from '../config.js';

/** A member's options as imported. */
export type ImportedMemberOptions = MemberOptions;

/** A balancer's options as plain JSON: {@link BalancerOptions} with a strategy name, never a strategy object. */
export interface ImportedBalancerOptions extends Omit<BalancerOptions, 'strategy' | 'members' | 'failOnStatus'> {
  /** The members, from BalancerMember lines. */
  members: ImportedMemberOptions[];
  /** The lbmethod, as a strategy name. */
  strategy?: StrategyName;
  /** failonstatus, as status codes. */
  failOnStatus?: number[];
}

/** One `balancer://` found in the file. */
export interface ImportedBalancer {
  /** The name after `balancer://`, lower-cased as httpd does: `mycluster`. */
  name: string;
  /** The path a `ProxyPass` mounts it at (`/`, `/app`), for `app.use(mountPath, balancer)`; undefined when none does. */
  mountPath: string | undefined;
  /** Options for `createBalancer`; only what the file sets, so proxy-balancer's defaults fill the rest. */
  options: ImportedBalancerOptions;
  /** The line that first names this balancer. */
  line: number;
}

/** A directive, or one parameter of it, that was not imported. */
export interface UnsupportedDirective {
  /** The directive as written: `BalancerMember`, `ProxySet`, `<ProxyMatch>`. */
  directive: string;
  /** The parameter, when only one parameter of the directive was left out: `max`, `status`. */
  parameter?: string;
  /** The line it is on. */
  line: number;
  /** Why it was not imported, in words. */
  reason: string;
}

/** The result of {@link fromApacheConfig}. */
export interface ApacheImport {
  /** In the order the file first names them. */
  balancers: ImportedBalancer[];
  /** Sorted by line. */
  unsupported: UnsupportedDirective[];
  /** How many directives outside the proxy and balancer domain were skipped without a report. */
  ignored: number;
}
