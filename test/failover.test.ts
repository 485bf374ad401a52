import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { startBlackhole } from './helpers/blackhole.js';
import { closedPort, request, startBackend, startFront, type Backend } from './helpers/servers.js';
import { currentEngine, forEachEngine } from './helpers/engines.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

async function front(urls: string[], extra: Omit<BalancerOptions, 'members'> = {}): Promise<{ balancer: Balancer; url: string }> {
  const balancer = createBalancer({ engine: currentEngine(), members: urls.map((url) => ({ url })), ...extra });
  const f = await startFront(balancer);
  cleanups.push(async () => {
    await f.close();
    await balancer.close();
  });
  return { balancer, url: f.url };
}

/** A back end that reads the request, then drops the connection without answering. */
const dropAfterRequest = (req: http.IncomingMessage): void => {
  req.resume();
  req.on('end', () => req.socket.destroy());
};

forEachEngine(() => {
  describe('the keep-alive race', () => {
    it('a member closing a kept-alive connection as it is reused is not charged, and the GET is retried', async () => {
      // The member answers the first request on a connection and drops the connection when the
      // next one arrives on it: what a member closing an idle connection at that instant does.
      let served = 0;
      const racer = await backend('racer', (req, res) => {
        if ((req.socket as { served?: number }).served === undefined) {
          (req.socket as { served?: number }).served = ++served;
          res.end('racer');
        } else {
          req.socket.destroy();
        }
      });
      const good = await backend('good');
      const { balancer, url } = await front([racer.url, good.url], { outlierDetection: false });
      // byrequests with equal weights: racer, good, racer (on the kept-alive connection).
      expect((await request(`${url}/1`)).body).toBe('racer');
      expect((await request(`${url}/2`)).body).toBe('good');
      const third = await request(`${url}/3`);
      expect(third.status).toBe(200);
      expect(third.body).toBe('good'); // retried elsewhere: nothing came back
      expect(racer.received.map((r) => r.url)).toEqual(['/1', '/3']); // /3 went out on the reused connection
      const snap = balancer.snapshot();
      expect(snap.members[0]!.failures).toBe(0); // not charged: the member was fine, its connection was old
      expect(snap.members[0]!.state).toBe('ok');
      expect(snap.retries.made).toBe(1);
    });
  });

  describe('retry rules', () => {
    it('retries an idempotent GET that reached a member but got no response', async () => {
      const dropper = await backend('dropper', dropAfterRequest);
      const good = await backend('good');
      const { balancer, url } = await front([dropper.url, good.url]);
      const reply = await request(`${url}/`);
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('good');
      expect(dropper.received).toHaveLength(1);
      expect(balancer.snapshot().retries.made).toBe(1);
    });

    it('does not retry a POST whose bytes reached a member: 502, and no other member sees it', async () => {
      const dropper = await backend('dropper', dropAfterRequest);
      const good = await backend('good');
      const { url } = await front([dropper.url, good.url]);
      const reply = await request(`${url}/`, { method: 'POST', body: 'order=1' });
      expect(reply.status).toBe(502);
      expect(dropper.received).toHaveLength(1);
      expect(good.received).toHaveLength(0);
    });

    it('retries a buffered POST when no byte reached the first member (connection refused)', async () => {
      const good = await backend('good', (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.end(`got ${body}`));
      });
      const { url } = await front([`http://127.0.0.1:${await closedPort()}`, good.url]);
      const reply = await request(`${url}/`, { method: 'POST', body: 'order=2' });
      expect(reply).toMatchObject({ status: 200, body: 'got order=2' });
    });

    it('retries a chunked POST (no Content-Length) when no byte reached the first member, with its whole body', async () => {
      const good = await backend('good', (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.end(`got ${body.length}`));
      });
      const { url } = await front([`http://127.0.0.1:${await closedPort()}`, good.url]);
      const reply = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${url}/`, { method: 'POST', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        });
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('y'.repeat(1000)); // chunked: Transfer-Encoding, no Content-Length
        req.end();
      });
      expect(reply).toBe('200 got 10000');
    });

    it('does not replay a body larger than retry.maxBodyBytes', async () => {
      const dropper = await backend('dropper', dropAfterRequest);
      const good = await backend('good');
      const { url } = await front([dropper.url, good.url], { retry: { maxBodyBytes: 16 } });
      const reply = await request(`${url}/`, { method: 'PUT', body: 'x'.repeat(1000) });
      expect(reply.status).toBe(502);
      expect(good.received).toHaveLength(0);
    });

    it('cuts the client off, never splices, when the member fails after the response started', async () => {
      const cutter = await backend('cutter', (_req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        res.once('drain', () => {});
        setImmediate(() => res.socket?.destroy());
      });
      const good = await backend('good');
      const { balancer, url } = await front([cutter.url, good.url]);
      const outcome = await new Promise<string>((resolve) => {
        http
          .get(`${url}/`, { agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(`complete:${body}`));
            res.on('error', () => resolve(`cut:${body}`));
            res.on('aborted', () => resolve(`cut:${body}`));
          })
          .on('error', () => resolve('cut'));
      });
      expect(outcome.startsWith('cut')).toBe(true);
      expect(good.received).toHaveLength(0);
      expect(balancer.snapshot().members[0]!.failures).toBe(1);
    });

    it('tries as many members as retry.attempts allows, each once, without listener-leak warnings', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.name);
      process.on('warning', onWarning);
      cleanups.push(async () => void process.off('warning', onWarning));
      const dead: string[] = [];
      // The OS may hand a freed port out again: keep 14 different ones (members' URLs must differ).
      while (dead.length < 14) {
        const url = `http://127.0.0.1:${await closedPort()}`;
        if (!dead.includes(url)) dead.push(url);
      }
      const good = await backend('good');
      const { balancer, url } = await front([...dead, good.url], { retry: { attempts: 15 } });
      expect((await request(`${url}/`)).body).toBe('good');
      expect(balancer.snapshot().members.map((m) => m.requests)).toEqual([...dead.map(() => 1), 1]);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    });
  });

  describe('user code that throws', () => {
    it.each([
      ['on the first pick', 1],
      ['on a retry', 2],
    ])('a strategy that throws %s gets the client a 502 and a warning, and the balancer serves on', async (_when, throwOnPick) => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.message);
      process.on('warning', onWarning);
      cleanups.push(async () => void process.off('warning', onWarning));
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const good = await backend('good');
      let picks = 0;
      const strategy = {
        name: 'throws',
        pick(candidates: readonly { url: URL }[]) {
          if (++picks === throwOnPick) throw new Error('strategy bug');
          return candidates.find((c) => c.url.href.startsWith(dead)) ?? candidates[0];
        },
      };
      const { url } = await front([dead, good.url], { strategy: strategy as never, retry: { attempts: 2 } });
      const warned = new Promise((resolve) => process.once('warning', resolve));
      expect((await request(`${url}/`)).status).toBe(502);
      await warned;
      expect(warnings.some((w) => w.includes('strategy bug'))).toBe(true);
      expect((await request(`${url}/`)).status).toBe(200); // picks 3 and on go their way
    });
  });

  describe('timeouts', () => {
    it('connectTimeoutMs: a member whose connect hangs is treated as "no byte reached it" and skipped', async () => {
      const hole = await startBlackhole();
      cleanups.push(() => hole.close());
      const good = await backend('good');
      const { balancer, url } = await front([`http://127.0.0.1:${hole.port}`, good.url], { connectTimeoutMs: 50 });
      const reply = await request(`${url}/`, { method: 'POST', body: 'not idempotent, still safe' });
      expect(reply).toMatchObject({ status: 200, body: 'good' });
      expect(balancer.snapshot().members[0]!.state).toBe('error');
    });

    it('timeoutMs: 504 when no response head comes, the member is charged, and failOnTimeout puts it in error', async () => {
      const hanging = await backend('hang', () => {});
      const plain = await front([hanging.url], { timeoutMs: 50 });
      expect((await request(`${plain.url}/`)).status).toBe(504);
      expect(plain.balancer.snapshot().members[0]).toMatchObject({ failures: 1, state: 'ok', inFlight: 0 });

      const strict = await front([hanging.url], { timeoutMs: 50, failOnTimeout: true });
      expect((await request(`${strict.url}/`)).status).toBe(504);
      expect(strict.balancer.snapshot().members[0]).toMatchObject({ failures: 1, state: 'error' });
    });

    it('idleTimeoutMs: a response body that stalls is cut and the member charged', async () => {
      const staller = await backend('stall', (_req, res) => {
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
      });
      const { balancer, url } = await front([staller.url], { idleTimeoutMs: 50 });
      const cut = await new Promise<boolean>((resolve) => {
        http
          .get(`${url}/`, { agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(false));
            res.on('error', () => resolve(true));
          })
          .on('error', () => resolve(true));
      });
      expect(cut).toBe(true);
      expect(balancer.snapshot().members[0]).toMatchObject({ failures: 1, inFlight: 0 });
    });
  });

  describe('passive health', () => {
    it('failOnStatus: the client gets the 503, the member goes into error, the next request goes elsewhere', async () => {
      const sick = await backend('sick', (_req, res) => {
        res.statusCode = 503;
        res.end('busy');
      });
      const good = await backend('good');
      const { balancer, url } = await front([sick.url, good.url], { failOnStatus: [503] });
      const reasons: string[] = [];
      balancer.on('memberError', (e) => reasons.push(e.reason));
      const first = await request(`${url}/`);
      expect(first).toMatchObject({ status: 503, body: 'busy' });
      expect(balancer.snapshot().members[0]!.state).toBe('error');
      expect(reasons).toEqual(['status 503 (failOnStatus)']);
      const rest = await Promise.all([request(`${url}/`), request(`${url}/`), request(`${url}/`)]);
      expect(rest.map((r) => r.body)).toEqual(['good', 'good', 'good']);
    });

    it('outlier detection ejects after consecutive failures, and never more than maxEjectionPercent of a tier', async () => {
      const failing = (name: string): Promise<Backend> =>
        backend(name, (_req, res) => {
          res.statusCode = 500;
          res.end(name);
        });
      const a = await failing('a');
      const b = await failing('b');
      const { balancer, url } = await front([a.url, b.url], { outlierDetection: { consecutiveFailures: 3, maxEjectionPercent: 50 } });
      const ejected: string[] = [];
      balancer.on('memberEjected', (e) => ejected.push(e.route));
      for (let i = 0; i < 12; i++) expect((await request(`${url}/`)).status).toBe(500);
      expect(ejected).toHaveLength(1); // the second would put 100% of the tier out
      const states = balancer
        .snapshot()
        .members.map((m) => m.state)
        .sort();
      expect(states).toEqual(['error', 'ok']);
    });

    it('forceRecovery: when every member is in error they are all tried again instead of a permanent 503', async () => {
      const a = await backend('a');
      const { balancer, url } = await front([a.url]);
      await a.kill();
      expect((await request(`${url}/`)).status).toBe(502);
      expect(balancer.snapshot().members[0]!.state).toBe('error');
      const recovered = new Promise<{ routes: string[] }>((resolve) => balancer.once('forcedRecovery', resolve));
      expect((await request(`${url}/`)).status).toBe(502); // tried again rather than refused
      expect((await recovered).routes).toHaveLength(1);
      expect(balancer.snapshot().members[0]!.requests).toBe(2);

      const noRecovery = await front([`http://127.0.0.1:${await closedPort()}`], { forceRecovery: false });
      expect((await request(`${noRecovery.url}/`)).status).toBe(502);
      expect((await request(`${noRecovery.url}/`)).status).toBe(503);
    });
  });

  describe('retry budget and client aborts', () => {
    it('refuses a retry when the budget is spent, and says so', async () => {
      const dropper = await backend('dropper', dropAfterRequest);
      const good = await backend('good');
      const { balancer, url } = await front([dropper.url, good.url], { retry: { budgetPercent: 0, budgetMin: 0 } });
      const refused = new Promise((resolve) => balancer.once('retryBudgetExhausted', resolve));
      expect((await request(`${url}/`)).status).toBe(502);
      await refused;
      expect(balancer.snapshot().retries).toEqual({ made: 0, refusedByBudget: 1 });
      expect(good.received).toHaveLength(0);
    });

    it('a client abort aborts the member request, starts no retry, charges nobody and leaves counters at zero', async () => {
      let memberSawClose!: () => void;
      const closedAtMember = new Promise<void>((resolve) => (memberSawClose = resolve));
      let arrived!: () => void;
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
      const hanging = await backend('hang', (req) => {
        req.socket.on('close', () => memberSawClose());
        arrived();
      });
      const other = await backend('other');
      const { balancer, url } = await front([hanging.url, other.url]);
      const client = http.get(`${url}/`, { agent: false });
      client.on('error', () => {});
      await requestArrived;
      client.destroy();
      await closedAtMember;
      const snap = balancer.snapshot();
      expect(snap.totals.inFlight).toBe(0);
      expect(snap.inFlight).toEqual({ requests: 0, retries: 0 });
      expect(snap.members[0]).toMatchObject({ failures: 0, state: 'ok' });
      expect(snap.retries.made).toBe(0);
      expect(other.received).toHaveLength(0);
    });
  });

  describe('events', () => {
    it('emits memberError, retry and memberRecovered on the balancer and on diagnostics channels', async () => {
      const good = await backend('good');
      const port = await closedPort();
      const { balancer, url } = await front([`http://127.0.0.1:${port}`, good.url], { retryMs: 0 });
      const seen: string[] = [];
      const onChannel = (message: unknown): void => void seen.push(`dc:${(message as { route: string }).route}`);
      diagnostics.subscribe('proxy-balancer:memberError', onChannel);
      cleanups.push(async () => void diagnostics.unsubscribe('proxy-balancer:memberError', onChannel));
      balancer.on('memberError', (e) => seen.push(`error:${e.route}:${e.reason}`));
      balancer.on('retry', (e) => seen.push(`retry:${e.route}:${e.attempt}`));
      balancer.on('memberRecovered', (e) => seen.push(`recovered:${e.route}`));
      expect((await request(`${url}/`)).status).toBe(200);
      const route = balancer.pool.members[0]!.route;
      expect(seen).toEqual([`dc:${route}`, `error:${route}:connect failed: ECONNREFUSED`, `retry:${route}:1`]);

      // Bring the member up on the same port; with retryMs 0 the next pick tries it and it recovers.
      const revived = http.createServer((_req, res) => res.end('revived'));
      await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', () => resolve()));
      cleanups.push(() => new Promise<void>((resolve) => revived.close(() => resolve())));
      const replies = [await request(`${url}/`), await request(`${url}/`)];
      expect(replies.map((r) => r.body)).toContain('revived');
      expect(seen).toContain(`recovered:${route}`);
    });
  });

  describe('a member dies under load', () => {
    it('3 members, 20 keep-alive clients, 2,100 GETs, one killed mid-run, one closing idle sockets after 1 ms: no client-visible failure', async () => {
      const a = await backend('a');
      const doomed = await backend('doomed');
      const twitchy = await backend('twitchy');
      twitchy.server.keepAliveTimeout = 1;
      const { balancer, url } = await front([a.url, doomed.url, twitchy.url]);
      const doomedRoute = balancer.pool.members[1]!.route;
      let doomedRequestsAtError = -1;
      balancer.on('memberError', (e) => {
        if (e.route === doomedRoute) doomedRequestsAtError = balancer.pool.get(doomedRoute)!.requests;
      });

      const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
      cleanups.push(async () => agent.destroy());
      const total = 2100;
      const killAt = 700;
      let issued = 0;
      let failures = 0;
      let killed: Promise<void> | undefined;
      let doomedReceivedAtKill = 0;
      const deadline = Date.now() + 60_000; // a bound on the loop, not an assertion
      const get = (): Promise<boolean> =>
        new Promise((resolve) => {
          http
            .get(`${url}/`, { agent }, (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve(res.statusCode === 200 && ['a', 'doomed', 'twitchy'].includes(body)));
              res.on('error', () => resolve(false));
            })
            .on('error', () => resolve(false));
        });
      const worker = async (): Promise<void> => {
        while (issued < total && Date.now() < deadline) {
          issued++;
          if (issued === killAt) {
            doomedReceivedAtKill = doomed.received.length;
            killed = doomed.kill();
          }
          if (!(await get())) failures++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      await killed;

      expect(issued).toBe(total);
      expect(failures).toBe(0);
      expect(doomed.received.length).toBe(doomedReceivedAtKill);
      const snap = balancer.snapshot();
      const doomedSnap = snap.members.find((m) => m.route === doomedRoute)!;
      expect(doomedSnap.state).toBe('error');
      expect(doomedRequestsAtError).toBeGreaterThan(0);
      expect(doomedSnap.requests).toBe(doomedRequestsAtError); // no attempt reached for it once it was in error
      expect(twitchy.received.length).toBeGreaterThan(100);
      expect(snap.totals.inFlight).toBe(0);
    });
  });
});
