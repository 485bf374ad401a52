import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { request, startBackend, startFront, type Backend } from './helpers/servers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function cluster(
  names: string[],
  weights: number[],
  extra: Omit<BalancerOptions, 'members'>,
  handler?: (name: string) => Parameters<typeof startBackend>[1],
): Promise<{ balancer: Balancer; url: string; backends: Backend[] }> {
  const backends: Backend[] = [];
  for (const name of names) {
    const b = await startBackend(name, handler?.(name));
    cleanups.push(() => b.close());
    backends.push(b);
  }
  const balancer = createBalancer({ members: backends.map((b, i) => ({ url: b.url, route: b.name, weight: weights[i] })), ...extra });
  const front = await startFront(balancer);
  cleanups.push(async () => {
    await front.close();
    await balancer.close();
  });
  return { balancer, url: front.url, backends };
}

async function sequence(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await request(url)).body);
  return out;
}

describe('strategies on real sockets', () => {
  it("byrequests, weights 1:2:3, serves Apache's cycle c b a c b c", async () => {
    const { url } = await cluster(['a', 'b', 'c'], [1, 2, 3], { strategy: 'byrequests' });
    expect(await sequence(url, 12)).toEqual(['c', 'b', 'a', 'c', 'b', 'c', 'c', 'b', 'a', 'c', 'b', 'c']);
  });

  it('roundrobin ignores weights', async () => {
    const { url } = await cluster(['a', 'b', 'c'], [1, 2, 3], { strategy: 'roundrobin' });
    expect(await sequence(url, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('bytraffic sends requests to the member with the fewest bytes per weight', async () => {
    // a answers 1000 bytes, b 100: after one request each, b is far behind in bytes and takes the next ones.
    const { url, balancer } = await cluster(
      ['a', 'b'],
      [1, 1],
      { strategy: 'bytraffic' },
      (name) => (_req, res) => res.end(name === 'a' ? 'a'.repeat(1000) : 'b'.repeat(100)),
    );
    const bodies = (await sequence(url, 6)).map((b) => b[0]);
    expect(bodies).toEqual(['a', 'b', 'b', 'b', 'b', 'b']);
    expect(balancer.snapshot().members.map((m) => m.bytesReceived)).toEqual([1000, 500]);
  });

  it('bybusyness sends new requests to the member with fewer in flight', async () => {
    const held: http.ServerResponse[] = [];
    let arrivedAt!: () => void;
    const arrived = new Promise<void>((resolve) => (arrivedAt = resolve));
    const { url, balancer } = await cluster(['a', 'b'], [1, 1], { strategy: 'bybusyness' }, (name) => (req, res) => {
      if (req.url === '/hold') {
        held.push(res);
        arrivedAt();
        return;
      }
      res.end(name);
    });
    // One held request on a; every quick request then goes to b, the less busy.
    const pending = request(`${url}/hold`);
    await arrived;
    expect(balancer.snapshot().members.map((m) => m.inFlight)).toEqual([1, 0]);
    expect(await sequence(url, 4)).toEqual(['b', 'b', 'b', 'b']);
    held[0]!.end('a');
    await pending;
    expect(balancer.snapshot().members.map((m) => m.inFlight)).toEqual([0, 0]);
  });

  it('lbset tiers and a hot standby: lbset 1 serves only when lbset 0 cannot, the standby last in its tier', async () => {
    const { url, balancer } = await cluster(['main', 'standby', 'backup'], [1, 1, 1], {});
    balancer.pool.setStatus('standby', 'standby');
    // Move "backup" to lbset 1 by removing and re-adding it, as an operator would.
    const backupUrl = balancer.pool.get('backup')!.url.href;
    balancer.pool.remove('backup');
    balancer.pool.add({ url: backupUrl, route: 'backup', lbset: 1 });
    expect(await sequence(url, 2)).toEqual(['main', 'main']);
    balancer.pool.disable('main');
    expect(await sequence(url, 2)).toEqual(['standby', 'standby']);
    balancer.pool.disable('standby');
    expect(await sequence(url, 2)).toEqual(['backup', 'backup']);
  });
});
