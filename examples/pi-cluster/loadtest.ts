/**
 * The study's load test, replayed on loopback: `npm run loadtest` drives the Pi cluster example
 * with 15 concurrent users (as the study did with siege) in three runs: straight at Server 1
 * (`direct`), through the balancer to Server 1 and 2 (`balanced`), and through the balancer with
 * Server 2 killed halfway (`failover`). It prints a table (requests, failures, req/s, mean, p95 and
 * p99 response time, responses per member) and writes an SVG chart of the response times.
 *
 * The load generator is autocannon. Each response is attributed to the member that served it by
 * the `x-served-by` header the example back ends set. Everything listens on 127.0.0.1 with free
 * ports, every run is bounded in time, and everything is closed at the end: the process exits on
 * its own.
 *
 * Flags: --duration <s> (per run, default 10), --amount <n> (stop each run after n requests, or at
 * --duration, whichever comes first), --connections <n> (default 15), --max-connections <n> (cap
 * each back end at n requests in flight, the balancer's `maxConnections`), --out <file.svg> (default
 * in the OS temp directory), --json (the report as JSON on stdout).
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BalancerConfigError, createBalancer, type Balancer } from '../../src/index.js';
import { expectKnownKeys, expectPlainObject, optionalInteger } from '../../src/validate.js';
import { startBackend, type BackendServer } from './backend.js';
import { quantile, responseTimeChartSvg } from './chart.js';
import { clusterOptions } from './topology.js';

/** What {@link runLoadTest} takes; every field is optional. */
export interface LoadTestOptions {
  /** Length of each run in seconds (default 10); with `amount`, the longest a run may take. */
  durationSec?: number;
  /** Stop each run after this many requests (at least `connections`); the default runs for `durationSec`. */
  amount?: number;
  /** Concurrent connections, the study's concurrent users (default 15). */
  connections?: number;
  /** Cap each back end at this many requests in flight (`maxConnections`), as `max=` caps a Pi's Apache; default none. */
  maxConnections?: number;
  /** Where the SVG chart goes (default `proxy-balancer-loadtest.svg` in the OS temp directory). */
  out?: string;
  /** Progress lines while the test runs (default: none). */
  log?: (line: string) => void;
}

/** The three runs, in the order they run. */
export type RunName = 'direct' | 'balanced' | 'failover';

/** One run's figures. */
export interface RunReport {
  name: RunName;
  description: string;
  /** Requests that ended: responses plus connection errors and timeouts. */
  requests: number;
  /** Non-2xx responses plus errors (timeouts among them). */
  failures: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Seconds from the start of the run to its last response. */
  durationSec: number;
  requestsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Responses each back end served, by name (`Server 1`, `Server 2`), from `x-served-by`. */
  perMember: Record<string, number>;
  /** Retries the balancer made (absent for the direct run). */
  retries?: number;
  /** The failover run's kill of Server 2. */
  kill?: {
    /** Ms since the run started. */
    atMs: number;
    /** Responses received before the kill. */
    afterResponses: number;
    /** Responses per member received by the moment of the kill. */
    perMemberAtKill: Record<string, number>;
  };
}

/** What {@link runLoadTest} returns. */
export interface LoadTestReport {
  connections: number;
  durationSec: number;
  amount?: number;
  runs: RunReport[];
  /** The SVG chart's path. */
  chartFile: string;
}

const DEFAULT_DURATION_SEC = 10;
/** The study's siege runs: 15 concurrent users. */
const DEFAULT_CONNECTIONS = 15;
const MEMBER_NAMES = ['Server 1', 'Server 2'] as const;
/** Per-request deadline in the load generator; a hung request counts as a timeout, not a stall. */
const REQUEST_TIMEOUT_SEC = 5;

interface RunPlan {
  name: RunName;
  description: string;
  throughBalancer: boolean;
  killServer2Halfway: boolean;
}

const RUNS: readonly RunPlan[] = [
  { name: 'direct', description: 'straight at Server 1, no balancer', throughBalancer: false, killServer2Halfway: false },
  { name: 'balanced', description: 'through the balancer to Server 1 and 2', throughBalancer: true, killServer2Halfway: false },
  { name: 'failover', description: 'through the balancer, Server 2 killed halfway', throughBalancer: true, killServer2Halfway: true },
];

/**
 * Runs the three load runs one after another, each on fresh back ends (and a fresh balancer), writes
 * the chart and returns the figures. Throws {@link BalancerConfigError} for a bad option.
 */
export async function runLoadTest(options: LoadTestOptions = {}): Promise<LoadTestReport> {
  const given: unknown = options; // validated as unknown: callers from plain JS pass anything
  expectPlainObject(given, 'options');
  expectKnownKeys(given, ['durationSec', 'amount', 'connections', 'maxConnections', 'out', 'log'], 'options');
  if (given.out !== undefined && typeof given.out !== 'string') throw new BalancerConfigError('out', given.out, 'must be a file path');
  if (given.log !== undefined && typeof given.log !== 'function') throw new BalancerConfigError('log', given.log, 'must be a function');
  const durationSec = optionalInteger(options.durationSec, 'durationSec', 1, 3600, DEFAULT_DURATION_SEC);
  const connections = optionalInteger(options.connections, 'connections', 1, 1000, DEFAULT_CONNECTIONS);
  // autocannon gives each connection a share of the amount and refuses a share of 0.
  const amount = options.amount === undefined ? undefined : optionalInteger(options.amount, 'amount', connections, 1e9, connections);
  const maxConnections = options.maxConnections === undefined ? undefined : optionalInteger(options.maxConnections, 'maxConnections', 1, 1_000_000, 1);
  const out = path.resolve(options.out ?? path.join(os.tmpdir(), 'proxy-balancer-loadtest.svg'));
  const log = options.log ?? (() => {});

  const measured: Measured[] = [];
  for (const [index, plan] of RUNS.entries()) {
    log(
      `run ${index + 1}/${RUNS.length}: ${plan.name} (${plan.description}), ${connections} connections, ${amount === undefined ? `${durationSec} s` : `${amount} requests or ${durationSec} s`}`,
    );
    measured.push(await measureRun(plan, { durationSec, amount, connections, maxConnections }));
  }

  const subtitle = `${connections} concurrent connections, ${amount === undefined ? `${durationSec} s` : `${amount} requests`} per run, loopback (autocannon)`;
  const svg = responseTimeChartSvg({
    title: 'proxy-balancer: the Pi cluster load test',
    subtitle,
    series: measured.map((m) => ({
      name: m.report.name,
      atMs: m.atMs,
      latencyMs: m.latencyMs,
      events: m.report.kill ? [{ atMs: m.report.kill.atMs, label: 'Server 2 killed' }] : [],
    })),
  });
  await writeFile(out, svg);
  return { connections, durationSec, ...(amount === undefined ? {} : { amount }), runs: measured.map((m) => m.report), chartFile: out };
}

/** A run's report and its raw samples, which only the chart needs. */
interface Measured {
  report: RunReport;
  atMs: number[];
  latencyMs: number[];
}

/** One run on its own back ends: start, drive, collect, close. */
async function measureRun(
  plan: RunPlan,
  load: { durationSec: number; amount: number | undefined; connections: number; maxConnections: number | undefined },
): Promise<Measured> {
  const backends: BackendServer[] = [];
  let front: Front | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  try {
    for (const name of MEMBER_NAMES) backends.push(await startBackend(name, '127.0.0.1', 0));
    const [server1, server2] = backends as [BackendServer, BackendServer];
    if (plan.throughBalancer) front = await startFront(server1.url, server2.url, load.maxConnections);
    const perMember: Record<string, number> = Object.fromEntries(backends.map((b) => [b.name, 0]));
    const atMs: number[] = [];
    const latencyMs: number[] = [];
    let kill: RunReport['kill'];
    const startedAt = performance.now();
    const killServer2 = (): void => {
      if (kill !== undefined) return;
      clearTimeout(killTimer);
      kill = { atMs: performance.now() - startedAt, afterResponses: atMs.length, perMemberAtKill: { ...perMember } };
      void server2.close(); // server.close() and every open connection destroyed, like pulling the Pi's plug
    };

    if (plan.killServer2Halfway) killTimer = setTimeout(killServer2, (load.durationSec * 1000) / 2);
    const result = await drive({
      url: `${front?.url ?? server1.url}/`,
      ...load,
      onResponse: (headers) => {
        const member = memberOf(headerValue(headers, 'x-served-by'), backends);
        if (member !== undefined) perMember[member]!++;
      },
      onResponseTimed: (latency) => {
        atMs.push(performance.now() - startedAt);
        latencyMs.push(latency);
        if (plan.killServer2Halfway && load.amount !== undefined && atMs.length >= load.amount / 2) killServer2();
      },
    });

    const sorted = Float64Array.from(latencyMs).sort();
    const durationSec = (atMs.at(-1) ?? 0) / 1000;
    const report: RunReport = {
      name: plan.name,
      description: plan.description,
      requests: latencyMs.length + result.errors,
      failures: result.non2xx + result.errors,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      durationSec,
      requestsPerSec: durationSec > 0 ? latencyMs.length / durationSec : 0,
      meanMs: latencyMs.length > 0 ? latencyMs.reduce((a, b) => a + b, 0) / latencyMs.length : NaN,
      p50Ms: quantile(sorted, 0.5),
      p95Ms: quantile(sorted, 0.95),
      p99Ms: quantile(sorted, 0.99),
      perMember,
      ...(front ? { retries: front.balancer.snapshot().retries.made } : {}),
      ...(kill ? { kill } : {}),
    };
    return { report, atMs, latencyMs };
  } finally {
    clearTimeout(killTimer);
    await front?.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

/** A header's value whatever the case of its name (autocannon keeps names as they came). */
function headerValue(headers: ResponseHeaders, name: string): string | string[] | undefined {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

/** The back end a response came from, by its `x-served-by` value (`server-1` is `Server 1`). */
function memberOf(servedBy: string | string[] | undefined, backends: readonly BackendServer[]): string | undefined {
  if (typeof servedBy !== 'string') return undefined;
  const key = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return backends.find((b) => key(b.name) === key(servedBy))?.name;
}

/** The balancing front end of the example on loopback, and its balancer for the retry count. */
interface Front {
  url: string;
  balancer: Balancer;
  close(): Promise<void>;
}

/** Serves a balancer over the two back ends, with the example's options, from a `node:http` server. */
async function startFront(server1Url: string, server2Url: string, maxConnections: number | undefined): Promise<Front> {
  const balancer = createBalancer({ ...clusterOptions(server1Url, server2Url), ...(maxConnections === undefined ? {} : { maxConnections }) });
  const server = http.createServer(balancer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    balancer,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await balancer.close();
    },
  };
}

// autocannon ships no types; these are the parts used here, as its README documents them.
type ResponseHeaders = Record<string, string | string[] | undefined>;
interface AutocannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  /** Ms between autocannon's samples; also how soon it notices that a run is over. */
  sampleInt?: number;
  requests?: { method?: string; path?: string; onResponse?: (status: number, body: string, context: object, headers: ResponseHeaders) => void }[];
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): AutocannonInstance;
  stop(): void;
}
type Autocannon = (options: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** One autocannon run of GET requests at `url`, bounded by `durationSec` even with an `amount`. */
function drive(run: {
  url: string;
  connections: number;
  durationSec: number;
  amount: number | undefined;
  onResponse: (headers: ResponseHeaders) => void;
  onResponseTimed: (latencyMs: number) => void;
}): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    let deadline: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url: run.url,
        connections: run.connections,
        ...(run.amount === undefined ? { duration: run.durationSec } : { amount: run.amount }),
        timeout: REQUEST_TIMEOUT_SEC,
        sampleInt: 100,
        requests: [{ method: 'GET', onResponse: (_status, _body, _context, headers) => run.onResponse(headers) }],
      },
      (err, result) => {
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve(result);
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => run.onResponseTimed(responseTimeMs));
    // autocannon lets `amount` override `duration`; the deadline keeps an amount run bounded too.
    if (run.amount !== undefined) deadline = setTimeout(() => instance.stop(), run.durationSec * 1000);
  });
}

/** The report as an aligned text table, with a line on the failover run and the chart's path. */
export function formatReport(report: LoadTestReport): string {
  const header = ['run', 'requests', 'failures', 'req/s', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', ...MEMBER_NAMES];
  const rows = report.runs.map((r) => [
    r.name,
    String(r.requests),
    String(r.failures),
    r.requestsPerSec.toFixed(1),
    r.meanMs.toFixed(2),
    r.p50Ms.toFixed(2),
    r.p95Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    ...MEMBER_NAMES.map((m) => String(r.perMember[m] ?? 0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // The run name reads left to right; figures line up on the right.
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const lines = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const r of report.runs) {
    if (r.kill === undefined) continue;
    const before = r.kill.perMemberAtKill[MEMBER_NAMES[1]] ?? 0;
    const after = (r.perMember[MEMBER_NAMES[1]] ?? 0) - before;
    lines.push(
      '',
      `${r.name}: ${MEMBER_NAMES[1]} killed ${(r.kill.atMs / 1000).toFixed(2)} s into the run, after ${r.kill.afterResponses} responses; ` +
        `it served ${before} responses before the kill and ${after} after (already in flight); the balancer retried ${r.retries ?? 0} requests.`,
    );
  }
  lines.push(
    '',
    `${report.connections} connections; ${report.amount === undefined ? `${report.durationSec} s` : `${report.amount} requests (at most ${report.durationSec} s)`} per run; failures = non-2xx + errors + timeouts.`,
  );
  // Said with the figures, so nobody reads the req/s column as the balancer's overhead.
  lines.push('Load generator, balancer and back ends share one process: req/s compares the runs loosely; `npm run bench` measures the overhead.');
  lines.push(`chart: ${report.chartFile}`);
  return lines.join('\n');
}

/** The command line: flags to options, one integer flag at a time so errors name the flag. */
function optionsFromArgv(argv: string[]): { options: LoadTestOptions; json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      amount: { type: 'string' },
      connections: { type: 'string' },
      'max-connections': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const integerFlag = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new BalancerConfigError(`--${name}`, text, 'must be a positive integer');
    return Number(text);
  };
  const options: LoadTestOptions = {
    durationSec: integerFlag('duration', values.duration),
    amount: integerFlag('amount', values.amount),
    connections: integerFlag('connections', values.connections),
    maxConnections: integerFlag('max-connections', values['max-connections']),
    out: values.out,
  };
  // Flags not given stay unset, so the defaults in runLoadTest apply.
  for (const key of Object.keys(options) as (keyof LoadTestOptions)[]) if (options[key] === undefined) delete options[key];
  return { options, json: values.json };
}

async function main(): Promise<void> {
  const { options, json } = optionsFromArgv(process.argv.slice(2));
  const report = await runLoadTest({ ...options, log: (line) => console.error(line) });
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`loadtest: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
