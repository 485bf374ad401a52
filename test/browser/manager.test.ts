/**
 * The management page in a real headless Chromium: the manager mounted under Express at
 * /balancer-manager in front of a balancer over two real back ends on loopback. The page shows both
 * members, its Drain button drains one (and new requests stop going to it), its weight field
 * changes a weight, text that could be markup shows as text, and the page runs under its
 * Content-Security-Policy without a violation. Run by `npm run test:browser`, not by `npm test`.
 */
import http from 'node:http';
import express from 'express';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalancer, createManager, type Balancer } from '../../src/index.js';
import { request, startBackend, startFront, type Backend } from '../helpers/servers.js';
import { launchChromium, type Chromium } from './chromium.js';

// The page's globals as the functions given to page.evaluate see them (the project's lib has no DOM types).
declare const document: { querySelector(selector: string): { textContent: string | null } | null; querySelectorAll(selector: string): { length: number } };
declare const window: { __pwned?: number };

/** Text that would run if the page ever wrote it as markup. */
const SCRIPT_TEXT = '<script>window.__pwned=1</script>';
const TITLE = 'Pi cluster <img src=x onerror="window.__pwned=2">';

let browser: Chromium;
let a: Backend;
let b: Backend;
let balancer: Balancer;
let app: { url: string; close(): Promise<void> };
let site: { url: string; close(): Promise<void> };
let page: Page;
const consoleErrors: string[] = [];

/** Waits until the element at `selector` shows exactly `text` (the page refreshes itself every 2 s). */
async function waitForText(selector: string, text: string): Promise<void> {
  await page.waitForFunction(([sel, want]) => document.querySelector(sel!)?.textContent === want, [selector, text], { timeout: 10_000 });
}

/** Which member served each of `n` requests through the balancer. */
async function servedBy(n: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) bodies.push((await request(app.url)).body);
  return bodies;
}

beforeAll(async () => {
  let bHealthy = false;
  a = await startBackend('a');
  b = await startBackend('b', (req, res) => {
    if (req.url?.startsWith('/b&x/health')) res.statusCode = bHealthy ? 200 : 503;
    res.end('b');
  });
  balancer = createBalancer({
    members: [
      { url: a.url, route: 'a' },
      // A URL path with HTML-significant characters, and a health check whose path (shown in the
      // member's last error) carries a script element.
      { url: `${b.url}/b&x/`, route: 'b', healthCheck: { path: `/health?${SCRIPT_TEXT}`, intervalMs: 100, fails: 1, passes: 1, jitterPercent: 0 } },
    ],
    strategy: 'roundrobin',
  });
  // b fails its first probe (its last error then names the probe), then passes again.
  await new Promise((resolve) => balancer.once('memberUnhealthy', resolve));
  bHealthy = true;
  await new Promise((resolve) => balancer.once('memberHealthy', resolve));

  app = await startFront(balancer);
  const site_ = express();
  site_.use('/balancer-manager', createManager(balancer, { authorize: (req) => req.headers['x-admin'] === 'yes', title: TITLE }));
  site = await startFront(site_ as unknown as http.RequestListener);

  browser = await launchChromium();
  await browser.context.setExtraHTTPHeaders({ 'x-admin': 'yes' });
  page = await browser.context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  // The mount path without a trailing slash: the page's assets and API calls must still resolve.
  const response = await page.goto(`${site.url}/balancer-manager`);
  expect(response?.status()).toBe(200);
  await page.locator('#members tbody tr').nth(1).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
  await balancer?.close();
  await a?.close();
  await b?.close();
});

describe('the management page in Chromium', () => {
  it('shows both members with their state, URL and counters', async () => {
    await servedBy(4);
    // The page refreshes itself from the JSON API: wait for the counts of those requests.
    await waitForText('tr[data-route="a"] .c-requests', '2');
    const routes = await page.locator('#members tbody tr th.c-route').allTextContents();
    expect(routes).toEqual(['a', 'b']);
    expect(await page.locator('tr[data-route="a"] .c-url').textContent()).toBe(`${a.url}/`);
    expect(await page.locator('tr[data-route="b"] .c-url').textContent()).toBe(`${b.url}/b&x/`);
    expect(await page.locator('tr[data-route="a"] .c-state').textContent()).toBe('ok');
    expect(await page.locator('tr[data-route="b"] .c-state').textContent()).toBe('ok');
    expect(await page.locator('tr[data-route="b"] .c-health').textContent()).toMatch(/^healthy · pass, \d+ ms$/);
  });

  it('shows markup-like text as text: the last error with a script element, and the title', async () => {
    const error = await page.locator('tr[data-route="b"] .c-error').textContent();
    expect(error).toContain(`/b&x/health?${SCRIPT_TEXT}: 1 failed probe in a row, last UNEXPECTED_STATUS (status 503)`);
    expect(await page.locator('h1').textContent()).toBe(TITLE);
    expect(await page.title()).toBe(TITLE);
    expect(await page.evaluate(() => document.querySelectorAll('main script, header img, main img').length)).toBe(0);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
  });

  it('Drain drains the member, and new requests stop going to it', async () => {
    expect(new Set(await servedBy(4))).toEqual(new Set(['a', 'b']));
    await page.locator('tr[data-route="b"] button[data-action="drain"]').click();
    await waitForText('tr[data-route="b"] .c-state', 'drain');
    expect(await page.locator('#message').textContent()).toBe('drain b: done; b is now drain');
    expect(await page.locator('tr[data-route="b"] button[data-action="drain"]').isDisabled()).toBe(true);
    expect(await page.locator('tr[data-route="b"] .c-flags').textContent()).toBe('N');
    expect(balancer.pool.get('b')!.admin).toBe('drain');
    expect(await servedBy(6)).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
  });

  it("the weight field sets a member's weight, and Enable puts a member back", async () => {
    await page.locator('tr[data-route="a"] input[name="weight"]').fill('5');
    await page.locator('tr[data-route="a"] form.weight button').click();
    await waitForText('tr[data-route="a"] .c-weight', '5');
    expect(balancer.pool.get('a')!.weight).toBe(5);
    await page.locator('tr[data-route="b"] button[data-action="enable"]').click();
    await waitForText('tr[data-route="b"] .c-state', 'ok');
    expect(balancer.pool.get('b')!.admin).toBe('enabled');
  });

  it('ran under its Content-Security-Policy without a violation or a script error', () => {
    expect(consoleErrors).toEqual([]);
  });
});
