/**
 * Per-request hooks (onProxyRequest, onProxyResponse) and trailers, on real sockets, both engines:
 * auth header injection and CORS as the docs show them, a hook that throws (502 and a warning, the
 * member not charged), and response trailers relayed after a chunked body.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { startEchoMember } from './helpers/raw.js';
import { request, startBackend, startFront } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function front(memberUrl: string, extra: Partial<BalancerOptions>): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url: memberUrl, route: 'm1' }], ...extra });
  const f = await startFront(balancer);
  cleanups.push(async () => {
    await f.close();
    await balancer.close();
  });
  return { balancer, url: f.url };
}

forEachEngine(() => {
  describe('hooks', () => {
    it('onProxyRequest edits the headers each attempt sends: an auth header injected, a cookie removed', async () => {
      const member = await startEchoMember();
      cleanups.push(() => member.close());
      const { url } = await front(member.url, {
        onProxyRequest(headers, _req, m) {
          headers.authorization = `Bearer token-for-${m.route}`;
          delete headers.cookie;
        },
      });
      await request(`${url}/x`, { headers: { cookie: 'secret=1' } });
      expect(member.seen[0]!.headers.authorization).toBe('Bearer token-for-m1');
      expect(member.seen[0]!.headers.cookie).toBeUndefined();
    });

    it('onProxyResponse edits the response headers: CORS added, a banner removed', async () => {
      const member = await startBackend('m', (_req, res) => {
        res.setHeader('x-powered-by', 'member 1.0');
        res.end('ok');
      });
      cleanups.push(() => member.close());
      const { url } = await front(member.url, {
        onProxyResponse(headers, { status, req }) {
          headers['access-control-allow-origin'] = 'https://app.example';
          headers['x-status-seen'] = String(status);
          headers['x-path'] = req.url ?? '';
          delete headers['x-powered-by'];
        },
      });
      const reply = await request(`${url}/y`);
      expect(reply.body).toBe('ok');
      expect(reply.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(reply.headers['x-status-seen']).toBe('200');
      expect(reply.headers['x-path']).toBe('/y');
      expect(reply.headers['x-powered-by']).toBeUndefined();
    });

    it.each([
      [
        'onProxyRequest',
        {
          onProxyRequest: () => {
            throw new Error('hook bug');
          },
        },
      ],
      [
        'onProxyResponse',
        {
          onProxyResponse: () => {
            throw new Error('hook bug');
          },
        },
      ],
    ])('%s that throws: 502 and a warning, the member not charged, the balancer serves on', async (_name, hooks) => {
      const member = await startEchoMember();
      cleanups.push(() => member.close());
      const { balancer, url } = await front(member.url, hooks as Partial<BalancerOptions>);
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
      expect((await request(`${url}/`)).status).toBe(502);
      expect((await warned).message).toContain('hook bug');
      expect(balancer.snapshot().members[0]).toMatchObject({ failures: 0, inFlight: 0, state: 'ok' });
    });

    it('are validated as functions', () => {
      expect(() => createBalancer({ members: [], onProxyRequest: 'x' as never })).toThrow(/onProxyRequest must be a function/);
    });
  });

  describe('trailers', () => {
    it('response trailers are relayed after a chunked body', async () => {
      const member = await startBackend('m', (_req, res) => {
        res.writeHead(200, { trailer: 'grpc-status, x-checksum' });
        res.write('part one ');
        res.addTrailers({ 'grpc-status': '0', 'x-checksum': 'abc' });
        res.end('part two');
      });
      cleanups.push(() => member.close());
      const { url } = await front(member.url, {});
      const result = await new Promise<{ body: string; trailers: http.IncomingHttpHeaders; trailer: string | undefined }>((resolve, reject) => {
        http
          .get(`${url}/`, { agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ body, trailers: res.trailers, trailer: res.headers.trailer as string | undefined }));
          })
          .on('error', reject);
      });
      expect(result.body).toBe('part one part two');
      expect(result.trailer).toBe('grpc-status, x-checksum');
      expect(result.trailers).toEqual({ 'grpc-status': '0', 'x-checksum': 'abc' });
    });
  });
});
