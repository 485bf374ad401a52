import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer } from '../src/index.js';
import { closedPort, request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(members: Backend[] | string[], extra: Record<string, unknown> = {}): Promise<{ balancer: Balancer; url: string; server: Server }> {
  const urls = members.map((m) => (typeof m === 'string' ? m : m.url));
  const balancer = createBalancer({ engine: currentEngine(), members: urls.map((url) => ({ url })), ...extra });
  const front = await startFront(balancer);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return { balancer, url: front.url, server: front.server };
}

forEachEngine(() => {
  describe('proxying on real sockets', () => {
    it('forwards method, path, query and body, and relays status, headers and body', async () => {
      const backend = await startBackend('a', (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.statusCode = 201;
          res.setHeader('x-echo-method', req.method ?? '');
          res.setHeader('set-cookie', ['a=1', 'b=2']);
          res.end(`${req.url}|${Buffer.concat(chunks).toString()}`);
        });
      });
      cleanups.push(() => backend.close());
      const { url } = await setup([backend]);
      const reply = await request(`${url}/some/path?x=1&y=2`, { method: 'PUT', body: 'payload' });
      expect(reply.status).toBe(201);
      expect(reply.body).toBe('/some/path?x=1&y=2|payload');
      expect(reply.headers['x-echo-method']).toBe('PUT');
      expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    });

    it('adds X-Forwarded-For/-Host/-Proto and sends the member host unless preserveHost', async () => {
      const backend = await startBackend('a', (req, res) => res.end(JSON.stringify(req.headers)));
      cleanups.push(() => backend.close());
      const { url } = await setup([backend]);
      const reply = await request(`${url}/`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', host: 'site.example' } });
      const seen = JSON.parse(reply.body) as Record<string, string>;
      expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-host']).toBe('site.example');
      expect(seen.host).toBe(`127.0.0.1:${backend.port}`);

      const preserved = await setup([backend], { preserveHost: true });
      const again = JSON.parse((await request(`${preserved.url}/`, { headers: { host: 'site.example' } })).body) as Record<string, string>;
      expect(again.host).toBe('site.example');
    });

    it('removes hop-by-hop headers both ways, including those named in Connection', async () => {
      const backend = await startBackend('a', (req, res) => {
        res.setHeader('x-member-private', 'secret');
        res.setHeader('connection', 'x-member-private');
        res.setHeader('keep-alive', 'timeout=77, max=100'); // as Apache sends it
        res.setHeader('x-kept', 'yes');
        res.end(JSON.stringify(req.headers));
      });
      cleanups.push(() => backend.close());
      const { url, server } = await setup([backend]);
      const reply = await request(`${url}/`, {
        headers: {
          connection: 'keep-alive, x-client-private',
          'x-client-private': '1',
          'proxy-connection': 'keep-alive',
          te: 'trailers',
          'keep-alive': 'timeout=9',
          upgrade: 'h2c',
          'x-normal': 'n',
        },
      });
      const seen = JSON.parse(reply.body) as Record<string, string>;
      expect(seen['x-client-private']).toBeUndefined();
      expect(seen['proxy-connection']).toBeUndefined();
      expect(seen.te).toBeUndefined();
      expect(seen.upgrade).toBeUndefined();
      expect(seen['keep-alive']).toBeUndefined();
      expect(seen['x-normal']).toBe('n');
      expect(reply.headers['x-member-private']).toBeUndefined();
      // The client's connection is the front end's: its own Connection and Keep-Alive, none of the member's.
      expect(reply.headers.connection).toBe('keep-alive');
      expect(reply.headers['keep-alive']).toBe(`timeout=${server.keepAliveTimeout / 1000}`);
      expect(reply.headers['x-kept']).toBe('yes');
    });

    it('never takes its target from the request: absolute-form URIs and Host headers stay on the member', async () => {
      const backend = await startBackend('a', (req, res) => res.end(`${req.url}`));
      const elsewhere = await startBackend('elsewhere');
      cleanups.push(
        () => backend.close(),
        () => elsewhere.close(),
      );
      const { url } = await setup([backend]);
      const reply = await request(`${url}/`, { headers: { host: `127.0.0.1:${elsewhere.port}` } });
      expect(reply.body).toBe('/');
      // An absolute-form request line naming another server: only its path is used.
      const net = await import('node:net');
      const port = Number(new URL(url).port);
      const raw = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${elsewhere.url}/steal HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let data = '';
        socket.on('data', (c) => (data += c.toString()));
        socket.on('close', () => resolve(data));
      });
      expect(raw).toMatch(/\r\n\r\n\/steal$/);
      expect(elsewhere.received).toHaveLength(0);
    });

    it('fails over from a member that refuses the connection and puts it in error', async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const live = await startBackend('live');
      cleanups.push(() => live.close());
      const { balancer, url } = await setup([dead, live.url]);
      const replies = [];
      for (let i = 0; i < 4; i++) replies.push(await request(`${url}/`));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const deadMember = balancer.snapshot().members[0]!;
      expect(deadMember.state).toBe('error');
      expect(deadMember.requests).toBe(1); // tried once, then skipped while in error
      expect(deadMember.failures).toBe(1);
      expect(live.received).toHaveLength(4);
    });

    it('retries a POST whose body never reached a refusing member', async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const live = await startBackend('live', (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.end(`got ${body}`));
      });
      cleanups.push(() => live.close());
      const { url } = await setup([dead, live.url]);
      const reply = await request(`${url}/`, { method: 'POST', body: 'x'.repeat(10_000) });
      expect(reply.status).toBe(200);
      expect(reply.body).toBe(`got ${'x'.repeat(10_000)}`);
    });

    it('answers 503 when no member is usable, 502 when all members failed, 504 on a response-head timeout', async () => {
      const none = await setup([`http://127.0.0.1:${await closedPort()}`]);
      none.balancer.pool.disable(none.balancer.pool.members[0]!.route);
      const r503 = await request(`${none.url}/`);
      expect(r503.status).toBe(503);
      expect(r503.body).toMatch(/no member is available/);

      const failed = await setup([`http://127.0.0.1:${await closedPort()}`, `http://127.0.0.1:${await closedPort()}`], { forceRecovery: false });
      const r502 = await request(`${failed.url}/`);
      expect(r502.status).toBe(502);
      expect(r502.body).toMatch(/no member answered/);
      const after = await request(`${failed.url}/`);
      expect(after.status).toBe(503); // both members are now in error, and forceRecovery is off

      const hanging = await startBackend('hang', () => {});
      cleanups.push(() => hanging.close());
      const slow = await setup([hanging], { timeoutMs: 50 });
      const r504 = await request(`${slow.url}/`);
      expect(r504.status).toBe(504);
      expect(r504.body).toMatch(/did not answer in time/);
      expect(slow.balancer.snapshot().members[0]!.failures).toBe(1);
      expect(slow.balancer.snapshot().totals.inFlight).toBe(0);
    });
  });
});
