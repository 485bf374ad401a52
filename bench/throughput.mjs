/**
 * `npm run bench`: the comparison users ask for, in one run, with one load generator, on loopback
 * only. Two `node:http` back ends (child processes) answer `GET /<n>` with n bytes; in front of them,
 * one row at a time:
 * - `direct`: the load generator straight to back end 1 (no front end, one back end);
 * - `undici`: a tiny node:http front end on one `undici.Pool` per back end, round robin, `dispatch()`;
 * - `http-proxy-3`: bare http-proxy-3 with a keep-alive agent per back end, round robin;
 * - `balancer:<engine>:<strategy>`: this package's `createBalancer` (built dist/) with each built-in
 *   strategy, and `balancer:<engine>:sticky+hc` (byrequests, `sticky: { cookie: 'ROUTEID' }`,
 *   member routes, active health checks), once per engine in `--engines` (the `engine` option;
 *   when createBalancer does not know it yet, the http-proxy-3 rows run without it and the undici
 *   rows are skipped, with a line saying so);
 * - `apache`, `nginx`, `haproxy`: the established round-robin front ends, when installed, configured
 *   and started by this script in a temporary directory (see lib/servers.mjs), 2 processes or threads.
 * For each body size it prints req/s, p50, p99, the front end's CPU µs per request (user + system
 * of all its processes during the measured window / completed requests) and its peak RSS, each also
 * as a ratio to Apache's and to direct's.
 *
 * Flags: --seconds S (measured window per row and size, default 3), --warmup S (default 1),
 * --connections N (default 50), --rounds N (every row N times, in rotating order; medians; default 1),
 * --sizes 100,64k, --only name,... (rows or prefixes: `balancer`, `balancer:undici`, `nginx`; `*` globs),
 * --engines http-proxy-3,undici, --loadgen wrk|autocannon, --list (row names, then exit),
 * --profile (V8 CPU profiles of the Node front ends, summarised), --json (the report as JSON on
 * stdout, the log on stderr), --out FILE (the JSON to FILE), --markdown FILE (the tables and the
 * machine as Markdown), --keep-temp (keep the config directory), --install (apt-get install the
 * servers and wrk first; never done without this flag).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startBackends } from './lib/backends.mjs';
import { startChild } from './lib/child.mjs';
import { summariseProfiles, formatProfileSummary } from './lib/cpuprofile.mjs';
import { alive, procAvailable, sampleRss, signalTree, treeCpuMicros } from './lib/proctree.mjs';
import { INSTALL_HINT, SERVERS, findBinary, keyLines, killGroup, startServer, versionLine } from './lib/servers.mjs';
import { fmt, markdownTable, ratio, textTable } from './lib/table.mjs';
import { wrkLoadGenerator } from './lib/wrk.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const distEntry = path.join(here, '..', 'dist', 'index.js');
const STRATEGIES = ['byrequests', 'bytraffic', 'bybusyness', 'roundrobin', 'p2c', 'hash'];

const options = parseArgs(process.argv.slice(2));
const log = options.json ? (...a) => console.error(...a) : (...a) => console.log(...a);

// Everything this script starts, by pid (servers by process group), so that an error, Ctrl-C or the
// watchdog ends it all.
const started = new Map();
const track = (child, { group = false } = {}) => {
  if (child.pid !== undefined) started.set(child.pid, { group });
};
let tempDir;
let stopping = false;

function killEverything() {
  for (const [pid, { group }] of started) {
    if (group) killGroup(pid);
    else if (alive(pid)) signalTree(pid, 'SIGKILL');
  }
  if (tempDir !== undefined && !options.keepTemp) rmSync(tempDir, { recursive: true, force: true });
}
process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => abort(`${signal}: stopping everything the bench started`, 130));
}

/** Asks every started process to stop (SIGTERM to each tree's root), then kills what is left, and exits. */
function abort(message, code) {
  if (stopping) process.exit(code); // a second signal: no more waiting
  stopping = true;
  process.exitCode = code;
  console.error(`\nbench: ${message}`);
  // Servers' masters stop their own workers on SIGTERM; the exit handler kills whatever is left.
  for (const [pid, { group }] of started) {
    if (!alive(pid)) continue;
    if (group) process.kill(pid, 'SIGTERM');
    else signalTree(pid, 'SIGTERM');
  }
  setTimeout(() => process.exit(code), 2_000).unref();
  // If every process is gone before the grace period, leave at once.
  const poll = setInterval(() => {
    if ([...started.keys()].every((pid) => !alive(pid))) process.exit(code);
  }, 100);
  poll.unref();
}

if (options.install) install();
if (!existsSync(distEntry)) {
  console.error(`bench: ${distEntry} is missing; run \`npm run build\` first (npm run bench does).`);
  process.exit(1);
}
if (!procAvailable()) log('bench: /proc is not readable here: front-end CPU and RSS are not reported (Linux only)');

const machine = describeMachine();
const loadgenChoice = chooseLoadGenerator();
const { createBalancer } = await import(pathToFileURL(distEntry).href);
const engines = probeEngines(options.engines);
const servers = Object.fromEntries(Object.entries(SERVERS).map(([name, spec]) => [name, spec.find()]));
const allRows = buildRows(engines, servers);

if (options.list) {
  for (const row of allRows) console.log(`${row.name.padEnd(32)} ${row.label}`);
  process.exit(0);
}
const rows = allRows.filter((row) => options.only === undefined || options.only.some((p) => matches(row.name, p)));
if (rows.length === 0) {
  const missing = Object.entries(servers)
    .filter(([, found]) => found.missing)
    .map(([name]) => name);
  console.error(
    `bench: --only ${options.only.join(',')} matches no row; --list shows them${missing.length > 0 ? ` (not installed: ${missing.join(', ')}; ${INSTALL_HINT})` : ''}`,
  );
  process.exit(64);
}

const windows = rows.length * options.sizes.length * options.rounds;
const budgetMs = (windows * (options.warmupSec + options.seconds + 15) + rows.length * options.rounds * 20 + 60) * 1000;
setTimeout(() => abort(`overran its ${budgetMs / 1000} s budget`, 2), budgetMs).unref();

log('proxy-balancer comparison bench (loopback only)');
log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.kernel}; node ${machine.node}`);
for (const [name, v] of Object.entries(machine.versions)) log(`  ${name}: ${v ?? 'not installed'}`);
log(`command: ${machine.command}`);
const busy = machine.loadAverageAtStart > machine.cores / 4;
log(
  `load average (1 min) at start: ${machine.loadAverageAtStart.toFixed(2)}${busy ? ' (machine busy: req/s and latency will be noisy; CPU µs/req is steadier; compare ratios within this run)' : ''}`,
);
log(`load generator: ${loadgenChoice.description}`);
log(
  `${options.connections} keep-alive connections; per row and size ${options.warmupSec} s warm-up, then ${options.seconds} s measured; body sizes ${options.sizes.map(sizeLabel).join(', ')}${options.rounds > 1 ? `; ${options.rounds} rounds, medians` : ''}`,
);
for (const line of engines.notes) log(line);
for (const [name, found] of Object.entries(servers)) {
  if (found.missing) log(`${name}: skipped, ${found.missing}. Install with: ${INSTALL_HINT} (or run the bench with --install)`);
}
const skippedByOnly = allRows.length - rows.length;
log(`${rows.length} row(s)${skippedByOnly > 0 ? ` (${skippedByOnly} left out by --only)` : ''}: ${rows.map((r) => r.name).join(', ')}`);

tempDir = mkdtempSync(path.join(os.tmpdir(), 'proxy-balancer-bench-'));
chmodSync(tempDir, 0o755); // the servers' workers run as www-data when the bench runs as root
const profileDir = options.profile ? path.join(tempDir, 'profiles') : undefined;
if (profileDir !== undefined) mkdirSync(profileDir);

let exitCode = 0;
const runs = {}; // row name -> size -> figures of each round
const results = {}; // row name -> size -> median figures over the rounds
const configs = {}; // server name -> { file, lines }
const profiles = new Map(); // row name -> [{ file, requests }]
let backends;
let loadgen;
try {
  backends = await startBackends(2, track);
  const members = backends.map((b) => `127.0.0.1:${b.port}`);
  log(`back ends: ${backends.map((b) => b.url).join(', ')} (node:http, child processes)`);
  loadgen = await loadgenChoice.start();

  for (let round = 0; round < options.rounds && !stopping; round++) {
    if (options.rounds > 1) log(`round ${round + 1} of ${options.rounds}`);
    // Each round starts one row further on, so no row always runs first or last.
    const order = rows.map((_, i) => rows[(i + round) % rows.length]);
    for (const row of order) {
      if (stopping) break;
      const figures = await runRow(row, members);
      if (figures === undefined) continue;
      runs[row.name] ??= {};
      for (const [size, r] of Object.entries(figures)) (runs[row.name][size] ??= []).push(r);
    }
  }
  for (const [name, sizes] of Object.entries(runs)) {
    results[name] = Object.fromEntries(Object.entries(sizes).map(([size, list]) => [size, medianFigures(list)]));
  }
  await loadgen.close();
  for (const b of backends) await b.close();
} catch (err) {
  exitCode = 1;
  if (!stopping) console.error(`bench: ${err?.stack ?? err}`);
}
// Interrupted: abort() ends the process once everything is stopped; no report from a cut run.
if (stopping) await new Promise(() => {});
machine.loadAverageAtEnd = os.loadavg()[0];

const report = buildReport();
if (options.out !== undefined) writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
if (options.markdown !== undefined) writeFileSync(options.markdown, markdownReport(report));
if (options.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(textReport(report));
  if (profiles.size > 0) {
    console.log(formatProfileSummary([...profiles].map(([label, list]) => summariseProfiles(label, list))));
    if (options.keepTemp) console.log(`\nprofiles (open in Chrome DevTools): ${profileDir}`);
  }
}
if (Object.values(results).some((sizes) => Object.values(sizes).some((r) => r.errors + r.non2xx > 0))) exitCode = 1;
process.exitCode = exitCode;

/** Starts a row's front end, measures every size through it, and stops it. Undefined when it could not start. */
async function runRow(row, members) {
  let front;
  try {
    front = await startFront(row, members);
  } catch (err) {
    exitCode = 1;
    if (!stopping) console.error(`bench: ${row.name}: could not start: ${err?.message ?? err}`);
    return undefined;
  }
  const figures = {};
  try {
    for (const size of options.sizes) {
      if (stopping) break;
      const url = `${front.url}/${size}`;
      assertLoopback(url);
      const run = { url, connections: options.connections, headerSets: row.headerSets };
      if (options.warmupSec > 0) await loadgen.run({ ...run, durationSec: options.warmupSec });
      await Promise.all(backends.map((b) => b.stats({ reset: true })));
      if (front.profile) await front.profile.start();
      const cpuBefore = front.pid === undefined ? undefined : treeCpuMicros(front.pid);
      const rss = front.pid === undefined ? undefined : sampleRss(front.pid);
      const result = await loadgen.run({ ...run, durationSec: options.seconds });
      const cpuUs = front.pid === undefined ? undefined : treeCpuMicros(front.pid) - cpuBefore;
      const rssBytes = rss?.stop();
      if (front.profile) await front.profile.stop(`${row.name.replace(/[^\w.-]+/g, '_')}-${size}`, result.requests);
      const stats = await Promise.all(backends.map((b) => b.stats({ reset: true })));
      const r = {
        ...result,
        cpuUsPerRequest: cpuUs === undefined ? undefined : cpuUs / Math.max(1, result.requests),
        rssMiB: rssBytes === undefined ? undefined : rssBytes / 1024 / 1024,
        backendHits: stats.map((s) => s.hits),
        backendConnections: stats.map((s) => s.connections),
      };
      figures[size] = r;
      const problems = r.errors + r.non2xx > 0 ? `  !! ${r.errors} socket errors/timeouts, ${r.non2xx} status >= 400` : '';
      log(
        `${row.name.padEnd(32)} ${sizeLabel(size).padStart(6)}  ${fmt(r.requestsPerSec).padStart(6)} req/s  p50 ${fmt(r.p50Ms, 2)} ms  p99 ${fmt(r.p99Ms, 2)} ms` +
          `  CPU ${fmt(r.cpuUsPerRequest, 1)} µs/req  RSS ${fmt(r.rssMiB, 1)} MiB  split ${splitLabel(r.backendHits)}  new upstream conns ${r.backendConnections.join('+')}${problems}`,
      );
      if (problems) exitCode = 1;
    }
  } finally {
    await front.stop();
  }
  return figures;
}

/** Starts the row's front end: `{ url, pid, stop(), profile? }`; pid undefined for direct. */
async function startFront(row, members) {
  if (row.kind === 'direct') return { url: backends[0].url, pid: undefined, stop: async () => {} };
  if (row.kind === 'server') {
    const port = await freePort();
    const dir = path.join(tempDir, row.name);
    const server = await startServer(row.name, { dir, port, members, found: servers[row.name], readyPath: `/${options.sizes[0]}`, track });
    if (configs[row.name] === undefined) {
      const lines = keyLines(server.config.text, dir);
      configs[row.name] = { file: server.config.file, args: server.config.args, lines };
      log(`${row.name}: ${path.basename(servers[row.name].binary)} ${server.config.args.join(' ')}\n  ${lines.join('\n  ')}`);
    }
    return { url: `http://127.0.0.1:${port}`, pid: server.pid, stop: () => server.stop() };
  }
  const child = await startChild(
    path.join(here, 'lib', 'front.mjs'),
    [row.front, JSON.stringify({ members: members.map((m) => `http://${m}`), options: row.options })],
    { track },
  );
  if (child.first.error !== undefined) {
    await child.stop({ cmd: 'close' }, 1_000);
    throw new Error(`${child.first.name ?? 'Error'}: ${child.first.error}`);
  }
  let profile;
  if (profileDir !== undefined) {
    if (!profiles.has(row.name)) profiles.set(row.name, []);
    const list = profiles.get(row.name);
    profile = {
      start: () => child.request({ cmd: 'profile-start' }, 5_000),
      stop: async (name, requests) => {
        const file = path.join(profileDir, `${name}.cpuprofile`);
        await child.request({ cmd: 'profile-stop', file }, 30_000);
        list.push({ file, requests });
      },
    };
  }
  return { url: `http://127.0.0.1:${child.first.port}`, pid: child.pid, stop: () => child.stop({ cmd: 'close' }), profile };
}

/** The rows, in the order they run: baselines first, then the Node fronts, then the established servers. */
function buildRows(engineSupport, found) {
  const list = [
    { name: 'direct', kind: 'direct', label: 'no front end: the load generator straight to back end 1 (one back end, not round robin)' },
    {
      name: 'undici',
      kind: 'node',
      front: 'undici',
      label: 'bare undici: node:http front end, one undici.Pool per back end, round robin, pool.dispatch() with a streaming handler (raw-header callbacks)',
    },
    {
      name: 'http-proxy-3',
      kind: 'node',
      front: 'http-proxy-3',
      label: 'bare http-proxy-3: ProxyServer.web with a keep-alive http.Agent per back end, round robin',
    },
  ];
  for (const engine of engineSupport.run) {
    const engineOption = engineSupport.known ? { engine } : {};
    const suffix = engineSupport.known ? '' : ' (no engine option yet: the default engine)';
    for (const strategy of STRATEGIES) {
      const note = strategy === 'hash' ? ' (key: client address; one client, so one member)' : '';
      list.push({
        name: `balancer:${engine}:${strategy}`,
        kind: 'node',
        front: 'balancer',
        options: { strategy, ...engineOption },
        label: `this balancer, strategy ${strategy}, engine ${engine}${suffix}${note}`,
      });
    }
    list.push({
      name: `balancer:${engine}:sticky+hc`,
      kind: 'node',
      front: 'balancer',
      options: { strategy: 'byrequests', sticky: { cookie: 'ROUTEID' }, healthCheck: { path: '/health', intervalMs: 1000 }, ...engineOption },
      // Returning clients: every request carries a route cookie, half of them for each member.
      headerSets: [{ cookie: 'ROUTEID=.b1' }, { cookie: 'ROUTEID=.b2' }],
      label: `this balancer, byrequests + sticky { cookie: 'ROUTEID' } (routes b1, b2; requests alternate ROUTEID=.b1 / .b2) + health checks GET /health every 1 s, engine ${engine}${suffix}`,
    });
  }
  for (const [name, spec] of Object.entries(SERVERS)) {
    if (!found[name].missing) list.push({ name, kind: 'server', label: spec.label });
  }
  return list;
}

/**
 * Which engines get balancer rows. createBalancer is asked with `engine` once per name: a
 * BalancerConfigError saying the option is unknown means the option does not exist yet (then the
 * http-proxy-3 rows run without it, and the undici rows are skipped); one about the value skips that
 * engine. Once the option exists, every engine it accepts runs, with no change here.
 */
function probeEngines(names) {
  const run = [];
  const notes = [];
  let known = true;
  for (const engine of names) {
    try {
      const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:9' }], engine });
      Promise.resolve(balancer.close()).catch(() => {});
      run.push(engine);
    } catch (err) {
      const aboutEngine = err?.name === 'BalancerConfigError' && (err.path === 'engine' || /\bengine\b/.test(err.message));
      if (!aboutEngine) throw err;
      if (/not a known option/.test(err.message)) {
        known = false;
        if (engine === 'http-proxy-3') {
          run.push(engine);
          notes.push(`engine ${engine}: createBalancer has no engine option yet; its rows run without it (the default engine)`);
        } else {
          notes.push(`engine ${engine}: rows skipped, createBalancer has no engine option yet (${err.message.split(' (known')[0]})`);
        }
      } else {
        notes.push(`engine ${engine}: rows skipped, createBalancer refuses it: ${err.message}`);
      }
    }
  }
  return { run, notes, known };
}

function chooseLoadGenerator() {
  const wrk = findBinary('wrk');
  const useWrk = options.loadgen === 'wrk' || (options.loadgen === undefined && wrk !== undefined);
  if (useWrk && wrk === undefined) {
    console.error(`bench: --loadgen wrk, but wrk is not installed. Install with: ${INSTALL_HINT}`);
    process.exit(1);
  }
  if (useWrk) {
    return {
      name: 'wrk',
      description: `wrk (${machine.versions.wrk}), -t1 -c${options.connections}, keep-alive; p50/p99 from its latency histogram via a Lua done hook`,
      start: async () => wrkLoadGenerator({ binary: wrk, dir: tempDir, track }),
    };
  }
  const why = wrk === undefined ? `wrk is not installed (${INSTALL_HINT})` : 'asked with --loadgen autocannon';
  return {
    name: 'autocannon',
    description: `autocannon (a child process), ${options.connections} keep-alive connections, pipelining 1; ${why}`,
    start: async () => {
      const child = await startChild(path.join(here, 'lib', 'loadgen.mjs'), [], { track });
      return {
        name: 'autocannon',
        // A count bound on top of the time bound: far above what loopback reaches in one run.
        run: (run) => child.request({ cmd: 'run', ...run, maxRequests: 5_000_000 }, (run.durationSec + 20) * 1000),
        close: () => child.stop({ cmd: 'exit' }),
      };
    },
  };
}

function describeMachine() {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  const version = (names, args) => {
    const binary = findBinary(...names);
    return binary === undefined ? undefined : versionLine(binary, args);
  };
  return {
    cpuModel,
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions: {
      apache2: version(['apache2', 'httpd'], ['-v']),
      nginx: version(['nginx'], ['-v']),
      haproxy: version(['haproxy'], ['-v']),
      wrk: version(['wrk'], ['-v']),
    },
    command: `node bench/throughput.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    loadAverageAtStart: os.loadavg()[0],
  };
}

function buildReport() {
  return {
    machine,
    loadGenerator: loadgenChoice.description,
    settings: { seconds: options.seconds, warmupSec: options.warmupSec, connections: options.connections, sizes: options.sizes, rounds: options.rounds },
    notes: engines.notes,
    rows: rows.filter((r) => results[r.name] !== undefined).map((r) => ({ name: r.name, label: r.label, options: r.options })),
    configs,
    results,
  };
}

/** Per size: the rows' figures and their ratios to Apache and to direct. */
function comparisonTables(report) {
  const headers = [
    'row',
    'req/s',
    '/apache',
    '/direct',
    'p50 ms',
    '/apache',
    '/direct',
    'p99 ms',
    '/apache',
    '/direct',
    'CPU µs/req',
    '/apache',
    'RSS MiB',
    '/apache',
    'b1/b2 %',
  ];
  return options.sizes.map((size) => {
    const apache = report.results.apache?.[size];
    const direct = report.results.direct?.[size];
    const body = [];
    for (const row of report.rows) {
      const r = report.results[row.name][size];
      if (r === undefined) continue;
      body.push([
        row.name,
        fmt(r.requestsPerSec),
        ratio(r.requestsPerSec, apache?.requestsPerSec),
        ratio(r.requestsPerSec, direct?.requestsPerSec),
        fmt(r.p50Ms, 2),
        ratio(r.p50Ms, apache?.p50Ms),
        ratio(r.p50Ms, direct?.p50Ms),
        fmt(r.p99Ms, 2),
        ratio(r.p99Ms, apache?.p99Ms),
        ratio(r.p99Ms, direct?.p99Ms),
        fmt(r.cpuUsPerRequest, 1),
        ratio(r.cpuUsPerRequest, apache?.cpuUsPerRequest),
        fmt(r.rssMiB, 1),
        ratio(r.rssMiB, apache?.rssMiB),
        splitLabel(r.backendHits),
      ]);
    }
    return { size, headers, body };
  });
}

/** Each engine's balancer (byrequests) against the bare library it is built on, per size. */
function engineOverheadLines(report) {
  const lines = [];
  for (const engine of engines.run) {
    const bare = engine === 'undici' ? 'undici' : 'http-proxy-3';
    for (const size of options.sizes) {
      const b = report.results[`balancer:${engine}:byrequests`]?.[size];
      const base = report.results[bare]?.[size];
      if (b === undefined || base === undefined) continue;
      lines.push(
        `balancer:${engine}:byrequests / bare ${bare}, ${sizeLabel(size)}: req/s ${ratio(b.requestsPerSec, base.requestsPerSec)}, CPU/req ${ratio(b.cpuUsPerRequest, base.cpuUsPerRequest)}, p99 ${ratio(b.p99Ms, base.p99Ms)}`,
      );
    }
  }
  return lines;
}

function textReport(report) {
  const out = [''];
  for (const t of comparisonTables(report)) {
    out.push(`body ${sizeLabel(t.size)} (${t.size} bytes); ratios: this row / Apache's, this row / direct's`, textTable(t.headers, t.body), '');
  }
  const overhead = engineOverheadLines(report);
  if (overhead.length > 0) out.push(...overhead, '');
  out.push('rows:', ...report.rows.map((r) => `  ${r.name.padEnd(32)} ${r.label}`));
  out.push('', `load generator: ${report.loadGenerator}`);
  out.push(
    'CPU: user + system time of the front end and all its processes during the measured window / requests completed; RSS: peak of samples every 250 ms, summed over its processes',
  );
  out.push(`load average (1 min) at end: ${report.machine.loadAverageAtEnd.toFixed(2)}`);
  return out.join('\n');
}

function markdownReport(report) {
  const m = report.machine;
  const out = [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.kernel}, Node ${m.node}.`,
    `Servers: ${Object.entries(m.versions)
      .map(([k, v]) => `${k}: ${v ?? 'not installed'}`)
      .join('; ')}.`,
    `Command: \`${m.command}\`. Load generator: ${report.loadGenerator}.`,
    `Settings: ${report.settings.connections} connections, ${report.settings.warmupSec} s warm-up and ${report.settings.seconds} s measured per row and size${report.settings.rounds > 1 ? `, ${report.settings.rounds} rounds (rotating order; medians)` : ''}. Load average (1 min) ${m.loadAverageAtStart.toFixed(2)} at start, ${m.loadAverageAtEnd.toFixed(2)} at end.`,
    ...report.notes.map((n) => `Note: ${n}.`),
    '',
  ];
  for (const t of comparisonTables(report)) {
    out.push(`### Body ${sizeLabel(t.size)} (${t.size} bytes)`, '', markdownTable(t.headers, t.body), '');
  }
  const overhead = engineOverheadLines(report);
  if (overhead.length > 0) out.push(...overhead.map((l) => `- ${l}`), '');
  out.push('Rows:', '', ...report.rows.map((r) => `- \`${r.name}\`: ${r.label}`), '');
  for (const [name, c] of Object.entries(report.configs)) {
    out.push(`${name} (\`${path.basename(c.file)}\`, key lines):`, '', '```', ...c.lines, '```', '');
  }
  return `${out.join('\n')}`;
}

/** The median of each figure over the rounds (each figure on its own), with every round's req/s kept. */
function medianFigures(list) {
  if (list.length === 1) return list[0];
  const median = (values) => {
    const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
    if (sorted.length === 0) return undefined;
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const out = {};
  for (const key of ['requests', 'durationSec', 'requestsPerSec', 'p50Ms', 'p99Ms', 'cpuUsPerRequest', 'rssMiB']) out[key] = median(list.map((r) => r[key]));
  out.errors = list.reduce((sum, r) => sum + r.errors, 0);
  out.non2xx = list.reduce((sum, r) => sum + r.non2xx, 0);
  out.backendHits = list[0].backendHits.map((_, i) => list.reduce((sum, r) => sum + r.backendHits[i], 0));
  out.backendConnections = list[0].backendConnections.map((_, i) => list.reduce((sum, r) => sum + r.backendConnections[i], 0));
  out.rounds = list.map((r) => ({ requestsPerSec: r.requestsPerSec, p99Ms: r.p99Ms, cpuUsPerRequest: r.cpuUsPerRequest }));
  return out;
}

function splitLabel(hits) {
  const total = hits.reduce((a, b) => a + b, 0);
  return total === 0 ? '-' : hits.map((h) => Math.round((100 * h) / total)).join('/');
}

function sizeLabel(bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Load goes to loopback only: refuse anything else, whatever a flag or a bug says. */
function assertLoopback(url) {
  const host = new URL(url).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '[::1]') throw new Error(`refusing to send load to ${url}: loopback only`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function matches(name, pattern) {
  if (pattern.includes('*'))
    return new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(name);
  return name === pattern || name.startsWith(`${pattern}:`);
}

function install() {
  console.error(`bench: --install: ${INSTALL_HINT}`);
  const result = spawnSync('sh', ['-c', INSTALL_HINT], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0) {
    console.error('bench: the install failed; the bench goes on with what is installed');
  }
}

function parseSize(text) {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (m === null) return NaN;
  const unit = (m[2] ?? 'b').toLowerCase();
  return Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1);
}

function parseArgs(argv) {
  const parsed = {
    seconds: 3,
    warmupSec: 1,
    rounds: 1,
    connections: 50,
    sizes: [100, 64 * 1024],
    only: undefined,
    engines: ['http-proxy-3', 'undici'],
    loadgen: undefined,
    list: false,
    profile: false,
    json: false,
    out: undefined,
    markdown: undefined,
    keepTemp: false,
    install: false,
  };
  const usage = () => {
    console.error(
      'usage: node bench/throughput.mjs [--seconds 1..60] [--warmup 0..30] [--connections 1..1000] [--rounds 1..9] [--sizes 100,64k]\n' +
        '       [--only row,prefix,glob*] [--engines http-proxy-3,undici] [--loadgen wrk|autocannon] [--list]\n' +
        '       [--profile] [--json] [--out FILE] [--markdown FILE] [--keep-temp] [--install]',
    );
    process.exit(64);
  };
  const flags = { '--list': 'list', '--profile': 'profile', '--json': 'json', '--keep-temp': 'keepTemp', '--install': 'install' };
  const numeric = {
    '--seconds': ['seconds', 1, 60],
    '--warmup': ['warmupSec', 0, 30],
    '--connections': ['connections', 1, 1000],
    '--rounds': ['rounds', 1, 9],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') usage();
    if (flags[arg] !== undefined) {
      parsed[flags[arg]] = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) {
      console.error(`bench: ${arg} needs a value`);
      usage();
    }
    i++;
    if (numeric[arg] !== undefined) {
      const [key, min, max] = numeric[arg];
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) {
        console.error(`bench: ${arg} must be an integer from ${min} to ${max}, got ${value}`);
        usage();
      }
      parsed[key] = n;
    } else if (arg === '--sizes') {
      parsed.sizes = value.split(',').map(parseSize);
      if (parsed.sizes.some((s) => !Number.isInteger(s) || s < 0 || s > 16 * 1024 * 1024)) {
        console.error(`bench: --sizes takes sizes from 0 to 16m (100, 64k, 1m), got ${value}`);
        usage();
      }
    } else if (arg === '--only') {
      parsed.only = [...(parsed.only ?? []), ...value.split(',').filter(Boolean)];
    } else if (arg === '--engines') {
      parsed.engines = value.split(',').filter(Boolean);
    } else if (arg === '--loadgen') {
      if (value !== 'wrk' && value !== 'autocannon') {
        console.error(`bench: --loadgen must be wrk or autocannon, got ${value}`);
        usage();
      }
      parsed.loadgen = value;
    } else if (arg === '--out') {
      parsed.out = value;
    } else if (arg === '--markdown') {
      parsed.markdown = value;
    } else {
      console.error(`bench: unknown argument ${arg}`);
      usage();
    }
  }
  return parsed;
}
