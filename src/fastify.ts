/**
 * `proxy-balancer/fastify`: a balancer as a Fastify 5 plugin. Every method under the plugin's
 * prefix goes to the balancer with Fastify's raw request and response (the reply is hijacked),
 * bodies are left unparsed for the balancer to stream, and WebSocket upgrades under the prefix are
 * proxied from the server's `'upgrade'` event. The core comes in through the package root, so an
 * app that imports both entries has one copy of it; fastify itself is imported for its types only.
 *
 * @module proxy-balancer/fastify
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BalancerConfigError, createBalancer, upgradeUnder, type Balancer, type BalancerOptions } from 'proxy-balancer';

/** Options of the {@link proxyBalancer} plugin, next to Fastify's own `prefix` (the mount path). */
export interface ProxyBalancerPluginOptions {
  /**
   * The balancer to serve; or the {@link BalancerOptions} to create one with, in which case the
   * plugin also closes it on Fastify's `onClose`. A balancer passed in is yours to close.
   */
  balancer: Balancer | BalancerOptions;
}

/** The plugin's keys, and the register options Fastify itself reads. */
const KNOWN_KEYS = ['balancer', 'prefix', 'logLevel', 'logSerializers'];

/**
 * Serves a balancer under the plugin's prefix: `GET /app/x?q` reaches a member as `/x?q` and
 * `/app` as `/`, whatever the method; the app's other routes, and its own routes under the prefix
 * (Fastify prefers a static route to the plugin's wildcard), stay the app's. Request bodies under
 * the prefix are not parsed: the balancer streams them to the member. WebSocket (Upgrade) requests
 * under the prefix are proxied too (through {@link upgradeUnder}); other upgrades are left to the
 * server's other `'upgrade'` listeners. Register it without `fastify-plugin` wrapping: its routes
 * and its catch-all body parser live in their own scope.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { proxyBalancer } from 'proxy-balancer/fastify';
 *
 * const app = Fastify();
 * await app.register(proxyBalancer, {
 *   prefix: '/app',
 *   balancer: { members: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002' }] },
 * });
 * await app.listen({ port: 8080 });
 * ```
 *
 * @throws `BalancerConfigError` (from `register`) for a missing or bad `balancer` or an unknown option.
 */
export const proxyBalancer: FastifyPluginAsync<ProxyBalancerPluginOptions> = async function proxyBalancer(fastify, options) {
  const unknown = Object.keys(options).find((key) => !KNOWN_KEYS.includes(key));
  if (unknown !== undefined) {
    throw new BalancerConfigError(unknown, options[unknown as keyof ProxyBalancerPluginOptions], `is not a known option (known: ${KNOWN_KEYS.join(', ')})`);
  }
  const given: unknown = options.balancer;
  const owned = typeof given !== 'function';
  if (owned && (given === null || typeof given !== 'object')) {
    throw new BalancerConfigError('balancer', given, 'must be a balancer or the createBalancer options to make one');
  }
  const balancer = owned ? createBalancer(given as BalancerOptions) : (given as Balancer);

  // Fastify's prefix includes its parents' ('/api/app'); the router matched it however the client
  // spelled it (`/%61pp` under a case-sensitive or encoded match), so strip it by segment count.
  const prefixSegments = fastify.prefix.split('/').filter((segment) => segment !== '').length;
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const raw: IncomingMessage & { originalUrl?: string } = request.raw;
    // Connect's convention, which Fastify reads too: the reverse rewriting finds the mount path from it.
    raw.originalUrl ??= raw.url;
    raw.url = afterSegments(raw.url ?? '/', prefixSegments);
    balancer(raw, reply.raw);
  };
  // Bodies stay in the request stream: no parser reads them, no body limit cuts them.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
  fastify.all('/', handler);
  fastify.all('/*', handler);

  // Upgrades under the prefix; the client sockets are kept so that close can end their tunnels.
  const tunnels = new Set<Duplex>();
  const onUpgrade = upgradeUnder(fastify.prefix === '' ? '/' : fastify.prefix, {
    upgrade: (req, socket, head) => {
      tunnels.add(socket);
      socket.once('close', () => tunnels.delete(socket));
      balancer.upgrade(req, socket, head);
    },
  });
  fastify.server.on('upgrade', onUpgrade);
  // Fastify's close waits for every connection, upgraded ones too: end the tunnels before it
  // (as @fastify/websocket closes its clients), and let plain requests in flight finish.
  fastify.addHook('preClose', (done) => {
    fastify.server.off('upgrade', onUpgrade);
    for (const socket of tunnels) socket.destroy();
    done();
  });
  if (owned) fastify.addHook('onClose', () => balancer.close());
};

// Fastify's plugin metadata, as fastify-plugin would set it, minus skip-override (the plugin keeps its scope).
Object.assign(proxyBalancer, {
  [Symbol.for('fastify.display-name')]: 'proxy-balancer',
  [Symbol.for('plugin-meta')]: { fastify: '5.x' },
});

export default proxyBalancer;

/**
 * The request target after its first `count` path segments, as Express strips a mount path:
 * `/app/x?q` gives `/x?q`, `/app` gives `/`, `/app?q` gives `/?q`. Empty segments (`//`) do not
 * count, as Fastify's `ignoreDuplicateSlashes` does not count them either.
 */
function afterSegments(url: string, count: number): string {
  let i = 0;
  for (let seen = 0; seen < count; seen++) {
    while (url[i] === '/') i++;
    if (i >= url.length || url[i] === '?') break;
    while (i < url.length && url[i] !== '/' && url[i] !== '?') i++;
  }
  const rest = url.slice(i);
  return rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
}
