/**
 * The package as a consumer installs it: an ESM consumer, a CJS consumer and a TypeScript consumer
 * (`module`/`moduleResolution: nodenext`, strict) each use `proxy-balancer` and
 * `proxy-balancer/fastify` through its own `exports` map and built dist/ files, not through src/. The consumer directory lives under the OS
 * temp dir with `node_modules/proxy-balancer` a symlink to this repository, so what resolves is the
 * package's own `exports`, dist/ and its dependencies in the repository's node_modules (no network).
 * Needs a build first; `npm test` builds.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tscBin = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
/** The files the `exports` map points at: ESM and CJS code, and a declaration file for each. */
const DIST_FILES = [
  'dist/index.js',
  'dist/index.cjs',
  'dist/index.d.ts',
  'dist/index.d.cts',
  'dist/fastify.js',
  'dist/fastify.cjs',
  'dist/fastify.d.ts',
  'dist/fastify.d.cts',
];
const RUN_TIMEOUT_MS = 30_000;
/** tsc loads @types/node and checks the package's declarations too: give it room on a busy machine. */
const TSC_TIMEOUT_MS = 90_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` in `cwd` with a deadline; never rejects, so a test can assert on the outcome. */
function runNode(args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr: error !== null && code === null ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

/**
 * The body shared by the ESM and CJS consumers (no near-copies): a loopback back end, a balancer
 * over it served by `node:http` and by a Fastify app through `proxy-balancer/fastify`, one real
 * request through each, and config errors caught by class (the plugin's too: it shares the core).
 * Prints one JSON line; everything is closed so the process ends by itself (a leaked socket or
 * timer would show up as a timeout).
 */
const CONSUMER_BODY = String.raw`
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve('http://127.0.0.1:' + server.address().port));
  });
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function main() {
  const backend = http.createServer((req, res) => {
    req.resume();
    res.end('hello from the back end via ' + req.url);
  });
  const backendUrl = await listen(backend);
  const balancer = createBalancer({ members: [{ url: backendUrl }], strategy: 'byrequests' });
  const front = http.createServer(balancer);
  const frontUrl = await listen(front);
  const reply = await get(frontUrl + '/consumer');

  // The management page and its assets come from the bundle, whichever build is loaded.
  const managerServer = http.createServer(createManager(balancer, { authorize: () => true }));
  const managerUrl = await listen(managerServer);
  const managerPage = await get(managerUrl + '/');
  const managerScript = await get(managerUrl + '/?asset=manager.js');
  const manager = {
    page: managerPage.status,
    token: /<meta name="csrf-token" content="[^"]{43}">/.test(managerPage.body),
    script: managerScript.status === 200 && managerScript.body.includes('x-csrf-token'),
    metrics: (await get(managerUrl + '/metrics')).body.includes('proxy_balancer_requests_total{member='),
  };
  managerServer.closeAllConnections();
  await new Promise((resolve) => managerServer.close(resolve));

  const app = fastify();
  await app.register(proxyBalancer, { prefix: '/app', balancer });
  const appUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const viaFastify = await get(appUrl + '/app/consumer');
  await app.close();
  let pluginError;
  const other = fastify();
  try {
    await other.register(proxyBalancer, { balancer: { members: [{ url: backendUrl, weight: 0 }] } });
  } catch (err) {
    pluginError = { isBalancerConfigError: err instanceof BalancerConfigError, path: err.path };
  }
  await other.close();

  let configError;
  try {
    createBalancer({ members: [{ url: backendUrl, weight: 0 }] });
  } catch (err) {
    configError = { isBalancerConfigError: err instanceof BalancerConfigError, name: err.name, code: err.code, path: err.path };
  }

  await balancer.close();
  front.closeAllConnections();
  backend.closeAllConnections();
  await new Promise((resolve) => front.close(resolve));
  await new Promise((resolve) => backend.close(resolve));
  console.log(JSON.stringify({ status: reply.status, body: reply.body, configError, manager, resolved: RESOLVED, exportNames: EXPORT_NAMES, fastify: { status: viaFastify.status, body: viaFastify.body, pluginError, resolved: RESOLVED_FASTIFY } }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`;

const ESM_CONSUMER = `import http from 'node:http';
import { createBalancer, createManager, BalancerConfigError } from 'proxy-balancer';
import * as pkg from 'proxy-balancer';
import { proxyBalancer } from 'proxy-balancer/fastify';
import { fastify } from 'fastify';
const RESOLVED = import.meta.resolve('proxy-balancer');
const RESOLVED_FASTIFY = import.meta.resolve('proxy-balancer/fastify');
const EXPORT_NAMES = Object.keys(pkg).sort();
${CONSUMER_BODY}`;

const CJS_CONSUMER = `'use strict';
const http = require('node:http');
const { createBalancer, createManager, BalancerConfigError } = require('proxy-balancer');
const { proxyBalancer } = require('proxy-balancer/fastify');
const { fastify } = require('fastify');
const RESOLVED = require.resolve('proxy-balancer');
const RESOLVED_FASTIFY = require.resolve('proxy-balancer/fastify');
const EXPORT_NAMES = Object.keys(require('proxy-balancer')).filter((name) => name !== '__esModule').sort();
${CONSUMER_BODY}`;

/** A TypeScript consumer's use of the types; the two `@ts-expect-error` lines fail the check if the types were `any`. */
const TS_CONSUMER_BODY = `
const options: BalancerOptions = {
  members: [{ url: 'http://127.0.0.1:8080', route: 'a', weight: 2 }, { url: 'http://127.0.0.1:8081', status: 'standby' }],
  strategy: 'byrequests',
  timeoutMs: 5000,
};
export const balancer: Balancer = createBalancer(options);
export const server = http.createServer(balancer);
export const memberCount: number = balancer.snapshot().members.length;
export const handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = balancer;
export const metrics: string = balancer.metrics();
export const manager: (req: http.IncomingMessage, res: http.ServerResponse) => void = createManager(balancer, {
  authorize: async (req) => req.headers['x-admin'] === 'yes',
  title: 'admin',
});
export const closing: Promise<void> = balancer.close();

// @ts-expect-error weight is a number (Apache's loadfactor), not a string
createBalancer({ members: [{ url: 'http://127.0.0.1:8080', weight: 'heavy' }] });
// @ts-expect-error strategy is a built-in name or a Strategy object
createBalancer({ members: [{ url: 'http://127.0.0.1:8080' }], strategy: 'fastest' });
// @ts-expect-error the manager needs an authorize hook
createManager(balancer, { title: 'no access decision' });

// The plugin takes the root's Balancer (one set of declarations), or the options to make one.
export const app = fastify();
export const registered: Promise<unknown> = Promise.all([
  app.register(proxyBalancer, { prefix: '/app', balancer }),
  app.register(proxyBalancer, { prefix: '/b', balancer: options }),
]);
// @ts-expect-error the plugin needs a balancer
app.register(proxyBalancer, { prefix: '/c' });

export function describeError(err: unknown): string {
  if (err instanceof BalancerConfigError) {
    const where: string = err.path;
    const code: string = err.code;
    return where + ' ' + code + ' ' + err.message;
  }
  return String(err);
}
`;

const TS_IMPORTS = `import http from 'node:http';
import { fastify } from 'fastify';
import { createBalancer, createManager, BalancerConfigError, type Balancer, type BalancerOptions } from 'proxy-balancer';
import { proxyBalancer } from 'proxy-balancer/fastify';
`;

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    noEmit: true,
    // Check the package's own declaration files too, as a strict consumer's build would.
    skipLibCheck: false,
    types: ['node'],
  },
  files: ['consumer.mts', 'consumer.cts'],
};

let consumerDir = '';

beforeAll(() => {
  const missing = DIST_FILES.filter((file) => !existsSync(path.join(repoRoot, file)));
  if (missing.length > 0) {
    throw new Error(`package test needs a build: ${missing.join(', ')} missing. Run \`npm run build\` first (\`npm test\` does).`);
  }
  consumerDir = mkdtempSync(path.join(os.tmpdir(), 'proxy-balancer-consumer-'));
  const nodeModules = path.join(consumerDir, 'node_modules');
  mkdirSync(path.join(nodeModules, '@types'), { recursive: true });
  symlinkSync(repoRoot, path.join(nodeModules, 'proxy-balancer'), 'junction');
  // A TypeScript consumer installs @types/node itself, and a Fastify app fastify: borrow the repository's copies.
  symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(nodeModules, '@types', 'node'), 'junction');
  symlinkSync(path.join(repoRoot, 'node_modules', 'fastify'), path.join(nodeModules, 'fastify'), 'junction');
  writeFileSync(path.join(consumerDir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }));
  writeFileSync(path.join(consumerDir, 'consumer.mjs'), ESM_CONSUMER);
  writeFileSync(path.join(consumerDir, 'consumer.cjs'), CJS_CONSUMER);
  writeFileSync(path.join(consumerDir, 'consumer.mts'), TS_IMPORTS + TS_CONSUMER_BODY);
  writeFileSync(path.join(consumerDir, 'consumer.cts'), TS_IMPORTS + TS_CONSUMER_BODY);
  writeFileSync(path.join(consumerDir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
});

afterAll(() => {
  if (consumerDir !== '') rmSync(consumerDir, { recursive: true, force: true });
});

interface ConsumerReport {
  status: number;
  body: string;
  configError: { isBalancerConfigError: boolean; name: string; code: string; path: string } | undefined;
  manager: { page: number; token: boolean; script: boolean; metrics: boolean };
  resolved: string;
  exportNames: string[];
  fastify: { status: number; body: string; pluginError: { isBalancerConfigError: boolean; path: string } | undefined; resolved: string };
}

/** Runs a consumer script and returns its one JSON line, failing with its stderr if it did not exit 0. */
async function runConsumer(file: string, nodeFlags: string[] = []): Promise<ConsumerReport> {
  const run = await runNode([...nodeFlags, file], consumerDir, RUN_TIMEOUT_MS);
  expect(run.stderr, `${file} wrote to stderr`).toBe('');
  expect(run.code, `${file} exit code (null: killed after ${RUN_TIMEOUT_MS} ms)`).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as ConsumerReport;
}

function expectWorkingConsumer(report: ConsumerReport): void {
  expect(report.status).toBe(200);
  expect(report.body).toBe('hello from the back end via /consumer');
  expect(report.configError).toEqual({ isBalancerConfigError: true, name: 'BalancerConfigError', code: 'ERR_BALANCER_CONFIG', path: 'members[0].weight' });
  expect(report.manager).toEqual({ page: 200, token: true, script: true, metrics: true });
  expect(report.fastify).toMatchObject({ status: 200, body: 'hello from the back end via /consumer' });
  // The plugin throws the root's BalancerConfigError: it loads the core through the package root, not a copy.
  expect(report.fastify.pluginError).toEqual({ isBalancerConfigError: true, path: 'members[0].weight' });
}

describe('the package as installed', () => {
  it('an ESM consumer imports it and proxies a request through it', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
    const report = await runConsumer('consumer.mjs');
    expectWorkingConsumer(report);
    // The `import` condition of the exports map, reached through node_modules.
    expect(fileURLToPath(report.resolved)).toBe(path.join(repoRoot, 'dist', 'index.js'));
    expect(fileURLToPath(report.fastify.resolved)).toBe(path.join(repoRoot, 'dist', 'fastify.js'));
  });

  it('a CJS consumer requires it and proxies a request through it', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
    const report = await runConsumer('consumer.cjs');
    expectWorkingConsumer(report);
    // The `require` condition of the exports map, reached through node_modules.
    expect(report.resolved).toBe(path.join(repoRoot, 'dist', 'index.cjs'));
    expect(report.fastify.resolved).toBe(path.join(repoRoot, 'dist', 'fastify.cjs'));
  });

  it('a CJS consumer works without require(esm), as on Node 20 before 20.19', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
    // require(esm) is on by default only from Node 20.19: the CJS build and every dependency it requires must be CommonJS.
    expectWorkingConsumer(await runConsumer('consumer.cjs', ['--no-experimental-require-module']));
  });

  it('ESM and CJS builds export the same names', { timeout: 2 * RUN_TIMEOUT_MS + 10_000 }, async () => {
    const [esm, cjs] = await Promise.all([runConsumer('consumer.mjs'), runConsumer('consumer.cjs')]);
    expect(esm.exportNames).toContain('createBalancer');
    expect(esm.exportNames).toContain('BalancerConfigError');
    expect(esm.exportNames).toContain('createManager');
    expect(cjs.exportNames).toEqual(esm.exportNames);
  });

  it('the core builds load no fastify (an optional peer), and the plugin loads the core from the package root', () => {
    const loadsFastify = /\bfrom\s*["']fastify["']|require\(["']fastify["']\)|import\(["']fastify["']\)/;
    for (const file of ['dist/index.js', 'dist/index.cjs', 'dist/cli.js', 'dist/fastify.js', 'dist/fastify.cjs']) {
      expect(readFileSync(path.join(repoRoot, file), 'utf8'), file).not.toMatch(loadsFastify);
    }
    expect(readFileSync(path.join(repoRoot, 'dist', 'fastify.js'), 'utf8')).toMatch(/from "proxy-balancer"/);
    expect(readFileSync(path.join(repoRoot, 'dist', 'fastify.cjs'), 'utf8')).toMatch(/require\("proxy-balancer"\)/);
  });

  it('a TypeScript consumer (nodenext, strict) type-checks against the ESM and CJS declarations', { timeout: TSC_TIMEOUT_MS + 10_000 }, async () => {
    const run = await runNode([tscBin, '-p', consumerDir, '--listFiles'], consumerDir, TSC_TIMEOUT_MS);
    expect(run.code, `tsc exit code (null: killed after ${TSC_TIMEOUT_MS} ms)\n${run.stdout}${run.stderr}`).toBe(0);
    const checked = run.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => path.resolve(line));
    // Both consumer files were checked, and each resolved through its own exports condition.
    expect(checked).toContain(path.join(consumerDir, 'consumer.mts'));
    expect(checked).toContain(path.join(consumerDir, 'consumer.cts'));
    expect(checked).toContain(path.join(repoRoot, 'dist', 'index.d.ts'));
    expect(checked).toContain(path.join(repoRoot, 'dist', 'index.d.cts'));
    expect(checked).toContain(path.join(repoRoot, 'dist', 'fastify.d.ts'));
    expect(checked).toContain(path.join(repoRoot, 'dist', 'fastify.d.cts'));
  });
});
