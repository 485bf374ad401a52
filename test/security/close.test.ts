/**
 * close() with requests in flight: they end at once (502, or a cut response once the head went
 * out), nothing is retried, no new connection opens, and no socket is left to keep the process up.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBalancer } from '../../src/index.js';
import { request, startBackend, startFront, type Backend } from '../helpers/servers.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A member that takes requests and never answers; counts its connections. */
async function hangingMember(): Promise<Backend & { connections: number; open: Set<Socket> }> {
  const backend = await startBackend('hang', () => {});
  const state = Object.assign(backend, { connections: 0, open: backend.sockets });
  backend.server.on('connection', () => state.connections++);
  cleanups.push(() => backend.close());
  return state;
}

forEachEngine(() => {
  describe('close() with requests in flight', () => {
    it('answers them 502 at once, retries none and opens no new connection', async () => {
      const a = await hangingMember();
      const b = await hangingMember();
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: a.url }, { url: b.url }] });
      const front = await startFront(balancer);
      cleanups.push(() => front.close());
      const replies = Array.from({ length: 4 }, () => request(`${front.url}/x`));
      await vi.waitFor(() => expect(a.received.length + b.received.length).toBe(4), { timeout: 10_000, interval: 5 });
      const connectionsBefore = a.connections + b.connections;

      await balancer.close();
      const statuses = (await Promise.all(replies)).map((r) => r.status);
      expect(statuses).toEqual([502, 502, 502, 502]);
      expect(a.received.length + b.received.length).toBe(4); // nothing was sent again
      expect(a.connections + b.connections).toBe(connectionsBefore);
      expect(balancer.snapshot().retries.made).toBe(0);
      // Every member connection is closed, so nothing keeps the process alive.
      await vi.waitFor(() => expect(a.open.size + b.open.size).toBe(0), { timeout: 10_000, interval: 5 });
      expect(balancer.snapshot().totals.inFlight).toBe(0);
    });

    it('cuts a response whose head was already relayed', async () => {
      const member = await startBackend('slow', (_req, res) => {
        res.writeHead(200, { 'content-length': 100 });
        res.write('partial');
      });
      cleanups.push(() => member.close());
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: member.url }] });
      const front = await startFront(balancer);
      cleanups.push(() => front.close());
      const req = http.get(`${front.url}/x`, { agent: false });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      expect(res.statusCode).toBe(200);
      res.on('error', () => {}); // 'aborted': the cut this test expects
      const closed = new Promise((resolve) => res.on('close', resolve));
      res.resume();
      await balancer.close();
      await closed;
      expect(res.complete).toBe(false);
    });

    it('answers 503 to requests that arrive after it', async () => {
      const member = await startBackend('a');
      cleanups.push(() => member.close());
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: member.url }] });
      const front = await startFront(balancer);
      cleanups.push(() => front.close());
      await balancer.close();
      expect((await request(`${front.url}/x`)).status).toBe(503);
      expect(member.received.length).toBe(0);
    });
  });
});
