/**
 * `npm run docs:screenshot`: draws docs/balancer-manager.png, the management page over a small
 * loopback cluster in the study's shape (pi2 and pi3 serving, a hot spare, pi4 down), after some
 * traffic, with pi3 draining. Everything listens on 127.0.0.1 and stops at the end.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBalancer, createManager } from '../../src/index.js';
import { closedPort, request, startBackend, startFront } from '../helpers/servers.js';
import { launchChromium } from './chromium.js';

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/balancer-manager.png');

const backends = await Promise.all(
  ['pi2', 'pi3', 'spare'].map((name) =>
    startBackend(name, (req, res) => {
      req.resume();
      req.on('end', () => res.end(req.url === '/health' ? 'ok' : `hello from ${name}\n`.repeat(40)));
    }),
  ),
);
const down = await closedPort();
const balancer = createBalancer({
  members: [
    { url: backends[0]!.url, route: 'pi2', weight: 1 },
    { url: backends[1]!.url, route: 'pi3', weight: 2 },
    { url: backends[2]!.url, route: 'spare', status: 'spare' },
    { url: `http://127.0.0.1:${down}`, route: 'pi4' },
  ],
  healthCheck: { path: '/health', intervalMs: 1000, fails: 2 },
});
const app = await startFront(balancer);
const site = await startFront(createManager(balancer, { authorize: () => true, title: 'Pi cluster: balancer manager' }) as http.RequestListener);

for (let i = 0; i < 60; i++) await request(app.url, i % 5 === 0 ? { method: 'POST', body: 'x'.repeat(512) } : {});
await new Promise((resolve) => balancer.once('memberUnhealthy', resolve)); // pi4 fails its probes too
balancer.pool.drain('pi3');

const browser = await launchChromium({ width: 1480, height: 420 });
try {
  const page = await browser.context.newPage();
  await page.goto(`${site.url}/`);
  await page.locator('#members tbody tr').nth(3).waitFor();
  await page
    .locator('tr[data-route="spare"] .c-health')
    .filter({ hasText: /healthy/ })
    .waitFor();
  await page.screenshot({ path: out, fullPage: true });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  await site.close();
  await app.close();
  await balancer.close();
  await Promise.all(backends.map((b) => b.close()));
}
