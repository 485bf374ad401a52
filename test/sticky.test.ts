import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createBalancer, type Balancer, type BalancerOptions, type HashStrategy } from '../src/index.js';
import { request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function members(n: number, handler?: (name: string) => Parameters<typeof startBackend>[1]): Promise<Backend[]> {
  const out: Backend[] = [];
  for (let i = 1; i <= n; i++) {
    const b = await startBackend(`m${i}`, handler?.(`m${i}`));
    cleanups.push(() => b.close());
    out.push(b);
  }
  return out;
}

async function front(backends: Backend[], extra: Omit<BalancerOptions, 'members'>): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), members: backends.map((b) => ({ url: b.url, route: b.name })), ...extra });
  const f = await startFront(balancer);
  cleanups.push(async () => {
    await f.close();
    await balancer.close();
  });
  return { balancer, url: f.url };
}

const bodies = async (url: string, n: number, headers: Record<string, string> = {}): Promise<string[]> => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await request(url, { headers })).body);
  return out;
};

forEachEngine(() => {
  describe('Apache-compatible sticky routes', () => {
    it('ROUTEID=.route pins every request to that member', async () => {
      const backends = await members(3);
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID' } });
      expect(await bodies(`${url}/`, 5, { cookie: 'ROUTEID=.m2' })).toEqual(['m2', 'm2', 'm2', 'm2', 'm2']);
    });

    it('JSESSIONID=id.route in a cookie, and ;jsessionid=id.route in the path (the URL wins)', async () => {
      const backends = await members(3);
      const { url } = await front(backends, { sticky: { cookie: 'JSESSIONID', urlParam: 'jsessionid' } });
      expect(await bodies(`${url}/`, 3, { cookie: 'other=1; JSESSIONID=A1B2C3.m3' })).toEqual(['m3', 'm3', 'm3']);
      expect(await bodies(`${url}/cart;jsessionid=A1B2C3.m1?x=1`, 3)).toEqual(['m1', 'm1', 'm1']);
      expect(await bodies(`${url}/cart;jsessionid=A1B2C3.m1`, 1, { cookie: 'JSESSIONID=A1B2C3.m3' })).toEqual(['m1']);
      expect(backends[0]!.received.at(-1)!.url).toBe('/cart;jsessionid=A1B2C3.m1'); // the path goes to the member unchanged
    });

    it('a route that names no member is balanced as if there were none', async () => {
      const backends = await members(2);
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID' } });
      expect(new Set(await bodies(`${url}/`, 4, { cookie: 'ROUTEID=.nosuch' }))).toEqual(new Set(['m1', 'm2']));
    });

    it('a route to a disabled member fails over, or with failover: false gets 503 and goes nowhere', async () => {
      const backends = await members(2);
      const withFailover = await front(backends, { sticky: { cookie: 'ROUTEID' } });
      withFailover.balancer.pool.disable('m1');
      expect(await bodies(`${withFailover.url}/`, 2, { cookie: 'ROUTEID=.m1' })).toEqual(['m2', 'm2']);

      const strict = await front(backends, { sticky: { cookie: 'ROUTEID', failover: false } });
      strict.balancer.pool.disable('m1');
      const before = backends[0]!.received.length + backends[1]!.received.length;
      const reply = await request(`${strict.url}/`, { headers: { cookie: 'ROUTEID=.m1' } });
      expect(reply.status).toBe(503);
      expect(backends[0]!.received.length + backends[1]!.received.length).toBe(before);
      // An unrouted request is still balanced under failover: false.
      expect((await request(`${strict.url}/`)).body).toBe('m2');
    });

    it('with failover: false a session whose member fails mid-request gets 503, as Apache answers', async () => {
      const backends = await members(2, (name) => (req, res) => {
        if (name === 'm1') return void req.socket.destroy();
        res.end(name);
      });
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID', failover: false } });
      const reply = await request(`${url}/`, { headers: { cookie: 'ROUTEID=.m1' } });
      expect(reply.status).toBe(503);
      expect(backends[1]!.received).toHaveLength(0);
    });

    it('a draining member keeps its sessions; only new sessions go elsewhere', async () => {
      const backends = await members(2);
      const { balancer, url } = await front(backends, { sticky: { cookie: 'ROUTEID' } });
      balancer.pool.drain('m1');
      expect(await bodies(`${url}/`, 3, { cookie: 'ROUTEID=.m1' })).toEqual(['m1', 'm1', 'm1']);
      expect(await bodies(`${url}/`, 3)).toEqual(['m2', 'm2', 'm2']);
    });

    it('issues Set-Cookie exactly when the route was chosen or changed', async () => {
      const backends = await members(2);
      const { balancer, url } = await front(backends, { sticky: { cookie: 'ROUTEID', setCookie: { path: '/', secure: true } } });
      const first = await request(`${url}/`);
      const cookie = first.headers['set-cookie'];
      expect(cookie).toHaveLength(1);
      expect(cookie![0]).toMatch(new RegExp(`^ROUTEID=\\.${first.body}; Path=/; HttpOnly; Secure; SameSite=Lax$`));

      const again = await request(`${url}/`, { headers: { cookie: `ROUTEID=.${first.body}` } });
      expect(again.body).toBe(first.body);
      expect(again.headers['set-cookie']).toBeUndefined();

      balancer.pool.disable(first.body);
      const moved = await request(`${url}/`, { headers: { cookie: `ROUTEID=.${first.body}` } });
      expect(moved.body).not.toBe(first.body);
      expect(moved.headers['set-cookie']![0]).toMatch(new RegExp(`^ROUTEID=\\.${moved.body};`));
    });

    it("keeps the member's own Set-Cookie fields beside its own", async () => {
      const backends = await members(1, () => (_req, res) => {
        res.setHeader('set-cookie', ['app=1; Path=/']);
        res.end('m1');
      });
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID', setCookie: true } });
      const reply = await request(`${url}/`);
      expect(reply.headers['set-cookie']).toEqual(['app=1; Path=/', 'ROUTEID=.m1; Path=/; HttpOnly; SameSite=Lax']);
    });

    it("routed requests keep Apache's byrequests accounting, so unrouted picks continue its sequence", async () => {
      const backends = await members(2);
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID' } });
      // Equal weights: a routed hit on m1 credits both and debits m1, so the next balanced pick is m2.
      expect((await request(`${url}/`, { headers: { cookie: 'ROUTEID=.m1' } })).body).toBe('m1');
      expect(await bodies(`${url}/`, 4)).toEqual(['m2', 'm1', 'm2', 'm1']);
    });
  });

  describe('session table for cookies without a route', () => {
    it('learns the member from the session cookie the member sets, and sends the session back there', async () => {
      let next = 0;
      const backends = await members(3, (name) => (req, res) => {
        if (!req.headers.cookie?.includes('connect.sid=')) res.setHeader('set-cookie', `connect.sid=s${next++}-${name}; Path=/; HttpOnly`);
        res.end(name);
      });
      const { url } = await front(backends, { sticky: { table: { cookie: 'connect.sid', maxEntries: 100, ttlMs: 60_000 } } });
      const first = await request(`${url}/login`);
      const sid = /connect\.sid=([^;]+)/.exec(first.headers['set-cookie']![0]!)![1]!;
      expect(await bodies(`${url}/`, 5, { cookie: `connect.sid=${sid}` })).toEqual(Array(5).fill(first.body));
    });
  });

  describe('hostile cookies', () => {
    it('very long values, thousands of cookies and CR/LF attempts neither crash nor inject a header', async () => {
      const backends = await members(2);
      const { url } = await front(backends, { sticky: { cookie: 'ROUTEID', setCookie: true } });
      const many = Array.from({ length: 1200 }, (_, i) => `c${i}=${i}`).join('; '); // ~11 KB: under Node's 16 KiB header limit
      const replies = [
        await request(`${url}/`, { headers: { cookie: `ROUTEID=.${'x'.repeat(8000)}` } }),
        await request(`${url}/`, { headers: { cookie: `${many}; ROUTEID=.m2` } }),
        await request(`${url}/`, { headers: { cookie: 'ROUTEID=.m1%0d%0aX-Evil:%201' } }),
        await request(`${url}/`, { headers: { cookie: 'ROUTEID=.m1"; Domain=evil.example' } }),
      ];
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(replies[1]!.body).toBe('m2');
      for (const r of replies) {
        for (const c of r.headers['set-cookie'] ?? []) expect(c).toMatch(/^ROUTEID=\.m[12]; Path=\/; HttpOnly; SameSite=Lax$/);
        expect(r.headers['x-evil']).toBeUndefined();
      }
      // A raw CR/LF inside the Cookie header is refused by the HTTP parser before the balancer; the process keeps serving.
      const port = Number(new URL(url).port);
      const raw = await new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nCookie: ROUTEID=.m1\rX-Evil: 1\r\nConnection: close\r\n\r\n'));
        let data = '';
        s.on('data', (c) => (data += c.toString()));
        s.on('close', () => resolve(data));
        s.on('error', () => resolve(data));
      });
      expect(raw).not.toMatch(/X-Evil/i);
      expect((await request(`${url}/`)).status).toBe(200);
    });
  });

  describe('sticky WebSocket handshakes and consistent hashing', () => {
    it('a ROUTEID cookie pins the WebSocket handshake', async () => {
      const servers: { name: string; url: string }[] = [];
      for (const name of ['m1', 'm2']) {
        const server = http.createServer();
        const wss = new WebSocketServer({ server });
        wss.on('connection', (ws) => ws.on('message', () => ws.send(name)));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
        cleanups.push(async () => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        });
        servers.push({ name, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      }
      const balancer = createBalancer({ engine: currentEngine(), members: servers.map((s) => ({ url: s.url, route: s.name })), sticky: { cookie: 'ROUTEID' } });
      const f = await startFront(balancer);
      f.server.on('upgrade', balancer.upgrade);
      cleanups.push(async () => {
        await balancer.close();
        await f.close();
      });
      const wsUrl = f.url.replace('http:', 'ws:');
      for (let i = 0; i < 4; i++) {
        const ws = new WebSocket(wsUrl, { headers: { cookie: 'ROUTEID=.m2' } });
        await once(ws, 'open');
        ws.send('who');
        const [data] = (await once(ws, 'message')) as [Buffer];
        expect(data.toString()).toBe('m2');
        ws.close();
        await once(ws, 'close');
      }
    });

    it("strategy 'hash' keys on the header as the client sent it, not on the forwarded copy", async () => {
      const backends = await members(4);
      const { balancer, url } = await front(backends, { strategy: 'hash', hash: { key: { header: 'x-forwarded-for' } } });
      const hash = balancer.strategy as HashStrategy;
      for (const client of ['203.0.113.7', '198.51.100.1, 203.0.113.9']) {
        const expected = hash.memberForKey(balancer.pool.members, client)!.route;
        expect(await bodies(`${url}/`, 2, { 'x-forwarded-for': client })).toEqual([expected, expected]);
      }
    });

    it("strategy 'hash' keyed by a header sends the same key to the same member", async () => {
      const backends = await members(4);
      const { url } = await front(backends, { strategy: 'hash', hash: { key: { header: 'x-user' } } });
      for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) {
        const seen = new Set(await bodies(`${url}/`, 4, { 'x-user': user }));
        expect(seen.size).toBe(1);
      }
    });
  });
});
