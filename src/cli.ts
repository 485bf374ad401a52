#!/usr/bin/env node
/**
 * The `proxy-balancer` command: serves a balancer from a JSON config file (the createBalancer
 * options plus a `listen` block) or from an Apache httpd config (`--apache`), and shuts down
 * gracefully on SIGTERM/SIGINT: stop accepting, let requests in flight finish, close.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { fromApacheConfig } from './apache/import.js';
import { createBalancer, type Balancer } from './balancer.js';
import { normalizeOptions, type BalancerOptions } from './config.js';
import { BalancerConfigError, expectKnownKeys, expectPlainObject, optionalInteger } from './validate.js';

const USAGE = `usage: proxy-balancer --config <file.json> [--port <n>] [--host <addr>] [--check]
       proxy-balancer --apache <httpd.conf> [--balancer <name>] [--port <n>] [--host <addr>] [--check]

  --config     JSON file: the createBalancer options, plus an optional
               "listen": { "port": 8080, "host": "127.0.0.1", "path": "/", "shutdownTimeoutMs": 10000 }
  --apache     an Apache httpd config with <Proxy "balancer://..."> blocks and ProxyPass
  --balancer   which balancer of the Apache config to serve (needed when it has several)
  --port/--host override the listen block
  --check      validate the configuration, print it, and exit (connects to nothing)
`;

/** Where and how the command listens. */
interface ListenConfig {
  port: number;
  host: string;
  /** Mount path: requests outside it get 404; inside it, the path is stripped as Express does. */
  path: string;
  shutdownTimeoutMs: number;
}

const LISTEN_KEYS = ['port', 'host', 'path', 'shutdownTimeoutMs'] as const;

class UsageError extends Error {}

function fail(message: string, code: number): never {
  process.stderr.write(`proxy-balancer: ${message}\n`);
  process.exit(code);
}

function loadConfig(args: Record<string, string | boolean | undefined>): { options: BalancerOptions; listen: ListenConfig } {
  const file = (args.config ?? args.apache) as string | undefined;
  if (file === undefined) throw new UsageError('give --config <file.json> or --apache <httpd.conf>');
  if (args.config !== undefined && args.apache !== undefined) throw new UsageError('give --config or --apache, not both');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let options: Record<string, unknown>;
  let listenValue: unknown;
  if (args.apache !== undefined) {
    const imported = fromApacheConfig(text);
    for (const u of imported.unsupported) {
      process.stderr.write(`proxy-balancer: ${file}:${u.line}: ${u.directive}${u.parameter ? ` ${u.parameter}` : ''} not honoured: ${u.reason}\n`);
    }
    const wanted = args.balancer as string | undefined;
    const chosen = wanted === undefined ? imported.balancers : imported.balancers.filter((b) => b.name === wanted.toLowerCase());
    if (chosen.length === 0) throw new UsageError(wanted === undefined ? `${file} defines no balancer://` : `${file} has no balancer://${wanted}`);
    if (chosen.length > 1) throw new UsageError(`${file} defines ${chosen.length} balancers (${chosen.map((b) => b.name).join(', ')}): pick one with --balancer`);
    options = { ...(chosen[0]!.options as unknown as Record<string, unknown>) };
    listenValue = { path: chosen[0]!.mountPath ?? '/' };
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    expectPlainObject(parsed, 'config');
    ({ listen: listenValue, ...options } = parsed);
  }
  const listen = normalizeListen(listenValue ?? {}, args);
  return { options: options as unknown as BalancerOptions, listen };
}

function normalizeListen(value: unknown, args: Record<string, string | boolean | undefined>): ListenConfig {
  expectPlainObject(value, 'listen');
  expectKnownKeys(value, LISTEN_KEYS, 'listen');
  const port = args.port !== undefined ? Number(args.port) : value.port;
  const host = (args.host as string | undefined) ?? value.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new BalancerConfigError('listen.host', host, 'must be a host name or address');
  const path = value.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) throw new BalancerConfigError('listen.path', path, 'must be a path starting with /');
  return {
    port: optionalInteger(port, 'listen.port', 0, 65535, 8080),
    host,
    path: path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path,
    shutdownTimeoutMs: optionalInteger(value.shutdownTimeoutMs, 'listen.shutdownTimeoutMs', 0, 3_600_000, 10_000),
  };
}

/**
 * Whether `req` is inside the mount `path`; if so its URL loses the prefix, as Express strips a
 * mount path (`/app/x?q` becomes `/x?q`, `/app` becomes `/`).
 */
function enterMount(req: IncomingMessage, path: string): boolean {
  const url = req.url ?? '/';
  if (url !== path && !url.startsWith(`${path}/`) && !url.startsWith(`${path}?`)) return false;
  const rest = url.slice(path.length);
  req.url = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return true;
}

/** Serves `balancer` under `path`: the prefix is stripped, other paths get 404. */
function mounted(balancer: Balancer, path: string): (req: IncomingMessage, res: ServerResponse) => void {
  if (path === '/') return balancer;
  return (req, res) => {
    if (enterMount(req, path)) return balancer(req, res);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 not found\n');
  };
}

/** The same mount for Upgrade requests (WebSockets), which the server hands over apart from the others. */
function mountedUpgrade(balancer: Balancer, path: string): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  if (path === '/') return balancer.upgrade;
  return (req, socket, head) => {
    if (enterMount(req, path)) return balancer.upgrade(req, socket, head);
    socket.on('error', () => {}); // a client reset must not crash the process
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 14\r\nconnection: close\r\n\r\n404 not found\n');
  };
}

async function main(): Promise<void> {
  let args: Record<string, string | boolean | undefined>;
  try {
    ({ values: args } = parseArgs({
      options: {
        config: { type: 'string' },
        apache: { type: 'string' },
        balancer: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  let balancer: Balancer;
  let listen: ListenConfig;
  try {
    const loaded = loadConfig(args);
    listen = loaded.listen;
    const config = normalizeOptions(loaded.options);
    if (config.members.length === 0) throw new UsageError('the configuration defines no member to balance over');
    if (args.check) {
      // Validation only: no balancer is created, so nothing is probed or connected to.
      const members = config.members.map((m) => ({ route: m.route, url: m.url.href, weight: m.weight, lbset: m.lbset, status: m.status }));
      process.stdout.write(`${JSON.stringify({ listen, members, options: loaded.options }, null, 2)}\n`);
      return;
    }
    balancer = createBalancer(loaded.options);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    if (err instanceof BalancerConfigError || (err as { code?: string }).code === 'ERR_APACHE_CONFIG') fail(`${(err as Error).name}: ${(err as Error).message}`, 2);
    throw err;
  }

  const server = http.createServer(mounted(balancer, listen.path));
  server.on('upgrade', mountedUpgrade(balancer, listen.path));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(`proxy-balancer listening on http://${shown}:${address.port}${listen.path === '/' ? '/' : `${listen.path}/`}\n`);
  balancer.on('memberError', (e) => process.stderr.write(`member ${e.route} in error: ${e.reason}\n`));
  balancer.on('memberRecovered', (e) => process.stderr.write(`member ${e.route} recovered\n`));

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      // A second signal: the operator will not wait for requests in flight.
      process.stderr.write(`proxy-balancer: ${signal} again; closing every connection now\n`);
      server.closeAllConnections();
      void balancer.close().then(() => process.exit(1));
      return;
    }
    stopping = true;
    process.stdout.write(`${signal}: no longer accepting; finishing requests in flight\n`);
    const force = setTimeout(() => {
      process.stderr.write(`proxy-balancer: requests still open after ${listen.shutdownTimeoutMs} ms; closing them\n`);
      server.closeAllConnections();
      void balancer.close(); // ends WebSocket tunnels, which the server no longer tracks after their upgrade
    }, listen.shutdownTimeoutMs);
    force.unref();
    // close() stops accepting and fires once every connection is gone; idle keep-alive ones go now.
    server.close(() => {
      clearTimeout(force);
      void balancer.close().then(() => {
        process.stdout.write('stopped\n');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1));
