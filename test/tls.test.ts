/**
 * HTTPS members: the balancer's `tls` (and a member's own) applies to proxying, Upgrade tunnels and
 * health probes. A handshake that fails (an untrusted CA) is a connect failure: retried elsewhere,
 * the member goes into error, and memberError carries the TLS error code. Certificates are made
 * with openssl per run (test/helpers/tls.ts).
 */
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { BalancerConfigError, createBalancer, type Balancer, type BalancerOptions, type MemberEvent } from '../src/index.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';
import { request, startBackend, startFront } from './helpers/servers.js';
import { makePki, opensslMissing, type TestPki } from './helpers/tls.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const missing = opensslMissing();
if (missing !== undefined) console.warn(`tls.test.ts: ${missing}; the TLS tests below fail without it`);

let trusted: TestPki;
let stranger: TestPki;
beforeAll(() => {
  trusted = makePki('trusted');
  stranger = makePki('stranger');
});

/** An HTTPS member answering `<name> <path>`, with a WebSocket echo. */
async function httpsMember(name: string, pki: TestPki): Promise<{ url: string }> {
  const server = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
    req.resume();
    req.on('end', () => res.end(`${name} ${req.url}`));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m.toString()}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function front(options: BalancerOptions): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), ...options });
  const f = await startFront(balancer);
  f.server.on('upgrade', balancer.upgrade);
  cleanups.push(async () => {
    await f.close();
    await balancer.close();
  });
  return { balancer, url: f.url };
}

forEachEngine(() => {
  describe('HTTPS members', () => {
    it('are proxied when their CA is trusted through tls.ca', async () => {
      const member = await httpsMember('secure', trusted);
      const { url } = await front({ members: [{ url: member.url }], tls: { ca: trusted.ca } });
      expect((await request(`${url}/x?y=1`)).body).toBe('secure /x?y=1');
    });

    it("take a member's own tls over the balancer's", async () => {
      const member = await httpsMember('secure', stranger);
      const { url } = await front({ members: [{ url: member.url, tls: { ca: stranger.ca } }], tls: { ca: trusted.ca } });
      expect((await request(`${url}/`)).body).toBe('secure /');
    });

    it('with an untrusted CA fail the handshake: a connect failure, retried elsewhere, the member in error with the TLS code', async () => {
      const untrusted = await httpsMember('untrusted', stranger);
      const good = await startBackend('good');
      cleanups.push(() => good.close());
      const { balancer, url } = await front({
        members: [
          { url: untrusted.url, route: 'u' },
          { url: good.url, route: 'g' },
        ],
        tls: { ca: trusted.ca },
      });
      const errors: MemberEvent[] = [];
      balancer.on('memberError', (e) => errors.push(e));
      const reply = await request(`${url}/`, { method: 'POST', body: 'not idempotent: retried only because nothing reached the member' });
      expect(reply.body).toBe('good');
      expect(balancer.snapshot().members[0]!.state).toBe('error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.reason).toMatch(/connect failed: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    });

    it('with an untrusted CA and no other member give 502', async () => {
      const untrusted = await httpsMember('untrusted', stranger);
      const { url } = await front({ members: [{ url: untrusted.url }] });
      expect((await request(`${url}/`)).status).toBe(502);
    });

    it('tunnel WebSockets over TLS', async () => {
      const member = await httpsMember('secure', trusted);
      const { url } = await front({ members: [{ url: member.url }], tls: { ca: trusted.ca } });
      const ws = new WebSocket(url.replace('http:', 'ws:') + '/ws');
      await once(ws, 'open');
      ws.send('hi');
      const [message] = (await once(ws, 'message')) as [Buffer];
      expect(message.toString()).toBe('secure:hi');
      ws.close();
    });

    it('are probed over TLS with the same settings', async () => {
      const member = await httpsMember('secure', trusted);
      const untrusted = await httpsMember('untrusted', stranger);
      const { balancer } = await front({
        members: [
          { url: member.url, route: 'ok' },
          { url: untrusted.url, route: 'bad' },
        ],
        tls: { ca: trusted.ca },
        healthCheck: { path: '/health', intervalMs: 100, jitterPercent: 0 },
      });
      const unhealthy = new Promise<MemberEvent>((resolve) => balancer.once('memberUnhealthy', resolve));
      expect((await unhealthy).route).toBe('bad');
      await vi.waitFor(() => expect(balancer.snapshot().health.find((h) => h.route === 'ok')?.lastProbe?.ok).toBe(true), { timeout: 10_000, interval: 20 });
      const bad = balancer.snapshot().health.find((h) => h.route === 'bad')!;
      expect(bad.lastProbe?.error).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    });
  });
});

describe('tls options', () => {
  it.each([
    [{ tls: { ca: 5 } }, 'tls.ca'],
    [{ tls: { ca: ['x', 5] } }, 'tls.ca[1]'],
    [{ tls: { servername: '10.0.0.1' } }, 'tls.servername'],
    [{ tls: { minVersion: 'TLSv1' } }, 'tls.minVersion'],
    [{ tls: { rejectUnauthorized: 'no' } }, 'tls.rejectUnauthorized'],
    [{ tls: { cipher: 'x' } }, 'tls.cipher'],
    [{ members: [{ url: 'http://127.0.0.1:1', tls: {} }] }, 'members[0].tls'],
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
