import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer } from '../src/index.js';
import { request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(
  handler: Parameters<typeof startBackend>[1],
  extra: Record<string, unknown> = {},
): Promise<{ balancer: Balancer; url: string; backend: Backend; frontSockets: Set<net.Socket> }> {
  const backend = await startBackend('m', handler);
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url: backend.url }], ...extra });
  const front = await startFront(balancer);
  const frontSockets = new Set<net.Socket>();
  front.server.on('connection', (s: net.Socket) => {
    frontSockets.add(s);
    s.on('close', () => frontSockets.delete(s));
  });
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
    await backend.close();
  });
  return { balancer, url: front.url, backend, frontSockets };
}

/** Sends raw bytes and returns everything the server wrote back before closing. */
function raw(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1', () => s.write(text));
    let data = '';
    s.on('data', (c) => (data += c.toString('latin1')));
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
  });
}

forEachEngine(() => {
  describe('HTTP edge cases through the balancer', () => {
    it('HEAD, 204 and 304 responses carry no body and keep their headers', async () => {
      const { url } = await setup((req, res) => {
        if (req.url === '/none') return void res.writeHead(204, { 'x-kind': 'no-content' }).end();
        if (req.url === '/cached') return void res.writeHead(304, { etag: '"v1"' }).end();
        res.writeHead(200, { 'content-length': '5', 'content-type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'hello');
      });
      const head = await request(`${url}/`, { method: 'HEAD' });
      expect(head).toMatchObject({ status: 200, body: '' });
      expect(head.headers['content-length']).toBe('5');
      expect(await request(`${url}/none`)).toMatchObject({ status: 204, body: '', headers: expect.objectContaining({ 'x-kind': 'no-content' }) });
      expect(await request(`${url}/cached`)).toMatchObject({ status: 304, body: '', headers: expect.objectContaining({ etag: '"v1"' }) });
    });

    it('streams a chunked upload and a chunked response', async () => {
      const { url } = await setup((req, res) => {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => {
          res.write('got ');
          res.end(String(n));
        });
      });
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${url}/upload`, { method: 'POST', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(`${res.headers['transfer-encoding']}|${text}`));
        });
        req.on('error', reject);
        for (let i = 0; i < 50; i++) req.write('x'.repeat(1000)); // no content-length: chunked
        req.end();
      });
      expect(body).toBe('chunked|got 50000');
    });

    it('holds the member back while the client does not read (backpressure), then relays the body in full, counting its bytes', async () => {
      const size = 64 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 97);
      let written = 0;
      let outcome!: (what: 'stalled' | 'wrote everything') => void;
      const memberDone = new Promise<'stalled' | 'wrote everything'>((resolve) => (outcome = resolve));
      const { balancer, url, frontSockets } = await setup(
        (_req, res) => {
          res.writeHead(200, { 'content-length': String(size) });
          const pump = (): void => {
            while (written < size) {
              written += chunk.length;
              if (!res.write(chunk)) {
                // A drain that does not come: the balancer has stopped reading this member. No event
                // says "nothing happened", so a second without one stands for it (never a verdict on speed).
                const timer = setTimeout(() => outcome('stalled'), 1000);
                return void res.once('drain', () => {
                  clearTimeout(timer);
                  pump();
                });
              }
            }
            res.end();
            outcome('wrote everything');
          };
          pump();
        },
        { idleTimeoutMs: 60_000 },
      );
      let reply!: IncomingMessage;
      const headArrived = new Promise<void>((resolve, reject) => {
        http
          .get(`${url}/big`, { agent: false }, (res) => {
            res.pause(); // the client reads nothing until the member is held back
            reply = res;
            resolve();
          })
          .on('error', reject);
      });
      await headArrived;
      // Held back: the member could not write the body while the client read none of it, and the
      // front end did not buffer it in the member's stead.
      expect(await memberDone).toBe('stalled');
      expect(written).toBeLessThan(size / 2);
      expect(frontSockets.size).toBe(1);
      for (const s of frontSockets) expect(s.writableLength).toBeLessThan(4 * 1024 * 1024);
      // Once the client reads, the member goes on, and the whole body arrives.
      const received = await new Promise<number>((resolve, reject) => {
        let n = 0;
        reply.on('data', (c: Buffer) => (n += c.length));
        reply.on('end', () => resolve(n));
        reply.on('error', reject);
        reply.resume();
      });
      expect(received).toBe(size);
      expect(written).toBe(size);
      expect(balancer.snapshot().members[0]).toMatchObject({ bytesReceived: size, inFlight: 0, failures: 0 });
    });

    it('answers an HTTP/1.0 client and closes its connection', async () => {
      const { url } = await setup((_req, res) => res.end('for 1.0'));
      const reply = await raw(url, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(reply).toMatch(/\r\n\r\nfor 1\.0$/);
    });

    it('Expect: 100-continue gets its 100 from the front end and the body reaches the member', async () => {
      const { url, backend } = await setup((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.end(`got ${body}`));
      });
      const reply = await raw(url, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nbody');
      expect(reply).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
      expect(reply).toMatch(/got body$/);
      expect(backend.received[0]!.headers.expect).toBeUndefined();
    });

    it('keeps a client connection alive across requests to different members', async () => {
      const a = await startBackend('a');
      const b = await startBackend('b');
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: a.url }, { url: b.url }] });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
        await a.close();
        await b.close();
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      cleanups.push(async () => agent.destroy());
      const sockets = new Set<net.Socket>();
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        bodies.push(
          await new Promise<string>((resolve, reject) => {
            http
              .get(front.url, { agent }, (res) => {
                sockets.add(res.socket);
                let t = '';
                res.on('data', (c: Buffer) => (t += c.toString()));
                res.on('end', () => resolve(t));
              })
              .on('error', reject);
          }),
        );
      }
      expect(bodies).toEqual(['a', 'b', 'a', 'b']);
      expect(sockets.size).toBe(1);
    });
  });
});
