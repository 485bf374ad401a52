import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, request, startBackend, type Backend } from './helpers/servers.js';

const CLI = path.resolve('dist/cli.js');
const cleanups: (() => Promise<void> | void)[] = [];
let dir: string;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'pb-cli-'));
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first line of the command's `stream` that matches `pattern`, once it is written. */
  line: (stream: 'stdout' | 'stderr', pattern: RegExp) => Promise<string>;
}

/** Starts the command and resolves with it and its URL once it says it is listening. */
async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) child[stream]!.on('data', (c: Buffer) => (output[stream] += c.toString()));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const line = (stream: 'stdout' | 'stderr', pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const look = (): boolean => {
        const found = output[stream].split('\n').find((l) => pattern.test(l));
        if (found === undefined) return false;
        child[stream]!.off('data', look);
        resolve(found);
        return true;
      };
      if (look()) return;
      child[stream]!.on('data', look); // after the collecting listener, so the new chunk is in
      child.once('exit', (code) => reject(new Error(`exited ${code} before a line matched ${pattern}: ${output.stderr}`)));
    });
  const url = /listening on (http:\/\/\S+)/.exec(await line('stdout', /listening on /))![1]!;
  return { child, url, stdout: () => output.stdout, stderr: () => output.stderr, line };
}

/** The status an Upgrade request gets: 101 when a tunnel opens, else the plain response's. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

describe('proxy-balancer command', () => {
  it('rejects a bad config with the same error createBalancer gives, exit code 2', async () => {
    const bad = file('bad.json', JSON.stringify({ members: [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2', weight: 0 }] }));
    const result = await run(['--config', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('BalancerConfigError: members[1].weight must be a number from 1 to 100, got 0');

    const unknown = file('unknown.json', JSON.stringify({ members: [], listen: { port: 0, hots: 'x' } }));
    expect((await run(['--config', unknown])).stderr).toContain('listen.hots is not a known option');
    const notJson = file('broken.json', '{ members: ');
    expect((await run(['--config', notJson])).stderr).toMatch(/is not valid JSON/);
    const usage = await run(['--nope']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage: proxy-balancer/);
  });

  it('answers the papercuts in one line each: --version, a bad --port, a missing file, an unknown key, a port in use', async () => {
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: `${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n` });

    const ok = file('papercut.json', JSON.stringify({ members: [{ url: 'http://127.0.0.1:3001' }] }));
    for (const port of ['abc', '65536', '1.5', '']) {
      const bad = await run(['--config', ok, '--port', port]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe(`proxy-balancer: --port must be an integer from 0 to 65535, got ${JSON.stringify(port)}\n`);
    }
    const missing = await run(['--config', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^proxy-balancer: cannot read .*nope\.json: ENOENT[^\n]*\n$/); // one line: no usage text
    const unknown = await run(['--config', file('typo.json', JSON.stringify({ members: [{ url: 'http://127.0.0.1:3001' }], lisen: { port: 0 } }))]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/lisen is not a known option \(known: members, .*, listen, manage\)/);

    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const inUse = await run(['--config', ok, '--port', String(port)]);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toBe(`proxy-balancer: cannot listen on 127.0.0.1:${port}: address already in use\n`);
  });

  it('--access-log prints one line per request to stdout; state changes go to stderr with a timestamp', async () => {
    const a = await backend('a');
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const config = file(
      'log.json',
      JSON.stringify({
        listen: { port: 0, path: '/app' },
        members: [
          { url: dead, route: 'dead' },
          { url: a.url, route: 'a' },
        ],
      }),
    );
    const served = await serve(['--config', config, '--access-log']);
    // byrequests tries the first member first: its refused connection puts it in error, and a serves.
    expect((await request(`${served.url}x?y=1`)).body).toBe('a');
    const line = await served.line('stdout', /"GET /);
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1 "GET \/x\?y=1" 200 1 route=a attempts=2 \d+ms$/);
    expect(await served.line('stderr', /member dead in error/)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z member dead in error: \S+/);
    expect((await request(`${served.url}none`, { method: 'POST', body: 'abc' })).status).toBe(200);
    expect(await served.line('stdout', /"POST /)).toMatch(/ "POST \/none" 200 1 route=a attempts=1 \d+ms$/);
  });

  it("strips its mount path, and a member's redirect to itself comes back under it", async () => {
    const member = await backend('redirects', (req, res) => {
      res.writeHead(302, { location: `${member.url}/login?from=${req.url ?? ''}` }).end();
    });
    const config = file('mounted.json', JSON.stringify({ listen: { port: 0, path: '/app' }, members: [{ url: member.url }] }));
    const { url } = await serve(['--config', config]);
    const reply = await request(`${url}account`);
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/app/login?from=/account');
  });

  it('prints health check downs and ups with a timestamp', async () => {
    let healthy = false;
    const a = await backend('a', (req, res) => {
      res.statusCode = req.url === '/health' && !healthy ? 503 : 200;
      res.end('a');
    });
    const config = file(
      'health.json',
      JSON.stringify({ listen: { port: 0 }, healthCheck: { path: '/health', intervalMs: 100 }, members: [{ url: a.url, route: 'a' }] }),
    );
    const served = await serve(['--config', config]);
    expect(await served.line('stderr', /member a down/)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z member a down \(health check\): /);
    healthy = true;
    expect(await served.line('stderr', /member a up/)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z member a up \(health check\): /);
    expect(served.stdout()).not.toMatch(/"GET/); // no access log unless asked
  });

  it('--check validates and prints the configuration', async () => {
    const ok = file('ok.json', JSON.stringify({ listen: { port: 0 }, members: [{ url: 'http://127.0.0.1:3001', route: 'pi2' }] }));
    const result = await run(['--config', ok, '--check']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { members: { route: string; url: string }[]; listen: { port: number } };
    expect(printed.members[0]).toMatchObject({ route: 'pi2', url: 'http://127.0.0.1:3001/' });
    expect(printed.listen.port).toBe(0);
  });

  it('serves the config, and on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await backend('slow', (req, res) => {
      if (req.url === '/slow') {
        arrived();
        void held.then(() => res.end('finished'));
      } else res.end('slow');
    });
    const config = file('serve.json', JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, members: [{ url: slow.url }] }));
    const { child, url } = await serve(['--config', config]);
    expect((await request(`${url}`)).body).toBe('slow');

    const pending = request(`${url}slow`);
    await inFlight;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve())); // "SIGTERM: no longer accepting"
    const refused = await new Promise<boolean>((resolve) => {
      http.get(`${url}`, { agent: false }, () => resolve(false)).on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    release();
    expect((await pending).body).toBe('finished');
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('a second SIGTERM during shutdown closes the open requests and exits at once', async () => {
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const hang = await backend('hang', () => arrived()); // never answers
    const config = file('hang.json', JSON.stringify({ listen: { port: 0, shutdownTimeoutMs: 600_000 }, members: [{ url: hang.url }] }));
    const { child, url } = await serve(['--config', config]);
    const pending = request(url).catch((err: Error) => err);
    await inFlight;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(1);
    expect(await pending).toBeInstanceOf(Error); // the hung request was cut, not left open
  });

  it('--apache serves the balancer of an httpd config under its ProxyPass path and reports what it cannot honour', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const conf = file(
      'httpd.conf',
      [
        'Listen 80',
        '<Proxy "balancer://mycluster">',
        `    BalancerMember "${a.url}" route=a`,
        `    BalancerMember "${b.url}" route=b smax=20`,
        '    ProxySet lbmethod=byrequests',
        '</Proxy>',
        'ProxyPass        "/app" "balancer://mycluster"',
        'ProxyPassReverse "/app" "balancer://mycluster"',
      ].join('\n'),
    );
    const { url, stderr } = await serve(['--apache', conf, '--port', '0']);
    expect(url).toMatch(/\/app\/$/);
    const replies = [await request(url), await request(url)];
    expect(replies.map((r) => r.body).sort()).toEqual(['a', 'b']);
    expect((await request(url.replace('/app/', '/other'))).status).toBe(404);
    expect(stderr()).toMatch(/httpd\.conf:4: BalancerMember smax/);
    expect(stderr()).not.toMatch(/ProxyPassReverse/); // honoured since 24728d5: members' redirects are rewritten
  });

  it('--apache mounts Upgrade requests (WebSockets) under the ProxyPass path too: stripped inside it, 404 outside it', async () => {
    const upgraded: string[] = [];
    const ws = await backend('ws');
    ws.server.on('upgrade', (req, socket) => {
      upgraded.push(req.url ?? '');
      socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n');
    });
    const conf = file('upgrade.conf', ['<Proxy "balancer://c">', `  BalancerMember "${ws.url}"`, '</Proxy>', 'ProxyPass "/app" "balancer://c"'].join('\n'));
    const { url } = await serve(['--apache', conf, '--port', '0']);
    expect(url).toMatch(/\/app\/$/);
    expect(await upgradeStatus(`${url}ws?x=1`)).toBe(101);
    expect(upgraded).toEqual(['/ws?x=1']);
    expect(await upgradeStatus(url.replace('/app/', '/other/ws'))).toBe(404);
    expect(upgraded).toEqual(['/ws?x=1']); // nothing outside the mount reached the member
  });
});

describe('proxy-balancer command: the manage block', () => {
  const TOKEN = 'correct-horse-battery-staple';

  it('refuses to start without a token, says why, and does not print a bad token', async () => {
    const missing = file(
      'manage-missing.json',
      JSON.stringify({ listen: { port: 0 }, manage: { path: '/balancer-manager' }, members: [{ url: 'http://127.0.0.1:9' }] }),
    );
    const result = await run(['--config', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('BalancerConfigError: manage.token is required to serve the manager, which can drain and disable every member');
    expect(result.stderr).toContain('got undefined');

    const short = file('manage-short.json', JSON.stringify({ listen: { port: 0 }, manage: { token: 'hunter2' }, members: [{ url: 'http://127.0.0.1:9' }] }));
    const shortResult = await run(['--config', short]);
    expect(shortResult.code).toBe(2);
    expect(shortResult.stderr).toContain('got "a string of 7 characters"');
    expect(shortResult.stderr).not.toContain('hunter2');

    const badPath = file(
      'manage-path.json',
      JSON.stringify({ listen: { port: 0 }, manage: { token: TOKEN, path: '/' }, members: [{ url: 'http://127.0.0.1:9' }] }),
    );
    expect((await run(['--config', badPath])).stderr).toContain('manage.path must be a path like "/balancer-manager"');
    const unknown = file(
      'manage-unknown.json',
      JSON.stringify({ listen: { port: 0 }, manage: { token: TOKEN, user: 'admin' }, members: [{ url: 'http://127.0.0.1:9' }] }),
    );
    expect((await run(['--config', unknown])).stderr).toContain('manage.user is not a known option (known: path, token)');
  });

  it('--check shows the manage block with the token hidden', async () => {
    const ok = file('manage-check.json', JSON.stringify({ listen: { port: 0 }, manage: { token: TOKEN }, members: [{ url: 'http://127.0.0.1:3001' }] }));
    const result = await run(['--config', ok, '--check']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).manage).toEqual({ path: '/balancer-manager', token: '(hidden)' });
    expect(result.stdout).not.toContain(TOKEN);
  });

  it('serves the manager under its path behind the token (bearer or basic), and the balancer everywhere else', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const config = file(
      'manage.json',
      JSON.stringify({
        listen: { port: 0 },
        manage: { path: '/balancer-manager', token: TOKEN },
        members: [
          { url: a.url, route: 'a' },
          { url: b.url, route: 'b' },
        ],
      }),
    );
    const { url } = await serve(['--config', config]);
    const manager = `${url}balancer-manager`;

    const anonymous = await request(`${manager}/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="proxy-balancer manager", charset="UTF-8"');
    expect((await request(`${manager}/api/state`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
    expect((await request(`${manager}/api/state`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}x`).toString('base64')}` } })).status).toBe(
      401,
    );
    expect((await request(`${manager}/metrics`, { headers: { authorization: TOKEN } })).status).toBe(401);

    const bearer = { authorization: `Bearer ${TOKEN}` };
    const basic = { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` };
    const page = await request(`${manager}/`, { headers: basic });
    expect(page.status).toBe(200);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]!;
    expect(JSON.parse((await request(`${manager}/api/state`, { headers: bearer })).body).members).toHaveLength(2);

    const drained = await request(`${manager}/api/members/b`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: '{"action":"drain"}',
    });
    expect(JSON.parse(drained.body)).toMatchObject({ route: 'b', state: 'drain' });
    const bodies = [(await request(url)).body, (await request(url)).body, (await request(`${url}x`)).body];
    expect(bodies).toEqual(['a', 'a', 'a']);
    expect(a.received.map((r) => r.url)).not.toContain('/balancer-manager/');
    expect((await request(`${manager}/metrics`, { headers: bearer })).body).toContain('proxy_balancer_requests_total{member="a",code="2xx"} 3');
    // Upgrade requests to the manager's path are refused, never proxied.
    expect(await upgradeStatus(`${manager}/`)).toBe(404);
  });
});
