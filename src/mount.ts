/**
 * Mount paths: a balancer served under a path prefix, as Express and Connect mount middleware.
 * Node hands Upgrade requests (WebSockets) to the server's `'upgrade'` event, past any framework's
 * router and mount path, so a mounted balancer needs its own match there: {@link upgradeUnder}.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Balancer } from './balancer.js';
import { BalancerConfigError } from './validate.js';

/**
 * A listener for a `node:http` server's `'upgrade'` event that says whether it took the handshake
 * (the server ignores the answer; a router of your own can use it).
 */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/**
 * A mount path in the form the matcher wants: starts with `/`, no trailing slash (`/app/` is
 * `/app`), no query or fragment; `/` mounts at the root. Throws {@link BalancerConfigError} at `path`.
 */
export function normalizeMountPath(value: unknown, path: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value)) {
    throw new BalancerConfigError(path, value, 'must be a path starting with / (no query, fragment or spaces)');
  }
  const trimmed = value.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/**
 * The request target with the mount path stripped, as Express strips it for mounted middleware
 * (`/app/x?q` becomes `/x?q`, `/app` becomes `/`, `/app?q` becomes `/?q`), or undefined when the
 * target is not under the mount path. The match is at a segment boundary (`/apple` is not under
 * `/app`) and on the bytes as sent (case-sensitive, nothing decoded). `mount` is normalized
 * ({@link normalizeMountPath}).
 */
export function stripMountPath(url: string, mount: string): string | undefined {
  if (mount === '/') return url;
  if (!url.startsWith(mount)) return undefined;
  const rest = url.slice(mount.length);
  if (rest === '') return '/';
  if (rest.startsWith('/')) return rest;
  if (rest.startsWith('?')) return `/${rest}`;
  return undefined;
}

/**
 * An `'upgrade'` listener that proxies the Upgrade requests (WebSockets) whose path is under
 * `mountPath` through `balancer`, with the mount path stripped as Express strips it for mounted
 * middleware (`/app/ws` reaches members as `/ws`, `/app` as `/`). Every other upgrade is left
 * alone (its socket untouched), so the app's own WebSocket routes can live on the same server.
 *
 * The listener returns true when it took the handshake, so it can also be the first branch of
 * an upgrade router of the app's own (one that destroys the sockets it does not route).
 *
 * `req.url` is the stripped path while the balancer takes the handshake (it builds the member's
 * request target then) and is restored when the listener returns, so the server's other
 * `'upgrade'` listeners see the request as the client sent it.
 *
 * @example
 * ```ts
 * const app = express();
 * app.use('/app', balancer);                              // plain requests under /app
 * const server = app.listen(8080);
 * server.on('upgrade', upgradeUnder('/app', balancer));    // WebSockets under /app
 * const chat = new WebSocketServer({ noServer: true });   // the app's own, on /chat
 * server.on('upgrade', (req, socket, head) => {
 *   if (req.url === '/chat') chat.handleUpgrade(req, socket, head, (ws) => chat.emit('connection', ws, req));
 * });
 * ```
 *
 * @example In one router of the app's own:
 * ```ts
 * const toBalancer = upgradeUnder('/app', balancer);
 * server.on('upgrade', (req, socket, head) => {
 *   if (toBalancer(req, socket, head)) return;
 *   if (req.url === '/chat') chat.handleUpgrade(req, socket, head, (ws) => chat.emit('connection', ws, req));
 *   else socket.destroy();
 * });
 * ```
 *
 * @param mountPath where the balancer is mounted: `/app` (a trailing slash is ignored); `/` takes every upgrade.
 * @param balancer the balancer (anything with its `upgrade` method).
 * @throws {@link BalancerConfigError} when `mountPath` is not a path starting with `/`.
 */
export function upgradeUnder(mountPath: string, balancer: Pick<Balancer, 'upgrade'>): UpgradeListener {
  const mount = normalizeMountPath(mountPath, 'mountPath');
  if (typeof balancer?.upgrade !== 'function') throw new BalancerConfigError('balancer', balancer, 'must be a balancer (with an upgrade method)');
  const upgrade = balancer.upgrade;
  return (req, socket, head) => {
    const sent = req.url ?? '/';
    const inner = stripMountPath(sent, mount);
    if (inner === undefined) return false;
    req.url = inner;
    try {
      upgrade(req, socket, head);
    } finally {
      req.url = sent;
    }
    return true;
  };
}
