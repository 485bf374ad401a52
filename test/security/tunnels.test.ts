/**
 * Attacks on Upgrade tunnels: clients that leave (with a FIN, before or after the 101) must not
 * leave tunnels, sockets or in-flight counts behind; an idle tunnel closes after
 * `tunnelIdleTimeoutMs`; a member's non-101 answer is relayed with backpressure, so a client that
 * never reads cannot make the process buffer the member's body.
 */
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createBalancer, type Balancer, type BalancerOptions } from '../../src/index.js';
import { startRawMember } from '../helpers/raw.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface WsMember {
  url: string;
  /** Open TCP connections to the member. */
  connections: Set<Socket>;
}

async function wsMember(): Promise<WsMember> {
  const server = http.createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ noServer: true });
  const connections = new Set<Socket>();
  server.on('connection', (s) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(m))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    for (const s of connections) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}

async function frontOver(urls: string[], extra: Partial<BalancerOptions> = {}): Promise<{ balancer: Balancer; port: number; sockets: Set<Socket> }> {
  const balancer = createBalancer({ engine: currentEngine(), members: urls.map((url) => ({ url })), ...extra });
  const server = http.createServer(balancer);
  server.on('upgrade', balancer.upgrade);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await balancer.close();
  });
  return { balancer, port: (server.address() as AddressInfo).port, sockets };
}

const HANDSHAKE =
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** Counters that must all be zero once nothing is open. */
function openCounts(balancer: Balancer): { inFlight: number; tunnels: number; requests: number } {
  const snap = balancer.snapshot();
  return { inFlight: snap.totals.inFlight, tunnels: snap.members.reduce((n, m) => n + m.tunnels, 0), requests: snap.inFlight.requests };
}

forEachEngine(() => {
  describe('clients that leave', () => {
    it('20 clients that take a 101 and send a FIN leave no tunnel, count or socket behind', async () => {
      // A member that keeps its half open after a FIN: the balancer must end the tunnel itself.
      let memberSawEnd = 0;
      const member = await startRawMember(
        (socket) => {
          socket.on('end', () => memberSawEnd++);
          socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
        },
        { allowHalfOpen: true },
      );
      cleanups.push(() => member.close());
      const { balancer, port, sockets } = await frontOver([member.url]);
      for (let i = 0; i < 20; i++) {
        const client = net.connect(port, '127.0.0.1');
        client.on('error', () => {});
        await once(client, 'connect');
        client.write(HANDSHAKE);
        const [head] = (await once(client, 'data')) as [Buffer];
        expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
        client.end(); // a FIN only: the front's server socket allows half-open connections
        client.resume();
      }
      await vi.waitFor(() => expect(memberSawEnd).toBe(20), { timeout: 10_000, interval: 10 });
      await vi.waitFor(() => expect(sockets.size).toBe(0), { timeout: 10_000, interval: 10 });
      await vi.waitFor(() => expect(openCounts(balancer)).toEqual({ inFlight: 0, tunnels: 0, requests: 0 }), { timeout: 10_000, interval: 10 });
    });

    it('a member that closes its side ends the tunnel for the client too', async () => {
      const member = await wsMember();
      const { balancer, port } = await frontOver([member.url]);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      await once(ws, 'open');
      for (const s of member.connections) s.end();
      await once(ws, 'close');
      await vi.waitFor(() => expect(openCounts(balancer)).toEqual({ inFlight: 0, tunnels: 0, requests: 0 }), { timeout: 10_000, interval: 10 });
    });

    it('a client that leaves before the 101 aborts the attempt', async () => {
      const memberSockets: Socket[] = [];
      const silent = await startRawMember((socket) => memberSockets.push(socket)); // reads the handshake, never answers
      cleanups.push(() => silent.close());
      const { balancer, port } = await frontOver([silent.url]);
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      client.write(HANDSHAKE);
      await vi.waitFor(() => expect(memberSockets.length).toBe(1), { timeout: 10_000, interval: 5 });
      client.end();
      await once(memberSockets[0]!, 'close'); // the balancer gave up the member connection
      await vi.waitFor(() => expect(openCounts(balancer)).toEqual({ inFlight: 0, tunnels: 0, requests: 0 }), { timeout: 10_000, interval: 10 });
      expect(balancer.snapshot().members[0]!.failures).toBe(0); // the client's doing, not the member's
    });
  });

  describe('tunnelIdleTimeoutMs', () => {
    it('closes a tunnel in which nothing moved for that long', async () => {
      const member = await wsMember();
      const { balancer, port } = await frontOver([member.url], { tunnelIdleTimeoutMs: 200 });
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      await once(ws, 'open');
      ws.send('hello');
      const [echo] = (await once(ws, 'message')) as [Buffer];
      expect(echo.toString()).toBe('hello');
      await once(ws, 'close'); // nothing more is sent: the balancer closes the tunnel
      await vi.waitFor(() => expect(member.connections.size).toBe(0), { timeout: 10_000, interval: 10 });
      await vi.waitFor(() => expect(openCounts(balancer)).toEqual({ inFlight: 0, tunnels: 0, requests: 0 }), { timeout: 10_000, interval: 10 });
    });

    it('is validated', () => {
      expect(() => createBalancer({ engine: currentEngine(), members: [], tunnelIdleTimeoutMs: -1 })).toThrow(/tunnelIdleTimeoutMs must be an integer from 0/);
    });
  });

  describe("a member's non-101 answer to a client that does not read", () => {
    it('is relayed with backpressure: the member is held back instead of the process buffering', async () => {
      const CHUNK = Buffer.alloc(64 * 1024, 0x61);
      const TOTAL = 256 * 1024 * 1024;
      let written = 0;
      let stalled!: () => void;
      const memberStalled = new Promise<void>((resolve) => (stalled = resolve));
      const member = await startRawMember((socket) => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
        const pump = (): void => {
          while (written < TOTAL) {
            written += CHUNK.length;
            if (!socket.write(CHUNK)) {
              // No drain within a second: the balancer has stopped reading, as it must.
              const timer = setTimeout(stalled, 1000);
              socket.once('drain', () => {
                clearTimeout(timer);
                pump();
              });
              return;
            }
          }
        };
        pump();
      });
      cleanups.push(() => member.close());
      const { port, sockets } = await frontOver([member.url]);
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      client.write(HANDSHAKE);
      client.pause(); // never reads
      await memberStalled;
      expect(written).toBeLessThan(32 * 1024 * 1024);
      for (const s of sockets) expect(s.writableLength).toBeLessThan(8 * 1024 * 1024);
      client.destroy();
    });
  });
});
