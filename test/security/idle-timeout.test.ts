/**
 * A member that trickles its body to hold a connection open: the body idle timeout fires within
 * `idleTimeoutMs` (plus the sweep's resolution) of the last byte, never up to twice that. The
 * clock is faked (Date and the sweep's setInterval only) so the test is exact on a loaded
 * machine; the sockets are real.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBalancer } from '../../src/index.js';
import { startFront } from '../helpers/servers.js';
import { startRawMember } from '../helpers/raw.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanups.length > 0) await cleanups.pop()!();
});

forEachEngine(() => {
  describe('the body idle timeout', () => {
    it('counts from the last byte, not from the last sweep', async () => {
      vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
      let memberSocket!: Socket;
      const member = await startRawMember((socket) => {
        memberSocket = socket;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst');
      });
      cleanups.push(() => member.close());
      // idleTimeoutMs 1000 gives a sweep every 100 ms.
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: member.url }], idleTimeoutMs: 1000 });
      const front = await startFront(balancer);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      const req = http.get(`${front.url}/`, { agent: false });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.on('error', () => {});
      const cut = new Promise<boolean>((resolve) => res.on('close', () => resolve(res.complete)));
      const received: string[] = [];
      const next = (): Promise<void> => new Promise((resolve) => res.once('data', (c: Buffer) => resolve(void received.push(c.toString()))));
      await next();

      // A second chunk half-way through the first idle period ...
      await vi.advanceTimersByTimeAsync(500);
      const second = next();
      memberSocket.write('second');
      await second;
      expect(received).toEqual(['first', 'second']);
      // ... and then silence: cut by idleTimeoutMs plus one sweep after that last byte (a check that
      // only asks whether bytes moved since the previous check would wait until 1500 ms after it).
      await vi.advanceTimersByTimeAsync(1100);
      expect(await cut).toBe(false);
    });
  });
});
