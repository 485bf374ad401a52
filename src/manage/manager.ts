/**
 * The management endpoints, Apache's balancer-manager for this library: an HTML page, a JSON API
 * over the pool's drain/enable/disable/setWeight, and the metrics, as one `(req, res, next)`
 * handler that serves nothing until it is mounted. Every request is first put to the user's
 * `authorize(req)`; changes also need POST, a same-origin request and the manager's CSRF token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Balancer } from '../balancer.js';
import type { MemberSnapshot } from '../pool/member.js';
import { Pool } from '../pool/pool.js';
import { BalancerConfigError, expectKnownKeys, expectPlainObject } from '../validate.js';
import { EXPOSITION_CONTENT_TYPE } from './exposition.js';
import { PAGE_ASSETS, managerPage } from './page.js';
import { constantTimeEqual, randomToken } from './secrets.js';

/** Options of {@link createManager}. */
export interface ManagerOptions {
  /**
   * Decides whether `req` may use the manager (the page, the API and the metrics alike): resolve
   * to `true` to let it through; anything else, `false` included, gets 403. May be async. A throw
   * or rejection gets 500. Required: there is no manager without an access decision.
   */
  authorize: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** The page's title. Default `'proxy-balancer manager'`. */
  title?: string;
}

/**
 * The manager's request handler: Express/Connect middleware (`app.use('/balancer-manager', manager)`)
 * or a plain `node:http` listener (then it serves at the server root). It answers every request
 * itself and never calls `next`.
 */
export type Manager = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** The largest POST body accepted, in bytes (Apache's manager reads 1 KB; a change needs about 40). */
export const MAX_BODY_BYTES = 4096;

const OPTION_KEYS = ['authorize', 'title'] as const;
const ACTIONS = ['drain', 'enable', 'disable', 'weight'] as const;
type Action = (typeof ACTIONS)[number];
const BODY_KEYS = ['action', 'weight'];
const MEMBERS_PREFIX = '/api/members/';

/**
 * Headers on every answer: no caching, no sniffing, no framing, and a policy that lets the page
 * load only its own script, style and API (no inline script).
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * Creates the management handler of `balancer`. Paths, relative to where it is mounted:
 * - `GET /`: the HTML page (a table of members with drain, disable, enable and weight controls).
 * - `GET /api/state`: `balancer.snapshot()` as JSON.
 * - `POST /api/members/:route`: `{ "action": "drain" | "enable" | "disable" | "weight", "weight"?: number }`
 *   with the `x-csrf-token` header; answers the member's new state as JSON.
 * - `GET /metrics`: `balancer.metrics()`, Prometheus text format.
 *
 * Throws {@link BalancerConfigError} when `authorize` is missing or an option is bad.
 *
 * @example
 * ```ts
 * app.use('/balancer-manager', createManager(balancer, {
 *   authorize: (req) => req.headers.authorization === `Bearer ${process.env.ADMIN_TOKEN}`,
 * }));
 * ```
 */
export function createManager(balancer: Balancer, options: ManagerOptions): Manager {
  if (typeof balancer !== 'function' || !(balancer.pool instanceof Pool) || typeof balancer.snapshot !== 'function') {
    throw new BalancerConfigError('balancer', balancer, 'must be a balancer made by createBalancer()');
  }
  if (options !== undefined) {
    expectPlainObject(options, 'options');
    expectKnownKeys(options, OPTION_KEYS, 'options');
  }
  const authorize = options?.authorize;
  if (typeof authorize !== 'function') {
    throw new BalancerConfigError('authorize', authorize, 'is required: a function (req) => boolean | Promise<boolean> that decides who may use the manager');
  }
  const title = options.title ?? 'proxy-balancer manager';
  if (typeof title !== 'string' || title.length === 0 || title.length > 200) {
    throw new BalancerConfigError('title', title, 'must be a string of 1 to 200 characters');
  }
  const csrfToken = randomToken();
  const page = managerPage(title, csrfToken);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    let allowed: unknown;
    try {
      allowed = await authorize(req);
    } catch (err) {
      process.emitWarning(`proxy-balancer: the manager's authorize hook threw: ${err instanceof Error ? err.message : String(err)}`);
      return sendJson(res, 500, { error: 'authorization failed' });
    }
    if (allowed !== true) return sendJson(res, 403, { error: 'forbidden' });

    const url = req.url === undefined || req.url === '' ? '/' : req.url;
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const method = req.method ?? 'GET';
    const reads = method === 'GET' || method === 'HEAD';

    if (path.startsWith(MEMBERS_PREFIX)) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return change(req, res, path.slice(MEMBERS_PREFIX.length));
    }
    if (path === '/') {
      if (!reads) return methodNotAllowed(res, 'GET, HEAD');
      const assetName = queryAt === -1 ? null : new URLSearchParams(url.slice(queryAt + 1)).get('asset');
      if (assetName === null) return send(res, 200, 'text/html; charset=utf-8', page);
      const asset = PAGE_ASSETS.get(assetName);
      if (asset === undefined) return sendJson(res, 404, { error: 'no such asset' });
      return send(res, 200, asset.contentType, asset.body);
    }
    if (path === '/api/state') {
      if (!reads) return methodNotAllowed(res, 'GET, HEAD');
      // Scripts can read the token here as well as from the page; other origins can read neither.
      res.setHeader('x-csrf-token', csrfToken);
      return sendJson(res, 200, balancer.snapshot());
    }
    if (path === '/metrics') {
      if (!reads) return methodNotAllowed(res, 'GET, HEAD');
      return send(res, 200, EXPOSITION_CONTENT_TYPE, balancer.metrics());
    }
    return sendJson(res, 404, { error: 'not found' });
  }

  /** POST /api/members/:route: the checks in order, then the one pool call. */
  async function change(req: IncomingMessage, res: ServerResponse, encodedRoute: string): Promise<void> {
    if (crossOrigin(req)) return sendJson(res, 403, { error: 'cross-origin request refused' });
    const given = req.headers['x-csrf-token'];
    if (typeof given !== 'string' || !constantTimeEqual(given, csrfToken)) {
      return sendJson(res, 403, { error: "missing or wrong CSRF token (send the page's csrf-token in the x-csrf-token header)" });
    }
    if (!isJson(req.headers['content-type'])) return sendJson(res, 415, { error: 'the body must be application/json' });
    const body = await readJsonBody(req);
    if (body.error !== undefined) {
      if (body.status === 413) res.setHeader('connection', 'close'); // the rest of the body is not read
      return sendJson(res, body.status, { error: body.error });
    }
    const request = parseChange(body.value);
    if (typeof request === 'string') return sendJson(res, 400, { error: request });
    let route: string;
    try {
      route = decodeURIComponent(encodedRoute);
    } catch {
      return sendJson(res, 400, { error: 'the route is not valid percent-encoding' });
    }
    const { pool } = balancer;
    if (route === '' || route.includes('/') || pool.get(route) === undefined) {
      return sendJson(res, 404, { error: `no member has route ${JSON.stringify(route.slice(0, 64))}` });
    }
    try {
      if (request.action === 'weight') pool.setWeight(route, request.weight!);
      else if (request.action === 'drain') pool.drain(route);
      else if (request.action === 'disable') pool.disable(route);
      else pool.enable(route);
    } catch (err) {
      if (err instanceof BalancerConfigError) return sendJson(res, 400, { error: err.message });
      throw err;
    }
    const state: MemberSnapshot | null = balancer.snapshot().members.find((m) => m.route === route) ?? null;
    return sendJson(res, 200, state);
  }

  return function manager(req: IncomingMessage, res: ServerResponse, _next?: (err?: unknown) => void): void {
    serve(req, res).catch((err: unknown) => {
      process.emitWarning(`proxy-balancer: unexpected manager error: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
}

/** A change request's body, checked; or why it is refused. */
function parseChange(value: unknown): { action: Action; weight?: number } | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'the body must be a JSON object';
  const body = value as Record<string, unknown>;
  const unknown = Object.keys(body).find((key) => !BODY_KEYS.includes(key));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown.slice(0, 64))} (known: ${BODY_KEYS.join(', ')})`;
  const action = body.action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    return `action must be one of ${ACTIONS.join(', ')}`;
  }
  if (action === 'weight') {
    if (typeof body.weight !== 'number') return 'weight must be a number from 1 to 100 for action weight';
    return { action, weight: body.weight };
  }
  if (body.weight !== undefined) return `weight is only taken with action weight, not ${action}`;
  return { action: action as Action };
}

/**
 * Whether a request comes from another origin: a `Sec-Fetch-Site` other than `same-origin`, or an
 * `Origin` whose host and port differ from the `Host` header (an opaque `null` origin counts as
 * other). The scheme is not compared, so that a TLS-terminating proxy in front does not break the
 * page; it must pass the client's Host header through.
 */
function crossOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  const host = req.headers.host;
  if (host === undefined) return true;
  try {
    const from = new URL(origin);
    if (from.protocol !== 'http:' && from.protocol !== 'https:') return true;
    return from.host !== new URL(`${from.protocol}//${host}`).host;
  } catch {
    return true;
  }
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType);
}

type BodyResult = { value: unknown; error?: undefined } | { error: string; status: number };

/**
 * Reads and parses a JSON body of at most {@link MAX_BODY_BYTES}. A body that a parser before the
 * manager already read (`express.json()`) is taken from `req.body`.
 */
function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  if (req.readableEnded) {
    const parsed = (req as IncomingMessage & { body?: unknown }).body;
    return Promise.resolve(
      parsed !== null && typeof parsed === 'object' ? { value: parsed } : { error: 'the request body was already read by another middleware', status: 400 },
    );
  }
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) return Promise.resolve({ error: `the body must be at most ${MAX_BODY_BYTES} bytes`, status: 413 });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: BodyResult): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.pause();
        return done({ error: `the body must be at most ${MAX_BODY_BYTES} bytes`, status: 413 });
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      try {
        done({ value: JSON.parse(Buffer.concat(chunks, size).toString('utf8')) });
      } catch {
        done({ error: 'the body is not valid JSON', status: 400 });
      }
    };
    const onError = (): void => done({ error: 'the request body was cut', status: 400 });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: `method not allowed (allowed: ${allow})` });
}

/** JSON with `<` escaped, so that no browser could take it for markup. */
function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value).replace(/</g, '\\u003c')}\n`);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
