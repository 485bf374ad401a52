/**
 * The Fastify plugin (`proxy-balancer/fastify`) on Fastify 5, real sockets on loopback: every
 * method under the prefix reaches a member with the prefix stripped, bodies stream through
 * unparsed, WebSockets under the prefix are tunnelled, and the app's own routes stay its own.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { proxyBalancer } from '../src/fastify.js';
import { BalancerConfigError, createBalancer, type Balancer } from '../src/index.js';
import { request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { closeWs, echo, openWs, wsBackend } from './helpers/ws.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A member that answers with what it got: method, target, content type and body. */
async function echoMember(): Promise<Backend> {
  const member = await startBackend('m', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() }));
    });
  });
  cleanups.push(member.close);
  return member;
}

/** A Fastify 5 app with routes of its own and the plugin under /app, listening on loopback. */
async function fastifyApp(balancer: Balancer | Parameters<typeof createBalancer>[0]): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ bodyLimit: 1024 });
  app.get('/hello', async () => 'hello from fastify');
  app.post('/json', async (req) => ({ parsed: req.body }));
  await app.register(proxyBalancer, { prefix: '/app', balancer });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  return { app, url };
}

describe('proxy-balancer/fastify', () => {
  it('serves every method under the prefix with the prefix stripped, and bodies unparsed', async () => {
    const member = await echoMember();
    const { url } = await fastifyApp({ members: [{ url: member.url }] });

    const get = await request(`${url}/app/items/7?full=1`);
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toMatchObject({ method: 'GET', url: '/items/7?full=1' });
    expect(JSON.parse((await request(`${url}/app`)).body)).toMatchObject({ url: '/' });
    expect(JSON.parse((await request(`${url}/app?x=1`)).body)).toMatchObject({ url: '/?x=1' });
    // Fastify's router matches a percent-encoded prefix too; the prefix goes, the rest stays as sent.
    expect(JSON.parse((await request(`${url}/%61pp/a%2Fb`)).body)).toMatchObject({ url: '/a%2Fb' });

    // Bigger than Fastify's bodyLimit (1024) and in a type it has no parser for: Fastify leaves it alone.
    const big = 'x'.repeat(4096);
    const post = await request(`${url}/app/upload`, { method: 'POST', headers: { 'content-type': 'application/x-custom' }, body: big });
    expect(post.status).toBe(200);
    expect(JSON.parse(post.body)).toEqual({ method: 'POST', url: '/upload', type: 'application/x-custom', body: big });
    const json = '{"a": 1,  "b": [2]}'; // sent byte for byte, not re-serialized
    const put = await request(`${url}/app/doc`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: json });
    expect(JSON.parse(put.body)).toEqual({ method: 'PUT', url: '/doc', type: 'application/json', body: json });
    expect(JSON.parse((await request(`${url}/app/doc`, { method: 'DELETE' })).body)).toMatchObject({ method: 'DELETE', url: '/doc' });
    expect(member.received.map((r) => r.url)).toEqual(['/items/7?full=1', '/', '/?x=1', '/a%2Fb', '/upload', '/doc', '/doc']);
  });

  it("rewrites a member's redirect to its own address under the prefix (ProxyPassReverse)", async () => {
    const member = await startBackend('m', (req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${member.port}/login?next=${req.url ?? ''}` }).end();
    });
    cleanups.push(member.close);
    const { url } = await fastifyApp({ members: [{ url: member.url }] });
    const reply = await request(`${url}/app/account`);
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/app/login?next=/account');
  });

  it("leaves the app's other routes and their body parsing to Fastify", async () => {
    const member = await echoMember();
    const { url } = await fastifyApp({ members: [{ url: member.url }] });
    expect(await request(`${url}/hello`)).toMatchObject({ status: 200, body: 'hello from fastify' });
    const parsed = await request(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(JSON.parse(parsed.body)).toEqual({ parsed: { a: 1 } });
    expect((await request(`${url}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2048) })).status).toBe(413);
    expect((await request(`${url}/apple`)).status).toBe(404); // not under /app
    expect(member.received).toHaveLength(0);
  });

  it('tunnels WebSockets under the prefix with the prefix stripped, and Fastify closes with a tunnel open', async () => {
    const member = await wsBackend('m');
    cleanups.push(member.close);
    const { app, url } = await fastifyApp({ members: [{ url: member.url }] });
    const ws = await openWs(`${url.replace('http', 'ws')}/app/ws?room=2`);
    expect(await echo(ws, 'hi')).toBe('m:hi');
    expect(member.paths).toEqual(['/ws?room=2']);
    const ended = once(ws, 'close');
    await app.close(); // ends the tunnel, then closes the balancer the plugin made
    await ended;
    await closeWs(ws);
  });

  it("closes only a balancer it created: one passed in is the caller's", async () => {
    const member = await echoMember();
    const balancer = createBalancer({ members: [{ url: member.url }] });
    cleanups.push(() => balancer.close());
    const { app, url } = await fastifyApp(balancer);
    expect(JSON.parse((await request(`${url}/app/a`)).body)).toMatchObject({ url: '/a' });
    await app.close();
    const front = await startFront(balancer); // still open: it serves elsewhere
    cleanups.push(front.close);
    expect(JSON.parse((await request(`${front.url}/b`)).body)).toMatchObject({ url: '/b' });
  });

  it('refuses a missing balancer or an unknown option with a BalancerConfigError', async () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    await expect(app.register(proxyBalancer, { balancer: 42 as never })).rejects.toThrow(BalancerConfigError);
    const other = Fastify();
    cleanups.push(() => other.close());
    await expect(other.register(proxyBalancer, { balancer: { members: [] }, memebers: [] } as never)).rejects.toThrow(
      'memebers is not a known option (known: balancer, prefix, logLevel, logSerializers)',
    );
  });
});
