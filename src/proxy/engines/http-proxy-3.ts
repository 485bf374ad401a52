/**
 * The http-proxy-3 engine: attempts on node:http's client through http-proxy-3, with a keep-alive
 * agent per member. Kept as the second engine (http-proxy-3 1.x runs on Node 20); undici is the
 * default. http-proxy-3 is lent the upstream request built in target.ts, so none of its own path
 * or header rules apply.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { ProxyServer, type ServerOptions } from 'http-proxy-3';
import { MemberClosedError } from '../../errors.js';
import { hostAndPort } from '../../options/member-url.js';
import type { Member } from '../../pool/member.js';
import { ProxyEngine, type EngineOptions } from '../engine.js';
import { Exchange } from '../exchange.js';
import { upstreamPath, type UpstreamRequest } from '../target.js';

/** What http-proxy-3 reads of its target: the member's scheme and authority, an empty path. */
interface ProxyTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: number;
  pathname: string;
}

/** Where http-proxy-3's per-request events find their exchange. */
const kExchange = Symbol('proxy-balancer.http-proxy-3.exchange');
type Tagged<T> = T & { [kExchange]?: NodeExchange };

/** Sent with a chunked body: Transfer-Encoding is hop-by-hop, so it is set anew for this hop. */
const CHUNKED = Object.freeze({ 'transfer-encoding': 'chunked' });

// The response body is relayed by hand rather than with pipe(): pipe() adds about eight listeners
// per response; these module-level functions (with `this` the member's response) allocate nothing.
function onMemberData(this: Tagged<IncomingMessage>, chunk: Buffer): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.settled) return;
  if (!ex.relay(chunk)) {
    this.pause();
    ex.res.once('drain', () => this.resume());
  }
}
function onMemberEnd(this: Tagged<IncomingMessage>): void {
  this[kExchange]?.complete(this.rawTrailers);
}
function onMemberClose(this: Tagged<IncomingMessage>): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.complete) ex.fail(new MemberClosedError());
}
function ignoreError(): void {
  // a cut response is reported by onMemberClose
}

/** One attempt through http-proxy-3. */
class NodeExchange extends Exchange {
  proxyReq: http.ClientRequest | undefined = undefined;
  proxyRes: IncomingMessage | undefined = undefined;

  protected abortUpstream(): void {
    this.proxyReq?.destroy();
    this.proxyRes?.destroy();
  }

  protected reusedConnection(): boolean {
    return this.proxyReq?.reusedSocket ?? false;
  }

  /** http-proxy-3's error callback. */
  readonly onProxyError = (err: Error & { code?: string }): void => this.fail(err);
}

/** The engine over http-proxy-3; see the module comment. */
export class HttpProxy3Engine extends ProxyEngine<NodeExchange> {
  protected readonly exchangeClass = NodeExchange;
  readonly #proxy: ProxyServer;
  readonly #agents = new Map<Member, http.Agent>();
  readonly #targets = new WeakMap<Member, ProxyTarget>();

  constructor(options: EngineOptions) {
    super(options);
    // The engine writes the response itself: hop-by-hop filtering, the sticky cookie, byte counts.
    this.#proxy = new ProxyServer({ selfHandleResponse: true }); // xfwd is off by default
    // deleteLength sets `Content-Length: 0` on a DELETE or OPTIONS without one and drops
    // Transfer-Encoding, while the body is still piped: a smuggling hole. Framing is target.ts's job.
    const proxy = this.#proxy as unknown as { webPasses: { name: string }[] };
    proxy.webPasses = proxy.webPasses.filter((pass) => pass.name !== 'deleteLength');
    this.#proxy.on('error', () => {}); // every web() call passes its own callback; this only guards stray emits
    this.#proxy.on('proxyReq', (proxyReq, _req, res, _options, socket) => onProxyReq(proxyReq, res, socket));
    this.#proxy.on('proxyRes', (proxyRes, _req, res) => onProxyRes(proxyRes, res));
  }

  protected send(ex: NodeExchange, upstream: UpstreamRequest): void {
    const { req, res, member, body } = ex;
    // http-proxy-3 leaves a 'close' listener on res and an 'error' listener on req per attempt;
    // many retries of one request are legitimate, so the ceiling rises instead of a warning.
    if (res.listenerCount('close') >= res.getMaxListeners() - 2) res.setMaxListeners(res.getMaxListeners() + 1);
    if (req.listenerCount('error') >= req.getMaxListeners() - 2) req.setMaxListeners(req.getMaxListeners() + 1);
    (res as Tagged<ServerResponse>)[kExchange] = ex;
    const options: ServerOptions = { target: this.#targetFor(member), agent: this.#agentFor(member), toProxy: true };
    if (body !== undefined) options.buffer = body.stream();
    if (upstream.chunked) options.headers = CHUNKED;
    // http-proxy-3 reads the path and headers from req, synchronously inside web(): lend it the
    // built ones (with toProxy it sends req.url as it is, where its own join would normalize).
    const clientUrl = req.url;
    const clientHeaders = req.headers;
    req.url = upstreamPath(member, upstream.target);
    req.headers = upstream.headers as IncomingMessage['headers'];
    try {
      this.#proxy.web(req, res, options, ex.onProxyError);
    } finally {
      req.url = clientUrl;
      req.headers = clientHeaders;
    }
  }

  protected releaseConnections(member: Member): void {
    this.#agents.get(member)?.destroy();
    this.#agents.delete(member);
  }

  protected releaseAll(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** The member as http-proxy-3's target, without a path: the request path is built in target.ts. */
  #targetFor(member: Member): ProxyTarget {
    let target = this.#targets.get(member);
    if (target === undefined) {
      const { protocol, host, hostname } = member.url;
      target = { protocol, host, hostname, port: hostAndPort(member.url).port, pathname: '' };
      this.#targets.set(member, target);
    }
    return target;
  }

  #agentFor(member: Member): http.Agent {
    let agent = this.#agents.get(member);
    if (agent === undefined) {
      // Without a keep-alive agent http-proxy-3 sends `Connection: close` upstream.
      agent =
        member.url.protocol === 'https:'
          ? new https.Agent({ ...(this.tlsOf(member) as https.AgentOptions | undefined), keepAlive: true, scheduling: 'lifo' })
          : new http.Agent({ keepAlive: true, scheduling: 'lifo' });
      this.#agents.set(member, agent);
    }
    return agent;
  }
}

function onProxyReq(proxyReq: http.ClientRequest, res: ServerResponse, socket: Socket): void {
  const ex = (res as Tagged<ServerResponse>)[kExchange];
  if (ex === undefined || ex.settled) {
    proxyReq.destroy();
    return;
  }
  ex.proxyReq = proxyReq;
  proxyReq.on('information', (info: http.InformationEvent) => ex.informational(info.statusCode, info.headers.link));
  proxyReq.once('finish', () => ex.requestSent());
  // Connected means the member can be sent bytes: after the TLS handshake for https: (a failed
  // handshake is a connect failure, retried elsewhere). A socket from the pool is ready.
  if (socket.connecting) socket.once(ex.secure ? 'secureConnect' : 'connect', () => ex.onConnected());
  else ex.onConnected();
}

function onProxyRes(proxyRes: IncomingMessage, res: ServerResponse): void {
  const ex = (res as Tagged<ServerResponse>)[kExchange];
  if (ex === undefined || ex.settled) {
    proxyRes.destroy();
    return;
  }
  ex.proxyRes = proxyRes;
  if (!ex.respond(proxyRes.statusCode ?? 0, proxyRes.statusMessage, proxyRes.rawHeaders)) return;
  (proxyRes as Tagged<IncomingMessage>)[kExchange] = ex;
  proxyRes.on('data', onMemberData);
  proxyRes.on('end', onMemberEnd);
  proxyRes.on('close', onMemberClose);
  proxyRes.on('error', ignoreError);
}
