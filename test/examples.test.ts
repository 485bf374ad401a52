import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from './helpers/servers.js';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('the Pi cluster example (npm start)', () => {
  it('serves Server 1 and Server 2 alternately on loopback and stops every server on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/pi-cluster/main.ts'], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /front end: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`example exited early (${code}): ${out}`)));
    });
    const backendUrls = [...out.matchAll(/Server \d listening on (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!);
    expect(backendUrls).toHaveLength(2);
    const pages = [await request(url), await request(url), await request(url), await request(url)];
    expect(pages.map((p) => /<h1>([^<]+)<\/h1>/.exec(p.body)![1])).toEqual(['Server 1', 'Server 2', 'Server 1', 'Server 2']);

    const exited = once(child, 'exit');
    child.kill('SIGINT');
    expect((await exited)[0]).toBe(0);
    for (const u of [url, ...backendUrls]) await expect(request(u)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('close() releases everything', () => {
  it('a process that proxied requests exits on its own after close()', async () => {
    const script = `
      import http from 'node:http';
      import { createBalancer } from './src/index.ts';
      const backend = http.createServer((_req, res) => res.end('ok'));
      await new Promise((r) => backend.listen(0, '127.0.0.1', r));
      const balancer = createBalancer({
        members: [{ url: 'http://127.0.0.1:' + backend.address().port }],
        healthCheck: { intervalMs: 100 },
        sticky: { cookie: 'ROUTEID', table: { cookie: 'sid' } },
      });
      const front = http.createServer(balancer);
      await new Promise((r) => front.listen(0, '127.0.0.1', r));
      const agent = new http.Agent({ keepAlive: true });
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve, reject) => http.get('http://127.0.0.1:' + front.address().port, { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
      }
      agent.destroy();
      await balancer.close();
      front.close();
      backend.close();
      backend.closeAllConnections();
      console.log('closed');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a bound, not an assertion
    const [code, signal] = await once(child, 'exit');
    clearTimeout(killer);
    expect(signal, out).toBeNull(); // it was not killed: nothing kept the event loop alive
    expect(code, out).toBe(0);
    expect(out).toContain('closed');
  });
});
