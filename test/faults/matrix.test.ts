/**
 * The fault matrix: every way a member fails, crossed with GET, a small POST (kept, so replayable)
 * and a POST over `retry.maxBodyBytes` (not kept), with byrequests and bybusyness, on every engine
 * the balancer offers. Each row states what the client gets, how the balancer classifies the
 * faulty member's attempt, the member's state and failures afterwards, whether the healthy member
 * served a retry, and that every in-flight counter is back at zero once the balancer's `request`
 * event for it has come. docs/reliability.md shows the same table.
 *
 * The engines are the balancer's own list (ENGINE_NAMES), so a new engine is in the matrix by itself.
 *
 * Every row builds its own balancer over two members on loopback: the faulty one first (both
 * strategies pick it first from a fresh start) and a healthy one that answers
 * `good <method> <body bytes>`. The balancer's clock is faked (Date and the deadline sweep's
 * setInterval; the sockets are real), so no deadline passes unless a row moves the clock: the rows
 * that are about a deadline move it past that deadline at the right moment, and a loaded machine
 * can neither make the others time out nor make a trickle look idle.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBalancer, type BalancerOptions, type FailureKind, type MemberState, type RequestEvent } from '../../src/index.js';
import { ENGINES } from '../helpers/engines.js';
import { closedPort, exchange, startBackend, startFront, type Backend, type Exchange } from '../helpers/servers.js';
import { startSwitchable } from '../helpers/switchable.js';

const TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1000;
/** The deadline sweep runs every tenth of the shortest timeout: a deadline fires up to this late. */
const SWEEP_MS = 100;
const MAX_BODY_BYTES = 1024;
/** One chunk of the trickling member's body, sent six times. */
const TRICKLE = 'trickle\n';
const TRICKLE_CHUNKS = 6;

/** The client's requests: a GET, a small POST kept for replay, a POST over the limit. */
const REQUESTS = {
  GET: { method: 'GET', body: undefined },
  POST: { method: 'POST', body: 'order=1' },
  'POST > maxBodyBytes': { method: 'POST', body: 'x'.repeat(4 * MAX_BODY_BYTES) },
} as const;
type RequestKind = keyof typeof REQUESTS;
const REQUEST_KINDS = Object.keys(REQUESTS) as RequestKind[];

/**
 * What the client gets: `retried` is a 200 from the healthy member after the faulty one failed;
 * `served` a whole 200 from the faulty member; `cut` a response whose head came and whose body
 * was cut; a number is that status, whole, without any retry.
 */
type Answer = 'retried' | 'served' | 'cut' | 502 | 503 | 504;

/** One row's expectation: the client's answer and the faulty member's state and failures after it. */
interface Expected {
  answer: Answer;
  state: MemberState;
  failures: number;
}

/** What a row's client has received so far, for members that act on it. */
interface ClientProgress {
  /** Resolves once the client has at least `n` bytes of the response body. */
  bodyBytes(n: number): Promise<void>;
}

/** A faulty member as a row starts it. */
interface FaultyMember {
  url: string;
  close(): Promise<void>;
  /** Called when the client has the response head: a fault that must strike after it strikes here. */
  afterHead?: () => void;
  /** Runs beside the request: moves the faked clock, and the member, at the right moments. */
  drive?: (client: ClientProgress) => Promise<void>;
}

interface Fault {
  name: string;
  start(): Promise<FaultyMember>;
  /** How the balancer classifies the faulty member's attempt (the request event's `failure` unless a retry served it). */
  failure: FailureKind | undefined;
  /** Balancer options of this row (failOnStatus). */
  options?: Partial<BalancerOptions>;
  /** GETs sent first, alternating faulty and healthy, so the request under test reuses a socket. */
  warmUps?: number;
  expected: Record<RequestKind, Expected>;
}

/** The same expectation for every request kind. */
const always = (expected: Expected): Record<RequestKind, Expected> => ({ GET: expected, POST: expected, 'POST > maxBodyBytes': expected });

/** A back end (from the shared helper) that reads the whole request, then runs `then` on it. */
async function afterBody(name: string, then: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FaultyMember> {
  const backend = await startBackend(name, (req, res) => {
    req.resume();
    req.on('end', () => then(req, res));
  });
  return backend;
}

/** Like {@link afterBody}, and `arrived` resolves with the response once the request is read. */
async function awaitingBody(name: string, then: (res: http.ServerResponse) => void): Promise<FaultyMember & { arrived: Promise<http.ServerResponse> }> {
  let arrive!: (res: http.ServerResponse) => void;
  const arrived = new Promise<http.ServerResponse>((resolve) => (arrive = resolve));
  const member = await afterBody(name, (_req, res) => {
    then(res);
    arrive(res);
  });
  return { ...member, arrived };
}

const FAULTS: Fault[] = [
  {
    name: 'refuses the connection',
    failure: 'connect',
    start: async () => ({ url: `http://127.0.0.1:${await closedPort()}`, close: async () => {} }),
    // No byte reached it: any method is retried, but only a kept body can be sent again.
    expected: {
      GET: { answer: 'retried', state: 'error', failures: 1 },
      POST: { answer: 'retried', state: 'error', failures: 1 },
      'POST > maxBodyBytes': { answer: 502, state: 'error', failures: 1 },
    },
  },
  {
    name: 'accepts, reads the request and resets before the head',
    failure: 'no-response',
    start: () => afterBody('reset-before-head', (req) => req.socket.resetAndDestroy()),
    expected: {
      GET: { answer: 'retried', state: 'ok', failures: 1 },
      POST: { answer: 502, state: 'ok', failures: 1 },
      'POST > maxBodyBytes': { answer: 502, state: 'ok', failures: 1 },
    },
  },
  {
    name: 'resets mid-head',
    failure: 'no-response',
    start: () => afterBody('reset-mid-head', (req) => req.socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/pl', () => req.socket.resetAndDestroy())),
    expected: {
      GET: { answer: 'retried', state: 'ok', failures: 1 },
      POST: { answer: 502, state: 'ok', failures: 1 },
      'POST > maxBodyBytes': { answer: 502, state: 'ok', failures: 1 },
    },
  },
  {
    name: 'resets mid-body',
    failure: 'truncated',
    start: async () => {
      let held: http.IncomingMessage | undefined;
      const member = await afterBody('reset-mid-body', (req, res) => {
        held = req;
        res.writeHead(200, { 'content-length': '1000' });
        res.write('partial');
      });
      // Reset once the client has the head, so the cut always comes after the head.
      return { ...member, afterHead: () => held?.socket.resetAndDestroy() };
    },
    expected: always({ answer: 'cut', state: 'ok', failures: 1 }),
  },
  {
    name: 'hangs before the head',
    failure: 'timeout',
    start: async () => {
      const member = await awaitingBody('hang', () => {});
      const drive = async (): Promise<void> => {
        await member.arrived; // once the member has the request, the clock passes timeoutMs
        await vi.advanceTimersByTimeAsync(TIMEOUT_MS + SWEEP_MS);
      };
      return { ...member, drive };
    },
    expected: always({ answer: 504, state: 'ok', failures: 1 }),
  },
  {
    name: 'trickles the body for longer than timeoutMs and idleTimeoutMs, never idle for idleTimeoutMs',
    failure: undefined,
    start: async () => {
      const member = await awaitingBody('trickle', (res) => {
        res.writeHead(200, { 'content-length': String(TRICKLE.length * TRICKLE_CHUNKS) });
        res.write(TRICKLE);
      });
      const drive = async (client: ClientProgress): Promise<void> => {
        const res = await member.arrived;
        // Each chunk comes 0.6 idleTimeoutMs after the client had the one before: three idle
        // periods and three head timeouts in all, never one idle period without a byte.
        for (let sent = 1; sent < TRICKLE_CHUNKS; sent++) {
          await client.bodyBytes(sent * TRICKLE.length);
          await vi.advanceTimersByTimeAsync(0.6 * IDLE_TIMEOUT_MS);
          if (sent + 1 < TRICKLE_CHUNKS) res.write(TRICKLE);
          else res.end(TRICKLE);
        }
      };
      return { ...member, drive };
    },
    expected: always({ answer: 'served', state: 'ok', failures: 0 }),
  },
  {
    name: 'sends a malformed status line (099)',
    failure: 'bad-response',
    start: () => afterBody('status-099', (req) => req.socket.end('HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok')),
    expected: always({ answer: 502, state: 'ok', failures: 1 }),
  },
  {
    name: 'sends a control byte in the reason phrase',
    failure: 'bad-response',
    start: () => afterBody('reason-ctl', (req) => req.socket.end('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok')),
    expected: always({ answer: 502, state: 'ok', failures: 1 }),
  },
  {
    name: 'sends a 64 KiB header',
    failure: 'no-response',
    start: () =>
      afterBody('big-header', (_req, res) => {
        res.writeHead(200, { 'x-big': 'a'.repeat(64 * 1024) });
        res.end('big');
      }),
    // Larger than Node's 16 KiB limit: no head comes out of it, as if the member had not answered.
    expected: {
      GET: { answer: 'retried', state: 'ok', failures: 1 },
      POST: { answer: 502, state: 'ok', failures: 1 },
      'POST > maxBodyBytes': { answer: 502, state: 'ok', failures: 1 },
    },
  },
  {
    name: 'closes a keep-alive socket just as it is reused',
    failure: 'no-response',
    start: async () => {
      const served = new WeakSet<object>();
      return startBackend('keep-alive-race', (req, res) => {
        if (served.has(req.socket)) return void req.socket.destroy(); // the second request on a socket: close it unanswered
        served.add(req.socket);
        req.resume();
        req.on('end', () => res.end('first'));
      });
    },
    warmUps: 2,
    // Not charged (Apache's "assume the backend is fine"); the GET is retried, the POST cannot be.
    expected: {
      GET: { answer: 'retried', state: 'ok', failures: 0 },
      POST: { answer: 502, state: 'ok', failures: 0 },
      'POST > maxBodyBytes': { answer: 502, state: 'ok', failures: 0 },
    },
  },
  {
    name: 'answers 503',
    failure: undefined,
    start: async () => (await startSwitchable('5xx', { status: 503, body: 'busy' })).backend,
    expected: always({ answer: 503, state: 'ok', failures: 1 }),
  },
  {
    name: 'answers 503, with failOnStatus: [503]',
    failure: undefined,
    start: async () => (await startSwitchable('5xx-fail', { status: 503, body: 'busy' })).backend,
    options: { failOnStatus: [503] },
    expected: always({ answer: 503, state: 'error', failures: 1 }),
  },
];
const STRATEGIES = ['byrequests', 'bybusyness'] as const;

const cleanups: (() => Promise<void>)[] = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
});
afterEach(async () => {
  vi.useRealTimers();
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Tracks the body bytes a client has received, for {@link ClientProgress}. */
function progressOf(): { progress: ClientProgress; onData: (chunk: Buffer) => void } {
  let received = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    for (const w of waiting.filter((w) => received >= w.n)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  const bodyBytes = (n: number): Promise<void> => (received >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve })));
  return { progress: { bodyBytes }, onData };
}

/** The healthy member: answers `good <method> <body bytes>` once it has read the whole body. */
async function healthyMember(): Promise<Backend> {
  return startBackend('good', (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => res.end(`good ${req.method} ${bytes}`));
  });
}

/** What the client saw, in the table's terms. */
function answerOf(reply: Exchange, good: string): Answer | number | string {
  if (reply.status === 0) return `no response (${reply.error?.message ?? 'closed'})`;
  if (!reply.complete) return reply.status === 200 ? 'cut' : `${reply.status} cut`;
  if (reply.status === 200) return reply.body === good ? 'retried' : 'served';
  return reply.status;
}

describe.each(ENGINES)('fault matrix on the %s engine', (engine) => {
  describe.each(STRATEGIES)('%s', (strategy) => {
    for (const fault of FAULTS) {
      describe(`a member that ${fault.name}`, () => {
        it.each(REQUEST_KINDS)('%s', async (kind) => {
          const expected = fault.expected[kind];
          const faulty = await fault.start();
          cleanups.push(() => faulty.close());
          const healthy = await healthyMember();
          cleanups.push(() => healthy.close());
          const balancer = createBalancer({
            members: [
              { url: faulty.url, route: 'faulty' },
              { url: healthy.url, route: 'healthy' },
            ],
            strategy,
            timeoutMs: TIMEOUT_MS,
            connectTimeoutMs: 5 * TIMEOUT_MS, // undici's own connect timer is real: out of the way
            idleTimeoutMs: IDLE_TIMEOUT_MS,
            retry: { maxBodyBytes: MAX_BODY_BYTES },
            engine,
            ...fault.options,
          });
          const front = await startFront(balancer);
          cleanups.push(async () => {
            await front.close();
            await balancer.close();
          });

          const warmUps = fault.warmUps ?? 0;
          for (let i = 0; i < warmUps; i++) expect((await exchange(`${front.url}/warm-up`)).status).toBe(200);
          const { method, body } = REQUESTS[kind];
          // The balancer's event for the request under test comes once its counters are settled.
          const finished = new Promise<RequestEvent>((resolve) => balancer.once('request', resolve));
          const { progress, onData } = progressOf();
          const [reply] = await Promise.all([
            exchange(`${front.url}/under-test`, { method, body, onResponse: faulty.afterHead, onData }),
            faulty.drive?.(progress),
          ]);
          const goodBody = `good ${method} ${body?.length ?? 0}`;

          expect(answerOf(reply, goodBody)).toBe(expected.answer);
          if (expected.answer === 'served') expect(reply.body).toBe(TRICKLE.repeat(TRICKLE_CHUNKS));
          if (expected.answer === 503) expect(reply.body).toBe('busy'); // the member's own 503, not the balancer's
          const retried = expected.answer === 'retried' ? 1 : 0;
          expect(healthy.received.filter((r) => r.url === '/under-test')).toHaveLength(retried);

          const event = await finished;
          expect(event).toMatchObject({ url: '/under-test', status: reply.status, attempts: 1 + retried, failure: retried ? undefined : fault.failure });
          const snapshot = balancer.snapshot();
          const [faultyAfter, healthyAfter] = snapshot.members;
          expect({ state: faultyAfter!.state, failures: faultyAfter!.failures }).toEqual({ state: expected.state, failures: expected.failures });
          expect(faultyAfter!.requests).toBe(1 + Math.ceil(warmUps / 2));
          expect(healthyAfter!.failures).toBe(0);
          expect(snapshot.retries.made).toBe(retried);
          expect(snapshot.members.map((m) => m.inFlight)).toEqual([0, 0]);
          expect(snapshot.totals.inFlight).toBe(0);
          expect(snapshot.inFlight).toEqual({ requests: 0, retries: 0 });
        });
      });
    }
  });
});
