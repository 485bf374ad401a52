/**
 * Balancer parameters (mod_proxy.c `set_balancer_param`), wherever they are written: `ProxySet`
 * lines, `ProxyPass` lines (which also mount the balancer at a path: `add_pass`) and the
 * `<Proxy balancer://…>` line itself.
 */
import { normalizeOptions } from '../config.js';
import { normalizeSticky } from '../sticky/options.js';
import type { ApacheDirective } from './lexer.js';
import type { BalancerDraft, ImportState, WalkContext } from './state.js';
import { BALANCER_PREFIX, balancerName, integer, onOff, quote, refusal } from './values.js';
import { WORKER_PARAMS } from './worker-params.js';

/** `ProxySet balancer://name key=value…` outside a section: the balancer must exist already. */
export function proxySet(state: ImportState, node: ApacheDirective): void {
  const [target, ...rest] = node.args;
  if (target === undefined || !BALANCER_PREFIX.test(target)) {
    state.report(
      node,
      'ProxySet outside <Proxy balancer://…> on a plain URL sets a standalone worker, which BalancerMember workers do not share; not imported',
    );
    return;
  }
  const balancer = state.balancers.get(balancerName(target) ?? '');
  if (balancer === undefined) {
    state.report(node, `ProxySet names ${target} before anything defines it (httpd refuses to start: "can not find Balancer")`);
    return;
  }
  for (const [key, value, written] of state.keyValues(node, rest)) balancerParameter(state, balancer, key, value, written, node);
}

/** `ProxyPass path balancer://name/ [key=value…]`, or `ProxyPass balancer://name/` inside `<Location path>`. */
export function proxyPass(state: ImportState, node: ApacheDirective, ctx: WalkContext): void {
  const words = [...node.args];
  if (words[0] === '~') {
    state.report(node, 'ProxyPass ~ mounts by regular expression; not imported (mount the balancer on your router)');
    return;
  }
  const path = ctx.location ?? words.shift();
  const target = words.shift();
  if (path === undefined || target === undefined) {
    state.report(node, 'ProxyPass needs a path and a URL');
    return;
  }
  if (ctx.location !== undefined && target.startsWith('/')) {
    state.report(node, 'ProxyPass inside <Location> takes no path, only the URL (httpd refuses to start)');
    return;
  }
  if (target === '!') {
    state.report(node, `ProxyPass ${path} ! (an exclusion) is not imported; leave that path out of the balancer's mount on your router`);
    return;
  }
  if (!BALANCER_PREFIX.test(target)) {
    state.report(node, `ProxyPass to ${target} proxies to one server, not a balancer; not imported`);
    return;
  }
  if (!path.startsWith('/')) {
    state.report(node, `ProxyPass path ${quote(path)} is not a URL path; not imported`);
    return;
  }
  const balancer = state.balancerFor(target, node.line, ctx.scope);
  if (balancer === undefined) {
    state.report(node, `"${target}" has no balancer name`);
    return;
  }
  const flags: string[] = [];
  const params: string[] = [];
  for (const word of words) {
    if (['nocanon', 'interpolate', 'noquery'].includes(word.toLowerCase())) flags.push(word);
    else params.push(word);
  }
  for (const flag of flags) state.report(node, `the ProxyPass flag ${flag} has no equivalent in proxy-balancer; not imported`, flag);
  for (const [key, value, written] of state.keyValues(node, params)) {
    if (key === 'mapping') state.report(node, `mapping=${value} has no equivalent in proxy-balancer; not imported`, written);
    else balancerParameter(state, balancer, key, value, written, node);
  }
  const subPath = target.replace(BALANCER_PREFIX, '').replace(/^[^/]*/, '');
  if (subPath !== '' && subPath !== '/') {
    state.report(node, `the path ${subPath} after the balancer name is not imported; add it to the member URLs`);
  }
  if (balancer.mount === undefined) {
    balancer.mount = { path, line: node.line, scope: ctx.scope };
  } else {
    state.report(
      node,
      `balancer://${balancer.name} is already mounted at ${balancer.mount.path} (line ${balancer.mount.line}); this second mount is not imported, mount the same balancer again yourself`,
    );
  }
}

/** Applies one balancer parameter (ProxySet, ProxyPass, `<Proxy>` line), as set_balancer_param reads it. */
export function balancerParameter(state: ImportState, b: BalancerDraft, key: string, value: string, written: string, node: ApacheDirective): void {
  const problem = balancerParameterProblem(b, key, value, written, node);
  if (problem !== undefined) state.report(node, problem, written);
}

function balancerParameterProblem(b: BalancerDraft, key: string, value: string, written: string, node: ApacheDirective): string | undefined {
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
      stickyOnly(b, node, written);
      return undefined;
    case 'nofailover': {
      const on = onOff(value);
      if (on === undefined) return `nofailover=${value}: must be On or Off (httpd refuses to start)`;
      b.failover = !on;
      stickyOnly(b, node, written);
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
      // How long httpd waits for a free worker: proxy-balancer's queue wait (members capped by max=).
      b.queueTimeoutMs = seconds * 1000;
      return undefined;
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
function stickyOnly(b: BalancerDraft, node: ApacheDirective, written: string): void {
  b.stickyOnly.push({ directive: node.name, parameter: written, line: node.line, reason: `${written} has no effect without stickysession; not imported` });
}
