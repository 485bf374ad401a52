/**
 * Attack: path rewriting that bypasses the routing of the app in front. The member receives the
 * request target exactly as the app saw it, behind the member's base path: no decoding, no
 * dot-segment, slash or backslash rewriting; a target that would climb above the root is refused
 * with 400. HTTP requests and Upgrade handshakes go through the same builder and give the same
 * answers. Absolute-form targets and Host never choose the member.
 */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/index.js';
import { firstStatus, rawExchange, startEchoMember, type EchoMember } from '../helpers/raw.js';
import { startFront } from '../helpers/servers.js';
import { currentEngine, forEachEngine } from '../helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** [method, target as sent, what a member at the root receives, what a member at /base/ receives]; 400: refused. */
const TARGETS: [string, string, string | 400, string | 400][] = [
  ['GET', '/plain?q=1&r=/../x', '/plain?q=1&r=/../x', '/base/plain?q=1&r=/../x'],
  ['GET', '//evil/x', '//evil/x', '/base//evil/x'],
  ['GET', '/a//b///c', '/a//b///c', '/base/a//b///c'],
  ['GET', '/a/./b', '/a/./b', '/base/a/./b'],
  ['GET', '/a/b/../c', '/a/b/../c', '/base/a/b/../c'],
  ['GET', '/x/%2e%2e/admin/users', '/x/%2e%2e/admin/users', '/base/x/%2e%2e/admin/users'],
  ['GET', '/\\x/admin/users', '/\\x/admin/users', '/base/\\x/admin/users'],
  ['GET', '/%zz/%2F', '/%zz/%2F', '/base/%zz/%2F'],
  ['GET', '/..../x', '/..../x', '/base/..../x'],
  ['GET', '/../x', 400, 400],
  ['GET', '/..', 400, 400],
  ['GET', '/%2e%2e/x', 400, 400],
  ['GET', '/.%2E/x', 400, 400],
  ['GET', '/a/%2e%2e/%2e%2e/x', 400, 400],
  ['GET', '/a/../../x', 400, 400],
  ['GET', '/a\\..\\..\\x', 400, 400],
  ['GET', '/a%2f..%2f..%2fx', 400, 400],
  ['GET', '//../x', 400, 400],
  ['GET', 'http://other.example:9999/abs?q=1', '/abs?q=1', '/base/abs?q=1'],
  ['GET', 'http://other.example', '/', '/base/'],
  ['GET', 'HTTP://other.example?q', '/?q', '/base/?q'],
  ['GET', 'http://other.example/../x', 400, 400],
  ['GET', '*', 400, 400],
];

async function setup(basePath: string): Promise<{ member: EchoMember; port: number }> {
  const member = await startEchoMember(basePath);
  const balancer = createBalancer({ engine: currentEngine(), members: [{ url: member.url }] });
  const front = await startFront(balancer);
  front.server.on('upgrade', balancer.upgrade);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
    await member.close();
  });
  return { member, port: Number(new URL(front.url).port) };
}

const AS_HTTP = (method: string, target: string): string => `${method} ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`;
const AS_UPGRADE = (method: string, target: string): string =>
  `${method} ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n`;

forEachEngine(() => {
  describe.each([
    ['an HTTP request', AS_HTTP],
    ['an Upgrade handshake', AS_UPGRADE],
  ])('the request target of %s', (_kind, spell) => {
    it.each(TARGETS)('%s %s', async (method, target, atRoot, atBase) => {
      for (const [basePath, expected] of [
        ['', atRoot],
        ['/base/', atBase],
      ] as const) {
        const { member, port } = await setup(basePath);
        const answer = await rawExchange(port, spell(method, target));
        if (expected === 400) {
          expect(firstStatus(answer)).toBe(400);
          expect(member.seen).toEqual([]);
        } else {
          expect(firstStatus(answer)).toBe(200);
          expect(member.seen.map((s) => s.url)).toEqual([expected]);
          // The member's own host, whatever the request named.
          expect(member.seen[0]!.headers.host).toBe(`127.0.0.1:${member.port}`);
          expect(member.seen[0]!.headers['x-forwarded-host']).toBe('evil.example');
        }
      }
    });
  });

  describe('the asterisk-form target', () => {
    it('OPTIONS * is answered by the balancer itself; as an Upgrade it is refused', async () => {
      const { member, port } = await setup('/base/');
      expect(firstStatus(await rawExchange(port, AS_HTTP('OPTIONS', '*')))).toBe(200);
      expect(firstStatus(await rawExchange(port, AS_UPGRADE('OPTIONS', '*')))).toBe(400);
      expect(member.seen).toEqual([]);
    });
  });

  describe('an app that denies /admin in front of the balancer', () => {
    it('cannot be bypassed with encoded dots or a backslash', async () => {
      const member = await startEchoMember();
      const balancer = createBalancer({ engine: currentEngine(), members: [{ url: member.url }] });
      const app = express();
      app.use((req, res, next) => (req.path.startsWith('/admin') ? res.status(403).end('denied') : next()));
      app.use(balancer);
      const front = await startFront(app);
      cleanups.push(async () => {
        await front.close();
        await balancer.close();
        await member.close();
      });
      const port = Number(new URL(front.url).port);
      expect(firstStatus(await rawExchange(port, AS_HTTP('GET', '/admin/users')))).toBe(403);
      for (const target of ['/x/%2e%2e/admin/users', '/\\x/admin/users']) {
        expect(firstStatus(await rawExchange(port, AS_HTTP('GET', target)))).toBe(200);
      }
      // The member saw the bytes the app routed on, never /admin/users.
      expect(member.seen.map((s) => s.url)).toEqual(['/x/%2e%2e/admin/users', '/\\x/admin/users']);
    });
  });
});
