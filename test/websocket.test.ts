import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { closedPort } from './helpers/servers.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { closeWs as closeClient, echo, openWs as open, wsBackend as startWsBackend, type WsBackend } from './helpers/ws.js';

/** Upper bound of any wait for sockets to close or counters to settle; a safety net, never a timing assertion. */
const WAIT_LIMIT_MS = 10_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A `ws` echo back end, closed after the test. */
async function wsBackend(name: string, options: { reject?: boolean } = {}): Promise<WsBackend> {
  const backend = await startWsBackend(name, options);
  cleanups.push(backend.close);
  return backend;
}

async function front(
  urls: string[],
  extra: Omit<BalancerOptions, 'members'> = {},
): Promise<{ balancer: Balancer; wsUrl: string; server: http.Server; connections: Set<Socket> }> {
  const balancer = createBalancer({ engine: currentEngine(), members: urls.map((url, i) => ({ url, route: `m${i + 1}` })), ...extra });
  const server = http.createServer(balancer);
  server.on('upgrade', balancer.upgrade);
  const connections = new Set<Socket>();
  server.on('connection', (s) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    await balancer.close();
    for (const s of connections) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { balancer, wsUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, connections };
}

/**
 * Resolves when the balancer reports no request or tunnel in flight. The balancer emits no event
 * when a tunnel ends (its `request` event comes at the end of the handshake), so this polls the
 * snapshot; the limit is a safety net, not a statement about speed.
 */
async function settled(balancer: Balancer): Promise<void> {
  await vi.waitFor(
    () => {
      const snap = balancer.snapshot();
      expect({ inFlight: snap.totals.inFlight, tunnels: snap.members.map((m) => m.tunnels) }).toEqual({ inFlight: 0, tunnels: snap.members.map(() => 0) });
    },
    { timeout: WAIT_LIMIT_MS, interval: 5 },
  );
}

/** Resolves when every socket in `sockets` has closed (each set drops a socket on its 'close'). */
async function allClosed(...sockets: Set<Socket>[]): Promise<void> {
  const open = sockets.flatMap((set) => [...set]);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${sockets.map((set) => set.size).join(' + ')} sockets still open`)), WAIT_LIMIT_MS);
  });
  try {
    await Promise.race([Promise.all(open.map((s) => (s.closed ? undefined : once(s, 'close')))), limit]);
  } finally {
    clearTimeout(timer);
  }
}

forEachEngine(() => {
  describe('WebSocket and Upgrade proxying', () => {
    it('echoes messages through the balancer and balances handshakes across members', async () => {
      const a = await wsBackend('a');
      const b = await wsBackend('b');
      const { balancer, wsUrl } = await front([a.url, b.url]);
      const clients = [await open(`${wsUrl}/chat`), await open(`${wsUrl}/chat`), await open(`${wsUrl}/chat`), await open(`${wsUrl}/chat`)];
      const replies = await Promise.all(clients.map((ws, i) => echo(ws, `hi${i}`)));
      expect(replies.map((r) => r.split(':')[0]).sort()).toEqual(['a', 'a', 'b', 'b']);
      expect(replies.map((r) => r.split(':')[1]).sort()).toEqual(['hi0', 'hi1', 'hi2', 'hi3']);
      // Open tunnels count as in flight, so bybusyness sees long-lived connections.
      expect(balancer.snapshot().totals.inFlight).toBe(4);
      expect(balancer.snapshot().members.map((m) => m.tunnels)).toEqual([2, 2]);
      await Promise.all(clients.map(closeClient));
      await settled(balancer);
      const members = balancer.snapshot().members;
      expect(members.every((m) => m.bytesSent > 0 && m.bytesReceived > 0)).toBe(true);
    });

    it("fails a dead member's handshake over to another member", async () => {
      const live = await wsBackend('live');
      const { balancer, wsUrl } = await front([`http://127.0.0.1:${await closedPort()}`, live.url]);
      const ws = await open(wsUrl);
      expect(await echo(ws, 'x')).toBe('live:x');
      expect(balancer.snapshot().members[0]!.state).toBe('error');
      await closeClient(ws);
    });

    it('gives a connected handshake the whole timeoutMs, not just connectTimeoutMs', async () => {
      const slow = await wsBackend('slow');
      // The member accepts at once but answers the handshake only after 200 ms (well past the connect timeout).
      const [listener] = slow.server.listeners('upgrade') as ((...args: unknown[]) => void)[];
      slow.server.removeAllListeners('upgrade');
      slow.server.on('upgrade', (...args: unknown[]) => void setTimeout(() => listener!(...args), 200));
      const { wsUrl } = await front([slow.url], { connectTimeoutMs: 50, timeoutMs: 5000 });
      const ws = await open(wsUrl);
      expect(await echo(ws, 'late')).toBe('slow:late');
      await closeClient(ws);
    });

    it('relays a non-101 answer to the client', async () => {
      const refuser = await wsBackend('refuser', { reject: true });
      const { wsUrl } = await front([refuser.url]);
      const ws = new WebSocket(wsUrl);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      expect(res.statusCode).toBe(403);
      expect(res.headers['x-member']).toBe('refuser');
      const body = await new Promise<string>((resolve) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      expect(body).toBe('forbidden');
      ws.on('error', () => {}); // terminating a handshake that never opened reports an error by design
      ws.terminate();
    });

    it('returns counters to zero when members close tunnels, and close() ends open tunnels', async () => {
      const a = await wsBackend('a');
      const { balancer, wsUrl } = await front([a.url]);
      const ws = await open(wsUrl);
      expect(await echo(ws, '1')).toBe('a:1');
      const clientClosed = once(ws, 'close');
      for (const client of a.wss.clients) client.terminate(); // the member drops the connection
      await clientClosed;
      await settled(balancer);

      const again = await open(wsUrl);
      expect(await echo(again, '2')).toBe('a:2');
      const ended = once(again, 'close');
      await balancer.close();
      await ended;
      expect(a.connections.size).toBe(0);
    });

    it('pool.drain() lets an open tunnel live on; pool.remove(route, { endTunnels: true }) ends it', async () => {
      const a = await wsBackend('a');
      const b = await wsBackend('b');
      const { balancer, wsUrl } = await front([a.url, b.url], { strategy: 'roundrobin' });
      const first = await open(wsUrl);
      expect(await echo(first, 'x')).toBe('a:x');
      balancer.pool.drain('m1');
      expect(await echo(first, 'y')).toBe('a:y');
      const second = await open(wsUrl);
      expect(await echo(second, 'z')).toBe('b:z'); // new handshakes avoid the draining member
      const ended = once(first, 'close');
      balancer.pool.remove('m1', { endTunnels: true });
      await ended;
      await closeClient(second);
      await settled(balancer);
    });

    it('opens and closes 200 tunnels and leaves no socket behind', async () => {
      const a = await wsBackend('a');
      const b = await wsBackend('b');
      const { balancer, wsUrl, connections } = await front([a.url, b.url]);
      for (let batch = 0; batch < 10; batch++) {
        const clients = await Promise.all(Array.from({ length: 20 }, () => open(wsUrl)));
        await Promise.all(clients.map((ws, i) => echo(ws, `${batch}-${i}`)));
        await Promise.all(clients.map(closeClient));
      }
      await settled(balancer);
      expect(a.handshakes + b.handshakes).toBe(200);
      await allClosed(connections, a.connections, b.connections);
      expect(connections.size).toBe(0);
      expect(a.connections.size + b.connections.size).toBe(0);
      expect(balancer.snapshot().members.every((m) => m.inFlight === 0 && m.tunnels === 0)).toBe(true);
    });
  });
});
