// The bench's config writers (bench/lib/servers.mjs, bench/lib/wrk.mjs): pure text, so no server
// is started here; `npm run bench` runs them for real.
import { describe, expect, it } from 'vitest';
import { apacheConfig, haproxyConfig, keyLines, nginxConfig } from '../bench/lib/servers.mjs';
import { wrkScript } from '../bench/lib/wrk.mjs';

const input = { dir: '/tmp/bench-x', port: 8080, members: ['127.0.0.1:4001', '127.0.0.1:4002'] };

/** Every address a config listens on. */
const listens = (text: string, pattern: RegExp): string[] => [...text.matchAll(pattern)].map((m) => m[1]!);

describe('bench server configs', () => {
  it('Apache: mod_proxy_balancer byrequests over both members, 2 processes, loopback only', () => {
    const text = apacheConfig({ ...input, modulesDir: '/mods' });
    expect(listens(text, /^Listen (\S+)$/gm)).toEqual(['127.0.0.1:8080']);
    expect(text).toContain('BalancerMember "http://127.0.0.1:4001"');
    expect(text).toContain('BalancerMember "http://127.0.0.1:4002"');
    expect(text).toContain('ProxySet lbmethod=byrequests');
    expect(text).toContain('ProxyPass "/" "balancer://bench/"');
    expect(text).toMatch(/^StartServers 2$/m);
    expect(text).toMatch(/^ServerLimit 2$/m);
    expect(text).toContain('LoadModule proxy_balancer_module "/mods/mod_proxy_balancer.so"');
    expect(text).toContain('LoadModule lbmethod_byrequests_module "/mods/mod_lbmethod_byrequests.so"');
    expect(text).toMatch(/^PidFile "\/tmp\/bench-x\/httpd.pid"$/m);
    expect(text).not.toMatch(/^User /m);
    expect(apacheConfig({ ...input, modulesDir: '/mods', user: { user: 'www-data', group: 'www-data' } })).toMatch(/^User www-data\nGroup www-data$/m);
  });

  it('nginx: upstream round robin with a keep-alive pool, 2 workers, loopback only', () => {
    const text = nginxConfig(input);
    expect(listens(text, /^\s*listen (\S+);$/gm)).toEqual(['127.0.0.1:8080']);
    expect(text).toMatch(/^\s*server 127\.0\.0\.1:4001;\n\s*server 127\.0\.0\.1:4002;\n\s*keepalive 64;$/m);
    expect(text).toMatch(/^worker_processes 2;$/m);
    expect(text).toMatch(/^daemon off;$/m);
    expect(text).toContain('proxy_http_version 1.1;');
    expect(text).toContain('proxy_set_header Connection "";');
    expect(text).toContain('pid /tmp/bench-x/nginx.pid;');
    expect(text).not.toMatch(/^user /m);
    expect(nginxConfig({ ...input, user: { user: 'www-data', group: 'www-data' } })).toMatch(/^user www-data www-data;$/m);
  });

  it('HAProxy: roundrobin with http-reuse, 2 threads, loopback only', () => {
    const text = haproxyConfig(input);
    expect(listens(text, /^\s*bind (\S+)$/gm)).toEqual(['127.0.0.1:8080']);
    expect(text).toMatch(/^\s*nbthread 2$/m);
    expect(text).toMatch(/^\s*balance roundrobin$/m);
    expect(text).toMatch(/^\s*http-reuse always$/m);
    expect(text).toMatch(/^\s*server b1 127\.0\.0\.1:4001\n\s*server b2 127\.0\.0\.1:4002$/m);
  });

  it('key lines leave out comments, blank lines and the temp directory', () => {
    const lines = keyLines(nginxConfig(input), input.dir);
    expect(lines).toContain('worker_processes 2;');
    expect(lines).toContain('keepalive 64;');
    expect(lines.some((l) => l.startsWith('#') || l === '' || l.includes(input.dir))).toBe(false);
  });
});

describe('bench wrk script', () => {
  it('reports through a done hook, and only rotates requests when there are several header sets', () => {
    const plain = wrkScript();
    expect(plain).toMatch(/^done = function\(summary, latency, requests\)$/m);
    expect(plain).toContain('latency:percentile(99)');
    expect(plain).not.toMatch(/^request = /m);
    const sticky = wrkScript([{ cookie: 'ROUTEID=.b1' }, { cookie: 'ROUTEID=.b2' }]);
    expect(sticky).toMatch(/^request = function\(\)$/m);
    expect(sticky).toContain('{ ["cookie"] = "ROUTEID=.b1" },');
    expect(sticky).toContain('{ ["cookie"] = "ROUTEID=.b2" },');
  });
});
