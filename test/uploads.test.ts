/**
 * Bodies in real set-ups: parsers in front of the balancer (express.json(), express.urlencoded(),
 * express.text(), express.raw()), and uploads longer than the response-head timeout. A body a
 * parser already read is re-sent from its result with a correct Content-Length; one that cannot be
 * is a 500 naming the cause. A slow but moving upload of any length succeeds; a stalled one gets
 * 408. In no case is the member charged.
 */
import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { startEchoMember, type EchoMember } from './helpers/raw.js';
import { request, startFront } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function member(): Promise<EchoMember> {
  const m = await startEchoMember();
  cleanups.push(() => m.close());
  return m;
}

/** An Express app with `parsers` in front of the balancer. */
async function appWith(parsers: express.RequestHandler[], m: EchoMember, extra: Partial<BalancerOptions> = {}): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url: m.url }], ...extra });
  const app = express();
  for (const parser of parsers) app.use(parser);
  app.use(balancer);
  const front = await startFront(app);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return { balancer, url: front.url };
}

forEachEngine(() => {
  describe('body parsers in front', () => {
    it('express.json(): the member receives the same JSON with its own Content-Length, and is never charged', async () => {
      const m = await member();
      const { balancer, url } = await appWith([express.json()], m);
      const json = JSON.stringify({ user: 'ada', tags: ['a', 'b'], nested: { n: 1 } });
      for (let i = 0; i < 6; i++) {
        const reply = await request(`${url}/api`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
        expect(reply.status).toBe(200);
      }
      expect(m.seen).toHaveLength(6);
      expect(JSON.parse(m.seen[0]!.body)).toEqual(JSON.parse(json));
      expect(m.seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(m.seen[0]!.body)));
      const snap = balancer.snapshot().members[0]!;
      expect(snap).toMatchObject({ failures: 0, state: 'ok', inFlight: 0 });
    });

    it('express.json() with a chunked upload: sent with a Content-Length, not chunked', async () => {
      const m = await member();
      const { url } = await appWith([express.json()], m);
      const reply = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${url}/api`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write('{"a":');
        req.end('1}');
      });
      expect(reply).toBe(200);
      expect(m.seen[0]!.body).toBe('{"a":1}');
      expect(m.seen[0]!.headers['transfer-encoding']).toBeUndefined();
      expect(m.seen[0]!.headers['content-length']).toBe('7');
    });

    it('express.urlencoded({ extended: true }): nested fields and repeated keys survive', async () => {
      const m = await member();
      const { url } = await appWith([express.urlencoded({ extended: true })], m);
      const form = 'name=Ada+L&tags=a&tags=b&address%5Bcity%5D=London&empty=';
      await request(`${url}/form`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      const back = new URLSearchParams(m.seen[0]!.body);
      expect(back.get('name')).toBe('Ada L');
      expect(back.getAll('tags')).toEqual(['a', 'b']);
      expect(back.get('address[city]')).toBe('London');
      expect(back.get('empty')).toBe('');
    });

    it('express.text() and express.raw(): the same bytes', async () => {
      const m = await member();
      const { url } = await appWith([express.text(), express.raw({ type: 'application/octet-stream' })], m);
      await request(`${url}/t`, { method: 'PUT', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'héllo' });
      await request(`${url}/r`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]) });
      expect(Buffer.from(m.seen[0]!.body, 'latin1').toString('utf8')).toBe('héllo');
      expect([...Buffer.from(m.seen[1]!.body, 'latin1')]).toEqual([0, 1, 2, 255]);
    });

    it('a body read in front and not kept: 500 naming the cause, the member neither called nor charged', async () => {
      const m = await member();
      const swallow: express.RequestHandler = (req, _res, next) => {
        req.resume();
        req.on('end', () => next());
      };
      const { balancer, url } = await appWith([swallow], m);
      const reply = await request(`${url}/upload`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' });
      expect(reply.status).toBe(500);
      expect(reply.body).toContain('the request body was read before the balancer');
      expect(m.seen).toHaveLength(0);
      expect(balancer.snapshot().members[0]).toMatchObject({ requests: 0, failures: 0 });
    });
  });

  describe('uploads longer than the timeout', () => {
    it('a 3 s upload at a steady rate with timeoutMs 1000 succeeds', async () => {
      const m = await member();
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: m.url }], timeoutMs: 1000 });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      const chunk = Buffer.alloc(1000, 0x61);
      const chunks = 30; // one every 100 ms: 3 s in all
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${front.url}/upload`, { method: 'POST', headers: { 'content-length': chunk.length * chunks }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        let sent = 0;
        const timer = setInterval(() => {
          req.write(chunk);
          if (++sent === chunks) {
            clearInterval(timer);
            req.end();
          }
        }, 100);
      });
      expect(status).toBe(200);
      expect(m.seen[0]!.body.length).toBe(chunk.length * chunks);
      expect(balancer.snapshot().members[0]!.failures).toBe(0);
    });

    it('a stalled upload gets 408 after idleTimeoutMs, and the member is not charged', async () => {
      const m = await member();
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: m.url }], idleTimeoutMs: 300 });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      const req = http.request(`${front.url}/upload`, { method: 'POST', headers: { 'content-length': 1000 }, agent: false });
      req.on('error', () => {});
      req.write('only the beginning');
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.resume();
      expect(res.statusCode).toBe(408);
      req.destroy();
      const snap = balancer.snapshot().members[0]!;
      expect(snap).toMatchObject({ failures: 0, state: 'ok', inFlight: 0 });
    });
  });
});
