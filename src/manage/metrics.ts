/**
 * The balancer's metrics as Prometheus exposition text: which metric families there are and where
 * each value comes from. Everything is read at scrape time, from the snapshot (members' own
 * counters, retries, health) and the {@link RequestStats} recorder; nothing here runs per request.
 * Imports nothing above pool/ and health/, so `balancer.metrics()` can use it.
 */
import type { MemberHealth } from '../health/checker.js';
import type { MemberSnapshot } from '../pool/member.js';
import { ExpositionWriter, type Labels } from './exposition.js';
import { DURATION_BOUNDS_SECONDS, MemberRequestStats, type RequestStats } from './request-stats.js';

/** The parts of a balancer snapshot the metrics read. */
export interface MetricsSource {
  readonly members: readonly MemberSnapshot[];
  readonly inFlight: { readonly requests: number };
  readonly retries: { readonly made: number; readonly refusedByBudget: number };
  readonly health: readonly MemberHealth[];
}

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'proxy_balancer_';

/** Status classes always written for each member, so that a rate over them exists from the start. */
const ALWAYS_WRITTEN_CLASSES = [2, 3, 4, 5];

/** Renders every metric family of one balancer. */
export function renderMetrics(source: MetricsSource, stats: RequestStats): string {
  const out = new ExpositionWriter();
  const name = (suffix: string): string => METRIC_PREFIX + suffix;
  const empty = new MemberRequestStats();
  const rows = source.members.map((m) => ({ member: m, label: { member: m.route }, stats: stats.forRoute(m.route) ?? empty }));
  // Requests that no member was tried for are written with an empty member label, when there are any.
  const withUnassigned: { label: Labels; stats: MemberRequestStats }[] = [...rows];
  if (stats.unassigned.byClass.some((n) => n > 0)) withUnassigned.push({ label: { member: '' }, stats: stats.unassigned });

  out.family(
    name('requests_total'),
    'counter',
    'Finished client requests by the member that answered (or was tried last; empty when none was) and the status class the client got (4xx includes 499: the client left first).',
  );
  for (const { label, stats: s } of withUnassigned) {
    for (let statusClass = 1; statusClass <= 9; statusClass++) {
      const count = s.byClass[statusClass] ?? 0;
      if (count > 0 || ALWAYS_WRITTEN_CLASSES.includes(statusClass)) out.sample(name('requests_total'), { ...label, code: `${statusClass}xx` }, count);
    }
  }

  out.family(
    name('request_duration_seconds'),
    'histogram',
    'Time a request spent on members: its attempts from their start to the last byte relayed, retries included (millisecond resolution), by the member that answered.',
  );
  for (const { label, stats: s } of withUnassigned)
    out.histogram(name('request_duration_seconds'), label, DURATION_BOUNDS_SECONDS, s.durationBuckets, s.durationSeconds);

  out.family(name('requests_in_flight'), 'gauge', 'Client requests the balancer is serving now.');
  out.sample(name('requests_in_flight'), undefined, source.inFlight.requests);

  out.family(name('member_in_flight'), 'gauge', 'Attempts running on the member now, open WebSocket tunnels included.');
  for (const r of rows) out.sample(name('member_in_flight'), r.label, r.member.inFlight);

  out.family(
    name('member_up'),
    'gauge',
    '1 when the member is usable (not disabled, stopped, in error or failing health checks; a draining member still serves its sticky sessions), else 0.',
  );
  for (const r of rows) out.sample(name('member_up'), r.label, r.member.state === 'ok' || r.member.state === 'drain' ? 1 : 0);

  out.family(name('member_weight'), 'gauge', "The member's weight (Apache loadfactor, 1 to 100).");
  for (const r of rows) out.sample(name('member_weight'), r.label, r.member.weight);

  out.family(
    name('member_bytes_total'),
    'counter',
    'Body bytes by direction: sent is request bodies to the member, received is response bodies from it (tunnel bytes included).',
  );
  for (const r of rows) {
    out.sample(name('member_bytes_total'), { ...r.label, direction: 'sent' }, r.member.bytesSent);
    out.sample(name('member_bytes_total'), { ...r.label, direction: 'received' }, r.member.bytesReceived);
  }

  out.family(name('member_failures_total'), 'counter', 'Attempts charged to the member as failed (connect errors, timeouts, 5xx, cut responses).');
  for (const r of rows) out.sample(name('member_failures_total'), r.label, r.member.failures);

  out.family(name('member_tunnels'), 'gauge', 'Open Upgrade tunnels (WebSockets) on the member.');
  for (const r of rows) out.sample(name('member_tunnels'), r.label, r.member.tunnels);

  out.family(name('retries_total'), 'counter', 'Attempts made on another member after a failed one.');
  out.sample(name('retries_total'), undefined, source.retries.made);

  out.family(name('retries_refused_total'), 'counter', 'Retries refused because the retry budget was spent.');
  out.sample(name('retries_refused_total'), undefined, source.retries.refusedByBudget);

  out.family(name('ejections_total'), 'counter', 'Times outlier detection ejected the member.');
  for (const r of rows) out.sample(name('ejections_total'), r.label, r.stats.ejections);

  out.family(name('health_checks_total'), 'counter', 'Active health check probes by result (pass or fail), for members that have a health check.');
  for (const h of source.health) {
    const s = stats.forRoute(h.route) ?? empty;
    out.sample(name('health_checks_total'), { member: h.route, result: 'pass' }, s.healthPasses);
    out.sample(name('health_checks_total'), { member: h.route, result: 'fail' }, s.healthFails);
  }
  return out.text();
}
