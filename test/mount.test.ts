/**
 * upgradeUnder: WebSockets under a mount path go to the balancer with the path stripped, as
 * Express strips it for mounted middleware; every other upgrade is left to the app's own listener.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { BalancerConfigError, createBalancer, upgradeUnder } from '../src/index.js';
import { stripMountPath } from '../src/mount.js';
import { request } from './helpers/servers.js';
import { closeWs, echo, openWs, wsBackend } from './helpers/ws.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('stripMountPath', () => {
  it('strips at a segment boundary, as Express strips a mount path', () => {
    expect(stripMountPath('/app/ws?x=1', '/app')).toBe('/ws?x=1');
    expect(stripMountPath('/app', '/app')).toBe('/');
    expect(stripMountPath('/app/', '/app')).toBe('/');
    expect(stripMountPath('/app?x', '/app')).toBe('/?x');
    expect(stripMountPath('/a/b/c', '/a/b')).toBe('/c');
    expect(stripMountPath('/x', '/')).toBe('/x');
    expect(stripMountPath('/apple', '/app')).toBeUndefined();
    expect(stripMountPath('/ap', '/app')).toBeUndefined();
    expect(stripMountPath('/other/app', '/app')).toBeUndefined();
    expect(stripMountPath('/APP/x', '/app')).toBeUndefined(); // case-sensitive, on the bytes as sent
  });
});

describe('upgradeUnder', () => {
  it('refuses a mount path that is not a path, naming the option', () => {
    const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:1' }] });
    cleanups.push(() => balancer.close());
    expect(() => upgradeUnder('app', balancer)).toThrow(BalancerConfigError);
    expect(() => upgradeUnder('app', balancer)).toThrow('mountPath must be a path starting with / (no query, fragment or spaces), got "app"');
    expect(() => upgradeUnder('/app?x', balancer)).toThrow(/mountPath must be a path/);
    expect(() => upgradeUnder('/app', {} as never)).toThrow(/balancer must be a balancer/);
  });

  it("proxies upgrades under the prefix with the prefix stripped and leaves the others to the app's own WebSocket server", async () => {
    const member = await wsBackend('m');
    cleanups.push(member.close);
    const balancer = createBalancer({ members: [{ url: member.url, route: 'm' }] });

    // An Express app with the balancer under /app and its own `ws` server for /chat and /apple.
    const app = express();
    app.use('/app', balancer);
    app.get('/', (_req, res) => void res.send('app home'));
    const server = http.createServer(app);
    const sockets = new Set<Socket>();
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('upgrade', upgradeUnder('/app', balancer));
    const own = new WebSocketServer({ noServer: true });
    own.on('connection', (ws, req) => ws.on('message', (data) => ws.send(`app${req.url}:${data.toString()}`)));
    const seenByApp: string[] = [];
    server.on('upgrade', (req, socket, head) => {
      seenByApp.push(req.url ?? '');
      if (req.url === '/chat' || req.url === '/apple') own.handleUpgrade(req, socket, head, (ws) => own.emit('connection', ws, req));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(async () => {
      await balancer.close();
      for (const client of own.clients) client.terminate();
      own.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;

    const tunnelled = await openWs(`ws://${base}/app/ws?room=1`);
    expect(await echo(tunnelled, 'hi')).toBe('m:hi');
    const atMount = await openWs(`ws://${base}/app`);
    expect(await echo(atMount, 'root')).toBe('m:root');
    expect(member.paths).toEqual(['/ws?room=1', '/']);

    const chat = await openWs(`ws://${base}/chat`);
    expect(await echo(chat, 'hello')).toBe('app/chat:hello');
    const apple = await openWs(`ws://${base}/apple`); // not under /app: a segment boundary
    expect(await echo(apple, 'x')).toBe('app/apple:x');
    expect(member.paths).toEqual(['/ws?room=1', '/']); // the member saw none of the app's own

    // A listener after upgradeUnder sees every handshake as the client sent it, the mounted ones included.
    expect(seenByApp).toEqual(['/app/ws?room=1', '/app', '/chat', '/apple']);
    // Plain requests still go through Express.
    expect((await request(`http://${base}/`)).body).toBe('app home');
    await Promise.all([tunnelled, atMount, chat, apple].map(closeWs));
  });

  it("says whether it took a handshake, so it can be a branch of the app's own upgrade router", async () => {
    const member = await wsBackend('m');
    cleanups.push(member.close);
    const balancer = createBalancer({ members: [{ url: member.url, route: 'm' }] });
    const server = http.createServer((_req, res) => res.end('app'));
    const toBalancer = upgradeUnder('/app', balancer);
    const taken: boolean[] = [];
    server.on('upgrade', (req, socket, head) => {
      const took = toBalancer(req, socket, head);
      taken.push(took);
      if (!took) socket.destroy(); // the router's last branch: nothing else is routed here
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(async () => {
      await balancer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ws = await openWs(`${base}/app/live`);
    expect(await echo(ws, 'x')).toBe('m:x');
    await expect(openWs(`${base}/elsewhere`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(taken).toEqual([true, false]);
    expect(member.paths).toEqual(['/live']);
    await closeWs(ws);
  });
});
