/**
 * The directive walk: enters the sections that matter (`<IfModule>`, `<VirtualHost>`, `<Location>`,
 * `<Proxy balancer://…>`), keeps the scope nesting, hands each directive to its reader, and sorts the
 * rest into reported (proxy and balancer domain) and ignored (everything else). The readers of
 * worker, balancer, health and cookie parameters live in their own modules; the scope-wide settings
 * (ProxyPreserveHost, ProxyTimeout, Timeout) are read here.
 */
import { MAX_TIMER_MS } from '../validate.js';
import { balancerParameter, proxyPass, proxySet } from './balancer-params.js';
import { reverseCookie } from './cookies.js';
import { healthTemplate } from './health-params.js';
import type { ApacheDirective } from './lexer.js';
import type { BalancerDraft, ImportState, WalkContext } from './state.js';
import { BALANCER_PREFIX, integer, onOff, quote } from './values.js';
import { member, memberOutsideSection } from './worker-params.js';

/** Walks `nodes`: sections are entered or reported, directives read or counted as ignored. */
export function walk(state: ImportState, nodes: readonly ApacheDirective[], ctx: WalkContext): void {
  for (const node of nodes) {
    const undefinedName = node.args.map((a) => /\$\{[^}]*\}/.exec(a)?.[0]).find((n) => n !== undefined);
    if (undefinedName !== undefined && (ctx.section !== undefined || isProxyDomain(node) || (node.children !== undefined && isProxySection(node)))) {
      state.report(node, `uses ${undefinedName}, which no Define above it sets (environment variables are not read); not imported`);
    } else if (node.children !== undefined) section(state, node, ctx);
    else if (ctx.section !== undefined) insideProxySection(state, node, ctx.section);
    else directive(state, node, ctx);
  }
}

// --- sections ----------------------------------------------------------------------------------

function section(state: ImportState, node: ApacheDirective, ctx: WalkContext): void {
  const kind = node.name.toLowerCase();
  const children = node.children!;
  if (kind === 'ifmodule' && !(node.args[0] ?? '').startsWith('!')) {
    walk(state, children, ctx);
  } else if (ctx.section !== undefined) {
    state.report(node, `<${node.name}> inside <Proxy balancer://${ctx.section.name}> is not imported`);
  } else if (kind === 'virtualhost') {
    walk(state, children, { scope: { parent: state.global }, location: undefined, section: undefined });
  } else if (kind === 'location' && node.args[0] !== undefined && !/[*?[]/.test(node.args[0]) && node.args[0] !== '~') {
    walk(state, children, { scope: { parent: ctx.scope }, location: node.args[0], section: undefined });
  } else if (kind === 'proxy') {
    proxySection(state, node, ctx);
  } else if (kind === 'proxymatch') {
    state.report(node, '<ProxyMatch> (a regular expression over proxied URLs) is not imported');
  } else {
    unevaluated(state, children, `inside <${[node.name, ...node.args].join(' ')}>, a section this importer does not evaluate`);
  }
}

/** Reports proxy-domain directives in a section whose condition or scope is not evaluated; counts the rest. */
function unevaluated(state: ImportState, nodes: readonly ApacheDirective[], reason: string): void {
  for (const node of nodes) {
    if (node.children !== undefined) {
      if (isProxySection(node)) state.report(node, reason);
      else unevaluated(state, node.children, reason);
    } else if (isProxyDomain(node)) {
      state.report(node, reason);
    } else {
      state.ignored++;
    }
  }
}

/** `<Proxy balancer://name [key=value…]>`: its line's parameters, then its BalancerMember and ProxySet lines. */
function proxySection(state: ImportState, node: ApacheDirective, ctx: WalkContext): void {
  const target = (node.args[0] ?? '').replace(/^proxy:/i, '');
  if (!BALANCER_PREFIX.test(target)) {
    state.report(node, `<Proxy ${target || '(no URL)'}> is not a balancer:// section; it is not imported`);
    return;
  }
  const balancer = state.balancerFor(target, node.line, ctx.scope);
  if (balancer === undefined) {
    state.report(node, `"${target}" has no balancer name`);
    return;
  }
  for (const [key, value, written] of state.keyValues(node, node.args.slice(1))) {
    balancerParameter(state, balancer, key, value, written, node);
  }
  walk(state, node.children!, { ...ctx, section: balancer });
}

function insideProxySection(state: ImportState, node: ApacheDirective, balancer: BalancerDraft): void {
  const name = node.name.toLowerCase();
  if (name === 'balancermember') {
    member(state, node, balancer, node.args);
  } else if (name === 'proxyset') {
    for (const [key, value, written] of state.keyValues(node, node.args)) balancerParameter(state, balancer, key, value, written, node);
  } else if (name === 'proxypreservehost') {
    preserveHost(state, node, balancer);
  } else {
    state.report(
      node,
      `${node.name} inside <Proxy balancer://${balancer.name}> is not imported (proxy-balancer has no per-balancer access control or other directives)`,
    );
  }
}

// --- directives outside <Proxy> ----------------------------------------------------------------

type DirectiveReader = (state: ImportState, node: ApacheDirective, ctx: WalkContext) => void;

/** The reader of each directive outside `<Proxy>`, by lower-cased name (a Map: names are file input). */
const DIRECTIVES = new Map<string, DirectiveReader>([
  ['balancermember', memberOutsideSection],
  ['proxyset', (state, node) => proxySet(state, node)],
  ['proxypass', proxyPass],
  // Rewriting Location, Content-Location and URI is proxy-balancer's default (option `reverse`).
  ['proxypassreverse', (state) => void state.ignored++],
  ['proxypassreversecookiedomain', (state, node) => reverseCookie(state, node)],
  ['proxypassreversecookiepath', (state, node) => reverseCookie(state, node)],
  ['proxypassmatch', (state, node) => state.report(node, 'ProxyPassMatch mounts by regular expression; not imported (mount the balancer on your router)')],
  ['proxyhctemplate', (state, node) => healthTemplate(state, node)],
  ['proxyhcexpr', (state, node) => state.report(node, 'ProxyHCExpr conditions are not imported')],
  ['proxypreservehost', (state, node, ctx) => preserveHost(state, node, ctx.scope)],
  ['proxytimeout', (state, node, ctx) => scopeTimeout(state, node, ctx, 'proxyTimeoutMs')],
  [
    'timeout',
    (state, node, ctx) => {
      // Core's Timeout is the fallback of ProxyTimeout; inside <Location> it is not ours to judge.
      if (ctx.location === undefined) scopeTimeout(state, node, ctx, 'serverTimeoutMs');
      else state.ignored++;
    },
  ],
  [
    'proxyrequests',
    (state, node) => {
      // Off is httpd's default and what proxy-balancer does: it is a reverse proxy only.
      if (onOff(node.args[0]) !== false) state.report(node, 'forward proxying (ProxyRequests On) is not supported');
    },
  ],
  [
    'header',
    (state, node) => {
      if (node.args.some((a) => a.includes('BALANCER_'))) state.stickyHeaders.push(node);
      else state.ignored++;
    },
  ],
  [
    'sethandler',
    (state, node) => {
      if ((node.args[0] ?? '').toLowerCase() === 'balancer-manager') {
        state.report(
          node,
          'the balancer-manager page is not imported; mount createManager() (or the command\'s "manage" block) with your own access check instead',
        );
      } else {
        state.ignored++;
      }
    },
  ],
]);

function directive(state: ImportState, node: ApacheDirective, ctx: WalkContext): void {
  const reader = DIRECTIVES.get(node.name.toLowerCase());
  if (reader !== undefined) reader(state, node, ctx);
  else if (isProxyDomain(node)) state.report(node, `${node.name} has no equivalent in proxy-balancer; not imported`);
  else state.ignored++;
}

/** ProxyPreserveHost, for a scope or (inside `<Proxy balancer://…>`) for that balancer alone. */
function preserveHost(state: ImportState, node: ApacheDirective, target: { preserveHost?: boolean }): void {
  const on = onOff(node.args[0]);
  if (on === undefined) state.report(node, `ProxyPreserveHost takes On or Off, got ${quote(node.args[0])}`);
  else target.preserveHost = on;
}

/** ProxyTimeout or Timeout for the server or a virtual host. */
function scopeTimeout(state: ImportState, node: ApacheDirective, ctx: WalkContext, key: 'proxyTimeoutMs' | 'serverTimeoutMs'): void {
  if (ctx.location !== undefined) {
    state.report(node, `${node.name} is not allowed inside <Location> (httpd refuses to start)`);
    return;
  }
  const seconds = integer(node.args[0]);
  if (seconds === undefined || seconds < 1 || seconds * 1000 > MAX_TIMER_MS) {
    state.report(node, `${node.name} takes a whole number of seconds from 1 to ${Math.floor(MAX_TIMER_MS / 1000)}, got ${quote(node.args[0])}`);
    return;
  }
  ctx.scope[key] = seconds * 1000;
}

/** Whether a directive belongs to the proxy and balancer domain (see import.ts's module comment). */
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
