/**
 * `fromApacheConfig(text)`: turns an Apache httpd mod_proxy_balancer configuration into proxy-balancer
 * options, one entry per `balancer://` name, and lists every proxy or balancer setting it could not
 * carry over, with its line and the reason.
 *
 * What it reads: `<Proxy "balancer://name" [key=value…]>` sections with their `BalancerMember` and
 * `ProxySet` lines; `BalancerMember balancer://name url …` and `ProxySet balancer://name …` outside a
 * section; `ProxyPass path balancer://name/ [key=value…]` (its parameters apply to the balancer, as
 * ProxySet's do) and `ProxyPass balancer://name/` inside `<Location path>`; `ProxyHCTemplate`;
 * `ProxyPreserveHost`, `ProxyTimeout` and `Timeout`; and the documented sticky-cookie recipe
 * `Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED`.
 * `<IfModule>`, `<VirtualHost>` and `<Location>` are entered. Values are checked with the rules
 * httpd's own parser applies (modules/proxy/mod_proxy.c `set_worker_param`, `set_balancer_param`,
 * `add_member`, `add_pass`, `set_proxy_param`, `proxysection`; mod_proxy_hcheck.c `set_worker_hc_param`).
 *
 * What it reports: every directive or parameter of the proxy and balancer domain that it does not
 * import (`unsupported`): those without an equivalent here, values httpd itself would refuse, and
 * proxy directives inside sections it does not evaluate (`<IfDefine>`, `<If>`, `<Directory>`, …).
 * A directive belongs to that domain when its name starts with `Proxy` or `Balancer`, it sits in a
 * `<Proxy balancer://…>` section, it mentions `balancer://`, it is a `Header` using a `BALANCER_*`
 * variable, or it is `SetHandler balancer-manager`.
 *
 * What it skips without a word: everything else (LoadModule, Listen, DocumentRoot, logging…). Their
 * number is returned as `ignored`, so a caller can tell an empty file from a file with nothing to import.
 *
 * It never throws on odd input, except when sections do not nest (an unclosed `<Proxy>`, a stray
 * `</VirtualHost>`, a section line without its `>`): it then throws {@link ApacheConfigError} naming
 * the line, because which directive belongs to which balancer is no longer knowable. Values httpd
 * would refuse are reported, not thrown, and so are values httpd takes but proxy-balancer's own
 * validation refuses (`hcpasses=5000`, a `stickysession` name with `:`), so every balancer returned
 * is one createBalancer accepts. Nothing is resolved or connected to.
 *
 * Balancers are keyed by name across the whole file, as if every `<VirtualHost>` inherited them
 * (httpd's default, BalancerInherit On). Scope-wide settings (ProxyPreserveHost, ProxyTimeout,
 * Timeout) are taken from the scope of the balancer's first `ProxyPass` (its `<Location>`, then its
 * `<VirtualHost>`, then the server), else from where the balancer is first named.
 */
import {
  normalizeMember,
  takenNames,
  normalizeOptions,
  type BalancerOptions,
  type MemberConfig,
  type MemberOptions,
  type MemberStatus,
  type RetryOptions,
  type StrategyName,
} from '../config.js';
import { normalizeHealthCheckOverride, type HealthCheckOptions } from '../health/options.js';
import { BalancerConfigError, MAX_TIMER_MS } from '../validate.js';
import { normalizeSticky, type StickyOptions, type StickySetCookieOptions } from '../sticky/options.js';
import { ApacheConfigError, parseApacheConfig, type ApacheDirective } from './lexer.js';

export { ApacheConfigError } from './lexer.js';

// ---------------------------------------------------------------------------------------------
// Output types: the balancer's own option types, restricted to what plain JSON can carry.
// ---------------------------------------------------------------------------------------------

type ImportedSetCookieOptions = StickySetCookieOptions;
type ImportedStickyOptions = StickyOptions;
type ImportedHealthCheckOptions = HealthCheckOptions;
type ImportedRetryOptions = RetryOptions;
/** A member's options as imported. */
export type ImportedMemberOptions = MemberOptions;

/** A balancer's options as plain JSON: {@link BalancerOptions} with a strategy name, never a strategy object. */
export interface ImportedBalancerOptions extends Omit<BalancerOptions, 'strategy' | 'members' | 'failOnStatus'> {
  members: ImportedMemberOptions[];
  strategy?: StrategyName;
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
  line: number;
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

/**
 * Reads Apache httpd configuration text and returns proxy-balancer options for each
 * `balancer://` it defines, plus what could not be imported. See the module comment for the rules.
 * @throws {ApacheConfigError} when sections do not nest (for example an unclosed `<Proxy>`).
 */
export function fromApacheConfig(text: string): ApacheImport {
  const state = new ImportState();
  state.walk(parseApacheConfig(text), { scope: state.global, location: undefined, section: undefined });
  return state.finish();
}

// ---------------------------------------------------------------------------------------------
// Working state
// ---------------------------------------------------------------------------------------------

/** Settings that follow httpd's server, virtual host and location nesting. */
interface Scope {
  parent: Scope | undefined;
  preserveHost?: boolean;
  proxyTimeoutMs?: number;
  serverTimeoutMs?: number;
}

interface WalkContext {
  scope: Scope;
  /** The path of the enclosing `<Location>`, which a one-argument `ProxyPass` mounts at. */
  location: string | undefined;
  /** The enclosing `<Proxy balancer://…>` section's balancer. */
  section: BalancerDraft | undefined;
}

type HealthMethod = 'NONE' | 'TCP' | 'OPTIONS' | 'HEAD' | 'GET';

/** Health-check settings of one member (or one ProxyHCTemplate), with httpd's defaults. */
interface HealthDraft {
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

interface MemberDraft {
  line: number;
  directive: string;
  options: ImportedMemberOptions;
  connectTimeout?: { ms: number; parameter: string };
  health: HealthDraft;
}

interface BalancerDraft {
  name: string;
  line: number;
  scope: Scope;
  members: MemberDraft[];
  memberConfigs: MemberConfig[];
  strategy?: StrategyName;
  /** stickysession's names; the other sticky settings matter only with it. */
  stickyNames?: Pick<ImportedStickyOptions, 'cookie' | 'urlParam'>;
  separator?: string | false;
  failover?: boolean;
  setCookie?: ImportedSetCookieOptions;
  /** Reports for the sticky settings given, used when stickysession never comes. */
  stickyOnly: UnsupportedDirective[];
  maxAttempts?: number;
  failOnStatus?: number[];
  failOnTimeout?: boolean;
  forceRecovery?: boolean;
  preserveHost?: boolean;
  mount?: { path: string; line: number; scope: Scope };
  setCookieLine?: number;
}

const WORKER_PARAMS_WITHOUT_EQUIVALENT = new Set([
  'min', 'max', 'smax', 'acquire', 'ttl', 'iobuffersize', 'receivebuffersize', 'keepalive', 'disablereuse',
  'enablereuse', 'addressttl', 'flushpackets', 'flushwait', 'flusher', 'responsefieldsize', 'secret',
]);
const WORKER_PARAMS = new Set([
  ...WORKER_PARAMS_WITHOUT_EQUIVALENT, 'loadfactor', 'lbset', 'route', 'redirect', 'status', 'retry', 'timeout',
  'connectiontimeout', 'ping', 'upgrade', 'hcmethod', 'hcinterval', 'hcpasses', 'hcfails', 'hcuri', 'hcexpr', 'hctemplate',
]);
const STATUS_NAMES: Readonly<Record<string, MemberStatus>> = { D: 'disabled', S: 'stopped', N: 'drain', H: 'standby', R: 'spare' };
const STATUS_NOT_IMPORTED: Readonly<Record<string, string>> = {
  I: 'I (ignore errors: never enters the error state)',
  E: 'E (starts in the error state)',
  C: 'C (health check failed)',
  O: 'O (internal: initialised)',
  G: 'G (internal: generic worker)',
  U: 'U (internal: shutting down)',
  F: 'F (internal: free slot)',
};
const HEALTH_METHODS: Readonly<Record<string, HealthMethod>> = {
  NONE: 'NONE', TCP: 'TCP', OPTIONS: 'OPTIONS', HEAD: 'HEAD', GET: 'GET', OPTIONS11: 'OPTIONS', HEAD11: 'HEAD', GET11: 'GET',
};
const BALANCER_PREFIX = /^balancer:\/\//i;
/** The hc* parameter behind each healthCheck field the importer sets, for reports. */
const HEALTH_PARAMETERS: Readonly<Partial<Record<keyof HealthCheckOptions, string>>> = {
  method: 'hcmethod', path: 'hcuri', intervalMs: 'hcinterval', passes: 'hcpasses', fails: 'hcfails',
};

class ImportState {
  readonly global: Scope = { parent: undefined };
  private readonly balancers = new Map<string, BalancerDraft>();
  private readonly templates = new Map<string, HealthDraft>();
  private readonly stickyHeaders: ApacheDirective[] = [];
  /** ProxyPassReverseCookieDomain and ProxyPassReverseCookiePath mappings, for every balancer. */
  private readonly cookieDomain: Record<string, string> = {};
  private readonly cookiePath: Record<string, string> = {};
  private readonly unsupported: UnsupportedDirective[] = [];
  private ignored = 0;

  walk(nodes: readonly ApacheDirective[], ctx: WalkContext): void {
    for (const node of nodes) {
      const undefinedName = node.args.map((a) => /\$\{[^}]*\}/.exec(a)?.[0]).find((n) => n !== undefined);
      if (undefinedName !== undefined && (ctx.section !== undefined || isProxyDomain(node) || (node.children !== undefined && isProxySection(node)))) {
        this.report(node, `uses ${undefinedName}, which no Define above it sets (environment variables are not read); not imported`);
      } else if (node.children !== undefined) this.section(node, ctx);
      else if (ctx.section !== undefined) this.insideProxySection(node, ctx.section);
      else this.directive(node, ctx);
    }
  }

  // --- sections --------------------------------------------------------------------------------

  private section(node: ApacheDirective, ctx: WalkContext): void {
    const kind = node.name.toLowerCase();
    const children = node.children!;
    if (kind === 'ifmodule' && !(node.args[0] ?? '').startsWith('!')) {
      this.walk(children, ctx);
    } else if (ctx.section !== undefined) {
      this.report(node, `<${node.name}> inside <Proxy balancer://${ctx.section.name}> is not imported`);
    } else if (kind === 'virtualhost') {
      this.walk(children, { scope: { parent: this.global }, location: undefined, section: undefined });
    } else if (kind === 'location' && node.args[0] !== undefined && !/[*?[]/.test(node.args[0]) && node.args[0] !== '~') {
      this.walk(children, { scope: { parent: ctx.scope }, location: node.args[0], section: undefined });
    } else if (kind === 'proxy') {
      this.proxySection(node, ctx);
    } else if (kind === 'proxymatch') {
      this.report(node, '<ProxyMatch> (a regular expression over proxied URLs) is not imported');
    } else {
      this.unevaluated(children, `inside <${[node.name, ...node.args].join(' ')}>, a section this importer does not evaluate`);
    }
  }

  /** Reports proxy-domain directives in a section whose condition or scope is not evaluated; counts the rest. */
  private unevaluated(nodes: readonly ApacheDirective[], reason: string): void {
    for (const node of nodes) {
      if (node.children !== undefined) {
        if (isProxySection(node)) this.report(node, reason);
        else this.unevaluated(node.children, reason);
      } else if (isProxyDomain(node)) {
        this.report(node, reason);
      } else {
        this.ignored++;
      }
    }
  }

  private proxySection(node: ApacheDirective, ctx: WalkContext): void {
    const target = (node.args[0] ?? '').replace(/^proxy:/i, '');
    if (!BALANCER_PREFIX.test(target)) {
      this.report(node, `<Proxy ${target || '(no URL)'}> is not a balancer:// section; it is not imported`);
      return;
    }
    const balancer = this.balancerFor(target, node.line, ctx.scope);
    if (balancer === undefined) {
      this.report(node, `"${target}" has no balancer name`);
      return;
    }
    for (const [key, value, written] of this.keyValues(node, node.args.slice(1))) {
      this.balancerParameter(balancer, key, value, written, node);
    }
    this.walk(node.children!, { ...ctx, section: balancer });
  }

  private insideProxySection(node: ApacheDirective, balancer: BalancerDraft): void {
    const name = node.name.toLowerCase();
    if (name === 'balancermember') {
      this.member(node, balancer, node.args);
    } else if (name === 'proxyset') {
      for (const [key, value, written] of this.keyValues(node, node.args)) this.balancerParameter(balancer, key, value, written, node);
    } else if (name === 'proxypreservehost') {
      this.preserveHost(node, balancer);
    } else {
      this.report(node, `${node.name} inside <Proxy balancer://${balancer.name}> is not imported (proxy-balancer has no per-balancer access control or other directives)`);
    }
  }

  // --- plain directives ------------------------------------------------------------------------

  private directive(node: ApacheDirective, ctx: WalkContext): void {
    switch (node.name.toLowerCase()) {
      case 'balancermember':
        return this.memberOutsideSection(node, ctx);
      case 'proxyset':
        return this.proxySet(node);
      case 'proxypass':
        return this.proxyPass(node, ctx);
      case 'proxypassreverse':
        // Rewriting Location, Content-Location and URI is proxy-balancer's default (option `reverse`).
        this.ignored++;
        return;
      case 'proxypassreversecookiedomain':
      case 'proxypassreversecookiepath':
        return this.reverseCookie(node);
      case 'proxypassmatch':
        return this.report(node, 'ProxyPassMatch mounts by regular expression; not imported (mount the balancer on your router)');
      case 'proxyhctemplate':
        return this.healthTemplate(node);
      case 'proxyhcexpr':
        return this.report(node, 'ProxyHCExpr conditions are not imported');
      case 'proxypreservehost':
        return this.preserveHost(node, ctx.scope);
      case 'proxytimeout':
        return this.scopeTimeout(node, ctx, 'proxyTimeoutMs');
      case 'timeout':
        // Core's Timeout is the fallback of ProxyTimeout; inside <Location> it is not ours to judge.
        if (ctx.location === undefined) this.scopeTimeout(node, ctx, 'serverTimeoutMs');
        else this.ignored++;
        return;
      case 'proxyrequests':
        // Off is httpd's default and what proxy-balancer does: it is a reverse proxy only.
        if (onOff(node.args[0]) === false) return;
        return this.report(node, 'forward proxying (ProxyRequests On) is not supported');
      case 'header':
        if (node.args.some((a) => a.includes('BALANCER_'))) this.stickyHeaders.push(node);
        else this.ignored++;
        return;
      case 'sethandler':
        if ((node.args[0] ?? '').toLowerCase() === 'balancer-manager') {
          return this.report(node, 'the balancer-manager page is not imported; mount createManager() (or the command\'s "manage" block) with your own access check instead');
        }
        this.ignored++;
        return;
      default:
        if (isProxyDomain(node)) this.report(node, `${node.name} has no equivalent in proxy-balancer; not imported`);
        else this.ignored++;
    }
  }

  private memberOutsideSection(node: ApacheDirective, ctx: WalkContext): void {
    if (ctx.location !== undefined) {
      this.report(node, 'BalancerMember inside <Location> is not imported (httpd takes the location path as the balancer name and refuses to start)');
      return;
    }
    // add_member: the first word without '=' names the balancer, the second the member.
    const at = node.args.findIndex((a) => !a.includes('='));
    const target = node.args[at];
    if (target === undefined || !BALANCER_PREFIX.test(target)) {
      this.report(node, 'outside <Proxy balancer://…>, BalancerMember must start with the balancer URL (BalancerMember balancer://name url …)');
      return;
    }
    const balancer = this.balancerFor(target, node.line, ctx.scope);
    if (balancer === undefined) this.report(node, `"${target}" has no balancer name`);
    else this.member(node, balancer, node.args.filter((_, i) => i !== at));
  }

  private proxySet(node: ApacheDirective): void {
    const [target, ...rest] = node.args;
    if (target === undefined || !BALANCER_PREFIX.test(target)) {
      this.report(node, 'ProxySet outside <Proxy balancer://…> on a plain URL sets a standalone worker, which BalancerMember workers do not share; not imported');
      return;
    }
    const balancer = this.balancers.get(balancerName(target) ?? '');
    if (balancer === undefined) {
      this.report(node, `ProxySet names ${target} before anything defines it (httpd refuses to start: "can not find Balancer")`);
      return;
    }
    for (const [key, value, written] of this.keyValues(node, rest)) this.balancerParameter(balancer, key, value, written, node);
  }

  /** `ProxyPassReverseCookieDomain internal public` / `ProxyPassReverseCookiePath internal public`. */
  private reverseCookie(node: ApacheDirective): void {
    const [internal, publicValue, ...rest] = node.args;
    if (internal === undefined || publicValue === undefined || rest.some((a) => a.toLowerCase() !== 'interpolate')) {
      return this.report(node, `${node.name} needs an internal and a public value`);
    }
    if (rest.length > 0) this.report(node, 'interpolate has no equivalent (no environment variables); the values are taken as written', 'interpolate');
    if (node.name.toLowerCase() === 'proxypassreversecookiedomain') this.cookieDomain[internal] = publicValue;
    else this.cookiePath[internal] = publicValue;
  }

  private proxyPass(node: ApacheDirective, ctx: WalkContext): void {
    const words = [...node.args];
    if (words[0] === '~') {
      this.report(node, 'ProxyPass ~ mounts by regular expression; not imported (mount the balancer on your router)');
      return;
    }
    const path = ctx.location ?? words.shift();
    const target = words.shift();
    if (path === undefined || target === undefined) {
      this.report(node, 'ProxyPass needs a path and a URL');
      return;
    }
    if (ctx.location !== undefined && target.startsWith('/')) {
      this.report(node, 'ProxyPass inside <Location> takes no path, only the URL (httpd refuses to start)');
      return;
    }
    if (target === '!') {
      this.report(node, `ProxyPass ${path} ! (an exclusion) is not imported; leave that path out of the balancer's mount on your router`);
      return;
    }
    if (!BALANCER_PREFIX.test(target)) {
      this.report(node, `ProxyPass to ${target} proxies to one server, not a balancer; not imported`);
      return;
    }
    if (!path.startsWith('/')) {
      this.report(node, `ProxyPass path ${quote(path)} is not a URL path; not imported`);
      return;
    }
    const balancer = this.balancerFor(target, node.line, ctx.scope);
    if (balancer === undefined) {
      this.report(node, `"${target}" has no balancer name`);
      return;
    }
    const flags: string[] = [];
    const params: string[] = [];
    for (const word of words) {
      if (['nocanon', 'interpolate', 'noquery'].includes(word.toLowerCase())) flags.push(word);
      else params.push(word);
    }
    for (const flag of flags) this.report(node, `the ProxyPass flag ${flag} has no equivalent in proxy-balancer; not imported`, flag);
    for (const [key, value, written] of this.keyValues(node, params)) {
      if (key === 'mapping') this.report(node, `mapping=${value} has no equivalent in proxy-balancer; not imported`, written);
      else this.balancerParameter(balancer, key, value, written, node);
    }
    const subPath = target.replace(BALANCER_PREFIX, '').replace(/^[^/]*/, '');
    if (subPath !== '' && subPath !== '/') {
      this.report(node, `the path ${subPath} after the balancer name is not imported; add it to the member URLs`);
    }
    if (balancer.mount === undefined) {
      balancer.mount = { path, line: node.line, scope: ctx.scope };
    } else {
      this.report(node, `balancer://${balancer.name} is already mounted at ${balancer.mount.path} (line ${balancer.mount.line}); this second mount is not imported, mount the same balancer again yourself`);
    }
  }

  private healthTemplate(node: ApacheDirective): void {
    const [name, ...rest] = node.args;
    if (name === undefined || name === '') {
      this.report(node, 'ProxyHCTemplate needs a name');
      return;
    }
    // httpd's template defaults: TCP, 30 s, 1 pass, 1 fail (mod_proxy_hcheck.c set_hc_template).
    const template: HealthDraft = { method: 'TCP', intervalMs: 30_000, passes: 1, fails: 1, uri: '', given: [] };
    for (const [key, value, written] of this.keyValues(node, rest)) {
      const problem = key.startsWith('hc') ? this.healthParameter(template, key, value, written) : `${written} is not a health-check parameter`;
      if (problem !== undefined) {
        this.report(node, `${problem}; template ${name} is not imported`, written);
        return;
      }
    }
    this.templates.set(name.toLowerCase(), template);
  }

  /** ProxyPreserveHost, for a scope or (inside `<Proxy balancer://…>`) for that balancer alone. */
  private preserveHost(node: ApacheDirective, target: { preserveHost?: boolean }): void {
    const on = onOff(node.args[0]);
    if (on === undefined) this.report(node, `ProxyPreserveHost takes On or Off, got ${quote(node.args[0])}`);
    else target.preserveHost = on;
  }

  private scopeTimeout(node: ApacheDirective, ctx: WalkContext, key: 'proxyTimeoutMs' | 'serverTimeoutMs'): void {
    if (ctx.location !== undefined) {
      this.report(node, `${node.name} is not allowed inside <Location> (httpd refuses to start)`);
      return;
    }
    const seconds = integer(node.args[0]);
    if (seconds === undefined || seconds < 1 || seconds * 1000 > MAX_TIMER_MS) {
      this.report(node, `${node.name} takes a whole number of seconds from 1 to ${Math.floor(MAX_TIMER_MS / 1000)}, got ${quote(node.args[0])}`);
      return;
    }
    ctx.scope[key] = seconds * 1000;
  }

  // --- members -------------------------------------------------------------------------------

  private member(node: ApacheDirective, balancer: BalancerDraft, words: readonly string[]): void {
    const urls = words.filter((w) => !w.includes('='));
    const params = words.filter((w) => w.includes('='));
    const url = urls[0];
    if (url === undefined) {
      this.report(node, 'BalancerMember needs a member URL');
      return;
    }
    if (urls.length > 1) {
      this.report(node, `BalancerMember takes one member URL, got ${urls.map(quote).join(' ')} (inside <Proxy> it must not name the balancer; httpd refuses to start)`);
      return;
    }
    if (!/^https?:\/\//i.test(url)) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
      this.report(node, `${scheme === undefined ? `${quote(url)} is not a URL;` : `members with the ${scheme}: scheme are not supported;`} proxy-balancer forwards HTTP to http:// and https:// members only`);
      return;
    }
    let href: string;
    try {
      href = new URL(url).href;
    } catch {
      this.report(node, `${quote(url)} is not a valid URL`);
      return;
    }
    const twin = balancer.members.find((m) => new URL(m.options.url).href === href);
    if (twin !== undefined) {
      this.report(node, `duplicates the member on line ${twin.line}: httpd shares one worker and ignores this line's parameters; not imported`);
      return;
    }
    const draft: MemberDraft = { line: node.line, directive: node.name, options: { url }, health: { method: 'NONE', uri: '', given: [] } };
    for (const [key, value, written] of this.keyValues(node, params)) {
      const problem = this.workerParameter(draft, key, value, written);
      if (problem !== undefined) this.report(node, problem, written);
    }
    this.finishHealth(draft, node);
    if (this.validateMember(draft, balancer, node)) balancer.members.push(draft);
  }

  /** Applies one BalancerMember parameter; returns why it was not imported, if it was not. */
  private workerParameter(member: MemberDraft, key: string, value: string, written: string): string | undefined {
    const o = member.options;
    switch (key) {
      case 'loadfactor': {
        // httpd: atof(value) * 100, truncated, must land in 100..10000 (set_worker_param).
        const factor = leadingNumber(value);
        const scaled = Math.trunc(factor * 100);
        if (scaled < 100 || scaled > 10_000) return `loadfactor=${value}: must be a number from 1 to 100 (httpd refuses to start)`;
        o.weight = Math.min(100, Math.max(1, factor));
        return undefined;
      }
      case 'lbset': {
        const set = integer(value);
        if (set === undefined || set < 0 || set > 99) return `lbset=${value}: must be a whole number from 0 to 99`;
        o.lbset = set;
        return undefined;
      }
      case 'route':
        if (value.length >= 64) return `route=${value}: httpd limits routes to 63 characters`;
        if (value === '') delete o.route;
        else o.route = value;
        return undefined;
      case 'status':
        return this.status(member, value);
      case 'retry': {
        const seconds = plainSeconds(value, 'retry', 0);
        if (typeof seconds === 'string') return seconds;
        o.retryMs = seconds * 1000;
        return undefined;
      }
      case 'timeout': {
        const seconds = plainSeconds(value, 'timeout', 1);
        if (typeof seconds === 'string') return seconds;
        o.timeoutMs = seconds * 1000;
        return undefined;
      }
      case 'connectiontimeout': {
        const ms = duration(value, 's');
        if (ms === undefined || ms < 1 || ms > MAX_TIMER_MS) return `connectiontimeout=${value}: must be a time of at least 1 ms (a number of seconds, or with the unit ms, s, mi or h)`;
        member.connectTimeout = { ms, parameter: written };
        return undefined;
      }
      case 'redirect':
        return 'redirect routes (where a sticky request goes when its member is unusable) are not supported';
      case 'ping':
        return 'the 100-continue ping before forwarding is not supported';
      case 'upgrade':
        return 'the Upgrade protocol filter is not imported; proxy-balancer forwards upgrades through balancer.upgrade()';
      default:
        if (key.startsWith('hc')) return this.healthParameter(member.health, key, value, written);
        if (WORKER_PARAMS_WITHOUT_EQUIVALENT.has(key)) return `${written} is a connection or transport setting with no equivalent in proxy-balancer`;
        return `${written} is not an httpd worker parameter (httpd refuses to start)`;
    }
  }

  /** `status=` letters, set with `+` (the default) or cleared with `-`, as set_worker_param reads them. */
  private status(member: MemberDraft, value: string): string | undefined {
    const flags = new Set<string>();
    let set = true;
    for (let i = 0; i < value.length; i++) {
      let c = value[i]!;
      if (c === '+' || c === '-') {
        set = c === '+';
        c = value[++i] ?? '';
      }
      const letter = c.toUpperCase();
      if (!(letter in STATUS_NAMES) && !(letter in STATUS_NOT_IMPORTED)) {
        delete member.options.status;
        return `status=${value}: ${c === '' ? 'ends without a letter' : `unknown letter ${c}`} (httpd refuses to start)`;
      }
      if (set) flags.add(letter);
      else flags.delete(letter);
    }
    const kept = [...flags].filter((f) => f in STATUS_NAMES);
    const dropped = [...flags].filter((f) => f in STATUS_NOT_IMPORTED).map((f) => STATUS_NOT_IMPORTED[f]);
    // D and S make a member unusable whatever else is set, and S also stops health checks.
    let status: MemberStatus | undefined;
    let combination: string | undefined;
    if (flags.has('S')) status = 'stopped';
    else if (flags.has('D')) status = 'disabled';
    else if (kept.length === 1) status = STATUS_NAMES[kept[0]!];
    else if (kept.length > 1) combination = kept.join('+');
    if (status === undefined) delete member.options.status;
    else member.options.status = status;
    const problems: string[] = [];
    if (combination !== undefined) problems.push(`the combination ${combination} cannot be expressed by one proxy-balancer status, so none is imported`);
    if (dropped.length > 0) problems.push(`${dropped.join(', ')} ${dropped.length === 1 ? 'has' : 'have'} no proxy-balancer equivalent`);
    if (problems.length === 0) return undefined;
    return `status=${value}: ${problems.join('; ')}${status === undefined ? '' : ` (imported as '${status}')`}`;
  }

  /** Applies one hc* parameter to a member or a template; returns why it was not imported, if it was not. */
  private healthParameter(health: HealthDraft, key: string, value: string, written: string): string | undefined {
    switch (key) {
      case 'hctemplate': {
        const template = this.templates.get(value.toLowerCase());
        if (template === undefined) return `hctemplate=${value}: no ProxyHCTemplate of that name earlier in the file (httpd refuses to start)`;
        // A template replaces all of method, interval, passes, fails, uri and expression.
        health.method = template.method;
        health.intervalMs = template.intervalMs;
        health.passes = template.passes;
        health.fails = template.fails;
        health.uri = template.uri;
        health.expr = template.expr;
        health.exprParameter = template.expr === undefined ? undefined : written;
        break;
      }
      case 'hcmethod': {
        const method = HEALTH_METHODS[value.toUpperCase()];
        if (method === undefined) {
          return ['CPING', 'PROVIDER'].includes(value.toUpperCase())
            ? `hcmethod=${value}: not implemented by httpd (it refuses to start)`
            : `hcmethod=${value}: unknown method (httpd refuses to start)`;
        }
        health.method = method;
        break;
      }
      case 'hcinterval': {
        const ms = duration(value, 's');
        if (ms === undefined || ms < 100 || ms > MAX_TIMER_MS) return `hcinterval=${value}: must be a time of at least 100 ms (a number of seconds, or with the unit ms, s, mi or h)`;
        health.intervalMs = ms;
        break;
      }
      case 'hcpasses':
      case 'hcfails': {
        const count = integer(value);
        if (count === undefined || count < 0) return `${written}=${value}: must be a whole number >= 0`;
        // httpd counts first and compares after, so 0 behaves as 1 (mod_proxy_hcheck.c hc_check).
        health[key === 'hcpasses' ? 'passes' : 'fails'] = Math.max(1, count);
        break;
      }
      case 'hcuri':
        if (value.length >= 64) return `hcuri=${value}: httpd limits it to 63 characters`;
        health.uri = value;
        break;
      case 'hcexpr':
        health.expr = value;
        health.exprParameter = written;
        break;
      default:
        return `${written} is not an httpd worker parameter (httpd refuses to start)`;
    }
    health.given.push(written);
    return undefined;
  }

  /** Turns a member's health draft into its healthCheck option, reporting what does not carry over. */
  private finishHealth(member: MemberDraft, node: ApacheDirective): void {
    const h = member.health;
    if (h.method === 'NONE') {
      for (const given of h.given.filter((g) => g.toLowerCase() !== 'hcmethod')) {
        this.report(node, `${given} has no effect: hcmethod is NONE (httpd's default), so httpd runs no health check`, given);
      }
      return;
    }
    if (h.expr !== undefined) {
      this.report(node, `health-check expression ${h.expr} (ProxyHCExpr) is not imported; checks pass on the status alone`, h.exprParameter);
    }
    const check: ImportedHealthCheckOptions = { method: h.method };
    if (h.uri !== '') {
      // httpd puts a '/' between the member's path and hcuri; without a member path it needs its own.
      if (h.method === 'GET' || h.method === 'HEAD') check.path = h.uri.startsWith('/') ? h.uri : `/${h.uri}`;
      else this.report(node, `hcuri=${h.uri} is ignored by httpd for hcmethod ${h.method}`, 'hcuri');
    }
    if (h.intervalMs !== undefined) check.intervalMs = h.intervalMs;
    if (h.passes !== undefined) check.passes = h.passes;
    if (h.fails !== undefined) check.fails = h.fails;
    // httpd takes values proxy-balancer refuses (hcpasses=5000, an hcuri with '#'): such a field is
    // left out and reported, and the check keeps the rest.
    for (;;) {
      const refused = refusal(() => normalizeHealthCheckOverride(check, 'healthCheck'));
      if (refused === undefined) break;
      const field = refused.path.split('.')[1] as keyof ImportedHealthCheckOptions;
      const parameter = HEALTH_PARAMETERS[field] ?? field;
      const written = h.given.find((g) => g.toLowerCase() === parameter) ?? parameter;
      if (!Object.hasOwn(check, field) || field === 'method') {
        this.report(node, `${refused.message}; the health check is not imported`, written);
        return;
      }
      this.report(node, `${refused.message}; not imported, the rest of the health check is`, written);
      delete check[field];
    }
    member.options.healthCheck = check;
  }

  /**
   * Runs config.ts's own member validation over the keys it knows today, so every imported member
   * is one createBalancer accepts. A bad route is dropped (the member keeps a derived one); anything
   * else drops the member.
   */
  private validateMember(member: MemberDraft, balancer: BalancerDraft, node: ApacheDirective): boolean {
    const path = `members[${balancer.memberConfigs.length}]`;
    const validate = (): BalancerConfigError | undefined => {
      const { url, route, weight, lbset, status } = member.options;
      return refusal(() => balancer.memberConfigs.push(normalizeMember({ url, route, weight, lbset, status }, path, takenNames(balancer.memberConfigs))));
    };
    let error = validate();
    if (error !== undefined && error.path === `${path}.route`) {
      this.report(node, `route=${member.options.route}: ${error.message.replace(`${path}.route `, '')}; the member is imported without it`, 'route');
      delete member.options.route;
      error = validate();
    }
    if (error === undefined) return true;
    this.report(node, `${error.message.replace(`${path}.`, '')}; not imported`);
    return false;
  }

  // --- balancer parameters ---------------------------------------------------------------------

  /** Applies one balancer parameter (ProxySet, ProxyPass, `<Proxy>` line), as set_balancer_param reads it. */
  private balancerParameter(b: BalancerDraft, key: string, value: string, written: string, node: ApacheDirective): void {
    const problem = this.balancerParameterProblem(b, key, value, written, node);
    if (problem !== undefined) this.report(node, problem, written);
  }

  private balancerParameterProblem(b: BalancerDraft, key: string, value: string, written: string, node: ApacheDirective): string | undefined {
    switch (key) {
      case 'lbmethod':
        // httpd looks the name up in its provider table, which is case-sensitive.
        if (value === 'byrequests' || value === 'bytraffic' || value === 'bybusyness') {
          b.strategy = value;
          return undefined;
        }
        if (value === 'heartbeat') return 'lbmethod=heartbeat (mod_heartmonitor data) is not supported';
        return `lbmethod=${value}: unknown method (httpd's names are byrequests, bytraffic, bybusyness and heartbeat, case-sensitive)`;
      case 'stickysession': {
        // Without '|' the one name serves as both cookie and URL parameter (set_balancer_param).
        const bar = value.indexOf('|');
        const cookie = bar < 0 ? value : value.slice(0, bar);
        const urlParam = bar < 0 ? value : value.slice(bar + 1);
        const names = { ...(cookie === '' ? {} : { cookie }), ...(urlParam === '' ? {} : { urlParam }) };
        // httpd takes any name; proxy-balancer's are tokens.
        const refused = Object.keys(names).length === 0 ? undefined : refusal(() => normalizeSticky(names, 'sticky'));
        if (refused !== undefined) return `stickysession=${value}: ${refused.message}; not imported`;
        b.stickyNames = names;
        if (value === '') return undefined;
        if (cookie === '' || urlParam === '') {
          return `stickysession=${value}: the empty ${cookie === '' ? 'cookie name' : 'URL parameter name'} is not imported; only the ${cookie === '' ? 'URL parameter' : 'cookie'} is`;
        }
        return undefined;
      }
      case 'stickysessionsep':
        if (value.length !== 1 && value.toLowerCase() !== 'off') return `stickysessionsep=${value}: must be a single character or Off (httpd refuses to start)`;
        if (value.length === 1) {
          // httpd takes any character; proxy-balancer's must be safe in a cookie (the cookie name here is a stand-in).
          const refused = refusal(() => normalizeSticky({ cookie: 'c', separator: value }, 'sticky'));
          if (refused !== undefined) return `stickysessionsep=${value}: ${refused.message}; not imported`;
        }
        b.separator = value.length === 1 ? value : false;
        this.stickyOnly(b, node, written);
        return undefined;
      case 'nofailover': {
        const on = onOff(value);
        if (on === undefined) return `nofailover=${value}: must be On or Off (httpd refuses to start)`;
        b.failover = !on;
        this.stickyOnly(b, node, written);
        return undefined;
      }
      case 'scolonpathdelim': {
        const on = onOff(value);
        if (on === undefined) return `scolonpathdelim=${value}: must be On or Off (httpd refuses to start)`;
        return on ? "scolonpathdelim=On (';' also ends the URL session parameter) has no equivalent in proxy-balancer" : undefined;
      }
      case 'timeout': {
        const seconds = integer(value);
        if (seconds === undefined || seconds < 1) return `timeout=${value}: must be a whole number of seconds >= 1 (httpd refuses to start)`;
        return 'a balancer timeout is how long httpd waits for a free member when none is usable (a queue), not a response timeout; proxy-balancer does not queue, so it is not imported';
      }
      case 'maxattempts': {
        const attempts = integer(value);
        if (attempts === undefined || attempts < 0) return `maxattempts=${value}: must be a whole number >= 0 (httpd refuses to start)`;
        const refused = refusal(() => normalizeOptions({ members: [], retry: { attempts: attempts + 1 } }));
        if (refused !== undefined) return `maxattempts=${value}: ${refused.message} (maxattempts + 1); not imported`;
        b.maxAttempts = attempts;
        return undefined;
      }
      case 'failonstatus': {
        const codes: number[] = [];
        for (const part of value.split(/[, ]+/).filter((p) => p !== '')) {
          const code = integer(part);
          if (code === undefined || code < 100 || code > 599) return `failonstatus=${value}: ${quote(part)} is not an HTTP status code (httpd refuses to start)`;
          codes.push(code);
        }
        b.failOnStatus = codes;
        return undefined;
      }
      case 'failontimeout':
      case 'forcerecovery': {
        const on = onOff(value);
        if (on === undefined) return `${written}=${value}: must be On or Off (httpd refuses to start)`;
        if (key === 'failontimeout') b.failOnTimeout = on;
        else b.forceRecovery = on;
        return undefined;
      }
      case 'nonce':
        return 'the balancer-manager nonce is not imported; createManager() makes its own random CSRF token';
      case 'growth':
        return 'growth (slots reserved for members added later) is not needed: pool.add() adds members at run time';
      default:
        if (WORKER_PARAMS.has(key)) return `${written} is a member parameter; on a balancer httpd refuses to start with it`;
        return `${written} is not an httpd balancer parameter (httpd refuses to start)`;
    }
  }

  /** Notes a sticky setting that matters only with stickysession, to report if that never comes. */
  private stickyOnly(b: BalancerDraft, node: ApacheDirective, written: string): void {
    b.stickyOnly.push({ directive: node.name, parameter: written, line: node.line, reason: `${written} has no effect without stickysession; not imported` });
  }

  // --- the sticky cookie recipe ----------------------------------------------------------------

  /** Reads `Header [always|onsuccess] add Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; attrs" env=BALANCER_ROUTE_CHANGED`. */
  private stickyHeader(node: ApacheDirective, balancers: readonly BalancerDraft[]): void {
    const args = [...node.args];
    if (['always', 'onsuccess'].includes((args[0] ?? '').toLowerCase())) args.shift();
    const [action, header, value, condition, ...extra] = args;
    const recipe = /^([^=;\s]+)=([^;]*?)%\{BALANCER_WORKER_ROUTE\}e\s*((?:;.*)?)$/.exec(value ?? '');
    if (
      action?.toLowerCase() !== 'add' || header?.toLowerCase() !== 'set-cookie' || recipe === null ||
      condition?.toLowerCase() !== 'env=balancer_route_changed' || extra.length > 0
    ) {
      this.report(node, 'only the documented sticky-cookie recipe is imported: Header add Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED');
      return;
    }
    const [, cookie, prefix, attributeText] = recipe as unknown as [string, string, string, string];
    const targets = balancers.filter((b) => b.stickyNames?.cookie === cookie);
    if (targets.length === 0) {
      this.report(node, `no balancer has stickysession=${cookie} (cookie names are case-sensitive); this cookie is not imported`);
      return;
    }
    const setCookie = this.cookieAttributes(node, attributeText);
    for (const b of targets) {
      const separator = b.separator ?? '.';
      const expected = separator === false ? '' : separator;
      if (prefix !== expected) {
        this.report(node, `the cookie value must be ${quote(expected)} then the route to match balancer://${b.name}'s stickysessionsep; got ${quote(prefix)}, not imported`);
      } else if (b.setCookieLine !== undefined) {
        this.report(node, `balancer://${b.name}'s sticky cookie is already set by the Header on line ${b.setCookieLine}; not imported`);
      } else {
        b.setCookie = setCookie;
        b.setCookieLine = node.line;
      }
    }
  }

  /** The recipe's cookie attributes, as far as browsers accept them (RFC 6265bis: Max-Age capped at 400 days). */
  private cookieAttributes(node: ApacheDirective, text: string): ImportedSetCookieOptions {
    const attributes: ImportedSetCookieOptions = {};
    // Path, Domain and Max-Age as proxy-balancer's own validation takes them (the cookie name is a stand-in).
    const accepted = (attribute: ImportedSetCookieOptions): boolean => refusal(() => normalizeSticky({ cookie: 'c', setCookie: attribute }, 'sticky')) === undefined;
    for (const part of text.split(';').map((p) => p.trim()).filter((p) => p !== '')) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim();
      const value = eq < 0 ? undefined : part.slice(eq + 1).trim();
      const lower = name.toLowerCase();
      const sameSite = value?.toLowerCase();
      const maxAge = value === undefined ? undefined : integer(value);
      if (lower === 'path' && value !== undefined && accepted({ path: value })) attributes.path = value;
      else if (lower === 'domain' && value !== undefined && accepted({ domain: value })) attributes.domain = value;
      else if (lower === 'max-age' && maxAge !== undefined && accepted({ maxAgeSec: maxAge })) attributes.maxAgeSec = maxAge;
      else if (lower === 'secure' && value === undefined) attributes.secure = true;
      else if (lower === 'httponly' && value === undefined) attributes.httpOnly = true;
      else if (lower === 'samesite' && (sameSite === 'strict' || sameSite === 'lax' || sameSite === 'none')) attributes.sameSite = sameSite;
      else this.report(node, `the cookie attribute ${part} is not imported`, 'Set-Cookie');
    }
    if (attributes.sameSite === 'none' && attributes.secure !== true) {
      this.report(node, 'the cookie attribute SameSite=None is not imported: browsers reject it without Secure', 'Set-Cookie');
      delete attributes.sameSite;
    }
    return attributes;
  }

  // --- finishing -------------------------------------------------------------------------------

  finish(): ApacheImport {
    const drafts = [...this.balancers.values()];
    for (const node of this.stickyHeaders) this.stickyHeader(node, drafts);
    const balancers = drafts.map((b) => this.assemble(b));
    const unsupported = this.unsupported
      .map((entry, order) => ({ entry, order }))
      .sort((a, b) => a.entry.line - b.entry.line || a.order - b.order)
      .map(({ entry }) => entry);
    return { balancers, unsupported, ignored: this.ignored };
  }

  private assemble(b: BalancerDraft): ImportedBalancer {
    const members = b.members.map((m) => ({ ...m.options }));
    const options: ImportedBalancerOptions = { members };
    if (b.strategy !== undefined) options.strategy = b.strategy;
    if (Object.keys(this.cookieDomain).length > 0 || Object.keys(this.cookiePath).length > 0) {
      options.reverse = {};
      if (Object.keys(this.cookieDomain).length > 0) options.reverse.cookieDomain = { ...this.cookieDomain };
      if (Object.keys(this.cookiePath).length > 0) options.reverse.cookiePath = { ...this.cookiePath };
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
        this.unsupported.push({
          directive: m.directive, parameter: m.connectTimeout!.parameter, line: m.line,
          reason: `connectiontimeout differs between the members of balancer://${b.name} (or some lack it); proxy-balancer has one connectTimeoutMs per balancer, so none is imported`,
        });
      }
    }
    if (b.maxAttempts !== undefined) options.retry = { attempts: b.maxAttempts + 1 };
    if (b.failOnStatus !== undefined) options.failOnStatus = b.failOnStatus;
    if (b.failOnTimeout !== undefined) options.failOnTimeout = b.failOnTimeout;
    if (b.forceRecovery !== undefined) options.forceRecovery = b.forceRecovery;
    const names = b.stickyNames ?? {};
    if (names.cookie !== undefined || names.urlParam !== undefined) {
      const sticky: ImportedStickyOptions = { ...names };
      if (b.separator !== undefined) sticky.separator = b.separator;
      if (b.failover !== undefined) sticky.failover = b.failover;
      if (b.setCookie !== undefined) sticky.setCookie = b.setCookie;
      options.sticky = sticky;
    } else {
      this.unsupported.push(...b.stickyOnly);
    }
    const healthCheck = hoistHealth(members);
    if (healthCheck !== undefined) options.healthCheck = healthCheck;
    return { name: b.name, mountPath: b.mount?.path, options, line: b.line };
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** The balancer for a `balancer://name[/path]` URL, created on first mention as httpd does. */
  private balancerFor(url: string, line: number, scope: Scope): BalancerDraft | undefined {
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
  private keyValues(node: ApacheDirective, words: readonly string[]): Array<[key: string, value: string, written: string]> {
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

  private report(node: ApacheDirective, reason: string, parameter?: string): void {
    const directive = node.children === undefined ? node.name : `<${node.name}>`;
    this.unsupported.push(parameter === undefined ? { directive, line: node.line, reason } : { directive, parameter, line: node.line, reason });
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

/**
 * proxy-balancer's own complaint about a value, or undefined when its validator takes it. The
 * importer's output must be options createBalancer accepts, and httpd accepts values it refuses.
 */
function refusal(validate: () => unknown): BalancerConfigError | undefined {
  try {
    validate();
    return undefined;
  } catch (error) {
    if (error instanceof BalancerConfigError) return error;
    throw error;
  }
}

/** Whether a directive belongs to the proxy and balancer domain (see the module comment). */
function isProxyDomain(node: ApacheDirective): boolean {
  const name = node.name.toLowerCase();
  if (name.startsWith('proxy') || name.startsWith('balancer')) return true;
  if (name === 'sethandler') return (node.args[0] ?? '').toLowerCase() === 'balancer-manager';
  if (name === 'header' || name === 'requestheader') return node.args.some((a) => a.includes('BALANCER_'));
  return node.args.some((a) => /balancer:\/\//i.test(a));
}

function isProxySection(node: ApacheDirective): boolean {
  return node.name.toLowerCase().startsWith('proxy');
}

/** `balancer://MyCluster/x` gives `mycluster`: httpd lower-cases the name and drops the path. */
function balancerName(url: string): string | undefined {
  const name = url.replace(BALANCER_PREFIX, '').replace(/\/.*$/, '').toLowerCase();
  return name === '' ? undefined : name;
}

/** A whole decimal number, optionally signed; anything else (httpd's atoi would read 0) is undefined. */
function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^[+-]?\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** C's atof: the longest leading decimal number, 0 when there is none. */
function leadingNumber(value: string): number {
  const match = /^[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(value);
  return match === null ? 0 : Number(match[0].trim());
}

/**
 * A time as httpd's `ap_timeout_parameter_parse` reads it: digits, then nothing (the default unit)
 * or `ms`, `s`, `mi`/`min` or `h`. Returns milliseconds.
 */
function duration(value: string, defaultUnit: 's' | 'ms'): number | undefined {
  const match = /^(\d{1,12})(ms|s|mi|min|h)?$/.exec(value);
  if (match === null) return undefined;
  const factor = { ms: 1, s: 1000, mi: 60_000, min: 60_000, h: 3_600_000 }[match[2] ?? defaultUnit]!;
  return Number(match[1]) * factor;
}

/**
 * `retry=` and `timeout=` of a member: httpd 2.4 reads them with atoi, as whole seconds, so
 * `retry=500ms` means 500 seconds there (later httpd reads units). A unit is therefore ambiguous
 * and reported; returns seconds, or the reason.
 */
function plainSeconds(value: string, name: string, min: number): number | string {
  const seconds = integer(value);
  if (seconds !== undefined && seconds >= min && seconds * 1000 <= MAX_TIMER_MS) return seconds;
  if (seconds === undefined && duration(value, 's') !== undefined) {
    return `${name}=${value}: httpd 2.4 reads ${name} as whole seconds and ignores a unit (so ${value} means ${Number.parseInt(value, 10)} s there, while later httpd versions honour the unit); write a plain number of seconds`;
  }
  return `${name}=${value}: must be a whole number of seconds from ${min} to ${Math.floor(MAX_TIMER_MS / 1000)}`;
}

function onOff(value: string | undefined): boolean | undefined {
  const lower = value?.toLowerCase();
  return lower === 'on' ? true : lower === 'off' ? false : undefined;
}

function quote(value: string | undefined): string {
  return value === undefined ? '(nothing)' : JSON.stringify(value);
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
function hoistHealth(members: ImportedMemberOptions[]): ImportedHealthCheckOptions | undefined {
  const first = members[0]?.healthCheck;
  if (first === undefined || first === false) return undefined;
  const text = JSON.stringify(first);
  if (!members.every((m) => JSON.stringify(m.healthCheck) === text)) return undefined;
  for (const m of members) delete m.healthCheck;
  return first as ImportedHealthCheckOptions;
}
