/**
 * balancer.metrics(): the exposition format (checked by a strict reader written from the format's
 * rules) and counters that move with real traffic through a balancer on loopback.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { ExpositionWriter, escapeLabelValue } from '../src/manage/exposition.js';
import { DURATION_BOUNDS_SECONDS } from '../src/manage/request-stats.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { parseExposition, valueOf } from './helpers/exposition.js';
import { closedPort, request, startBackend, startFront, type Backend } from './helpers/servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

/** A balancer served on loopback; closed after the test. */
async function front(options: BalancerOptions): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), ...options });
  const f = await startFront(balancer);
  cleanups.push(async () => {
    await balancer.close();
    await f.close();
  });
  return { balancer, url: f.url };
}

const scrape = (balancer: Balancer): ReturnType<typeof parseExposition> => parseExposition(balancer.metrics());

describe('the exposition writer', () => {
  it('escapes label values and HELP text as the format requires', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = new ExpositionWriter()
      .family('proxy_balancer_test_total', 'counter', 'help with \\ and\na new line')
      .sample('proxy_balancer_test_total', { member: 'we"ird\\name\nhere' }, 3)
      .text();
    expect(text).toBe(
      '# HELP proxy_balancer_test_total help with \\\\ and\\na new line\n' +
        '# TYPE proxy_balancer_test_total counter\n' +
        'proxy_balancer_test_total{member="we\\"ird\\\\name\\nhere"} 3\n',
    );
    const family = parseExposition(text).get('proxy_balancer_test_total')!;
    expect(family.help).toBe('help with \\ and\na new line');
    expect(family.samples[0]!.labels.member).toBe('we"ird\\name\nhere');
  });

  it('writes histograms cumulatively, ending with +Inf equal to _count', () => {
    const text = new ExpositionWriter().family('h', 'histogram', 'x').histogram('h', { member: 'a' }, [0.1, 1], [2, 0, 3], 4.5).text();
    expect(text.split('\n').slice(2, -1)).toEqual([
      'h_bucket{member="a",le="0.1"} 2',
      'h_bucket{member="a",le="1"} 2',
      'h_bucket{member="a",le="+Inf"} 5',
      'h_sum{member="a"} 4.5',
      'h_count{member="a"} 5',
    ]);
  });

  it('refuses bad metric and label names, and a family written twice', () => {
    expect(() => new ExpositionWriter().family('1abc', 'gauge', 'x')).toThrow(/invalid metric name/);
    expect(() => new ExpositionWriter().family('a-b', 'gauge', 'x')).toThrow(/invalid metric name/);
    expect(() => new ExpositionWriter().sample('a', { 'bad-label': 'x' }, 1)).toThrow(/invalid label name/);
    expect(() => new ExpositionWriter().sample('a', { __reserved: 'x' }, 1)).toThrow(/invalid label name/);
    expect(() => new ExpositionWriter().family('a', 'gauge', 'x').family('a', 'gauge', 'x')).toThrow(/twice/);
  });

  it('the reader used below rejects what the format forbids', () => {
    const ok = '# HELP a x\n# TYPE a gauge\na 1\n';
    expect(() => parseExposition(ok)).not.toThrow();
    expect(() => parseExposition('a 1\n')).toThrow(/without HELP and TYPE/);
    expect(() => parseExposition('# HELP a x\n# TYPE a gauge\na{l="x\\q"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('# HELP a x\n# TYPE a gauge\na 1')).toThrow(/line feed/);
    expect(() => parseExposition('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n')).toThrow(/\+Inf/);
    expect(() => parseExposition('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
    expect(() => parseExposition(`${ok}# HELP b x\n# TYPE b gauge\nb 1\na 2\n`)).toThrow(/apart/);
  });
});

forEachEngine(() =>
  describe('balancer.metrics()', () => {
    it('follows the exposition rules, names every family proxy_balancer_*, and has the families the issue asks for', async () => {
      const a = await backend('a');
      const { balancer, url } = await front({ members: [{ url: a.url, route: 'a' }], healthCheck: { intervalMs: 60_000 } });
      await request(url);
      const families = scrape(balancer);
      for (const name of families.keys()) expect(name).toMatch(/^proxy_balancer_[a-z_]+$/);
      const expected: Record<string, string> = {
        proxy_balancer_requests_total: 'counter',
        proxy_balancer_request_duration_seconds: 'histogram',
        proxy_balancer_member_in_flight: 'gauge',
        proxy_balancer_member_up: 'gauge',
        proxy_balancer_member_bytes_total: 'counter',
        proxy_balancer_retries_total: 'counter',
        proxy_balancer_ejections_total: 'counter',
        proxy_balancer_health_checks_total: 'counter',
      };
      for (const [name, type] of Object.entries(expected)) expect(families.get(name)?.type, name).toBe(type);
      const buckets = families.get('proxy_balancer_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
      expect(buckets.map((s) => s.labels.le)).toEqual([...DURATION_BOUNDS_SECONDS.map(String), '+Inf']);
    });

    it('counts requests by member and status class, with their durations and bytes', async () => {
      const a = await backend('a', (req, res) => {
        req.resume();
        req.on('end', () => {
          res.statusCode = req.url === '/missing' ? 404 : req.url === '/broken' ? 500 : 200;
          res.end('0123456789');
        });
      });
      const { balancer, url } = await front({ members: [{ url: a.url, route: 'a' }] });
      await request(url);
      await request(url, { method: 'POST', body: 'x'.repeat(100) });
      await request(`${url}/missing`);
      await request(`${url}/broken`);
      const m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '2xx' })).toBe(2);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '4xx' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '5xx' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '3xx' })).toBe(0);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_count', { member: 'a' })).toBe(4);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_bucket', { member: 'a', le: '+Inf' })).toBe(4);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_sum', { member: 'a' })).toBeGreaterThanOrEqual(0);
      expect(valueOf(m, 'proxy_balancer_member_bytes_total', { member: 'a', direction: 'sent' })).toBe(100);
      expect(valueOf(m, 'proxy_balancer_member_bytes_total', { member: 'a', direction: 'received' })).toBe(40);
      expect(valueOf(m, 'proxy_balancer_member_failures_total', { member: 'a' })).toBe(1); // the 500
    });

    it('times a request by its attempts: one its member held for 30 ms is above the 25 ms bucket', async () => {
      // The member answers once Date.now() (the clock the engine times attempts with) has moved 30 ms
      // past the request's arrival: a lower bound only, so a slow machine cannot make this fail.
      const a = await backend('a', (_req, res) => {
        const arrival = Date.now();
        const answerLater = (): void => void (Date.now() - arrival >= 30 ? res.end('late') : setTimeout(answerLater, 5));
        answerLater();
      });
      const { balancer, url } = await front({ members: [{ url: a.url, route: 'a' }] });
      await request(url);
      const m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_bucket', { member: 'a', le: '0.025' })).toBe(0);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_count', { member: 'a' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_request_duration_seconds_sum', { member: 'a' })).toBeGreaterThanOrEqual(0.03);
    });

    it('shows requests in flight while they run, and 0 after', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let arrived!: () => void;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      const a = await backend('a', (_req, res) => {
        arrived();
        void held.then(() => res.end('late'));
      });
      const { balancer, url } = await front({ members: [{ url: a.url, route: 'a' }] });
      const pending = request(url);
      await arrival;
      expect(valueOf(scrape(balancer), 'proxy_balancer_member_in_flight', { member: 'a' })).toBe(1);
      expect(valueOf(scrape(balancer), 'proxy_balancer_requests_in_flight')).toBe(1);
      release();
      await pending;
      expect(valueOf(scrape(balancer), 'proxy_balancer_member_in_flight', { member: 'a' })).toBe(0);
    });

    it('counts a client that left before the answer as 4xx (499) and leaves nothing in flight', async () => {
      let arrived!: () => void;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      let memberSawClose!: () => void;
      const memberClosed = new Promise<void>((resolve) => (memberSawClose = resolve));
      const a = await backend('a', (_req, res) => {
        res.on('close', () => memberSawClose());
        arrived(); // and never answers
      });
      const { balancer, url } = await front({ members: [{ url: a.url, route: 'a' }] });
      const req = http.get(url, { agent: false });
      req.on('error', () => {});
      await arrival;
      req.destroy();
      // The balancer records the request in the same tick as it sees the client go, before it
      // closes the member's connection, so the member's close comes after the count.
      await memberClosed;
      const m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '4xx' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_member_in_flight', { member: 'a' })).toBe(0);
    });

    it('member_up follows usability; retries, ejections and no-member 503s are counted', async () => {
      const a = await backend('a');
      const dead = await closedPort();
      const { balancer, url } = await front({
        members: [
          { url: a.url, route: 'a' },
          { url: `http://127.0.0.1:${dead}`, route: 'dead' },
        ],
        strategy: 'roundrobin',
      });
      // Round robin reaches 'dead' within two requests: its refused connection is retried on 'a'.
      expect((await request(url)).body).toBe('a');
      expect((await request(url)).body).toBe('a');
      let m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_retries_total')).toBe(1);
      expect(valueOf(m, 'proxy_balancer_member_up', { member: 'a' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_member_up', { member: 'dead' })).toBe(0); // in error after the refused connect
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'a', code: '2xx' })).toBe(2);

      balancer.pool.disable('a');
      expect((await request(url)).status).toBe(503);
      m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_member_up', { member: 'a' })).toBe(0);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: '', code: '5xx' })).toBe(1);
    });

    it('counts outlier ejections', async () => {
      const bad = await backend('bad', (_req, res) => {
        res.statusCode = 500;
        res.end('no');
      });
      const good = await backend('good');
      const { balancer, url } = await front({
        members: [
          { url: bad.url, route: 'bad' },
          { url: good.url, route: 'good' },
        ],
        strategy: 'roundrobin',
        outlierDetection: { consecutiveFailures: 2 },
      });
      const ejected = new Promise((resolve) => balancer.once('ejected', resolve));
      for (let i = 0; i < 4; i++) await request(url);
      await ejected;
      const m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_ejections_total', { member: 'bad' })).toBe(1);
      expect(valueOf(m, 'proxy_balancer_ejections_total', { member: 'good' })).toBe(0);
      expect(valueOf(m, 'proxy_balancer_requests_total', { member: 'bad', code: '5xx' })).toBe(2);
    });

    it('counts health check probes by result', async () => {
      const a = await backend('a', (req, res) => {
        res.statusCode = req.url === '/health' ? 503 : 200;
        res.end();
      });
      const { balancer } = await front({
        members: [{ url: a.url, route: 'a' }],
        healthCheck: { path: '/health', intervalMs: 100, fails: 2, jitterPercent: 0 },
      });
      await new Promise((resolve) => balancer.once('memberUnhealthy', resolve));
      // The probe's own event follows the pool's in the same tick, so the count is there by now.
      const m = scrape(balancer);
      expect(valueOf(m, 'proxy_balancer_health_checks_total', { member: 'a', result: 'fail' })).toBe(2);
      expect(valueOf(m, 'proxy_balancer_health_checks_total', { member: 'a', result: 'pass' })).toBe(0);
      expect(valueOf(m, 'proxy_balancer_member_up', { member: 'a' })).toBe(0);
    });

    it("drops a removed member's series", async () => {
      const a = await backend('a');
      const b = await backend('b');
      const { balancer, url } = await front({
        members: [
          { url: a.url, route: 'a' },
          { url: b.url, route: 'b' },
        ],
      });
      await request(url);
      await request(url);
      balancer.pool.remove('b');
      const m = scrape(balancer);
      for (const family of m.values()) for (const s of family.samples) expect(s.labels.member).not.toBe('b');
    });
  }),
);
