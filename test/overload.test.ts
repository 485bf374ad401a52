/**
 * Overload protection: a connection cap per member with a bounded FIFO queue, and balancer-wide
 * shedding. Real sockets; a member that answers in 100 ms, counting how many requests it holds at once.
 */
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { fromApacheConfig } from '../src/apache/import.js';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { wsBackend as startWsBackend } from './helpers/ws.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A member that answers after `delayMs`, recording the most requests it held at once. */
async function slowMember(delayMs: number): Promise<Backend & { peak: () => number }> {
  let now = 0;
  let peak = 0;
  const member = await startBackend('slow', (req, res) => {
    now++;
    peak = Math.max(peak, now);
    req.resume();
    setTimeout(() => {
      now--;
      res.end('ok');
    }, delayMs);
  });
  cleanups.push(() => member.close());
  return Object.assign(member, { peak: () => peak });
}

async function front(url: string, extra: Partial<BalancerOptions>): Promise<{ balancer: Balancer; url: string; server: http.Server }> {
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url }], ...extra });
  const f = await startFront(balancer);
  f.server.on('upgrade', balancer.upgrade);
  cleanups.push(async () => {
    await f.close();
    await balancer.close();
  });
  return { balancer, url: f.url, server: f.server };
}

forEachEngine(() => {
  describe('maxConnections and the queue', () => {
    it('a member capped at 2 never holds more than 2, and all 20 concurrent requests succeed', async () => {
      const member = await slowMember(100);
      const { balancer, url } = await front(member.url, { maxConnections: 2 });
      const queued: number[] = [];
      balancer.on('queued', (e) => queued.push(e.queueLength));
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => request(`${url}/${i}`)));
      expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
      expect(member.peak()).toBe(2);
      expect(queued.length).toBeGreaterThan(0);
      const snap = balancer.snapshot();
      expect(snap.queue).toEqual({ length: 0, full: [] });
      expect(snap.members[0]).toMatchObject({ maxConnections: 2, inFlight: 0, failures: 0 });
    });

    it('with queueTimeoutMs 50 some get 503 with Retry-After, and none is charged to the member', async () => {
      const member = await slowMember(100);
      const { balancer, url } = await front(member.url, { maxConnections: 1, queueTimeoutMs: 50 });
      const shed: string[] = [];
      balancer.on('shed', (e) => shed.push(e.reason));
      const replies = await Promise.all(Array.from({ length: 6 }, () => request(`${url}/`)));
      const refused = replies.filter((r) => r.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((r) => r.headers['retry-after'] === '1')).toBe(true);
      expect(replies.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      expect(shed.every((r) => r === 'queueTimeout')).toBe(true);
      expect(balancer.snapshot().members[0]).toMatchObject({ failures: 0, state: 'ok', inFlight: 0 });
    });

    it('past queueLength a request is refused at once', async () => {
      const member = await slowMember(100);
      const { balancer, url } = await front(member.url, { maxConnections: 1, queueLength: 1 });
      const replies = await Promise.all(Array.from({ length: 3 }, () => request(`${url}/`)));
      expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 503]);
      expect(balancer.snapshot().members[0]!.failures).toBe(0);
    });

    it('a queued client that leaves leaves no trace in the counters', async () => {
      const member = await slowMember(200);
      const { balancer, url } = await front(member.url, { maxConnections: 1 });
      const first = request(`${url}/first`);
      await vi.waitFor(() => expect(member.received.length).toBe(1), { timeout: 5000, interval: 5 });
      const queued = new Promise((resolve) => balancer.once('queued', resolve));
      const leaving = http.get(`${url}/leaving`, { agent: false });
      leaving.on('error', () => {});
      await queued;
      expect(balancer.snapshot().queue.length).toBe(1);
      leaving.destroy();
      await vi.waitFor(() => expect(balancer.snapshot().queue.length).toBe(0), { timeout: 5000, interval: 5 });
      expect((await first).status).toBe(200);
      await vi.waitFor(() => expect(balancer.snapshot().inFlight.requests).toBe(0), { timeout: 5000, interval: 5 });
      expect(member.received.map((r) => r.url)).toEqual(['/first']);
      expect(balancer.snapshot().members[0]).toMatchObject({ inFlight: 0, requests: 1, failures: 0 });
    });

    it('a retry whose remaining member is full waits for room instead of failing', async () => {
      const slow = await slowMember(100);
      const dropper = await startBackend('dropper', (req) => {
        req.resume();
        req.on('end', () => req.socket.destroy());
      });
      cleanups.push(() => dropper.close());
      const balancer = createBalancer({
        engine: currentEngine(),
        members: [{ url: slow.url }, { url: dropper.url }],
        maxConnections: 1,
        outlierDetection: false,
      });
      const f = await startFront(balancer);
      cleanups.push(async () => {
        await f.close();
        await balancer.close();
      });
      // byrequests: the first GET takes the slow member (now full), the second the dropper, whose
      // reset sends it back to the full slow member: it waits there rather than getting a 502.
      const replies = await Promise.all([request(`${f.url}/1`), request(`${f.url}/2`)]);
      expect(replies.map((r) => r.status)).toEqual([200, 200]);
      expect(slow.peak()).toBe(1);
      expect(balancer.snapshot().retries.made).toBe(1);
    });

    it('open tunnels count toward the cap', async () => {
      const ws = await startWsBackend('w');
      cleanups.push(() => ws.close());
      const { balancer, url } = await front(ws.url, { maxConnections: 1, queueTimeoutMs: 100 });
      const client = new WebSocket(url.replace('http:', 'ws:') + '/ws');
      await once(client, 'open');
      expect(balancer.snapshot().queue.full).toHaveLength(1);
      const refused = await request(`${url}/`);
      expect(refused.status).toBe(503);
      client.close();
      await vi.waitFor(() => expect(balancer.snapshot().members[0]!.inFlight).toBe(0), { timeout: 5000, interval: 5 });
      expect((await request(`${url}/`)).status).toBe(200);
    });
  });

  describe('maxInFlight', () => {
    it('sheds past the limit with 503 at once, and an event', async () => {
      const member = await slowMember(150);
      const { balancer, url } = await front(member.url, { maxInFlight: 1 });
      const shed = new Promise((resolve) => balancer.once('shed', resolve));
      const first = request(`${url}/a`);
      await vi.waitFor(() => expect(member.received.length).toBe(1), { timeout: 5000, interval: 5 });
      const second = await request(`${url}/b`);
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBe('1');
      expect(await shed).toMatchObject({ reason: 'maxInFlight', url: '/b' });
      expect((await first).status).toBe(200);
      expect(member.received).toHaveLength(1);
    });
  });
});

describe('options and the Apache import', () => {
  it('are validated', () => {
    expect(() => createBalancer({ members: [], maxConnections: 0 })).toThrow(/maxConnections must be an integer from 1/);
    expect(() => createBalancer({ members: [{ url: 'http://127.0.0.1:1', maxConnections: -1 }] })).toThrow(/members\[0\]\.maxConnections/);
    expect(() => createBalancer({ members: [], queueLength: 1.5 })).toThrow(/queueLength/);
    expect(() => createBalancer({ members: [], maxInFlight: 0 })).toThrow(/maxInFlight/);
  });

  it("maps BalancerMember max= and ProxySet timeout= (httpd's wait for a free worker)", () => {
    const result = fromApacheConfig(`<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 max=4
  BalancerMember http://192.0.2.3:80
  ProxySet timeout=3
</Proxy>
ProxyPass / balancer://c/`);
    expect(result.unsupported).toEqual([]);
    const options = result.balancers[0]!.options;
    expect(options.members[0]).toMatchObject({ maxConnections: 4 });
    expect(options.members[1]!.maxConnections).toBeUndefined();
    expect(options.queueTimeoutMs).toBe(3000);
  });
});
