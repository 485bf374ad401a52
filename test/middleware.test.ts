import http from 'node:http';
import type { AddressInfo } from 'node:net';
import connect from 'connect';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createBalancer, type Balancer } from '../src/index.js';
import { request, startBackend } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(listener: http.RequestListener, balancer: Balancer): Promise<string> {
  const server = http.createServer(listener);
  server.on('upgrade', balancer.upgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    await balancer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function echoBackend(): Promise<string> {
  const b = await startBackend('member', (req, res) => res.end(`member saw ${req.url}`));
  const wss = new WebSocketServer({ server: b.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`ws:${m.toString()}`)));
  cleanups.push(async () => {
    wss.close();
    await b.close();
  });
  return b.url;
}

const frameworks: [string, () => http.RequestListener & { use: (...args: unknown[]) => unknown }][] = [
  ['Express 5', () => express5() as never],
  ['Express 4', () => express4() as never],
  ['Connect', () => connect() as never],
];

describe.each(frameworks)('mounted in %s', (_name, makeApp) => {
  it('serves its own routes, proxies the mounted path (stripped) and WebSockets', async () => {
    const member = await echoBackend();
    const balancer = createBalancer({ members: [{ url: member }] });
    const app = makeApp();
    app.use('/local', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('local route'));
    app.use('/app', balancer);
    const host = await serve(app, balancer);
    expect((await request(`http://${host}/local`)).body).toBe('local route');
    const proxied = await request(`http://${host}/app/page?x=1`);
    expect(proxied).toMatchObject({ status: 200, body: 'member saw /page?x=1' });

    const ws = new WebSocket(`ws://${host}/app/socket`);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send('hello');
    const reply = await new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    expect(reply).toBe('ws:hello');
    ws.close();
  });

  it('answers failures itself instead of calling next(err)', async () => {
    const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:9', status: 'disabled' }] });
    const app = makeApp();
    app.use('/app', balancer);
    app.use((_err: unknown, _req: unknown, res: http.ServerResponse, _next: unknown) => res.end('error handler ran'));
    const host = await serve(app, balancer);
    const reply = await request(`http://${host}/app/`);
    expect(reply.status).toBe(503);
    expect(reply.body).toMatch(/no member is available/);
  });
});
