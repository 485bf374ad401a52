import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type Balancer, type MemberEvent } from '../src/index.js';
import { request, startFront } from './helpers/servers.js';
import { startSwitchable, type SwitchableBackend } from './helpers/switchable.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function switchable(name: string): Promise<SwitchableBackend> {
  const b = await startSwitchable(name);
  cleanups.push(() => b.close());
  return b;
}

function next(balancer: Balancer, event: 'memberHealthy' | 'memberUnhealthy'): Promise<MemberEvent> {
  return new Promise((resolve) => balancer.once(event, resolve));
}

describe('active health checks through createBalancer', () => {
  it('takes a member out after `fails` bad probes, puts it back after `passes` good ones, and shows it in snapshot()', async () => {
    const a = await switchable('a');
    const b = await switchable('b');
    const balancer = createBalancer({
      members: [
        { url: a.url, route: 'a' },
        { url: b.url, route: 'b' },
      ],
      healthCheck: { path: '/health', intervalMs: 100, passes: 2, fails: 2, jitterPercent: 0 },
    });
    const front = await startFront(balancer);
    cleanups.push(async () => {
      await front.close();
      await balancer.close();
    });

    const down = next(balancer, 'memberUnhealthy');
    a.set(500);
    expect((await down).route).toBe('a');
    const snap = balancer.snapshot();
    expect(snap.members.find((m) => m.route === 'a')!.state).toBe('unhealthy');
    const health = snap.health.find((h) => h.route === 'a')!;
    expect(health.healthy).toBe(false);
    expect(health.lastProbe).toMatchObject({ ok: false, status: 500 });

    // While a is out, every request goes to b (whose probes and pages answer 200).
    const replies = await Promise.all([1, 2, 3, 4].map(() => request(`${front.url}/page`)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(a.requests.filter((r) => r.url === '/page')).toHaveLength(0);

    const up = next(balancer, 'memberHealthy');
    a.set(200);
    expect((await up).route).toBe('a');
    expect(balancer.snapshot().members.find((m) => m.route === 'a')!.state).toBe('ok');
    // Probes went only to the members, on the configured path.
    expect(new Set([...a.requests, ...b.requests].filter((r) => r.url !== '/page').map((r) => r.url))).toEqual(new Set(['/health']));
  });
});
