/**
 * ProxyPassReverse: a member's redirect to its own address reaches the browser as the front end's
 * (path-absolute under the mount path, or under `reverse.origin`), never as the member's; cookie
 * domains and paths are mapped when asked. On real sockets under an Express mount, and as a table.
 */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { BalancerConfigError, createBalancer, type BalancerOptions } from '../src/index.js';
import { normalizeOptions } from '../src/config.js';
import { Member } from '../src/pool/member.js';
import { reverseCookie, reverseUrl } from '../src/proxy/reverse.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { request, startBackend, startFront } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function memberAt(url: string): Member {
  return new Member(normalizeOptions({ members: [{ url }] }).members[0]!, Date.now);
}

describe('reverseUrl', () => {
  const base = memberAt('http://10.0.0.2:8080/base/');
  const root = memberAt('http://10.0.0.2');
  it.each([
    ['http://10.0.0.2:8080/base/login?next=/x', '/app', '/app/login?next=/x', base],
    ['HTTP://10.0.0.2:8080/base', '/app', '/app/', base],
    ['http://10.0.0.2:8080/base?x', '', '/?x', base],
    ['/base/login', '/app', '/app/login', base],
    ['/base2/login', '/app', '/base2/login', base],
    ['http://10.0.0.2:8080/other', '/app', 'http://10.0.0.2:8080/other', base],
    ['http://10.0.0.3:8080/base/x', '/app', 'http://10.0.0.3:8080/base/x', base],
    ['https://10.0.0.2:8080/base/x', '/app', 'https://10.0.0.2:8080/base/x', base],
    ['http://10.0.0.2/login', '', '/login', root],
    ['http://10.0.0.2:80/login', 'https://www.example.com/app', 'https://www.example.com/app/login', root],
    ['/login', '/app', '/login', root],
    ['//10.0.0.2/x', '/app', '//10.0.0.2/x', root],
    ['login', '/app', 'login', root],
  ])('%s under %s -> %s', (value, prefix, expected, member) => {
    expect(reverseUrl(value, member, prefix)).toBe(expected);
  });
});

describe('reverseCookie', () => {
  const config = normalizeOptions({
    members: [],
    reverse: { cookieDomain: { 'backend.internal': 'www.example.com', 'old.internal': '' }, cookiePath: { '/base/': '/app/', '/base': '/app' } },
  }).reverse!;
  it.each([
    ['sid=1; Domain=backend.internal; Path=/base/x; HttpOnly', 'sid=1; Domain=www.example.com; Path=/app/x; HttpOnly'],
    ['sid=1; domain=.BACKEND.internal', 'sid=1; Domain=www.example.com'],
    ['sid=1; Domain=old.internal; Secure', 'sid=1; Secure'],
    ['sid=1; Path=/basement', 'sid=1; Path=/appment'],
    ['sid=1; Domain=elsewhere; Path=/other', 'sid=1; Domain=elsewhere; Path=/other'],
  ])('%s', (value, expected) => {
    expect(reverseCookie(value, config)).toBe(expected);
  });
});

forEachEngine(() => {
  describe('member redirects under an Express mount', () => {
    async function setup(extra: Partial<BalancerOptions> = {}): Promise<string> {
      const member = await startBackend('m', (req, res) => {
        const self = `http://127.0.0.1:${(req.socket.address() as { port: number }).port}`;
        res.writeHead(302, {
          location: `${self}/base/login?next=${encodeURIComponent(req.url ?? '')}`,
          'content-location': `${self}/base/here`,
          'set-cookie': 'sid=1; Domain=127.0.0.1; Path=/base/',
        });
        res.end();
      });
      cleanups.push(() => member.close());
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: `${member.url}/base/` }], ...extra });
      const app = express();
      app.use('/app', balancer);
      const front = await startFront(app);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
      });
      return front.url;
    }

    it('are rewritten to the mount path: the member address never reaches the client', async () => {
      const url = await setup();
      const reply = await request(`${url}/app/account`);
      expect(reply.status).toBe(302);
      expect(reply.headers.location).toBe('/app/login?next=%2Fbase%2Faccount');
      expect(reply.headers['content-location']).toBe('/app/here');
      expect(reply.headers['set-cookie']).toEqual(['sid=1; Domain=127.0.0.1; Path=/base/']); // cookies only when asked
    });

    it('use reverse.origin for absolute URLs, and map cookie domain and path when asked', async () => {
      const url = await setup({
        reverse: { origin: 'https://www.example.com', cookieDomain: { '127.0.0.1': 'www.example.com' }, cookiePath: { '/base/': '/app/' } },
      });
      const reply = await request(`${url}/app/account`);
      expect(reply.headers.location).toBe('https://www.example.com/app/login?next=%2Fbase%2Faccount');
      expect(reply.headers['set-cookie']).toEqual(['sid=1; Domain=www.example.com; Path=/app/']);
    });

    it('are left alone with reverse: false', async () => {
      const url = await setup({ reverse: false });
      const reply = await request(`${url}/app/account`);
      expect(reply.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/base\/login/);
    });
  });
});

describe('reverse options', () => {
  it.each([
    [{ reverse: { origin: 'https://www.example.com/path' } }, 'reverse.origin'],
    [{ reverse: { origin: 'ftp://x' } }, 'reverse.origin'],
    [{ reverse: { cookiePath: { base: '/app' } } }, 'reverse.cookiePath.base'],
    [{ reverse: { cookieDomain: { a: 'b;c' } } }, 'reverse.cookieDomain.a'],
    [{ reverse: { rewrite: true } }, 'reverse.rewrite'],
  ])('%j is refused at %s', (options, path) => {
    try {
      createBalancer({ members: [], ...options } as BalancerOptions);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BalancerConfigError);
      expect((err as BalancerConfigError).path).toBe(path);
    }
  });
});
