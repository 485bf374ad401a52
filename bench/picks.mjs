/**
 * `npm run bench:picks`: what choosing a member costs, per built-in strategy, for pools of 2, 100,
 * 1,000 and 10,000 members, and what creating a balancer of each size costs. A pick is made as the
 * request path makes it (src/balancer.ts `pick()`): `balancer.pool.select(choose)`, where `choose`
 * calls `balancer.strategy.pick(candidates, context)` on the tier's usable members. A second figure
 * adds the per-request bookkeeping around a pick (`pool.begin`, the strategy's `requestStart` and
 * `requestEnd`, `pool.finish`), as one request without a retry does it. Nothing is sent anywhere:
 * the members' URLs are loopback ports that are never connected to (no health checks, no requests).
 *
 * Members have inFlight counts from 0 to 6 (so bybusyness and p2c compare something), and the hash
 * strategy hashes the URL, one of 1,024 distinct paths per pick in turn. No asserts: it prints a table.
 *
 * Times are CPU time of this process (user + system), not wall time: the machine is shared.
 *
 * Flags: --sizes 2,100,1000,10000  --strategies byrequests,...  --ms N (measuring time per cell, default 200)
 * --json.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { textTable, fmt } from './lib/table.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const distEntry = path.join(here, '..', 'dist', 'index.js');
if (!existsSync(distEntry)) {
  console.error(`bench: ${distEntry} is missing; run \`npm run build\` first (npm run bench:picks does).`);
  process.exit(1);
}
const { createBalancer } = await import(pathToFileURL(distEntry).href);

const options = parseArgs(process.argv.slice(2));
const PATHS = Array.from({ length: 1024 }, (_, i) => `/item/${i}?v=${(i * 7919) % 1000}`);

function membersOf(count) {
  // Ports 10000 and up on 127.0.0.1: distinct URLs, never connected to.
  return Array.from({ length: count }, (_, i) => ({ url: `http://127.0.0.1:${10_000 + i}`, route: `m${i}` }));
}

function balancerOptions(strategy, members) {
  return strategy === 'hash' ? { members, strategy, hash: { key: 'url' } } : { members, strategy };
}

/**
 * Creates a balancer with `count` members a few times (bounded in time); returns the median CPU ms
 * of `createBalancer` and the last balancer, left open for the pick measurements.
 */
async function create(strategy, count) {
  const members = membersOf(count);
  const times = [];
  const deadline = performance.now() + 2_000;
  let balancer;
  for (let i = 0; i < 5 && (i < 1 || performance.now() < deadline); i++) {
    await balancer?.close();
    const start = cpuMicros();
    balancer = createBalancer(balancerOptions(strategy, members));
    times.push((cpuMicros() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return { createMs: times[times.length >> 1], balancer };
}

/** CPU µs of this process so far (user + system): unlike the wall clock, it does not run on while other work has the core. */
function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * ns of CPU per call of `step(i)`, measured over about `ms` ms of CPU after a warm-up of a quarter
 * of that. CPU time rather than wall time, since the machine is shared.
 */
function nsPerCall(step, ms) {
  let i = 0;
  const warmUntil = cpuMicros() + (ms * 1000) / 4;
  while (cpuMicros() < warmUntil) for (let k = 0; k < 64; k++) step(i++);
  let calls = 0;
  const start = cpuMicros();
  const until = start + ms * 1000;
  let now = start;
  // Batches of 64 calls between clock reads, so the clock is not what is measured.
  while (now < until) {
    for (let k = 0; k < 64; k++) step(i++);
    calls += 64;
    now = cpuMicros();
  }
  return ((now - start) * 1000) / calls;
}

async function measure(balancer, strategy, count, ms = options.ms) {
  const { pool, strategy: chosen } = balancer;
  pool.members.forEach((m, i) => {
    m.inFlight = i % 7;
  });
  // The request path's pick context: the client request (hash reads req.url) and its own headers.
  const req = { url: '/', headers: {}, socket: { remoteAddress: '127.0.0.1' } };
  const context = { req, headers: req.headers };
  const choose = (candidates) => chosen.pick(candidates, context);
  const end = { bytesSent: 0, bytesReceived: 100, durationMs: 1, ok: true };
  let picked = 0;
  const pickNs = nsPerCall((i) => {
    req.url = PATHS[i & 1023];
    if (pool.select(choose) !== undefined) picked++;
  }, ms);
  const requestNs = nsPerCall((i) => {
    req.url = PATHS[i & 1023];
    const member = pool.select(choose);
    pool.begin(member);
    chosen.requestStart?.(member);
    chosen.requestEnd?.(member, end);
    pool.finish(member, 0, 100, false);
  }, ms);
  await balancer.close();
  if (picked === 0) throw new Error(`${strategy} with ${count} members picked nothing`);
  return { pickNs, requestNs };
}

const results = [];
console.error(`pick micro-benchmark: node ${process.version}; ${options.ms} ms per cell; sizes ${options.sizes.join(', ')}`);
// One unmeasured pass first, so the first cells do not pay for compiling the shared code (pool.select).
for (const strategy of options.strategies) {
  for (const count of [2, 100]) await measure(createBalancer(balancerOptions(strategy, membersOf(count))), strategy, count, options.ms / 4);
}
for (const count of options.sizes) {
  for (const strategy of options.strategies) {
    const { createMs, balancer } = await create(strategy, count);
    const { pickNs, requestNs } = await measure(balancer, strategy, count);
    results.push({ strategy, members: count, createMs, pickNs, requestNs });
    console.error(`  ${String(count).padStart(6)} members  ${strategy.padEnd(10)}  ${fmt(pickNs, 0).padStart(9)} ns/pick`);
  }
}

if (options.json) {
  console.log(JSON.stringify({ node: process.version, ms: options.ms, results }, null, 2));
} else {
  const table = (title, key, digits) => {
    const headers = ['strategy', ...options.sizes.map((n) => `${n.toLocaleString('en-US')} members`)];
    const rows = options.strategies.map((strategy) => [
      strategy,
      ...options.sizes.map((n) => {
        const value = results.find((x) => x.strategy === strategy && x.members === n)[key];
        return fmt(value, digits(value));
      }),
    ]);
    console.log(`\n${title}`);
    console.log(textTable(headers, rows));
  };
  table('ns per pick (pool.select + strategy.pick, as the request path picks)', 'pickNs', () => 0);
  table("ns per request (the pick plus pool.begin/finish and the strategy's requestStart/requestEnd)", 'requestNs', () => 0);
  table('ms to create a balancer (createBalancer, median of up to 5)', 'createMs', (v) => (v < 10 ? 2 : 0));
  console.log('\nall figures are CPU time of this process (user + system), not wall time');
}

function parseArgs(argv) {
  const parsed = { sizes: [2, 100, 1_000, 10_000], strategies: ['byrequests', 'bytraffic', 'bybusyness', 'roundrobin', 'p2c', 'hash'], ms: 200, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--json') parsed.json = true;
    else if (arg === '--sizes' && value !== undefined) {
      parsed.sizes = value.split(',').map(Number);
      i++;
    } else if (arg === '--strategies' && value !== undefined) {
      parsed.strategies = value.split(',');
      i++;
    } else if (arg === '--ms' && value !== undefined) {
      parsed.ms = Number(value);
      i++;
    } else {
      console.error(
        `bench: unknown argument ${arg}\nusage: node bench/picks.mjs [--sizes 2,100,1000,10000] [--strategies byrequests,...] [--ms 10..5000] [--json]`,
      );
      process.exit(64);
    }
  }
  if (parsed.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 50_000) || !Number.isFinite(parsed.ms) || parsed.ms < 10 || parsed.ms > 5_000) {
    console.error('bench: --sizes takes 1 to 50000 members, --ms 10 to 5000');
    process.exit(64);
  }
  return parsed;
}
