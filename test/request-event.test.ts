/**
 * One `request` event per finished request, on the emitter and on diagnostics_channel
 * `proxy-balancer:request`: member route, status, bytes both ways, duration, attempts, failure.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type RequestEvent } from '../src/index.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { closedPort, request, startBackend, startFront } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

forEachEngine(() => {
  describe('the request event', () => {
    it('reports the route, status, bytes, attempts and a retry after a refused connection', async () => {
      const member = await startBackend('a', (req, res) => {
        req.resume();
        req.on('end', () => res.end('hello'));
      });
      cleanups.push(() => member.close());
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const balancer = createBalancer({
        engine: currentEngine(),
        members: [
          { url: dead, route: 'dead' },
          { url: member.url, route: 'a' },
        ],
      });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      const seen: RequestEvent[] = [];
      const onChannel = (message: unknown): void => void seen.push(message as RequestEvent);
      diagnostics.subscribe('proxy-balancer:request', onChannel);
      cleanups.push(async () => void diagnostics.unsubscribe('proxy-balancer:request', onChannel));
      const emitted = new Promise<RequestEvent>((resolve) => balancer.once('request', resolve));

      expect((await request(`${front.url}/x?y=1`, { method: 'POST', body: 'abc' })).body).toBe('hello');
      const event = await emitted;
      expect(event).toMatchObject({
        method: 'POST',
        url: '/x?y=1',
        route: 'a',
        status: 200,
        bytesSent: 3,
        bytesReceived: 5,
        attempts: 2,
        failure: undefined,
        upgrade: false,
        client: '127.0.0.1',
      });
      expect(event.durationMs).toBeGreaterThanOrEqual(0);
      expect(seen).toEqual([event]);
    });

    it("reports the balancer's own answer when no member could serve", async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: dead, route: 'dead' }] });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      const emitted = new Promise<RequestEvent>((resolve) => balancer.once('request', resolve));
      expect((await request(`${front.url}/`)).status).toBe(502);
      expect(await emitted).toMatchObject({ route: 'dead', status: 502, attempts: 1, failure: 'connect' });
    });
  });
});
