/**
 * Attack from behind: nothing a member sends can end the process. A response that cannot be
 * relayed (a status outside 200-599, a control byte in the reason phrase) becomes a 502 for that
 * client, charged to the member as a failure, and the balancer serves on. Informational 1xx
 * responses are relayed as a proxy must (RFC 9110 15.2), never to HTTP/1.0 clients.
 */
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer } from '../../src/index.js';
import { firstStatus, rawExchange, startEchoMember, startRawMember } from '../helpers/raw.js';
import { request, startFront } from '../helpers/servers.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function frontOver(urls: string[]): Promise<{ balancer: Balancer; url: string; port: number }> {
  const balancer = createBalancer({ engine: currentEngine(), members: urls.map((url) => ({ url })), outlierDetection: false });
  const front = await startFront(balancer);
  front.server.on('upgrade', balancer.upgrade);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return { balancer, url: front.url, port: Number(new URL(front.url).port) };
}

const BAD_STATUS_LINES = [
  ['status 099', 'HTTP/1.1 099 Low\r\n'],
  ['status 000', 'HTTP/1.1 000 Zero\r\n'],
  ['status 600', 'HTTP/1.1 600 High\r\n'],
  ['status 999', 'HTTP/1.1 999 Higher\r\n'],
  ['a control byte in the reason phrase', 'HTTP/1.1 200 O\x01K\r\n'],
  ['an escape sequence in the reason phrase', 'HTTP/1.1 404 \x1b[31mred\r\n'],
];

forEachEngine(() => {
  describe.each([
    ['an HTTP request', (port: number) => request(`http://127.0.0.1:${port}/x`).then((r) => r.status)],
    [
      'an Upgrade handshake',
      (port: number) => rawExchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n').then(firstStatus),
    ],
  ])('a member answering %s with', (_kind, send) => {
    it.each(BAD_STATUS_LINES)('%s gets 502, is charged, and the balancer serves on', async (_name, statusLine) => {
      const bad = await startRawMember((socket) => socket.end(`${statusLine}Content-Length: 2\r\nConnection: close\r\n\r\nhi`));
      const good = await startEchoMember();
      cleanups.push(
        () => bad.close(),
        () => good.close(),
      );
      const { balancer, port } = await frontOver([bad.url, good.url]); // byrequests: the first request goes to `bad`
      expect(await send(port)).toBe(502);
      const badMember = balancer.snapshot().members[0]!;
      expect(badMember.failures).toBe(1);
      expect(badMember.inFlight).toBe(0);
      // Still serving: the next request goes to the good member.
      expect(await send(port)).toBe(200);
      expect(good.seen.length).toBe(1);
    });
  });

  describe('informational responses', () => {
    const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n';
    const FINAL = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';

    it('103 Early Hints is relayed before the final response', async () => {
      const member = await startRawMember((socket) => socket.end(`${EARLY_HINTS}${FINAL}`));
      cleanups.push(() => member.close());
      const { port } = await frontOver([member.url]);
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false });
      const order: number[] = [];
      req.on('information', (info: http.InformationEvent) => {
        order.push(info.statusCode);
        expect(info.headers.link).toBe('</style.css>; rel=preload; as=style');
      });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      order.push(res.statusCode ?? 0);
      expect(order).toEqual([103, 200]);
      res.resume();
    });

    it('an HTTP/1.0 client gets no 1xx, only the final response', async () => {
      const member = await startRawMember((socket) => socket.end(`${EARLY_HINTS}${FINAL}`));
      cleanups.push(() => member.close());
      const { port } = await frontOver([member.url]);
      const answer = await rawExchange(port, 'GET / HTTP/1.0\r\nHost: a\r\n\r\n');
      expect(answer.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
      expect(answer).not.toContain('103');
    });

    it('an invalid Link in a 103 is dropped and the final response still comes', async () => {
      const member = await startRawMember((socket) => socket.end(`HTTP/1.1 103 Early Hints\r\nLink: not a link\r\n\r\n${FINAL}`));
      cleanups.push(() => member.close());
      const { url } = await frontOver([member.url]);
      const reply = await request(`${url}/`);
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('ok');
    });
  });

  describe('a member response Node cannot parse', () => {
    it.each([
      ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi'],
      ['a header with a bare CR', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nhi'],
      ['no status line at all', 'hello\r\n\r\n'],
    ])('%s gets 502, and the balancer serves on', async (_name, response) => {
      const bad = await startRawMember((socket) => socket.end(response));
      const good = await startEchoMember();
      cleanups.push(
        () => bad.close(),
        () => good.close(),
      );
      const { balancer, url } = await frontOver([bad.url, good.url]);
      const first = await request(`${url}/x`, { method: 'POST', body: 'b' }); // not retried: it may have reached the member
      expect(first.status).toBe(502);
      expect(balancer.snapshot().members[0]!.failures).toBe(1);
      expect((await request(`${url}/x`)).status).toBe(200);
    });
  });
});
