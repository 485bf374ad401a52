/**
 * Active health checks: option validation and merging, single probes on real loopback sockets
 * (HTTP, HTTPS, TCP, timeouts, expected status and body), and the checker's thresholds, schedule
 * and life cycle against back ends whose answers are switched or scripted. Every wait is for an
 * event (a probe, a pool event, a socket closing), bounded by WAIT_LIMIT_MS.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeMember, takenNames, type MemberConfig, type MemberOptions } from '../src/config.js';
import { BalancerConfigError } from '../src/validate.js';
import { HealthChecker, firstProbeDelayMs, nextProbeDelayMs } from '../src/health/checker.js';
import {
  HEALTH_CHECK_DEFAULTS,
  mergeHealthCheck,
  normalizeHealthCheck,
  normalizeHealthCheckOverride,
  type HealthCheckConfig,
  type HealthCheckOptions,
} from '../src/health/options.js';
import { PACKAGE_VERSION, PROBE_USER_AGENT, describeProbe, probeTargetOf, runProbe, type ProbeResult } from '../src/health/probe.js';
import type { Member } from '../src/pool/member.js';
import { Pool } from '../src/pool/pool.js';
import { resolveStrategy } from '../src/strategies/index.js';
import { closedPort } from './helpers/servers.js';
import { startSwitchable, type SwitchableBackend } from './helpers/switchable.js';

/** Upper bound of any wait for an event; a safety net, never an assertion on timing. */
const WAIT_LIMIT_MS = 10_000;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backend(name: string, initial?: Parameters<typeof startSwitchable>[1]): Promise<SwitchableBackend> {
  const b = await startSwitchable(name, initial);
  cleanups.push(() => b.close());
  return b;
}

function makePool(members: (string | MemberOptions)[]): Pool {
  const configs: MemberConfig[] = [];
  members.forEach((m, i) => configs.push(normalizeMember(typeof m === 'string' ? { url: m } : m, `members[${i}]`, takenNames(configs))));
  return new Pool(configs, resolveStrategy('byrequests'), 60_000);
}

/** Small, fast checks: Apache's minimum interval, no jitter unless a test asks for it. */
function config(options: HealthCheckOptions = {}): HealthCheckConfig {
  return normalizeHealthCheck({ intervalMs: 100, timeoutMs: 2000, jitterPercent: 0, path: '/health', ...options }, 'healthCheck')!;
}

function checkerFor(pool: Pool, base: HealthCheckConfig | undefined, overrides: Record<string, unknown> = {}): HealthChecker {
  const checker = new HealthChecker(pool, base, (m) => normalizeHealthCheckOverride(overrides[m.route], `members.${m.route}.healthCheck`));
  cleanups.push(() => checker.close());
  return checker;
}

interface Entry {
  kind: 'pass' | 'fail' | 'unhealthy' | 'healthy';
  route: string;
  result?: ProbeResult;
  /** The member's state and usability when the event came. */
  state: Member['state'];
  usable: boolean;
  reason?: string;
}

/** Records probes and health events in order, and lets a test wait until a condition holds. */
class Recorder {
  readonly entries: Entry[] = [];
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(checker: HealthChecker, pool: Pool) {
    checker.on('probe', (m, result) => this.#push({ kind: result.ok ? 'pass' : 'fail', route: m.route, result, state: m.state, usable: m.usable }));
    pool.on('memberUnhealthy', (m, reason) => this.#push({ kind: 'unhealthy', route: m.route, state: m.state, usable: m.usable, reason }));
    pool.on('memberHealthy', (m, reason) => this.#push({ kind: 'healthy', route: m.route, state: m.state, usable: m.usable, reason }));
  }

  /** Kinds of one member's entries, in order. */
  log(route: string): Entry['kind'][] {
    return this.entries.filter((e) => e.route === route).map((e) => e.kind);
  }

  probes(route: string): ProbeResult[] {
    return this.entries.filter((e) => e.route === route && e.result !== undefined).map((e) => e.result!);
  }

  /** Resolves once `test` holds (checked now and after every entry); fails after WAIT_LIMIT_MS. */
  until(test: () => boolean, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gave up waiting for ${what}; entries: ${JSON.stringify(this.entries.map((e) => `${e.route}:${e.kind}`))}`)),
        WAIT_LIMIT_MS,
      );
      this.#waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  untilProbes(route: string, count: number): Promise<void> {
    return this.until(() => this.probes(route).length >= count, `${count} probes of ${route}`);
  }

  #push(entry: Entry): void {
    this.entries.push(entry);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

/** Waits for a socket the server accepted to be closed (a reset is a close too: events.once would reject on it). */
async function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return;
  await withLimit(new Promise<void>((resolve) => socket.once('close', () => resolve())), 'the server side of the probe connection to close');
}

async function withLimit<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), WAIT_LIMIT_MS);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function probeOnce(url: string, options: HealthCheckOptions, signal?: AbortSignal): Promise<ProbeResult> {
  const c = config(options);
  return runProbe(probeTargetOf(new URL(url), c.path), c, signal);
}

function configError(fn: () => unknown): BalancerConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BalancerConfigError);
    return err as BalancerConfigError;
  }
  throw new Error('expected a BalancerConfigError');
}

describe('healthCheck options', () => {
  it('applies defaults (Apache: interval 30 s, passes and fails 1; status 200-399) and treats undefined/false as off', () => {
    expect(normalizeHealthCheck(undefined, 'healthCheck')).toBeUndefined();
    expect(normalizeHealthCheck(false, 'healthCheck')).toBeUndefined();
    const c = normalizeHealthCheck({}, 'healthCheck');
    expect(c).toEqual({
      method: 'GET',
      path: '/',
      intervalMs: 30_000,
      timeoutMs: 5_000,
      passes: 1,
      fails: 1,
      expectStatus: [[200, 399]],
      expectBody: undefined,
      headers: {},
      jitterPercent: 10,
    });
    expect(c).toEqual(HEALTH_CHECK_DEFAULTS);
  });

  it('accepts status codes and ranges as numbers, pairs and strings', () => {
    const statuses = (expectStatus: unknown): unknown => normalizeHealthCheck({ expectStatus }, 'healthCheck')!.expectStatus;
    expect(statuses(204)).toEqual([[204, 204]]);
    expect(statuses('200-299')).toEqual([[200, 299]]);
    expect(statuses([200, 299])).toEqual([
      [200, 200],
      [299, 299],
    ]); // an array of two numbers is two codes
    expect(statuses([[200, 204], '301', '500-503', 418])).toEqual([
      [200, 204],
      [301, 301],
      [500, 503],
      [418, 418],
    ]);
  });

  it('drops the g and y flags of an expectBody RegExp, so that matching is stateless', () => {
    const body = normalizeHealthCheck({ expectBody: /up/giy }, 'healthCheck')!.expectBody as RegExp;
    expect(body.flags).toBe('i');
    expect(body.source).toBe('up');
  });

  it('lower-cases header names and keeps a __proto__ field as a field', () => {
    const headers = normalizeHealthCheck({ headers: JSON.parse('{"X-Token":"t","__proto__":"p"}') as Record<string, string> }, 'healthCheck')!.headers;
    expect(Object.keys(headers)).toEqual(['x-token', '__proto__']);
    expect(headers['x-token']).toBe('t');
  });

  it('accepts exactly the header values Node will send, so no accepted value fails every probe with ERR_INVALID_CHAR', () => {
    const nodeSends = (value: string): boolean => {
      try {
        http.validateHeaderValue('x-a', value);
        return true;
      } catch {
        return false;
      }
    };
    const accepted = (value: string): boolean => {
      try {
        normalizeHealthCheck({ headers: { 'x-a': value } }, 'healthCheck');
        return true;
      } catch (e) {
        expect(e).toBeInstanceOf(BalancerConfigError);
        return false;
      }
    };
    for (const value of ['token', 'caf\u00e9', 'a\tb', ' spaced ', '\u00ff', '']) expect(accepted(value)).toBe(true);
    for (const value of ['a\u0001b', 'a\u007fb', 'euro\u20ac', '\u0100', 'a\r\nb', 'a\u0000b']) expect(accepted(value)).toBe(false);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'binary-ascii', maxLength: 20 })), (value) => {
        expect(accepted(value)).toBe(nodeSends(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ['yes', 'healthCheck', 'healthCheck must be an object, got "yes"'],
    [{ methd: 'GET' }, 'healthCheck.methd', 'is not a known option'],
    [{ method: 'get' }, 'healthCheck.method', "must be one of 'GET', 'HEAD', 'OPTIONS', 'TCP', got \"get\""],
    [{ intervalMs: 99 }, 'healthCheck.intervalMs', 'healthCheck.intervalMs must be an integer from 100 to 2147483647, got 99'],
    [{ intervalMs: 150.5 }, 'healthCheck.intervalMs', 'got 150.5'],
    [{ timeoutMs: 0 }, 'healthCheck.timeoutMs', 'must be an integer from 1'],
    [{ passes: 0 }, 'healthCheck.passes', 'must be an integer from 1 to 1000, got 0'],
    [{ fails: '3' }, 'healthCheck.fails', 'got "3"'],
    [{ jitterPercent: 51 }, 'healthCheck.jitterPercent', 'must be an integer from 0 to 50, got 51'],
    [{ path: 'health' }, 'healthCheck.path', 'must be a path starting with "/"'],
    [{ path: '/a b' }, 'healthCheck.path', 'got "/a b"'],
    [{ path: '/a#b' }, 'healthCheck.path', 'without "#"'],
    [{ expectStatus: [] }, 'healthCheck.expectStatus', 'must not be empty'],
    [{ expectStatus: [200, 600] }, 'healthCheck.expectStatus[1]', 'must be a status code 100-599'],
    [{ expectStatus: '299-200' }, 'healthCheck.expectStatus', 'lowest code above its highest'],
    [{ expectStatus: [[200]] }, 'healthCheck.expectStatus[0]', 'got [200]'],
    [{ expectStatus: '2xx' }, 'healthCheck.expectStatus', 'got "2xx"'],
    [{ expectBody: '' }, 'healthCheck.expectBody', 'must be a non-empty string or a RegExp'],
    [{ expectBody: 5 }, 'healthCheck.expectBody', 'got 5'],
    [{ headers: { connection: 'keep-alive' } }, 'healthCheck.headers.connection', 'is set by the probe itself'],
    [{ headers: { 'x-a': 'a\r\nb' } }, 'healthCheck.headers.x-a', 'without CR, LF or NUL'],
    [{ headers: { 'x-a': 'a\u0001b' } }, 'healthCheck.headers.x-a', 'other control characters'],
    [{ headers: { 'x-a': 'euro\u20ac' } }, 'healthCheck.headers.x-a', 'above U+00FF'],
    [{ headers: { 'bad name': 'x' } }, 'healthCheck.headers.bad name', 'valid header field name'],
    [{ headers: { 'X-A': '1', 'x-a': '2' } }, 'healthCheck.headers.x-a', 'duplicates another field name'],
    [{ headers: { 'x-n': 1 } }, 'healthCheck.headers.x-n', 'must be a string'],
    [{ method: 'TCP', path: '/x' }, 'healthCheck.path', "is not used by method 'TCP'"],
    [{ method: 'TCP', expectStatus: 200 }, 'healthCheck.expectStatus', "is not used by method 'TCP'"],
    [{ method: 'HEAD', expectBody: 'up' }, 'healthCheck.expectBody', "is not used by method 'HEAD'"],
  ])('rejects %j at %s', (value, path, message) => {
    const err = configError(() => normalizeHealthCheck(value, 'healthCheck'));
    expect(err.path).toBe(path);
    expect(err.message).toContain(message);
    expect(err.message.startsWith(path)).toBe(true);
  });

  it('merges a member override onto the balancer check: partial, false, or alone', () => {
    const base = normalizeHealthCheck({ path: '/health', fails: 3, expectBody: 'UP', headers: { 'x-a': '1' } }, 'healthCheck')!;
    expect(mergeHealthCheck(base, undefined, 'm')).toBe(base);
    expect(mergeHealthCheck(base, false, 'm')).toBeUndefined();
    expect(mergeHealthCheck(base, { fails: 1, headers: { 'x-b': '2' } }, 'm')).toEqual({ ...base, fails: 1, headers: { 'x-b': '2' } });
    // Without a balancer check, a member's object turns checks on for that member, with defaults.
    expect(mergeHealthCheck(undefined, { path: '/ping' }, 'm')).toEqual({ ...HEALTH_CHECK_DEFAULTS, path: '/ping' });
    expect(mergeHealthCheck(undefined, undefined, 'm')).toBeUndefined();
    // Inherited fields the member's method cannot use are dropped, not errors.
    const tcp = mergeHealthCheck(base, { method: 'TCP' }, 'm')!;
    expect(tcp).toMatchObject({ method: 'TCP', path: '/', expectBody: undefined, headers: {}, fails: 3 });
    expect(mergeHealthCheck(base, { method: 'HEAD' }, 'm')!.expectBody).toBeUndefined();
    // A normalized override merges the same as the raw one.
    const raw = { expectStatus: '200-204', expectBody: /ok/g };
    expect(mergeHealthCheck(base, normalizeHealthCheckOverride(raw, 'm'), 'm')).toEqual(mergeHealthCheck(base, raw, 'm'));
    const err = configError(() => mergeHealthCheck(base, { passes: 0 }, 'members[2].healthCheck'));
    expect(err.path).toBe('members[2].healthCheck.passes');
  });

  it('keeps the User-Agent version in step with package.json', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(PACKAGE_VERSION).toBe(pkg.version);
    expect(PROBE_USER_AGENT).toBe(`proxy-balancer-health/${pkg.version}`);
  });

  it("joins the probe path onto the member URL's path, as Apache appends hcuri", () => {
    expect(probeTargetOf(new URL('http://127.0.0.1:3001'), '/health')).toEqual({ secure: false, host: '127.0.0.1', port: 3001, path: '/health' });
    expect(probeTargetOf(new URL('http://pi2.example/app/'), '/health')).toEqual({ secure: false, host: 'pi2.example', port: 80, path: '/app/health' });
    const v6 = probeTargetOf(new URL('https://[::1]/x'), '/h?full=1');
    expect(v6).toEqual({ secure: true, host: '::1', port: 443, path: '/x/h?full=1' });
    expect(describeProbe(v6, 'GET')).toBe('GET https://[::1]:443/x/h?full=1');
    expect(describeProbe(v6, 'TCP')).toBe('TCP [::1]:443');
  });

  it('spreads waits within ±jitterPercent of the interval, and first probes within min(interval, 1 s)', () => {
    expect(nextProbeDelayMs(1000, 10, () => 0)).toBe(900);
    expect(nextProbeDelayMs(1000, 10, () => 0.5)).toBe(1000);
    expect(nextProbeDelayMs(1000, 0, () => 0.99)).toBe(1000);
    for (let i = 0; i < 100; i++) {
      const r = i / 100;
      const next = nextProbeDelayMs(30_000, 10, () => r);
      expect(next).toBeGreaterThanOrEqual(27_000);
      expect(next).toBeLessThanOrEqual(33_000);
      const first = firstProbeDelayMs(30_000, 10, () => r);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(1000);
      expect(firstProbeDelayMs(100, 10, () => r)).toBeLessThan(100);
    }
    expect(firstProbeDelayMs(30_000, 0, () => 0.5)).toBe(0);
  });
});

describe('one probe, on real loopback sockets', () => {
  it('sends GET to the member path plus the configured path, on its own connection, with Connection: close and the User-Agent', async () => {
    const b = await backend('a');
    const result = await probeOnce(`${b.url}/app/`, { headers: { 'x-probe': 'yes' } });
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    expect(b.requests).toHaveLength(1);
    const seen = b.requests[0]!;
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/app/health');
    expect(seen.headers).toMatchObject({ 'user-agent': PROBE_USER_AGENT, connection: 'close', host: `127.0.0.1:${b.port}`, 'x-probe': 'yes' });
    await closed(b.connections[0]!);
    expect(b.openConnections()).toBe(0);

    const custom = await probeOnce(b.url, { headers: { 'User-Agent': 'mine/1' } });
    expect(custom.ok).toBe(true);
    expect(b.requests[1]!.headers['user-agent']).toBe('mine/1');
  });

  it('times a probe from its start to its verdict (latencyMs) and stamps the verdict (at)', async () => {
    const b = await backend('a', 'hang');
    const arrived = once(b.backend.server, 'request') as Promise<[IncomingMessage, ServerResponse]>;
    const wallBefore = Date.now();
    const startedAt = performance.now();
    const pending = probeOnce(b.url, {});
    const [, res] = await withLimit(arrived, 'the probe request');
    // The member answers late: a slow member is the case being timed, so this wait is the scenario.
    const heldFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const heldFor = performance.now() - heldFrom;
    res.end('ok');
    const result = await pending;
    const elapsed = performance.now() - startedAt;
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    // latencyMs is rounded to 0.01 ms: it covers the member's delay and fits inside the caller's wait.
    expect(result.latencyMs).toBeGreaterThanOrEqual(heldFor - 0.005);
    expect(result.latencyMs).toBeLessThanOrEqual(elapsed + 0.005);
    expect(result.at).toBeGreaterThanOrEqual(wallBefore);
    expect(result.at).toBeLessThanOrEqual(Date.now());
  });

  it('sends HEAD and OPTIONS to the configured path', async () => {
    const b = await backend('a');
    expect((await probeOnce(b.url, { method: 'HEAD' })).ok).toBe(true);
    expect((await probeOnce(b.url, { method: 'OPTIONS', path: '/opt' })).ok).toBe(true);
    expect(b.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /health', 'OPTIONS /opt']);
  });

  it('passes 200-399 by default and honours expectStatus codes and ranges', async () => {
    const b = await backend('a');
    const statusOf = async (status: number, expectStatus?: HealthCheckOptions['expectStatus']): Promise<ProbeResult> => {
      b.set(status);
      return probeOnce(b.url, expectStatus === undefined ? {} : { expectStatus });
    };
    expect(await statusOf(302)).toMatchObject({ ok: true, status: 302 });
    expect(await statusOf(404)).toMatchObject({ ok: false, status: 404, error: 'UNEXPECTED_STATUS' });
    expect(await statusOf(400)).toMatchObject({ ok: false, status: 400, error: 'UNEXPECTED_STATUS' });
    expect(await statusOf(204, ['200-203', 205])).toMatchObject({ ok: false, status: 204, error: 'UNEXPECTED_STATUS' });
    expect(await statusOf(204, '204')).toMatchObject({ ok: true, status: 204 });
    expect(await statusOf(204, [[200, 204]])).toMatchObject({ ok: true });
    expect(await statusOf(503, [200, '500-503'])).toMatchObject({ ok: true, status: 503 });
    expect(await statusOf(200, [[201, 299]])).toMatchObject({ ok: false, error: 'UNEXPECTED_STATUS' });
  });

  it('matches expectBody as a substring or a RegExp', async () => {
    const b = await backend('a', { status: 200, body: 'service: UP\nversion: 3\n' });
    expect(await probeOnce(b.url, { expectBody: 'UP' })).toMatchObject({ ok: true, status: 200, error: null });
    expect(await probeOnce(b.url, { expectBody: 'DOWN' })).toMatchObject({ ok: false, status: 200, error: 'UNEXPECTED_BODY' });
    expect(await probeOnce(b.url, { expectBody: /service:\s*up/i })).toMatchObject({ ok: true });
    expect(await probeOnce(b.url, { expectBody: /^version/ })).toMatchObject({ ok: false, error: 'UNEXPECTED_BODY' });
    expect(await probeOnce(b.url, { expectBody: /^version/m })).toMatchObject({ ok: true });
  });

  it('reads at most the first 64 KiB of the body', async () => {
    const b = await backend('a', { status: 200, body: `${'x'.repeat(70_000)}MARK` });
    expect(await probeOnce(b.url, { expectBody: 'MARK' })).toMatchObject({ ok: false, error: 'UNEXPECTED_BODY' });
    // A body far larger than the limit: the probe judges the first 64 KiB and stops reading.
    b.set({ status: 200, body: `MARK${'x'.repeat(4_000_000)}` });
    expect(await probeOnce(b.url, { expectBody: 'MARK' })).toMatchObject({ ok: true });
    await closed(b.connections[1]!);
  });

  it('TCP: fails on a closed port, passes on a listening one without sending a request', async () => {
    const port = await closedPort();
    const refused = await probeOnce(`http://127.0.0.1:${port}`, { method: 'TCP', path: undefined });
    expect(refused).toMatchObject({ ok: false, status: null, error: 'ECONNREFUSED' });

    const b = await backend('a');
    const accepted = once(b.backend.server, 'connection') as Promise<[Socket]>;
    const result = await probeOnce(b.url, { method: 'TCP', path: undefined });
    expect(result).toMatchObject({ ok: true, status: null, error: null });
    const [socket] = await withLimit(accepted, 'the TCP probe connection');
    await closed(socket);
    expect(b.connections).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });

  it('fails a hanging probe with ETIMEDOUT and closes its socket', async () => {
    const b = await backend('a', 'hang');
    const result = await probeOnce(b.url, { timeoutMs: 200 });
    expect(result).toMatchObject({ ok: false, status: null, error: 'ETIMEDOUT' });
    expect(b.requests).toHaveLength(1); // it connected and asked; the answer never came
    expect(b.connections).toHaveLength(1);
    await closed(b.connections[0]!);
    expect(b.openConnections()).toBe(0);
  });

  it('aborts on its signal and closes its socket', async () => {
    const b = await backend('a', 'hang');
    const controller = new AbortController();
    const arrived = once(b.backend.server, 'request');
    const pending = probeOnce(b.url, {}, controller.signal);
    await withLimit(arrived, 'the probe request');
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, error: 'ABORTED' });
    await closed(b.connections[0]!);
  });

  it('HTTPS members are probed over TLS with certificate verification on (a self-signed member fails)', async () => {
    const server = https.createServer({ key: TEST_KEY, cert: TEST_CERT }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const result = await probeOnce(`https://127.0.0.1:${port}`, {});
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/CERT|SELF_SIGNED/);
  });
});

describe('HealthChecker', () => {
  it('takes a member out after `fails` failed probes and puts it back after `passes` good ones', async () => {
    const b = await backend('a');
    b.script(500, 500, 200);
    const pool = makePool([b.url]);
    const member = pool.members[0]!;
    const checker = checkerFor(pool, config({ fails: 2, passes: 2 }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => rec.log(member.route).includes('healthy'), 'the member to come back');
    // The verdict reaches the pool before the probe event, so listeners see the new state.
    expect(rec.log(member.route).slice(0, 6)).toEqual(['fail', 'unhealthy', 'fail', 'pass', 'healthy', 'pass']);
    const out = rec.entries.find((e) => e.kind === 'unhealthy')!;
    expect(out).toMatchObject({ state: 'unhealthy', usable: false });
    expect(out.reason).toContain(`GET http://127.0.0.1:${b.port}/health: 2 failed probes in a row, last UNEXPECTED_STATUS (status 500)`);
    const back = rec.entries.find((e) => e.kind === 'healthy')!;
    expect(back).toMatchObject({ state: 'ok', usable: true });
    expect(back.reason).toContain('2 good probes in a row');
    expect(member.usable).toBe(true);
    expect(checker.status(member)).toMatchObject({ healthy: true, consecutiveFails: 0, probing: true });
    expect(checker.status(member)!.consecutivePasses).toBeGreaterThanOrEqual(2);
  });

  it('counts failures in a row: a good probe in between resets the count (Apache would count 3 in total)', async () => {
    const b = await backend('a');
    b.script(500, 500, 200, 500, 500, 200, 500, 500, 500);
    const pool = makePool([b.url]);
    const route = pool.members[0]!.route;
    const checker = checkerFor(pool, config({ fails: 3 }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => rec.log(route).includes('unhealthy'), 'the member to go out');
    expect(rec.log(route)).toEqual(['fail', 'fail', 'pass', 'fail', 'fail', 'pass', 'fail', 'fail', 'unhealthy', 'fail']);
    expect(checker.status(route)).toMatchObject({ healthy: false, consecutiveFails: 3, consecutivePasses: 0, probes: 9 });
  });

  it('keeps probing when every member is out, so members come back when they are up', async () => {
    const a = await backend('a', 500);
    const b = await backend('b', 500);
    const pool = makePool([a.url, b.url]);
    const [ma, mb] = pool.members as [Member, Member];
    const checker = checkerFor(pool, config());
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => !ma.usable && !mb.usable, 'both members to go out');
    expect(pool.select((c) => c[0])).toBeUndefined();
    const seen = rec.probes(ma.route).length;
    await rec.untilProbes(ma.route, seen + 3);
    a.set(200);
    await rec.until(() => rec.log(ma.route).includes('healthy'), 'member a to come back');
    expect(pool.select((c) => c[0])).toBe(ma);
    expect(mb.usable).toBe(false);
  });

  it("ends a member's passive error state after `passes` good probes counted from the error", async () => {
    const b = await backend('a');
    const pool = makePool([b.url]);
    const member = pool.members[0]!;
    const checker = checkerFor(pool, config({ passes: 2 }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.untilProbes(member.route, 3); // healthy and passing for a while
    pool.markError(member, 'connect failed: ECONNREFUSED');
    expect(member.state).toBe('error');
    const before = rec.probes(member.route).length;
    await rec.until(() => rec.log(member.route).includes('healthy'), 'the error state to end');
    expect(rec.probes(member.route).length - before).toBe(2);
    expect(member.errorSince).toBe(0);
    expect(member.usable).toBe(true);
  });

  it('TCP checks: a closed port goes out, a listening member stays in and gets no request', async () => {
    const port = await closedPort();
    const b = await backend('a');
    const pool = makePool([`http://127.0.0.1:${port}`, b.url]);
    const [dead, live] = pool.members as [Member, Member];
    const checker = checkerFor(pool, config({ method: 'TCP', path: undefined }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => rec.log(dead.route).includes('unhealthy') && rec.probes(live.route).length >= 2, 'TCP verdicts');
    expect(rec.entries.find((e) => e.kind === 'unhealthy')!.reason).toContain(`TCP 127.0.0.1:${port}: 1 failed probe in a row, last ECONNREFUSED`);
    expect(live.usable).toBe(true);
    expect(b.connections.length).toBeGreaterThanOrEqual(2);
    expect(b.requests).toHaveLength(0);
  });

  it('times out a hanging probe, closes its socket and opens no other connection', async () => {
    const b = await backend('a', 'hang');
    const pool = makePool([b.url]);
    const member = pool.members[0]!;
    const checker = checkerFor(pool, config({ timeoutMs: 150 }));
    const rec = new Recorder(checker, pool);
    let first: ProbeResult | undefined;
    checker.on('probe', (_m, result) => {
      first ??= result;
      checker.close(); // before the next probe's timer fires
    });
    checker.start();
    await rec.untilProbes(member.route, 1);
    expect(first).toMatchObject({ ok: false, status: null, error: 'ETIMEDOUT' });
    expect(rec.log(member.route)).toEqual(['unhealthy', 'fail']);
    await closed(b.connections[0]!);
    expect(b.connections).toHaveLength(1);
    expect(b.openConnections()).toBe(0);
    expect(checker.status(member)!.probing).toBe(false);
  });

  it('probes only member addresses, at the configured path, one connection per probe', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const bystander = await backend('c');
    const pool = makePool([`${a.url}/app`, b.url]);
    const [ma, mb] = pool.members as [Member, Member];
    const checker = checkerFor(pool, config({ jitterPercent: 10 }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => rec.probes(ma.route).length >= 4 && rec.probes(mb.route).length >= 4, '4 probes of each member');
    checker.close();
    expect(a.requests.length).toBeGreaterThanOrEqual(4);
    expect(a.requests.every((r) => r.method === 'GET' && r.url === '/app/health')).toBe(true);
    expect(b.requests.every((r) => r.method === 'GET' && r.url === '/health')).toBe(true);
    for (const seen of [...a.requests, ...b.requests]) {
      expect(seen.headers).toMatchObject({ connection: 'close', 'user-agent': PROBE_USER_AGENT });
    }
    // Never two requests on one connection: no keep-alive.
    expect(new Set(a.requests.map((r) => r.connection)).size).toBe(a.requests.length);
    expect(new Set(b.requests.map((r) => r.connection)).size).toBe(b.requests.length);
    expect(bystander.connections).toHaveLength(0);
    expect(bystander.requests).toHaveLength(0);
  });

  it('applies per-member overrides, including false', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const c = await backend('c');
    const pool = makePool([
      { url: a.url, route: 'a' },
      { url: b.url, route: 'b' },
      { url: c.url, route: 'c' },
    ]);
    const checker = checkerFor(pool, config(), { b: { path: '/b-health', method: 'HEAD' }, c: false });
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.until(() => rec.probes('a').length >= 3 && rec.probes('b').length >= 3, '3 probes of a and b');
    expect(a.requests.every((r) => `${r.method} ${r.url}` === 'GET /health')).toBe(true);
    expect(b.requests.every((r) => `${r.method} ${r.url}` === 'HEAD /b-health')).toBe(true);
    expect(c.connections).toHaveLength(0);
    expect(checker.status('c')).toBeUndefined();
    expect(checker.status('b')).toMatchObject({ method: 'HEAD', target: `HEAD http://127.0.0.1:${b.port}/b-health` });
    expect(checker.snapshot().map((h) => h.route)).toEqual(['a', 'b']);
  });

  it('probes only the members that turn checks on when the balancer has none', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const pool = makePool([
      { url: a.url, route: 'a' },
      { url: b.url, route: 'b' },
    ]);
    const checker = checkerFor(pool, undefined, { b: { intervalMs: 100, jitterPercent: 0, path: '/ping' } });
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.untilProbes('b', 3);
    expect(b.requests.every((r) => r.url === '/ping')).toBe(true);
    expect(a.connections).toHaveLength(0);
  });

  it('does not probe disabled or stopped members, resumes on enable, and stops on disable and removal', async () => {
    const d = await backend('d');
    const s = await backend('s');
    const live = await backend('live');
    const pool = makePool([
      { url: d.url, route: 'd', status: 'disabled' },
      { url: s.url, route: 's', status: 'stopped' },
      { url: live.url, route: 'live' },
    ]);
    const checker = checkerFor(pool, config());
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.untilProbes('live', 3);
    expect(d.connections).toHaveLength(0);
    expect(s.connections).toHaveLength(0);
    expect(checker.status('d')!.probing).toBe(false);

    pool.enable('d');
    await rec.untilProbes('d', 1);
    expect(d.requests.length).toBeGreaterThanOrEqual(1);

    // Disable right after a probe ended, when none is in flight, so the count is final.
    let disabledAt = -1;
    checker.on('probe', (m) => {
      if (m.route === 'd' && disabledAt < 0) {
        pool.disable('d');
        disabledAt = d.connections.length;
      }
    });
    await rec.until(() => disabledAt >= 0, 'd to be disabled');
    const liveSeen = rec.probes('live').length;
    await rec.untilProbes('live', liveSeen + 3);
    expect(d.connections).toHaveLength(disabledAt);
    expect(checker.status('d')!.probing).toBe(false);

    // Removal stops probes the same way.
    let removedAt = -1;
    checker.on('probe', (m) => {
      if (m.route === 'live' && removedAt < 0) {
        pool.remove('live');
        removedAt = live.connections.length;
      }
    });
    pool.enable('s');
    await rec.until(() => removedAt >= 0, 'live to be removed');
    const sSeen = rec.probes('s').length;
    await rec.untilProbes('s', sSeen + 3);
    expect(live.connections).toHaveLength(removedAt);
    expect(checker.status('live')).toBeUndefined();
  });

  it('probes members added at runtime, with their own override', async () => {
    const a = await backend('a');
    const added = await backend('added');
    const pool = makePool([{ url: a.url, route: 'a' }]);
    const checker = checkerFor(pool, config(), { added: { path: '/added' } });
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.untilProbes('a', 1);
    pool.add({ url: added.url, route: 'added' });
    await rec.untilProbes('added', 2);
    expect(added.requests.every((r) => r.url === '/added')).toBe(true);
  });

  it('reports plain-JSON state per member', async () => {
    const b = await backend('a', 503);
    const pool = makePool([{ url: b.url, route: 'a' }]);
    const checker = checkerFor(pool, config({ fails: 5 }));
    const rec = new Recorder(checker, pool);
    checker.start();
    await rec.untilProbes('a', 2);
    const snapshot = checker.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot[0]).toMatchObject({
      route: 'a',
      method: 'GET',
      target: `GET http://127.0.0.1:${b.port}/health`,
      intervalMs: 100,
      probing: true,
      healthy: true,
      consecutivePasses: 0,
      lastProbe: { ok: false, status: 503, error: 'UNEXPECTED_STATUS' },
    });
    expect(snapshot[0]!.consecutiveFails).toBeGreaterThanOrEqual(2);
    // The last probe is the one the checker last told of, whole (its time and latency included).
    expect(snapshot[0]!.lastProbe).toEqual(rec.probes('a').at(-1));
  });

  it('close() leaves no timer: a process that probes and closes exits on its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'health-close-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const src = (file: string): string => pathToFileURL(join(REPO_ROOT, 'src', file)).href;
    const script = join(dir, 'probe-and-close.mts');
    await writeFile(
      script,
      `
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
// Count timers the checker leaves behind (unref'ed ones too, which getActiveResourcesInfo hides).
const live = new Set<unknown>();
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = realSetTimeout(() => { live.delete(t); fn(...args); }, ms);
  live.add(t);
  return t;
}) as typeof setTimeout;
globalThis.clearTimeout = ((t: NodeJS.Timeout | undefined) => { live.delete(t); realClearTimeout(t); }) as typeof clearTimeout;
const { normalizeMember, takenNames } = await import(${JSON.stringify(src('config.ts'))});
const { Pool } = await import(${JSON.stringify(src('pool/pool.ts'))});
const { resolveStrategy } = await import(${JSON.stringify(src('strategies/index.ts'))});
const { HealthChecker } = await import(${JSON.stringify(src('health/checker.ts'))});
const { normalizeHealthCheck } = await import(${JSON.stringify(src('health/options.ts'))});
const server = http.createServer((req, res) => { req.resume(); res.end('ok'); });
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as { port: number }).port;
const pool = new Pool([normalizeMember({ url: 'http://127.0.0.1:' + port }, 'members[0]', takenNames([]))], resolveStrategy('byrequests'), 60000);
const checker = new HealthChecker(pool, normalizeHealthCheck({ intervalMs: 100, path: '/health' }, 'healthCheck'));
checker.start();
const [, result] = await once(checker, 'probe');
checker.close();
server.close();
console.log(JSON.stringify({ ok: result.ok, liveTimers: live.size }));
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let killed = false;
    const killTimer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(killTimer);
    expect(killed, `the child did not exit on its own; stderr: ${stderr}`).toBe(false);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim())).toEqual({ ok: true, liveTimers: 0 });
  });
});

// A self-signed certificate for CN=localhost (valid until 2126), only to show that probes verify TLS.
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt/cbDlnVoh0lCTAt
yl39htceE+xpBGWagU+eATHjW8qhRANCAATvx7J//JHy9wL4qfBs+ppjUDm6Rf4r
Wc8M9LeA9Nb/U2/9M3ww94Zi6MECcZkdDbbea6MYiRhk5IeoXgMhVrQl
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUKFnfKM97r8hW06jMeSZahjy1lS8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjA0MDkzM1oYDzIxMjYxMTAy
MDQwOTMzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATvx7J//JHy9wL4qfBs+ppjUDm6Rf4rWc8M9LeA9Nb/U2/9M3ww94Zi
6MECcZkdDbbea6MYiRhk5IeoXgMhVrQlo1MwUTAdBgNVHQ4EFgQU/T9FEUG0lm7W
Ey5gfBL9l2gvsxIwHwYDVR0jBBgwFoAU/T9FEUG0lm7WEy5gfBL9l2gvsxIwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBflSgeKo/lS4kUfmJbx+HS
ewJ64UdWdmffpvI+sAE7FwIgZ52A3JEuyhxmX31R24ALCtcmwPBgTTt7p7oUDl7R
2w8=
-----END CERTIFICATE-----
`;
