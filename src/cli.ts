#!/usr/bin/env node
/**
 * The `proxy-balancer` command: serves a balancer from a JSON config file (the createBalancer
 * options plus a `listen` block) or from an Apache httpd config (`--apache`), prints member state
 * changes (and with `--access-log` one line per request), and shuts down gracefully on
 * SIGTERM/SIGINT: stop accepting, let requests in flight finish, close.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { fromApacheConfig } from './apache/import.js';
import { createBalancer, type Balancer } from './balancer.js';
import { respondRawError } from './request-path.js';
import { BALANCER_KEYS, normalizeOptions, type BalancerOptions } from './config.js';
import { accessLogLine, logStateChanges } from './log.js';
import { createManager } from './manage/manager.js';
import { constantTimeEqual } from './manage/secrets.js';
import { normalizeMountPath, stripMountPath } from './mount.js';
import { BalancerConfigError, expectKnownKeys, expectPlainObject, optionalInteger } from './validate.js';

const USAGE = `usage: proxy-balancer --config <file.json> [--port <n>] [--host <addr>] [--access-log] [--check]
       proxy-balancer --apache <httpd.conf> [--balancer <name>] [--port <n>] [--host <addr>] [--access-log] [--check]
       proxy-balancer --version

  --config     JSON file: the createBalancer options, plus an optional
               "listen": { "port": 8080, "host": "127.0.0.1", "path": "/", "shutdownTimeoutMs": 10000 }
               and an optional "manage": { "path": "/balancer-manager", "token": "<secret>" }
               (the management page; the token, bearer or basic-auth password, is required)
  --apache     an Apache httpd config with <Proxy "balancer://..."> blocks and ProxyPass
  --balancer   which balancer of the Apache config to serve (needed when it has several)
  --port/--host override the listen block
  --access-log print one line per finished request to stdout:
               <time> <client> "<method> <target>" <status> <bytes> route=<member> attempts=<n> <ms>ms [failure=<kind>]
  --check      validate the configuration, print it, and exit (connects to nothing)
  --version    print the version and exit

Member state changes (error, recovery, ejection, health down/up, ...) go to stderr, timestamped.
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
/** The config file's top-level keys: the createBalancer options, `listen` and `manage`. */
const CONFIG_KEYS = [...BALANCER_KEYS, 'listen', 'manage'];

/** Where the management page is served, and the secret that opens it. */
interface ManageConfig {
  path: string;
  token: string;
}

const MANAGE_KEYS = ['path', 'token'] as const;
/** The shortest token accepted: the manager can drain and disable every member. */
const MIN_TOKEN_LENGTH = 16;

/** A command line the command cannot use: the message, then the usage text. */
class UsageError extends Error {}
/** A command that cannot go on (a file it cannot read, a bad flag value): one line, no usage text. */
class CommandError extends Error {}

function fail(message: string, code: number): never {
  process.stderr.write(`proxy-balancer: ${message}\n`);
  process.exit(code);
}

function loadConfig(args: Record<string, string | boolean | undefined>): { options: BalancerOptions; listen: ListenConfig; manage: ManageConfig | undefined } {
  const file = (args.config ?? args.apache) as string | undefined;
  // The flags first: a bad --port is reported as itself, whatever the file holds.
  const flags = { port: args.port === undefined ? undefined : portFlag(args.port as string), host: args.host as string | undefined };
  if (file === undefined) throw new UsageError('give --config <file.json> or --apache <httpd.conf>');
  if (args.config !== undefined && args.apache !== undefined) throw new UsageError('give --config or --apache, not both');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let options: Record<string, unknown>;
  let listenValue: unknown;
  let manageValue: unknown;
  if (args.apache !== undefined) {
    const imported = fromApacheConfig(text);
    for (const u of imported.unsupported) {
      process.stderr.write(`proxy-balancer: ${file}:${u.line}: ${u.directive}${u.parameter ? ` ${u.parameter}` : ''} not honoured: ${u.reason}\n`);
    }
    const wanted = args.balancer as string | undefined;
    const chosen = wanted === undefined ? imported.balancers : imported.balancers.filter((b) => b.name === wanted.toLowerCase());
    if (chosen.length === 0) throw new CommandError(wanted === undefined ? `${file} defines no balancer://` : `${file} has no balancer://${wanted}`);
    if (chosen.length > 1)
      throw new CommandError(`${file} defines ${chosen.length} balancers (${chosen.map((b) => b.name).join(', ')}): pick one with --balancer`);
    options = { ...(chosen[0]!.options as unknown as Record<string, unknown>) };
    listenValue = { path: chosen[0]!.mountPath ?? '/' };
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CommandError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    expectPlainObject(parsed, 'config');
    expectKnownKeys(parsed, CONFIG_KEYS, 'options');
    ({ listen: listenValue, manage: manageValue, ...options } = parsed);
  }
  const listen = normalizeListen(listenValue ?? {}, flags);
  const manage = manageValue === undefined ? undefined : normalizeManage(manageValue, listen);
  return { options: options as unknown as BalancerOptions, listen, manage };
}

/** The `manage` block: no token, no manager (the command refuses to start). */
function normalizeManage(value: unknown, listen: ListenConfig): ManageConfig {
  expectPlainObject(value, 'manage');
  expectKnownKeys(value, MANAGE_KEYS, 'manage');
  const { token } = value;
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || token.trim() !== token) {
    // The value is not printed: it may be (a bad copy of) the secret.
    const shown = typeof token === 'string' ? `a string of ${token.length} characters` : token;
    throw new BalancerConfigError(
      'manage.token',
      shown,
      `is required to serve the manager, which can drain and disable every member: a secret of at least ${MIN_TOKEN_LENGTH} characters without surrounding spaces, sent as a bearer token or a basic-auth password`,
    );
  }
  const path = value.path ?? '/balancer-manager';
  if (typeof path !== 'string' || !/^\/[^?#\s]*[^/?#\s]$/.test(path)) {
    throw new BalancerConfigError(
      'manage.path',
      path,
      'must be a path like "/balancer-manager": starting with /, not "/" itself, without ?, # or spaces, not ending in /',
    );
  }
  if (path === listen.path) throw new BalancerConfigError('manage.path', path, 'must differ from listen.path, which the balancer serves');
  return { path, token };
}

/**
 * The secret an `Authorization` header presents: a bearer token, or a basic-auth password (any
 * user name). Undefined when there is none.
 */
function presentedSecret(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^(\S+) +(\S+) *$/.exec(header);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme === 'bearer') return match[2];
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * The manager under `manage.path`, behind the token. A request without the right credentials gets
 * 401 with a Basic challenge (so that a browser asks for them) before it reaches the manager, whose
 * own `authorize` checks them again.
 */
function managerHandler(balancer: Balancer, manage: ManageConfig): (req: IncomingMessage, res: ServerResponse) => void {
  const authorize = (req: IncomingMessage): boolean => {
    const secret = presentedSecret(req.headers.authorization);
    return secret !== undefined && constantTimeEqual(secret, manage.token);
  };
  const manager = createManager(balancer, { authorize });
  return (req, res) => {
    if (authorize(req)) return manager(req, res);
    const body = '{"error":"authentication required: a bearer token or a basic-auth password"}\n';
    res.writeHead(401, {
      'www-authenticate': 'Basic realm="proxy-balancer manager", charset="UTF-8"',
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  };
}

/** The listen block, with the --port and --host flags over it. */
function normalizeListen(value: unknown, flags: { port: number | undefined; host: string | undefined }): ListenConfig {
  expectPlainObject(value, 'listen');
  expectKnownKeys(value, LISTEN_KEYS, 'listen');
  const port = flags.port ?? value.port;
  const host = flags.host ?? value.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new BalancerConfigError('listen.host', host, 'must be a host name or address');
  return {
    port: optionalInteger(port, 'listen.port', 0, 65535, 8080),
    host,
    path: normalizeMountPath(value.path ?? '/', 'listen.path'),
    shutdownTimeoutMs: optionalInteger(value.shutdownTimeoutMs, 'listen.shutdownTimeoutMs', 0, 3_600_000, 10_000),
  };
}

/** The `--port` flag's value, a decimal port number. */
function portFlag(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new CommandError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return port;
}

/**
 * Whether `req` is inside the mount `path`; if so its URL loses the prefix, as Express strips a
 * mount path (`/app/x?q` becomes `/x?q`, `/app` becomes `/`), and `originalUrl` keeps it, as
 * Connect does: the reverse rewriting of members' redirects finds the mount path there.
 */
function enterMount(req: IncomingMessage & { originalUrl?: string }, path: string): boolean {
  const sent = req.url ?? '/';
  const inner = stripMountPath(sent, path);
  if (inner === undefined) return false;
  req.originalUrl ??= sent;
  req.url = inner;
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
    refuseUpgrade(socket);
  };
}

/** 404 on a raw upgrade socket. */
function refuseUpgrade(socket: Duplex): void {
  socket.on('error', () => {}); // a client reset must not crash the process
  respondRawError(socket, 404, 'not found');
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
        'access-log': { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
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
  if (args.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  let balancer: Balancer;
  let listen: ListenConfig;
  let manage: ManageConfig | undefined;
  try {
    const loaded = loadConfig(args);
    listen = loaded.listen;
    manage = loaded.manage;
    const config = normalizeOptions(loaded.options);
    if (config.members.length === 0) throw new CommandError('the configuration defines no member to balance over');
    if (args.check) {
      // Validation only: no balancer is created, so nothing is probed or connected to.
      const members = config.members.map((m) => ({ route: m.route, url: m.url.href, weight: m.weight, lbset: m.lbset, status: m.status }));
      const shownManage = manage === undefined ? undefined : { path: manage.path, token: '(hidden)' };
      process.stdout.write(`${JSON.stringify({ listen, manage: shownManage, members, options: loaded.options }, null, 2)}\n`);
      return;
    }
    balancer = createBalancer(loaded.options);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    if (err instanceof CommandError) fail(err.message, 2);
    if (err instanceof BalancerConfigError || (err as { code?: string }).code === 'ERR_APACHE_CONFIG')
      fail(`${(err as Error).name}: ${(err as Error).message}`, 2);
    throw err;
  }

  const app = mounted(balancer, listen.path);
  const upgradeApp = mountedUpgrade(balancer, listen.path);
  let listener = app;
  let upgradeListener = upgradeApp;
  if (manage !== undefined) {
    // The manager's path is checked first; Upgrade requests to it are refused, not proxied.
    const managePath = manage.path;
    const manager = managerHandler(balancer, manage);
    listener = (req, res) => (enterMount(req, managePath) ? manager(req, res) : app(req, res));
    upgradeListener = (req, socket, head) => (enterMount(req, managePath) ? refuseUpgrade(socket) : upgradeApp(req, socket, head));
  }
  const server = http.createServer(listener);
  server.on('upgrade', upgradeListener);
  logStateChanges(balancer, (line) => process.stderr.write(`${line}\n`));
  if (args['access-log']) balancer.on('request', (event) => process.stdout.write(`${accessLogLine(event, new Date())}\n`));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
  } catch (err) {
    fail(`cannot listen on ${hostPort(listen.host, listen.port)}: ${listenFailure(err as NodeJS.ErrnoException)}`, 1);
  }
  const address = server.address() as AddressInfo;
  const shown = hostPort(address.address, address.port);
  process.stdout.write(`proxy-balancer listening on http://${shown}${listen.path === '/' ? '/' : `${listen.path}/`}\n`);
  if (manage !== undefined) process.stdout.write(`manager on http://${shown}${manage.path}/\n`);

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

/** `host:port`, with an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Why listening failed, in words (the errno's code stays in the message for the rarer ones). */
function listenFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this machine';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    default:
      return err.message;
  }
}

/** This package's version, from the package.json next to dist/. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1));
