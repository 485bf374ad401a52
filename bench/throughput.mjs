/**
 * `npm run bench`: requests/s and p99 latency over loopback through (a) the balancer, (b) bare
 * http-proxy-3 round robin and (c) one back end directly, in one run, with the ratios
 * balancer/bare and bare/direct. The target: balancer/bare >= 0.95 in requests/s.
 *
 * Fairness on a small machine: the load generator is one child process for all three targets; each
 * front end has its own process (own heap, own CPU profile); every target is warmed up first; rounds
 * rotate the target order and the table shows medians. Every run is bounded in time and in count,
 * and a watchdog ends the whole benchmark if it overruns.
 *
 * Flags: --quick (1 round of 1 s, a smoke test), --json (one JSON object on stdout, the log on
 * stderr; under `npm run bench` tsup's build log comes first on stdout, so run the file itself after
 * a build for a clean stream), --out FILE (the JSON object to FILE as well, whatever the output),
 * --profile (a CPU profile of each front end over every measured run, summarised at the end;
 * the profiler slows the front ends, so compare figures of profiled runs only with each other),
 * --rounds N, --duration S, --connections N.
 */
import os from 'node:os';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackends } from './lib/backends.mjs';
import { startChild } from './lib/child.mjs';
import { summariseProfiles, formatProfileSummary } from './lib/cpuprofile.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const distEntry = path.join(here, '..', 'dist', 'index.js');

const options = parseArgs(process.argv.slice(2));
const log = options.json ? (...a) => console.error(...a) : (...a) => console.log(...a);

if (!existsSync(distEntry)) {
  console.error(`bench: ${distEntry} is missing; run \`npm run build\` first (npm run bench does).`);
  process.exit(1);
}

const TARGETS = [
  { key: 'balancer', label: 'balancer (byrequests)' },
  { key: 'bare', label: 'bare http-proxy-3 (rr)' },
  { key: 'direct', label: 'direct (one back end)' },
];

// Time budget: every run plus a margin per run for start-up and connection set-up.
const plannedSec = TARGETS.length * (options.warmupSec + options.rounds * options.durationSec);
const budgetMs = (plannedSec + TARGETS.length * (options.rounds + 1) * 3 + 30) * 1000;
const children = [];
const watchdog = setTimeout(() => {
  console.error(`bench: overran its ${budgetMs / 1000} s budget; stopping`);
  for (const child of children) child.kill();
  process.exit(2);
}, budgetMs);
watchdog.unref();

const profileDir = options.profile ? mkdtempSync(path.join(os.tmpdir(), 'proxy-balancer-cpuprof-')) : undefined;
const cpus = os.cpus();
const environment = {
  node: process.version,
  cpus: cpus.length,
  cpuModel: cpus[0]?.model ?? 'unknown',
  platform: `${process.platform} ${process.arch}`,
  connections: options.connections,
  rounds: options.rounds,
  durationSec: options.durationSec,
  warmupSec: options.warmupSec,
  loadAverage1mAtStart: os.loadavg()[0],
};

log(`proxy-balancer throughput bench`);
log(`node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}), ${environment.platform}`);
// Other work on the machine moves requests/s far more than CPU time per request: say so up front.
const busy = environment.loadAverage1mAtStart > environment.cpus / 4;
log(`load average (1 min) at start: ${environment.loadAverage1mAtStart.toFixed(2)}${busy ? ' (machine busy: req/s and p99 will be noisy; front CPU µs/req is steadier)' : ''}`);
log(`${options.connections} keep-alive connections; ${options.rounds} round(s) x ${options.durationSec} s per target, rotating order; ${options.warmupSec} s warm-up each; loopback only`);

const backends = await startBackends(2);
const memberUrls = backends.map((b) => b.url);

let exitCode = 0;
try {
  const loadgen = await startChild(path.join(here, 'lib', 'loadgen.mjs'), []);
  children.push(loadgen);
  const fronts = {};
  for (const kind of ['balancer', 'bare']) {
    fronts[kind] = await startChild(path.join(here, 'lib', 'front.mjs'), [kind, ...memberUrls]);
    children.push(fronts[kind]);
  }
  const urls = {
    balancer: `http://127.0.0.1:${fronts.balancer.first.port}/`,
    bare: `http://127.0.0.1:${fronts.bare.first.port}/`,
    direct: `${backends[0].url}/`,
  };

  const frontCpuMicros = async (front) => {
    const usage = await front.request({ cmd: 'cpu' }, 5_000);
    return usage.user + usage.system;
  };

  const profiles = { balancer: [], bare: [] };
  const measure = async (target, durationSec, profileName) => {
    for (const b of backends) b.hits = b.connections = 0;
    const front = fronts[target.key];
    const profiling = front !== undefined && profileDir !== undefined && profileName !== undefined;
    if (profiling) await front.request({ cmd: 'profile-start' }, 5_000);
    const cpuBefore = front ? await frontCpuMicros(front) : 0;
    const result = await loadgen.request(
      { cmd: 'run', url: urls[target.key], connections: options.connections, durationSec, maxRequests: options.maxRequests },
      (durationSec + 20) * 1000,
    );
    // Requests the front end took in count, not just the ones the load generator saw finish.
    const served = backends.reduce((sum, b) => sum + b.hits, 0);
    const frontCpuUsPerRequest = front ? ((await frontCpuMicros(front)) - cpuBefore) / Math.max(1, served) : undefined;
    if (profiling) {
      const file = path.join(profileDir, `${profileName}.cpuprofile`);
      await front.request({ cmd: 'profile-stop', file }, 30_000);
      profiles[target.key].push({ file, requests: served });
    }
    const backendConnections = backends.reduce((sum, b) => sum + b.connections, 0);
    return { ...result, frontCpuUsPerRequest, backendHits: backends.map((b) => b.hits), backendConnections };
  };

  for (const target of TARGETS) {
    log(`warm-up ${target.label}`);
    await measure(target, options.warmupSec);
  }

  const runs = Object.fromEntries(TARGETS.map((t) => [t.key, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]);
    for (const target of order) {
      const result = await measure(target, options.durationSec, `${target.key}-round${round + 1}`);
      runs[target.key].push(result);
      const cpu = result.frontCpuUsPerRequest === undefined ? '' : `  front CPU ${fmt(result.frontCpuUsPerRequest, 1)} µs/req`;
      log(`round ${round + 1} ${target.label.padEnd(24)} ${fmt(result.requestsPerSec, 0).padStart(8)} req/s  p99 ${fmt(result.p99Ms, 2)} ms${cpu}`);
      if (result.errors + result.timeouts + result.non2xx > 0) {
        exitCode = 1;
        console.error(`bench: ${target.label}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`);
      }
    }
  }

  const summary = {};
  for (const target of TARGETS) {
    const r = runs[target.key];
    summary[target.key] = {
      label: target.label,
      requestsPerSec: median(r.map((x) => x.requestsPerSec)),
      p99Ms: median(r.map((x) => x.p99Ms)),
      p50Ms: median(r.map((x) => x.p50Ms)),
      frontCpuUsPerRequest: r[0]?.frontCpuUsPerRequest === undefined ? undefined : median(r.map((x) => x.frontCpuUsPerRequest)),
      runs: r,
    };
  }
  const ratios = {
    balancerOverBare: {
      requestsPerSec: summary.balancer.requestsPerSec / summary.bare.requestsPerSec,
      p99: summary.balancer.p99Ms / summary.bare.p99Ms,
      frontCpuPerRequest: summary.balancer.frontCpuUsPerRequest / summary.bare.frontCpuUsPerRequest,
    },
    bareOverDirect: {
      requestsPerSec: summary.bare.requestsPerSec / summary.direct.requestsPerSec,
      p99: summary.bare.p99Ms / summary.direct.p99Ms,
    },
  };
  const targetMet = ratios.balancerOverBare.requestsPerSec >= 0.95;

  for (const kind of Object.keys(fronts)) await fronts[kind].stop({ cmd: 'close' });
  await loadgen.stop({ cmd: 'exit' });
  const profileSummaries = profileDir ? Object.entries(profiles).map(([kind, list]) => summariseProfiles(kind, list)) : undefined;

  environment.loadAverage1mAtEnd = os.loadavg()[0];
  const report = { environment, summary, ratios, target: { balancerOverBareRequestsPerSec: 0.95, met: targetMet }, profiles: profileSummaries };
  if (options.out !== undefined) writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    printTable(summary, ratios, targetMet);
    console.log(`load average (1 min) at end: ${environment.loadAverage1mAtEnd.toFixed(2)}`);
    if (profileSummaries) console.log(`${formatProfileSummary(profileSummaries)}\n\nprofiles (open in Chrome DevTools): ${profileDir}`);
  }
} catch (err) {
  exitCode = 1;
  console.error(`bench: ${err?.stack ?? err}`);
  for (const child of children) await child.stop({ cmd: 'close' }, 1000);
} finally {
  for (const b of backends) await b.close();
  clearTimeout(watchdog);
}
process.exitCode = exitCode;

function printTable(summary, ratios, targetMet) {
  const rows = [['target', 'req/s', 'p99 ms', 'p50 ms', 'front CPU µs/req', 'req/s per round', 'back-end share', 'new back-end conns']];
  for (const target of TARGETS) {
    const s = summary[target.key];
    const hits = s.runs.reduce((acc, r) => acc.map((h, i) => h + r.backendHits[i]), [0, 0]);
    const total = hits[0] + hits[1];
    rows.push([
      s.label,
      fmt(s.requestsPerSec, 0),
      fmt(s.p99Ms, 2),
      fmt(s.p50Ms, 2),
      s.frontCpuUsPerRequest === undefined ? '-' : fmt(s.frontCpuUsPerRequest, 1),
      s.runs.map((r) => fmt(r.requestsPerSec, 0)).join(' '),
      hits.map((h) => `${Math.round((100 * h) / Math.max(1, total))}%`).join('/'),
      s.runs.map((r) => r.backendConnections).join(' '),
    ]);
  }
  console.log('');
  console.log('medians:');
  printRows(rows);
  console.log('');
  printRows([
    ['ratio (of medians)', 'req/s', 'p99', 'front CPU/req'],
    ['balancer / bare', fmt(ratios.balancerOverBare.requestsPerSec, 3), fmt(ratios.balancerOverBare.p99, 3), fmt(ratios.balancerOverBare.frontCpuPerRequest, 3)],
    ['bare / direct', fmt(ratios.bareOverDirect.requestsPerSec, 3), fmt(ratios.bareOverDirect.p99, 3), '-'],
  ]);
  console.log('');
  console.log(`target balancer / bare req/s >= 0.95: ${targetMet ? 'met' : 'NOT met'} (${fmt(ratios.balancerOverBare.requestsPerSec, 3)})`);
}

function printRows(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  '));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}

function parseArgs(argv) {
  const quick = argv.includes('--quick');
  const parsed = {
    quick,
    json: argv.includes('--json'),
    out: undefined,
    profile: argv.includes('--profile'),
    rounds: quick ? 1 : 3,
    durationSec: quick ? 1 : 5,
    warmupSec: quick ? 1 : 2,
    connections: 50,
    // A count bound on top of the time bound: far above what loopback reaches in one run.
    maxRequests: 5_000_000,
  };
  const numeric = { '--rounds': ['rounds', 1, 9], '--duration': ['durationSec', 1, 10], '--connections': ['connections', 1, 256] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (['--quick', '--json', '--profile'].includes(arg)) continue;
    if (arg === '--out' && argv[i + 1] !== undefined) {
      parsed.out = argv[++i];
      continue;
    }
    const spec = numeric[arg];
    const value = Number(argv[i + 1]);
    if (spec === undefined || !Number.isInteger(value) || value < spec[1] || value > spec[2]) {
      console.error(`bench: bad argument ${arg} ${argv[i + 1] ?? ''}`.trim());
      console.error('usage: node bench/throughput.mjs [--quick] [--json] [--out FILE] [--profile] [--rounds 1..9] [--duration 1..10] [--connections 1..256]');
      process.exit(64);
    }
    parsed[spec[0]] = value;
    i++;
  }
  return parsed;
}
