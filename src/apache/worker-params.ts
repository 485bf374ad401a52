/**
 * `BalancerMember` lines (mod_proxy.c `add_member`, `set_worker_param`): the member URL, its
 * parameters (loadfactor, lbset, route, status, retry, timeout, connectiontimeout; `hc*` go to
 * health-params.ts), and the check that the member is one createBalancer accepts.
 */
import { normalizeMember, takenNames, type MemberStatus } from '../config.js';
import { MAX_TIMER_MS, type BalancerConfigError } from '../validate.js';
import { finishHealth, healthParameter } from './health-params.js';
import type { ApacheDirective } from './lexer.js';
import type { BalancerDraft, ImportState, MemberDraft, WalkContext } from './state.js';
import { BALANCER_PREFIX, duration, integer, leadingNumber, plainSeconds, quote, refusal } from './values.js';

const WORKER_PARAMS_WITHOUT_EQUIVALENT = new Set([
  'min',
  'smax',
  'acquire',
  'ttl',
  'iobuffersize',
  'receivebuffersize',
  'keepalive',
  'disablereuse',
  'enablereuse',
  'addressttl',
  'flushpackets',
  'flushwait',
  'flusher',
  'responsefieldsize',
  'secret',
]);
/** Every parameter httpd takes on a worker (BalancerMember). */
export const WORKER_PARAMS = new Set([
  ...WORKER_PARAMS_WITHOUT_EQUIVALENT,
  'loadfactor',
  'lbset',
  'route',
  'redirect',
  'status',
  'retry',
  'timeout',
  'connectiontimeout',
  'ping',
  'upgrade',
  'hcmethod',
  'hcinterval',
  'hcpasses',
  'hcfails',
  'hcuri',
  'hcexpr',
  'hctemplate',
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

/** `BalancerMember balancer://name url …` outside a `<Proxy balancer://…>` section. */
export function memberOutsideSection(state: ImportState, node: ApacheDirective, ctx: WalkContext): void {
  if (ctx.location !== undefined) {
    state.report(node, 'BalancerMember inside <Location> is not imported (httpd takes the location path as the balancer name and refuses to start)');
    return;
  }
  // add_member: the first word without '=' names the balancer, the second the member.
  const at = node.args.findIndex((a) => !a.includes('='));
  const target = node.args[at];
  if (target === undefined || !BALANCER_PREFIX.test(target)) {
    state.report(node, 'outside <Proxy balancer://…>, BalancerMember must start with the balancer URL (BalancerMember balancer://name url …)');
    return;
  }
  const balancer = state.balancerFor(target, node.line, ctx.scope);
  if (balancer === undefined) state.report(node, `"${target}" has no balancer name`);
  else
    member(
      state,
      node,
      balancer,
      node.args.filter((_, i) => i !== at),
    );
}

/** One member of `balancer` from a BalancerMember's words (its URL and key=value parameters). */
export function member(state: ImportState, node: ApacheDirective, balancer: BalancerDraft, words: readonly string[]): void {
  const urls = words.filter((w) => !w.includes('='));
  const params = words.filter((w) => w.includes('='));
  const url = urls[0];
  if (url === undefined) {
    state.report(node, 'BalancerMember needs a member URL');
    return;
  }
  if (urls.length > 1) {
    state.report(
      node,
      `BalancerMember takes one member URL, got ${urls.map(quote).join(' ')} (inside <Proxy> it must not name the balancer; httpd refuses to start)`,
    );
    return;
  }
  if (!/^https?:\/\//i.test(url)) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    state.report(
      node,
      `${scheme === undefined ? `${quote(url)} is not a URL;` : `members with the ${scheme}: scheme are not supported;`} proxy-balancer forwards HTTP to http:// and https:// members only`,
    );
    return;
  }
  let href: string;
  try {
    href = new URL(url).href;
  } catch {
    state.report(node, `${quote(url)} is not a valid URL`);
    return;
  }
  const twin = balancer.members.find((m) => new URL(m.options.url).href === href);
  if (twin !== undefined) {
    state.report(node, `duplicates the member on line ${twin.line}: httpd shares one worker and ignores this line's parameters; not imported`);
    return;
  }
  const draft: MemberDraft = { line: node.line, directive: node.name, options: { url }, health: { method: 'NONE', uri: '', given: [] } };
  for (const [key, value, written] of state.keyValues(node, params)) {
    const problem = workerParameter(state, draft, key, value, written);
    if (problem !== undefined) state.report(node, problem, written);
  }
  finishHealth(state, draft, node);
  if (validateMember(state, draft, balancer, node)) balancer.members.push(draft);
}

/** Applies one BalancerMember parameter; returns why it was not imported, if it was not. */
function workerParameter(state: ImportState, member: MemberDraft, key: string, value: string, written: string): string | undefined {
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
      return status(member, value);
    case 'retry': {
      const seconds = plainSeconds(value, 'retry', 0);
      if (typeof seconds === 'string') return seconds;
      o.retryMs = seconds * 1000;
      return undefined;
    }
    case 'max': {
      // httpd's connection pool size per worker: at most this many requests to it at once.
      const max = integer(value);
      if (max === undefined || max < 1) return `max=${value}: must be a whole number >= 1`;
      o.maxConnections = max;
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
      if (ms === undefined || ms < 1 || ms > MAX_TIMER_MS)
        return `connectiontimeout=${value}: must be a time of at least 1 ms (a number of seconds, or with the unit ms, s, mi or h)`;
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
      if (key.startsWith('hc')) return healthParameter(state, member.health, key, value, written);
      if (WORKER_PARAMS_WITHOUT_EQUIVALENT.has(key)) return `${written} is a connection or transport setting with no equivalent in proxy-balancer`;
      return `${written} is not an httpd worker parameter (httpd refuses to start)`;
  }
}

/** `status=` letters, set with `+` (the default) or cleared with `-`, as set_worker_param reads them. */
function status(member: MemberDraft, value: string): string | undefined {
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
  let memberStatus: MemberStatus | undefined;
  let combination: string | undefined;
  if (flags.has('S')) memberStatus = 'stopped';
  else if (flags.has('D')) memberStatus = 'disabled';
  else if (kept.length === 1) memberStatus = STATUS_NAMES[kept[0]!];
  else if (kept.length > 1) combination = kept.join('+');
  if (memberStatus === undefined) delete member.options.status;
  else member.options.status = memberStatus;
  const problems: string[] = [];
  if (combination !== undefined) problems.push(`the combination ${combination} cannot be expressed by one proxy-balancer status, so none is imported`);
  if (dropped.length > 0) problems.push(`${dropped.join(', ')} ${dropped.length === 1 ? 'has' : 'have'} no proxy-balancer equivalent`);
  if (problems.length === 0) return undefined;
  return `status=${value}: ${problems.join('; ')}${memberStatus === undefined ? '' : ` (imported as '${memberStatus}')`}`;
}

/**
 * Runs config.ts's own member validation over the keys it knows today, so every imported member
 * is one createBalancer accepts. A bad route is dropped (the member keeps a derived one); anything
 * else drops the member.
 */
function validateMember(state: ImportState, member: MemberDraft, balancer: BalancerDraft, node: ApacheDirective): boolean {
  const path = `members[${balancer.memberConfigs.length}]`;
  const validate = (): BalancerConfigError | undefined => {
    const { url, route, weight, lbset, status } = member.options;
    return refusal(() => balancer.memberConfigs.push(normalizeMember({ url, route, weight, lbset, status }, path, takenNames(balancer.memberConfigs))));
  };
  let error = validate();
  if (error !== undefined && error.path === `${path}.route`) {
    state.report(node, `route=${member.options.route}: ${error.message.replace(`${path}.route `, '')}; the member is imported without it`, 'route');
    delete member.options.route;
    error = validate();
  }
  if (error === undefined) return true;
  state.report(node, `${error.message.replace(`${path}.`, '')}; not imported`);
  return false;
}
