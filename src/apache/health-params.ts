/**
 * Health-check parameters (mod_proxy_hcheck.c `set_worker_hc_param`, `set_hc_template`): the `hc*`
 * parameters of a BalancerMember, `ProxyHCTemplate` lines, and the member's `healthCheck` option
 * they make, as far as proxy-balancer's own validation takes it.
 */
import { normalizeHealthCheckOverride, type HealthCheckOptions } from '../health/options.js';
import { MAX_TIMER_MS } from '../validate.js';
import type { ApacheDirective } from './lexer.js';
import type { HealthDraft, HealthMethod, ImportState, MemberDraft } from './state.js';
import { duration, integer, refusal } from './values.js';

const HEALTH_METHODS: Readonly<Record<string, HealthMethod>> = {
  NONE: 'NONE',
  TCP: 'TCP',
  OPTIONS: 'OPTIONS',
  HEAD: 'HEAD',
  GET: 'GET',
  OPTIONS11: 'OPTIONS',
  HEAD11: 'HEAD',
  GET11: 'GET',
};
/** The hc* parameter behind each healthCheck field the importer sets, for reports. */
const HEALTH_PARAMETERS: Readonly<Partial<Record<keyof HealthCheckOptions, string>>> = {
  method: 'hcmethod',
  path: 'hcuri',
  intervalMs: 'hcinterval',
  passes: 'hcpasses',
  fails: 'hcfails',
};

/** `ProxyHCTemplate name hc…=…`: a named set of health parameters that `hctemplate=` copies. */
export function healthTemplate(state: ImportState, node: ApacheDirective): void {
  const [name, ...rest] = node.args;
  if (name === undefined || name === '') {
    state.report(node, 'ProxyHCTemplate needs a name');
    return;
  }
  // httpd's template defaults: TCP, 30 s, 1 pass, 1 fail (mod_proxy_hcheck.c set_hc_template).
  const template: HealthDraft = { method: 'TCP', intervalMs: 30_000, passes: 1, fails: 1, uri: '', given: [] };
  for (const [key, value, written] of state.keyValues(node, rest)) {
    const problem = key.startsWith('hc') ? healthParameter(state, template, key, value, written) : `${written} is not a health-check parameter`;
    if (problem !== undefined) {
      state.report(node, `${problem}; template ${name} is not imported`, written);
      return;
    }
  }
  state.templates.set(name.toLowerCase(), template);
}

/** Applies one hc* parameter to a member or a template; returns why it was not imported, if it was not. */
export function healthParameter(state: ImportState, health: HealthDraft, key: string, value: string, written: string): string | undefined {
  switch (key) {
    case 'hctemplate': {
      const template = state.templates.get(value.toLowerCase());
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
      if (ms === undefined || ms < 100 || ms > MAX_TIMER_MS)
        return `hcinterval=${value}: must be a time of at least 100 ms (a number of seconds, or with the unit ms, s, mi or h)`;
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
export function finishHealth(state: ImportState, member: MemberDraft, node: ApacheDirective): void {
  const h = member.health;
  if (h.method === 'NONE') {
    for (const given of h.given.filter((g) => g.toLowerCase() !== 'hcmethod')) {
      state.report(node, `${given} has no effect: hcmethod is NONE (httpd's default), so httpd runs no health check`, given);
    }
    return;
  }
  if (h.expr !== undefined) {
    state.report(node, `health-check expression ${h.expr} (ProxyHCExpr) is not imported; checks pass on the status alone`, h.exprParameter);
  }
  const check: HealthCheckOptions = { method: h.method };
  if (h.uri !== '') {
    // httpd puts a '/' between the member's path and hcuri; without a member path it needs its own.
    if (h.method === 'GET' || h.method === 'HEAD') check.path = h.uri.startsWith('/') ? h.uri : `/${h.uri}`;
    else state.report(node, `hcuri=${h.uri} is ignored by httpd for hcmethod ${h.method}`, 'hcuri');
  }
  if (h.intervalMs !== undefined) check.intervalMs = h.intervalMs;
  if (h.passes !== undefined) check.passes = h.passes;
  if (h.fails !== undefined) check.fails = h.fails;
  // httpd takes values proxy-balancer refuses (hcpasses=5000, an hcuri with '#'): such a field is
  // left out and reported, and the check keeps the rest.
  for (;;) {
    const refused = refusal(() => normalizeHealthCheckOverride(check, 'healthCheck'));
    if (refused === undefined) break;
    const field = refused.path.split('.')[1] as keyof HealthCheckOptions;
    const parameter = HEALTH_PARAMETERS[field] ?? field;
    const written = h.given.find((g) => g.toLowerCase() === parameter) ?? parameter;
    if (!Object.hasOwn(check, field) || field === 'method') {
      state.report(node, `${refused.message}; the health check is not imported`, written);
      return;
    }
    state.report(node, `${refused.message}; not imported, the rest of the health check is`, written);
    delete check[field];
  }
  member.options.healthCheck = check;
}
