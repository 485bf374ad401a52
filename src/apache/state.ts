/**
 * The Apache import's working state: the balancers, members and health templates read so far, as
 * drafts, with the scope nesting they were read in, and the report of what is not imported. Every
 * reader (walk, worker, balancer, health and cookie parameters) writes here; assemble.ts turns the
 * drafts into the result.
 */
import type { MemberConfig, StrategyName } from '../config.js';
import type { StickyOptions, StickySetCookieOptions } from '../sticky/options.js';
import type { ApacheDirective } from './lexer.js';
import type { ImportedMemberOptions, UnsupportedDirective } from './result.js';
import { balancerName, quote } from './values.js';

/** Settings that follow httpd's server, virtual host and location nesting. */
export interface Scope {
  parent: Scope | undefined;
  preserveHost?: boolean;
  proxyTimeoutMs?: number;
  serverTimeoutMs?: number;
}

/** Where the walk is: the scope, and the sections a directive's meaning depends on. */
export interface WalkContext {
  scope: Scope;
  /** The path of the enclosing `<Location>`, which a one-argument `ProxyPass` mounts at. */
  location: string | undefined;
  /** The enclosing `<Proxy balancer://…>` section's balancer. */
  section: BalancerDraft | undefined;
}

export type HealthMethod = 'NONE' | 'TCP' | 'OPTIONS' | 'HEAD' | 'GET';

/** Health-check settings of one member (or one ProxyHCTemplate), with httpd's defaults. */
export interface HealthDraft {
  method: HealthMethod;
  intervalMs?: number;
  passes?: number;
  fails?: number;
  uri: string;
  expr?: string;
  /** The parameters that set something, as written, for reports. */
  given: string[];
  /** The parameter that brought `expr` (hcexpr, or hctemplate). */
  exprParameter?: string;
}

/** One BalancerMember as read so far. */
export interface MemberDraft {
  line: number;
  directive: string;
  options: ImportedMemberOptions;
  connectTimeout?: { ms: number; parameter: string };
  health: HealthDraft;
}

/** One `balancer://` as read so far. */
export interface BalancerDraft {
  name: string;
  line: number;
  scope: Scope;
  members: MemberDraft[];
  memberConfigs: MemberConfig[];
  strategy?: StrategyName;
  /** stickysession's names; the other sticky settings matter only with it. */
  stickyNames?: Pick<StickyOptions, 'cookie' | 'urlParam'>;
  separator?: string | false;
  failover?: boolean;
  setCookie?: StickySetCookieOptions;
  /** Reports for the sticky settings given, used when stickysession never comes. */
  stickyOnly: UnsupportedDirective[];
  maxAttempts?: number;
  failOnStatus?: number[];
  failOnTimeout?: boolean;
  /** ProxySet timeout=: how long httpd waits for a free worker (our queueTimeoutMs). */
  queueTimeoutMs?: number;
  forceRecovery?: boolean;
  preserveHost?: boolean;
  mount?: { path: string; line: number; scope: Scope };
  setCookieLine?: number;
}

/** Everything one import has read, and what it reports. */
export class ImportState {
  readonly global: Scope = { parent: undefined };
  /** By lower-cased name, in the order the file first names them. */
  readonly balancers = new Map<string, BalancerDraft>();
  /** ProxyHCTemplate by lower-cased name. */
  readonly templates = new Map<string, HealthDraft>();
  /** `Header` lines using BALANCER_* variables, read once every balancer's stickysession is known. */
  readonly stickyHeaders: ApacheDirective[] = [];
  /** ProxyPassReverseCookieDomain and ProxyPassReverseCookiePath mappings, for every balancer. */
  readonly cookieDomain: Record<string, string> = {};
  readonly cookiePath: Record<string, string> = {};
  readonly unsupported: UnsupportedDirective[] = [];
  /** Directives outside the proxy and balancer domain, skipped without a report. */
  ignored = 0;

  /** Reports a directive, or one parameter of it, as not imported. */
  report(node: ApacheDirective, reason: string, parameter?: string): void {
    const directive = node.children === undefined ? node.name : `<${node.name}>`;
    this.unsupported.push(parameter === undefined ? { directive, line: node.line, reason } : { directive, parameter, line: node.line, reason });
  }

  /** The balancer for a `balancer://name[/path]` URL, created on first mention as httpd does. */
  balancerFor(url: string, line: number, scope: Scope): BalancerDraft | undefined {
    const name = balancerName(url);
    if (name === undefined) return undefined;
    let balancer = this.balancers.get(name);
    if (balancer === undefined) {
      balancer = { name, line, scope, members: [], memberConfigs: [], stickyOnly: [] };
      this.balancers.set(name, balancer);
    }
    return balancer;
  }

  /**
   * The `key=value` words of a directive, keys lower-cased. Like httpd's parameter table, a repeated
   * key keeps its first position and takes its last value. Words without `=` are reported.
   */
  keyValues(node: ApacheDirective, words: readonly string[]): Array<[key: string, value: string, written: string]> {
    const table = new Map<string, [string, string, string]>();
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq < 0) {
        this.report(node, `${quote(word)} is not a key=value parameter (httpd refuses to start)`, word);
        continue;
      }
      const written = word.slice(0, eq);
      const key = written.toLowerCase();
      const existing = table.get(key);
      if (existing === undefined) table.set(key, [key, word.slice(eq + 1), written]);
      else existing[1] = word.slice(eq + 1);
    }
    return [...table.values()];
  }
}
