/**
 * `npm run soak -- --requests N --concurrency C [--engine NAME] [--max-seconds S]`: a long run of
 * GETs and small POSTs (one in four) through the balancer to three member processes, while the
 * first member is killed (SIGKILL) and started again on the same port every few seconds and the
 * second is drained and re-enabled. Defaults: 1,000,000 requests, 50 keep-alive connections, the
 * balancer's default engine, at most 1800 s. Loopback only; bounded in count and in time.
 *
 * The balancer runs in its own process, started with `--expose-gc`, so that its heap and RSS are
 * its own: both are read after a forced garbage collection before the first request and after the
 * last. Every reply is checked byte for byte; a request that gets anything else (another status, a
 * cut or missing response, no answer in 30 s) has failed, counted apart for GETs (idempotent) and
 * POSTs (a POST that reached a killed member cannot be retried, so some of those are expected).
 *
 * Progress goes to stderr every 30 s; the run ends with exactly one summary line on stdout:
 * `soak: <N> requests, <F> failed idempotent, <P> failed non-idempotent, heap <a> -> <b> MB, rss <c> -> <d> MB, <s> s`
 * Exit status 1 when a GET failed or the balancer's in-flight counters did not come back to zero.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startChild } from './lib/child.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const distEntry = path.join(here, '..', 'dist', 'index.js');
const options = parseArgs(process.argv.slice(2));

/** Chaos timing: the first member runs this long, is killed, stays down this long, comes back. */
const KILL_EVERY_MS = 3_000;
const DOWN_MS = 1_000;
/** The second member takes new requests this long, then drains this long. */
const DRAIN_EVERY_MS = 4_000;
const DRAINED_MS = 2_000;
const POST_EVERY = 4;
const POST_BODY = 'soak=' + 'x'.repeat(95);
const REQUEST_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 30_000;

if (!existsSync(distEntry)) {
  console.error(`soak: ${distEntry} is missing; run \`npm run build\` first (npm run soak does).`);
  process.exit(1);
}

const children = new Set();
const watchdog = setTimeout(
  () => {
    console.error(`soak: overran its ${options.maxSeconds + 60} s bound; stopping`);
    for (const child of children) child.kill('SIGKILL');
    process.exit(2);
  },
  (options.maxSeconds + 60) * 1000,
);
watchdog.unref();

/** Starts a member on `port` (0: any) and waits for it to listen; `kill()` ends it with SIGKILL and waits for its exit. */
async function startMember(port) {
  let exited;
  const member = await startChild(path.join(here, 'soak', 'member.mjs'), [String(port)], {
    track: (child) => {
      children.add(child);
      exited = once(child, 'exit').then(() => children.delete(child));
    },
  });
  return {
    port: member.first.port,
    getBody: member.first.getBody,
    async kill() {
      member.kill();
      await exited;
    },
  };
}

const members = [await startMember(0), await startMember(0), await startMember(0)];
const expectedGet = members[0].getBody;
const expectedPost = `posted ${POST_BODY.length}`;
const balancerOptions = {
  members: members.map((m, i) => ({ url: `http://127.0.0.1:${m.port}`, route: 'abc'[i] })),
  // A killed member is back in rotation a second after it failed, or sooner when a probe passes.
  retryMs: 1_000,
  connectTimeoutMs: 1_000,
  timeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  healthCheck: { path: '/health', intervalMs: 500, timeoutMs: 500 },
  // A kill fails every request on the member at once, a third of the connections: the default
  // budget (10 retries in flight) would refuse some of those retries, which is the budget's job, not
  // a lost request. One retry in flight per connection is allowed; refusals are still reported.
  retry: { budgetMin: options.concurrency },
  ...(options.engine === undefined ? {} : { engine: options.engine }),
};
const front = await startChild(path.join(here, 'soak', 'front.mjs'), [JSON.stringify(balancerOptions)], {
  execArgv: ['--expose-gc'],
  track: (child) => children.add(child),
});
const frontPort = front.first.port;

const memoryAtStart = await front.request({ cmd: 'memory' }, 30_000);

// The chaos: two loops that stop at their next pause once `stopChaos` is aborted; a killed member
// is always started again and a drained one always re-enabled before its loop ends.
const stopChaos = new AbortController();
const counts = { kills: 0, drains: 0 };
const pause = (ms) =>
  sleep(ms, undefined, { signal: stopChaos.signal }).then(
    () => true,
    () => false,
  );
const killLoop = (async () => {
  while (await pause(KILL_EVERY_MS)) {
    await members[0].kill();
    counts.kills++;
    await pause(DOWN_MS);
    members[0] = await startMember(members[0].port);
  }
})();
const drainLoop = (async () => {
  while (await pause(DRAIN_EVERY_MS)) {
    await front.request({ cmd: 'pool', op: 'drain', route: 'b' }, 10_000);
    counts.drains++;
    await pause(DRAINED_MS);
    await front.request({ cmd: 'pool', op: 'enable', route: 'b' }, 10_000);
  }
})();

// The load: `concurrency` workers over one keep-alive agent, until the count or the time is up.
const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
const failures = new Map();
let issued = 0;
let done = 0;
let failedIdempotent = 0;
let failedNonIdempotent = 0;
const started = Date.now();
const deadline = started + options.maxSeconds * 1000;

function send(n, post) {
  return new Promise((resolve) => {
    const fail = (why) => resolve(`${post ? 'POST' : 'GET'} ${why}`);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: frontPort,
        path: `/soak/${n}`,
        method: post ? 'POST' : 'GET',
        agent,
        headers: post ? { 'content-type': 'text/plain', 'content-length': POST_BODY.length } : undefined,
      },
      (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) fail(String(res.statusCode));
          else if (body !== (post ? expectedPost : expectedGet)) fail('wrong body');
          else resolve(undefined);
        });
        res.on('error', (err) => fail(`cut (${err.code ?? err.message})`));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('no answer'), { code: 'TIMEOUT' })));
    req.on('error', (err) => fail(err.code ?? err.message));
    req.end(post ? POST_BODY : undefined);
  });
}

const progress = setInterval(() => {
  const rate = done / ((Date.now() - started) / 1000);
  console.error(
    `soak: ${done} of ${options.requests} requests, ${failedIdempotent} failed idempotent, ${failedNonIdempotent} failed non-idempotent, ` +
      `${rate.toFixed(0)} req/s, ${counts.kills} kills, ${counts.drains} drains`,
  );
}, PROGRESS_EVERY_MS);

async function worker() {
  while (issued < options.requests && Date.now() < deadline) {
    const n = issued++;
    const post = n % POST_EVERY === POST_EVERY - 1;
    const failure = await send(n, post);
    done++;
    if (failure === undefined) continue;
    if (post) failedNonIdempotent++;
    else failedIdempotent++;
    failures.set(failure, (failures.get(failure) ?? 0) + 1);
  }
}
await Promise.all(Array.from({ length: options.concurrency }, worker));
const seconds = (Date.now() - started) / 1000;
clearInterval(progress);
agent.destroy();

// Back to a calm pool: every member up and enabled, nothing in flight, then the last figures.
stopChaos.abort();
await Promise.all([killLoop, drainLoop]);
let final = await front.request({ cmd: 'snapshot' }, 10_000);
for (let i = 0; i < 50 && (final.totals.inFlight !== 0 || final.inFlight.requests !== 0); i++) {
  await sleep(100);
  final = await front.request({ cmd: 'snapshot' }, 10_000);
}
const memoryAtEnd = await front.request({ cmd: 'memory' }, 30_000);
await front.stop({ cmd: 'close' }, 10_000);
for (const m of members) await m.kill();

let exitCode = 0;
if (done < options.requests) console.error(`soak: stopped by the ${options.maxSeconds} s bound after ${done} of ${options.requests} requests`);
if (failures.size > 0) console.error(`soak: failures by kind: ${[...failures].map(([why, n]) => `${why} x${n}`).join(', ')}`);
const { totals, inFlight, retries } = final;
console.error(
  `soak: engine ${options.engine ?? '(the default)'}, ${options.concurrency} connections, ${counts.kills} kills, ${counts.drains} drains, ${retries.made} retries, ${retries.refusedByBudget} refused by the retry budget, ` +
    `member requests ${final.members.map((m) => `${m.route} ${m.requests}`).join(', ')}`,
);
if (totals.inFlight !== 0 || inFlight.requests !== 0 || inFlight.retries !== 0) {
  console.error(`soak: in-flight counters did not come back to zero: members ${totals.inFlight}, requests ${inFlight.requests}, retries ${inFlight.retries}`);
  exitCode = 1;
}
if (failedIdempotent > 0) exitCode = 1;
const mb = (bytes) => (bytes / (1024 * 1024)).toFixed(1);
console.log(
  `soak: ${done} requests, ${failedIdempotent} failed idempotent, ${failedNonIdempotent} failed non-idempotent, ` +
    `heap ${mb(memoryAtStart.heapUsed)} -> ${mb(memoryAtEnd.heapUsed)} MB, rss ${mb(memoryAtStart.rss)} -> ${mb(memoryAtEnd.rss)} MB, ${seconds.toFixed(0)} s`,
);
process.exit(exitCode);

function parseArgs(argv) {
  const parsed = { requests: 1_000_000, concurrency: 50, engine: undefined, maxSeconds: 1_800 };
  const numeric = { '--requests': ['requests', 1, 100_000_000], '--concurrency': ['concurrency', 1, 1_000], '--max-seconds': ['maxSeconds', 1, 86_400] };
  const usage = 'usage: npm run soak -- [--requests N] [--concurrency C] [--engine NAME] [--max-seconds S]';
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--engine' && value !== undefined && !value.startsWith('--')) {
      parsed.engine = value;
      continue;
    }
    const spec = numeric[flag];
    const number = Number(value);
    if (spec === undefined || !Number.isInteger(number) || number < spec[1] || number > spec[2]) {
      console.error(`soak: bad argument ${flag ?? ''} ${value ?? ''}`.trim());
      console.error(usage);
      process.exit(64);
    }
    parsed[spec[0]] = number;
  }
  return parsed;
}
