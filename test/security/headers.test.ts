/**
 * Attacks on the header rules: a second Host (RFC 9112 3.2: 400), a flood of client headers that
 * would push the forwarding fields out of what a member keeps, hop-by-hop fields smuggled through
 * a 101, and spoofed forwarding fields (X-Forwarded-For is appended to, the others replaced).
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/index.js';
import { firstStatus, rawExchange, startEchoMember, startRawMember } from '../helpers/raw.js';
import { startFront } from '../helpers/servers.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function frontOver(url: string): Promise<number> {
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url }] });
  const front = await startFront(balancer);
  front.server.on('upgrade', balancer.upgrade);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return Number(new URL(front.url).port);
}

forEachEngine(() => {
  describe('Host', () => {
    it.each([
      ['an HTTP request', ''],
      ['an Upgrade handshake', 'Connection: upgrade\r\nUpgrade: websocket\r\n'],
    ])('a second Host header on %s is refused with 400 and reaches no member', async (_kind, extra) => {
      const member = await startEchoMember();
      cleanups.push(() => member.close());
      const port = await frontOver(member.url);
      const answer = await rawExchange(port, `GET /x HTTP/1.1\r\nHost: site.example\r\nHost: evil.example\r\n${extra}Connection: close\r\n\r\n`);
      expect(firstStatus(answer)).toBe(400);
      expect(member.seen).toEqual([]);
    });
  });

  describe('forwarding fields', () => {
    it('come first, so a client sending more headers than a member keeps cannot push them out', async () => {
      const member = await startEchoMember('', { maxHeadersCount: 100 });
      cleanups.push(() => member.close());
      const port = await frontOver(member.url);
      const filler = Array.from({ length: 150 }, (_, i) => `x-f${i}: ${i}\r\n`).join('');
      const answer = await rawExchange(port, `GET /x HTTP/1.1\r\nHost: site.example\r\n${filler}Connection: close\r\n\r\n`);
      expect(firstStatus(answer)).toBe(200);
      const seen = member.seen[0]!;
      expect(seen.headers['x-f149']).toBeUndefined(); // the member cut the flood short ...
      expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1'); // ... but not the forwarding fields
      expect(seen.headers['x-forwarded-proto']).toBe('http');
      expect(seen.headers['x-forwarded-host']).toBe('site.example');
      expect(seen.headers.host).toBe(`127.0.0.1:${member.port}`);
    });

    it('X-Forwarded-For is appended to; spoofed X-Forwarded-Proto and -Host are replaced', async () => {
      const member = await startEchoMember();
      cleanups.push(() => member.close());
      const port = await frontOver(member.url);
      await rawExchange(
        port,
        'GET /x HTTP/1.1\r\nHost: site.example\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: bank.example\r\nConnection: close\r\n\r\n',
      );
      const headers = member.seen[0]!.headers;
      expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers['x-forwarded-host']).toBe('site.example');
    });

    it('hop-by-hop request fields, and those the client names in Connection, do not reach the member', async () => {
      const member = await startEchoMember();
      cleanups.push(() => member.close());
      const port = await frontOver(member.url);
      await rawExchange(
        port,
        'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Public: p\r\n\r\n',
      );
      const headers = member.seen[0]!.headers;
      expect(headers['x-private']).toBeUndefined();
      expect(headers['keep-alive']).toBeUndefined();
      expect(headers['proxy-connection']).toBeUndefined();
      expect(headers.te).toBeUndefined();
      expect(headers['x-public']).toBe('p');
    });
  });

  describe('a 101 from a member', () => {
    it('keeps Upgrade and a bare Connection: upgrade, and drops the other hop-by-hop fields', async () => {
      const member = await startRawMember((socket) =>
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Secret: s\r\nX-Public: p\r\n\r\n',
        ),
      );
      cleanups.push(() => member.close());
      const port = await frontOver(member.url);
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      client.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
      let head = '';
      while (!head.includes('\r\n\r\n')) head += ((await once(client, 'data')) as [Buffer])[0].toString('latin1');
      client.destroy();
      const lines = head.split('\r\n').map((l) => l.toLowerCase());
      expect(lines[0]).toBe('http/1.1 101 switching protocols');
      expect(lines).toContain('upgrade: websocket');
      expect(lines).toContain('connection: upgrade');
      expect(lines).toContain('x-public: p');
      expect(head.toLowerCase()).not.toMatch(/keep-alive|proxy-connection|x-secret/);
    });
  });
});
