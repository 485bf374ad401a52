/**
 * createManager: every endpoint and every refusal, against real servers on loopback: the manager
 * served by plain node:http (at the server root) and mounted under Express 4 and 5, in front of a
 * balancer over two real back ends.
 */
import http from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { BalancerConfigError, createBalancer, createManager, type Balancer, type ManagerOptions } from '../src/index.js';
import { MAX_BODY_BYTES } from '../src/manage/manager.js';
import { constantTimeEqual } from '../src/manage/secrets.js';
import { parseExposition, valueOf } from './helpers/exposition.js';
import { closedPort, request, startBackend, startFront, type Reply } from './helpers/servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Setup {
  balancer: Balancer;
  /** The balancer's own front end. */
  app: string;
  /** The manager's base URL, without a trailing slash. */
  manager: string;
  token: string;
}

/** Two back ends `a` and `b`, a balancer over them, and the manager on its own loopback server. */
async function setup(
  options: Partial<ManagerOptions> = {},
  serveManager?: (manager: ReturnType<typeof createManager>) => http.RequestListener,
): Promise<Setup> {
  const a = await startBackend('a');
  const b = await startBackend('b');
  const balancer = createBalancer({
    members: [
      { url: a.url, route: 'a' },
      { url: b.url, route: 'b' },
    ],
    strategy: 'roundrobin',
  });
  const app = await startFront(balancer);
  const manager = createManager(balancer, { authorize: () => true, ...options });
  const front = await startFront(serveManager === undefined ? manager : serveManager(manager));
  cleanups.push(async () => {
    await front.close();
    await app.close();
    await balancer.close();
    await a.close();
    await b.close();
  });
  return { balancer, app: app.url, manager: front.url, token: await tokenOf(`${front.url}/`) };
}

/** The CSRF token on the page at `url`, or '' when there is no page there. */
async function tokenOf(url: string): Promise<string> {
  const page = await request(url);
  return /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)?.[1] ?? '';
}

/** A change as the page sends it: POST, JSON, the token, and the browser's same-origin headers. */
function post(s: Setup, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${s.manager}/api/members/${encodeURIComponent(route)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': s.token, origin: s.manager, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** What a change could alter, for "nothing changed" checks. */
function poolState(balancer: Balancer): { route: string; admin: string; weight: number }[] {
  return balancer.pool.members.map((m) => ({ route: m.route, admin: m.admin, weight: m.weight }));
}

/** The headers every answer of the manager carries. */
function expectSafeHeaders(reply: Reply): void {
  expect(reply.headers['x-content-type-options']).toBe('nosniff');
  expect(reply.headers['cache-control']).toBe('no-store');
  const csp = reply.headers['content-security-policy'] ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).not.toContain('unsafe-inline');
}

/** A JSON error answer with this status. */
function expectJsonError(reply: Reply, status: number, message?: RegExp): void {
  expect(reply.status, reply.body).toBe(status);
  expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
  const body = JSON.parse(reply.body) as { error: unknown };
  expect(typeof body.error).toBe('string');
  if (message !== undefined) expect(body.error).toMatch(message);
  expectSafeHeaders(reply);
}

/** Which member served each of `n` requests through the balancer. */
async function servedBy(s: Setup, n: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) bodies.push((await request(s.app)).body);
  return bodies;
}

describe('createManager options', () => {
  it('requires authorize and refuses bad options with BalancerConfigError', () => {
    const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:9', route: 'a' }] });
    cleanups.push(() => balancer.close());
    const create = (options: unknown) => () => createManager(balancer, options as ManagerOptions);
    expect(create(undefined)).toThrow(BalancerConfigError);
    expect(create(undefined)).toThrow(/authorize is required/);
    expect(create({})).toThrow(/authorize is required: a function \(req\) => boolean \| Promise<boolean>.*, got undefined/);
    expect(create({ authorize: true })).toThrow(/authorize is required.*got true/);
    expect(create({ authorize: () => true, title: '' })).toThrow(/title must be a string of 1 to 200 characters, got ""/);
    expect(create({ authorize: () => true, nonce: 'x' })).toThrow(/nonce is not a known option \(known: authorize, title\)/);
    expect(() => createManager({} as Balancer, { authorize: () => true })).toThrow(/balancer must be a balancer made by createBalancer\(\)/);
  });

  it('gives each manager its own random token, compared in constant time', async () => {
    const one = await setup();
    const other = await setup();
    expect(one.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(other.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(one.token).not.toBe(other.token);
    // The comparison hashes first, so unequal lengths are compared (and refused) like any mismatch.
    expect(constantTimeEqual(one.token, one.token)).toBe(true);
    expect(constantTimeEqual(one.token.slice(0, 10), one.token)).toBe(false);
    expect(constantTimeEqual(`${one.token}x`, one.token)).toBe(false);
    expect(constantTimeEqual('', one.token)).toBe(false);
  });
});

describe('the manager endpoints (plain node:http, served at the root)', () => {
  it('GET / serves the page: the token in a meta tag, no inline script or style, the title escaped', async () => {
    const s = await setup({ title: 'Pi <cluster> & "friends"' });
    const page = await request(`${s.manager}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expectSafeHeaders(page);
    expect(page.body).toContain(`<meta name="csrf-token" content="${s.token}">`);
    expect(page.body).toContain('<title>Pi &#60;cluster&#62; &#38; &#34;friends&#34;</title>');
    expect(page.body).not.toContain('<cluster>');
    // Every script is external (the policy forbids inline ones), and there is no inline style.
    const scripts = page.body.match(/<script[^>]*>/g) ?? [];
    expect(scripts).toEqual(['<script src="?asset=manager.js" defer>']);
    expect(page.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("serves the page's script and style with their content types, and 404 for another asset", async () => {
    const s = await setup();
    const js = await request(`${s.manager}/?asset=manager.js`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expectSafeHeaders(js);
    expect(() => new Function(js.body)).not.toThrow(); // it parses
    expect(js.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    const css = await request(`${s.manager}/?asset=manager.css`);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expectJsonError(await request(`${s.manager}/?asset=../package.json`), 404);
  });

  it('GET /api/state answers balancer.snapshot() as JSON', async () => {
    const s = await setup();
    await servedBy(s, 2);
    const reply = await request(`${s.manager}/api/state`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expectSafeHeaders(reply);
    const state = JSON.parse(reply.body) as ReturnType<Balancer['snapshot']>;
    expect(state).toEqual(JSON.parse(JSON.stringify(s.balancer.snapshot())));
    expect(state.members.map((m) => [m.route, m.requests])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
  });

  it('the state tells why a member last went into error or out on health checks, and when', async () => {
    const dead = await closedPort();
    const live = await startBackend('live', (req, res) => {
      res.statusCode = req.url === '/health' ? 503 : 200;
      res.end();
    });
    cleanups.push(() => live.close());
    const balancer = createBalancer({
      members: [
        { url: `http://127.0.0.1:${dead}`, route: 'dead', healthCheck: false },
        { url: live.url, route: 'live' },
      ],
      healthCheck: { path: '/health', intervalMs: 100, fails: 1, jitterPercent: 0 },
    });
    const unhealthy = new Promise((resolve) => balancer.once('memberUnhealthy', resolve));
    const front = await startFront(createManager(balancer, { authorize: () => true }));
    const app = await startFront(balancer);
    cleanups.push(async () => {
      await front.close();
      await app.close();
      await balancer.close();
    });
    expect(balancer.snapshot().members.map((m) => m.lastError)).toEqual([null, null]);
    const before = Date.now();
    await request(app.url); // byrequests tries 'dead' first: refused, retried on 'live'
    await unhealthy;
    const state = JSON.parse((await request(`${front.url}/api/state`)).body) as ReturnType<Balancer['snapshot']>;
    const [deadError, liveError] = state.members.map((m) => m.lastError);
    expect(deadError?.reason).toMatch(/^connect failed: ECONNREFUSED/);
    expect(liveError?.reason).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/health: 1 failed probe in a row, last UNEXPECTED_STATUS \(status 503\)$/);
    expect(deadError!.at).toBeGreaterThanOrEqual(before);
  });

  it('GET /metrics answers balancer.metrics() in the exposition format', async () => {
    const s = await setup();
    await servedBy(s, 4);
    const reply = await request(`${s.manager}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expectSafeHeaders(reply);
    const families = parseExposition(reply.body);
    expect(valueOf(families, 'proxy_balancer_requests_total', { member: 'a', code: '2xx' })).toBe(2);
    expect(valueOf(families, 'proxy_balancer_requests_total', { member: 'b', code: '2xx' })).toBe(2);
  });

  it("POST drain answers the member's new state, and new requests stop going to it", async () => {
    const s = await setup();
    expect(new Set(await servedBy(s, 4))).toEqual(new Set(['a', 'b']));
    const reply = await post(s, 'b', { action: 'drain' });
    expect(reply.status, reply.body).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expectSafeHeaders(reply);
    expect(JSON.parse(reply.body)).toMatchObject({ route: 'b', admin: 'drain', state: 'drain' });
    expect(await servedBy(s, 4)).toEqual(['a', 'a', 'a', 'a']);
  });

  it('POST disable, enable and weight change the member and answer its state', async () => {
    const s = await setup();
    expect(JSON.parse((await post(s, 'a', { action: 'disable' })).body)).toMatchObject({ route: 'a', admin: 'disabled', state: 'disabled' });
    expect(s.balancer.pool.get('a')!.admin).toBe('disabled');
    expect(await servedBy(s, 2)).toEqual(['b', 'b']);
    expect(JSON.parse((await post(s, 'a', { action: 'enable' })).body)).toMatchObject({ route: 'a', admin: 'enabled', state: 'ok' });
    expect(JSON.parse((await post(s, 'a', { action: 'weight', weight: 7.5 })).body)).toMatchObject({ route: 'a', weight: 7.5 });
    expect(s.balancer.pool.get('a')!.weight).toBe(7.5);
  });

  it('a POST without an Origin header (a script, not a browser) is accepted with the token', async () => {
    const s = await setup();
    const reply = await request(`${s.manager}/api/members/a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': s.token },
      body: '{"action":"drain"}',
    });
    expect(reply.status).toBe(200);
    // Scripts find the token on the state endpoint as well as on the page.
    expect((await request(`${s.manager}/api/state`)).headers['x-csrf-token']).toBe(s.token);
  });

  it('HEAD reads like GET', async () => {
    const s = await setup();
    const reply = await request(`${s.manager}/api/state`, { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
  });
});

describe('the manager refuses', () => {
  it('everything, 403 with nothing changed, when authorize says no', async () => {
    const s = await setup({ authorize: () => false });
    const before = poolState(s.balancer);
    for (const path of ['/', '/?asset=manager.js', '/api/state', '/metrics', '/nope']) expectJsonError(await request(`${s.manager}${path}`), 403, /forbidden/);
    expect(s.token).toBe(''); // the page, and its token, were not served
    const reply = await request(`${s.manager}/api/members/a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"drain"}' });
    expectJsonError(reply, 403, /forbidden/);
    expect(poolState(s.balancer)).toEqual(before);
  });

  it('with an async authorize: its answer is awaited; only true lets a request through', async () => {
    const seen: string[] = [];
    const s = await setup({
      authorize: async (req) => {
        seen.push(req.url ?? '');
        await new Promise((resolve) => setImmediate(resolve));
        return req.headers['x-user'] === 'admin';
      },
    });
    expectJsonError(await request(`${s.manager}/api/state`), 403);
    expect((await request(`${s.manager}/api/state`, { headers: { 'x-user': 'admin' } })).status).toBe(200);
    expect(seen).toContain('/api/state');
    const truthy = await setup({ authorize: (() => 'yes') as unknown as ManagerOptions['authorize'] });
    expectJsonError(await request(`${truthy.manager}/api/state`), 403);
  });

  it('500 when authorize throws or rejects, and nothing changes', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    for (const authorize of [
      () => {
        throw new Error('directory down');
      },
      () => Promise.reject(new Error('directory down')),
    ]) {
      const s = await setup({ authorize });
      await new Promise((resolve) => setImmediate(resolve));
      warnings.length = 0; // setup's own request of the page warned too
      const before = poolState(s.balancer);
      expectJsonError(
        await request(`${s.manager}/api/members/a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"drain"}' }),
        500,
        /authorization failed/,
      );
      expect(poolState(s.balancer)).toEqual(before);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).toEqual(["proxy-balancer: the manager's authorize hook threw: directory down"]);
    }
  });

  it("a POST without the token, with a wrong one, or with another manager's: 403, nothing changed", async () => {
    const s = await setup();
    const other = await setup();
    const before = poolState(s.balancer);
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'x-csrf-token': '' }), 403, /CSRF token/);
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'x-csrf-token': wrongToken(s.token) }), 403, /CSRF token/);
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'x-csrf-token': other.token }), 403, /CSRF token/);
    const noHeader = await request(`${s.manager}/api/members/a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":"drain"}',
    });
    expectJsonError(noHeader, 403, /CSRF token/);
    expect(poolState(s.balancer)).toEqual(before);
  });

  it('a POST from another origin: 403, nothing changed, even with the right token', async () => {
    const s = await setup();
    const before = poolState(s.balancer);
    const port = new URL(s.manager).port;
    for (const origin of ['http://evil.example', `http://127.0.0.2:${port}`, `http://127.0.0.1:${Number(port) + 1}`, 'null', 'file://']) {
      expectJsonError(await post(s, 'a', { action: 'drain' }, { origin }), 403, /cross-origin/);
    }
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'sec-fetch-site': 'cross-site' }), 403, /cross-origin/);
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'sec-fetch-site': 'same-site' }), 403, /cross-origin/);
    expect(poolState(s.balancer)).toEqual(before);
    // The same origin, as a browser on the page sends it, is accepted.
    expect((await post(s, 'a', { action: 'drain' }, { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('changes by GET or any method but POST: 405, nothing changed', async () => {
    const s = await setup();
    const before = poolState(s.balancer);
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH']) {
      const reply = await request(`${s.manager}/api/members/a?action=drain`, { method, headers: { 'x-csrf-token': s.token } });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe('POST');
    }
    for (const path of ['/', '/api/state', '/metrics']) {
      const reply = await request(`${s.manager}${path}`, {
        method: 'POST',
        headers: { 'x-csrf-token': s.token, 'content-type': 'application/json' },
        body: '{"action":"drain"}',
      });
      expectJsonError(reply, 405);
      expect(reply.headers.allow).toBe('GET, HEAD');
    }
    expect(poolState(s.balancer)).toEqual(before);
  });

  it('unknown paths and routes: 404 with a JSON error', async () => {
    const s = await setup();
    const before = poolState(s.balancer);
    for (const path of ['/nope', '/api', '/api/state/', '/api/members', '/metrics/x']) expectJsonError(await request(`${s.manager}${path}`), 404);
    expectJsonError(await post(s, 'nobody', { action: 'drain' }), 404, /no member has route "nobody"/);
    expectJsonError(await post(s, '', { action: 'drain' }), 404);
    expectJsonError(
      await request(`${s.manager}/api/members/a/b`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.token },
        body: '{"action":"drain"}',
      }),
      404,
    );
    expectJsonError(
      await request(`${s.manager}/api/members/%E0%A4%A`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.token },
        body: '{"action":"drain"}',
      }),
      400,
      /percent-encoding/,
    );
    expect(poolState(s.balancer)).toEqual(before);
  });

  it('bad bodies and actions: 400, 413 or 415 with a JSON error, nothing changed', async () => {
    const s = await setup();
    const before = poolState(s.balancer);
    expectJsonError(await post(s, 'a', { action: 'explode' }), 400, /action must be one of drain, enable, disable, weight/);
    expectJsonError(await post(s, 'a', {}), 400, /action must be one of/);
    expectJsonError(await post(s, 'a', { action: 'weight' }), 400, /weight must be a number from 1 to 100/);
    expectJsonError(await post(s, 'a', { action: 'weight', weight: '5' }), 400, /weight must be a number/);
    expectJsonError(await post(s, 'a', { action: 'weight', weight: 200 }), 400, /weight must be a number from 1 to 100, got 200/);
    expectJsonError(await post(s, 'a', { action: 'weight', weight: 0 }), 400, /got 0/);
    expectJsonError(await post(s, 'a', { action: 'drain', weight: 3 }), 400, /weight is only taken with action weight/);
    expectJsonError(await post(s, 'a', { action: 'drain', force: true }), 400, /unknown field "force"/);
    expectJsonError(await post(s, 'a', ['drain']), 400, /JSON object/);
    expectJsonError(await post(s, 'a', '{"action":'), 400, /not valid JSON/);
    expectJsonError(await post(s, 'a', ''), 400, /not valid JSON/);
    expectJsonError(await post(s, 'a', { action: 'drain' }, { 'content-type': 'text/plain' }), 415);
    expectJsonError(await post(s, 'a', 'action=drain', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
    const big = JSON.stringify({ action: 'drain', pad: 'x'.repeat(MAX_BODY_BYTES) });
    expectJsonError(await post(s, 'a', big), 413);
    // A body too large without a Content-Length (chunked) is cut off as it arrives.
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        `${s.manager}/api/members/a`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'x-csrf-token': s.token } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.write(big.slice(0, 3000));
      req.end(big.slice(3000));
    });
    expectJsonError(chunked, 413);
    expect(poolState(s.balancer)).toEqual(before);
  });

  it('no GET changes anything', async () => {
    const s = await setup();
    const before = poolState(s.balancer);
    for (const path of ['/', '/?action=drain&route=a', '/api/state?action=drain', '/metrics', '/api/members/a?action=disable', '/?asset=manager.js']) {
      await request(`${s.manager}${path}`, { headers: { 'x-csrf-token': s.token } });
    }
    expect(poolState(s.balancer)).toEqual(before);
  });
});

describe('the manager mounted under Express', () => {
  const frameworks: [string, () => express5.Express][] = [
    ['Express 5', () => express5()],
    ['Express 4', () => express4() as unknown as express5.Express],
  ];
  for (const [name, makeApp] of frameworks) {
    it(`${name}: the page, the API and a change under the mount path; other paths are left to the app`, async () => {
      const s = await setup({}, (manager) => {
        const app = makeApp();
        app.use('/balancer-manager', manager);
        app.get('/other', (_req, res) => void res.send('the app'));
        return app as unknown as http.RequestListener;
      });
      expect(s.token).toBe(''); // nothing at the server root
      for (const page of [`${s.manager}/balancer-manager`, `${s.manager}/balancer-manager/`]) {
        const reply = await request(page);
        expect(reply.status).toBe(200);
        expect(reply.body).toContain('<meta name="csrf-token"');
      }
      const token = await tokenOf(`${s.manager}/balancer-manager/`);
      expect((await request(`${s.manager}/balancer-manager?asset=manager.js`)).headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(JSON.parse((await request(`${s.manager}/balancer-manager/api/state`)).body).members).toHaveLength(2);
      expect((await request(`${s.manager}/balancer-manager/metrics`)).body).toContain('proxy_balancer_member_up{member="a"} 1');
      const headers = { 'content-type': 'application/json', 'x-csrf-token': token, origin: s.manager };
      const changed = await request(`${s.manager}/balancer-manager/api/members/b`, { method: 'POST', headers, body: '{"action":"drain"}' });
      expect(JSON.parse(changed.body)).toMatchObject({ route: 'b', state: 'drain' });
      expect(s.balancer.pool.get('b')!.admin).toBe('drain');
      expectJsonError(
        await request(`${s.manager}/balancer-manager/api/members/b`, {
          method: 'POST',
          headers: { ...headers, 'x-csrf-token': 'wrong' },
          body: '{"action":"enable"}',
        }),
        403,
      );
      expect((await request(`${s.manager}/other`)).body).toBe('the app');
    });
  }

  it('plain node:http under a prefix, stripped by hand as docs/management.md shows', async () => {
    const s = await setup({}, (manager) => {
      const prefix = '/balancer-manager';
      return (req, res) => {
        const url = req.url ?? '/';
        if (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`)) {
          req.url = url.slice(prefix.length).replace(/^(?!\/)/, '/');
          return manager(req, res);
        }
        res.statusCode = 404;
        res.end();
      };
    });
    const token = await tokenOf(`${s.manager}/balancer-manager`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The page's relative ?asset= address, resolved as a browser resolves it from /balancer-manager.
    const script = await request(new URL('?asset=manager.js', `${s.manager}/balancer-manager`).href);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const reply = await request(`${s.manager}/balancer-manager/api/members/a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: '{"action":"disable"}',
    });
    expect(JSON.parse(reply.body)).toMatchObject({ route: 'a', state: 'disabled' });
  });

  it('takes a body that express.json() already parsed', async () => {
    const s = await setup({}, (manager) => {
      const app = express5();
      app.use(express5.json());
      app.use('/balancer-manager', manager);
      return app as unknown as http.RequestListener;
    });
    const token = await tokenOf(`${s.manager}/balancer-manager/`);
    const reply = await request(`${s.manager}/balancer-manager/api/members/a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: '{"action":"weight","weight":3}',
    });
    expect(reply.status, reply.body).toBe(200);
    expect(s.balancer.pool.get('a')!.weight).toBe(3);
  });
});

/** A token of the same length that differs from `token` in its first character, whatever that is. */
function wrongToken(token: string): string {
  return `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`;
}
