/**
 * The proxy engine: the one seam over http-proxy-3. The rest of the code calls `forward(req, res,
 * member)` and learns how the attempt ended (connected? response head? status? bytes? failure
 * kind?), which is what failover, passive health and `bytraffic` read. It owns the keep-alive agent
 * of each member and the deadline sweep, and it never answers the client with an error itself:
 * the request path decides between a retry and an error response.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyServer, type ServerOptions } from 'http-proxy-3';
import type { Member } from '../pool/member.js';
import type { ReplayableBody } from './body.js';
import { DeadlineEntry, DeadlineSweep } from './deadlines.js';
import { forwardedResponseHead, invalidStatusLine } from './headers.js';
import { InvalidResponseError, type FailureKind, type ForwardOutcome } from './outcome.js';
import { upstreamPath, type UpstreamRequest } from './target.js';
import { forwardUpgrade, type Tunnel, type UpgradeOutcome } from './upgrade.js';

/**
 * Relays a member's 1xx (RFC 9110 15.2: a proxy forwards them): 102 and 103 Early Hints (its
 * `Link` fields only). 100 is the front end's own business (it answered the client's Expect).
 * HTTP/1.0 clients get none (RFC 9110 15.2).
 */
function relayInformational(ex: Exchange, info: http.InformationEvent): void {
  const { req, res } = ex;
  if (ex.settled || res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  try {
    if (info.statusCode === 102) res.writeProcessing();
    else if (info.statusCode === 103 && info.headers.link !== undefined) res.writeEarlyHints({ link: info.headers.link });
  } catch {
    // An invalid Link value: the hint is dropped, the final response still comes.
  }
}

/** Options of {@link ProxyEngine}. */
export interface EngineOptions {
  /** Time allowed for the response head, in ms, from the attempt's start (a member's own `timeoutMs` wins). */
  timeoutMs: number;
  /** Time allowed to connect, in ms. */
  connectTimeoutMs: number;
  /** Longest silence allowed in a response body, in ms. */
  idleTimeoutMs: number;
  /** Send the client's Host header instead of the member's. */
  preserveHost: boolean;
  /** How often deadlines are checked, in ms: timeouts fire up to this late. */
  resolutionMs: number;
  /** Longest silence allowed in an open tunnel, in ms; 0: none. */
  tunnelIdleTimeoutMs: number;
}

/** What http-proxy-3 reads of its target: the member's scheme and authority, an empty path. */
interface ProxyTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: number;
  pathname: string;
}

const kExchange = Symbol('proxy-balancer.exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };
type TaggedMemberResponse = IncomingMessage & { [kExchange]?: Exchange };

// The response body is relayed by hand rather than with pipe(): pipe() adds about eight
// listeners per response, these four module-level functions (with `this` the member's response)
// allocate nothing per request, and the byte count comes for free.
function onMemberData(this: TaggedMemberResponse, chunk: Buffer): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.settled) return;
  ex.bytesReceived += chunk.length;
  ex.lastActivity = Date.now();
  if (!ex.res.write(chunk)) {
    this.pause();
    ex.res.once('drain', () => this.resume());
  }
}
function onMemberEnd(this: TaggedMemberResponse): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.settled) return;
  ex.res.end();
  ex.settle(undefined, undefined);
}
function onMemberClose(this: TaggedMemberResponse): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.complete) ex.settle('truncated', Object.assign(new Error('member closed mid-response'), { code: 'ECONNRESET' }));
}
function ignoreError(): void {
  // a cut response is reported by onMemberClose
}
/** The client's response closed: unless it had finished, the client went away. */
function onClientClose(this: TaggedResponse): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.settle('client-abort', undefined);
}

/** One attempt of one request on one member; settles exactly once. */
class Exchange extends DeadlineEntry {
  settled = false;
  connected = false;
  headReceived = false;
  responseStarted = false;
  status = 0;
  bytesReceived = 0;
  /** Epoch ms when the response last moved: the idle deadline counts from it, not from a sweep. */
  lastActivity = 0;
  proxyReq: http.ClientRequest | undefined;
  proxyRes: IncomingMessage | undefined;
  setCookie: readonly string[] | undefined;
  readonly start = Date.now();

  constructor(
    readonly req: IncomingMessage,
    readonly res: TaggedResponse,
    readonly body: ReplayableBody | undefined,
    readonly responseHeaders: readonly string[] | undefined,
    readonly sweep: DeadlineSweep,
    readonly connectMs: number,
    readonly headMs: number,
    readonly idleMs: number,
    readonly resolve: (outcome: ForwardOutcome) => void,
  ) {
    super();
    this.deadline = this.start + Math.min(connectMs, headMs);
  }

  /**
   * A deadline passed: the connect timeout, the response-head timeout, or an idle check of the
   * body (progress since the last check, or a client that is slow to read, keeps it alive).
   */
  expire(now: number): void {
    if (this.settled) return;
    const { connectMs, headMs, idleMs } = this;
    if (!this.connected && now >= this.start + connectMs) {
      this.proxyReq?.destroy();
      this.settle('connect', Object.assign(new Error(`no connection within ${connectMs} ms`), { code: 'ECONNTIMEOUT' }));
    } else if (!this.headReceived) {
      const headDeadline = this.start + headMs;
      if (now >= headDeadline) {
        this.proxyReq?.destroy();
        this.settle('timeout', Object.assign(new Error(`no response head within ${headMs} ms`), { code: 'ETIMEDOUT' }));
      } else {
        this.deadline = this.connected ? headDeadline : Math.min(headDeadline, this.start + connectMs);
      }
    } else if (this.res.writableNeedDrain) {
      this.deadline = now + idleMs; // the client is slow to read: not the member's silence
    } else if (this.lastActivity + idleMs > now) {
      this.deadline = this.lastActivity + idleMs;
    } else {
      this.proxyRes?.destroy();
      this.settle('truncated', Object.assign(new Error(`response body idle for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
    }
  }

  settle(failure: FailureKind | undefined, error: (Error & { code?: string }) | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.sweep.remove(this);
    if (failure === 'closed') {
      this.proxyReq?.destroy();
      this.proxyRes?.destroy();
      if (this.responseStarted) this.res.destroy();
    }
    this.res.removeListener('close', onClientClose);
    if (this.res[kExchange] === this) this.res[kExchange] = undefined;
    this.body?.detach();
    if (failure === 'truncated') this.res.destroy(); // the client must see a cut response, never a spliced one
    this.resolve({
      failure,
      status: this.status,
      responseStarted: this.responseStarted,
      bytesSent: this.connected ? (this.body?.bytesRead ?? 0) : 0,
      bytesReceived: this.bytesReceived,
      durationMs: Date.now() - this.start,
      error,
      reusedSocket: this.proxyReq?.reusedSocket ?? false,
      setCookie: this.setCookie,
    });
  }

  /** http-proxy-3's error callback: classify by how far the attempt got. */
  readonly onProxyError = (err: Error & { code?: string }): void => {
    if (this.settled) return;
    if (this.res.destroyed || this.req.socket.destroyed) this.settle('client-abort', err);
    else if (!this.connected) this.settle('connect', err);
    else if (!this.headReceived) this.settle('no-response', err);
    else this.settle('truncated', err);
  };
}

/** The proxy engine over http-proxy-3; see the module comment. */
export class ProxyEngine {
  readonly #proxy: ProxyServer;
  readonly #agents = new Map<Member, http.Agent>();
  // Tunnels are few and long-lived, so a Set per member is fine here (unlike the request hot path).
  readonly #tunnels = new Map<Member, Set<Tunnel>>();
  readonly #targets = new WeakMap<Member, ProxyTarget>();
  readonly #sweep: DeadlineSweep;
  readonly #options: EngineOptions;
  readonly #closing = new AbortController();
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#sweep = new DeadlineSweep(options.resolutionMs);
    // The engine writes the response itself: hop-by-hop filtering, the sticky cookie, byte counts.
    this.#proxy = new ProxyServer({ selfHandleResponse: true }); // xfwd is off by default
    // deleteLength sets `Content-Length: 0` on a DELETE or OPTIONS without one and drops
    // Transfer-Encoding, while the body is still piped: a smuggling hole. Framing is target.ts's job.
    const proxy = this.#proxy as unknown as { webPasses: { name: string }[] };
    proxy.webPasses = proxy.webPasses.filter((pass) => pass.name !== 'deleteLength');
    this.#proxy.on('error', () => {}); // every web() call passes its own callback; this only guards stray emits
    this.#proxy.on('proxyReq', (proxyReq, _req, res, _options, socket) => this.#onProxyReq(proxyReq, res, socket));
    this.#proxy.on('proxyRes', (proxyRes, _req, res) => this.#onProxyRes(proxyRes, res));
  }

  /**
   * Forwards one attempt of `req` to `member`. `body` is the request body to send (and replay),
   * absent when the request has none or keeps none; `responseHeaders` are extra fields for the
   * response, flat `[name, value, ...]` (the sticky Set-Cookie). Resolves when the exchange is over;
   * never rejects.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    member: Member,
    upstream: UpstreamRequest,
    body?: ReplayableBody,
    responseHeaders?: readonly string[],
  ): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      const o = this.#options;
      const ex = new Exchange(req, res, body, responseHeaders, this.#sweep, o.connectTimeoutMs, member.timeoutMs ?? o.timeoutMs, o.idleTimeoutMs, resolve);
      if (this.#closed) {
        ex.settle('closed', new Error('the balancer is closed'));
        return;
      }
      (res as TaggedResponse)[kExchange] = ex;
      res.on('close', onClientClose);
      this.#sweep.add(ex);
      const options: ServerOptions = { target: this.#targetFor(member), agent: this.#agentFor(member), toProxy: true };
      if (body !== undefined) options.buffer = body.stream();
      upstream.headers.host = o.preserveHost ? upstream.clientHost : member.url.host;
      // http-proxy-3 reads the path and headers from req, synchronously inside web(): lend it the
      // built ones (with toProxy, it sends req.url as it is, where its own join would normalize).
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
    });
  }

  /**
   * Forwards an Upgrade handshake to `member`. `req.headers` must already be the forwarded set
   * (hop-by-hop fields removed, Upgrade kept). An open tunnel is tracked until it closes.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, member: Member, upstream: UpstreamRequest, responseHeaders?: readonly string[]): Promise<UpgradeOutcome> {
    const o = this.#options;
    upstream.headers.host = o.preserveHost ? upstream.clientHost : member.url.host;
    const outcome = await forwardUpgrade(socket, head, member, upstream, responseHeaders, {
      connectMs: o.connectTimeoutMs,
      headMs: member.timeoutMs ?? o.timeoutMs,
      tunnelIdleMs: o.tunnelIdleTimeoutMs,
    }, this.#closing.signal);
    const tunnel = outcome.tunnel;
    if (tunnel !== undefined) {
      let open = this.#tunnels.get(member);
      if (open === undefined) this.#tunnels.set(member, (open = new Set()));
      open.add(tunnel);
      void tunnel.closed.then(() => {
        open.delete(tunnel);
        if (open.size === 0 && this.#tunnels.get(member) === open) this.#tunnels.delete(member);
      });
    }
    return outcome;
  }

  /** Open tunnels on a member. */
  tunnelCount(member: Member): number {
    return this.#tunnels.get(member)?.size ?? 0;
  }

  /** Ends every open tunnel on `member`. */
  endTunnels(member: Member): void {
    for (const tunnel of this.#tunnels.get(member) ?? []) tunnel.end();
  }

  /** Destroys a removed member's agent once nothing is in flight on it. */
  retire(member: Member): void {
    if (member.inFlight > 0) return;
    this.#agents.get(member)?.destroy();
    this.#agents.delete(member);
  }

  /**
   * Ends every attempt in flight (each settles as `closed`, so nothing is retried), every tunnel and
   * handshake, and destroys every agent socket. Later attempts settle as `closed` at once.
   */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
    this.#sweep.forEach((entry) => (entry as Exchange).settle('closed', new Error('the balancer is closed')));
    for (const tunnels of this.#tunnels.values()) for (const tunnel of tunnels) tunnel.end();
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
    this.#sweep.stop();
  }

  /** The member as http-proxy-3's target, without a path: the request path is built in target.ts. */
  #targetFor(member: Member): ProxyTarget {
    let target = this.#targets.get(member);
    if (target === undefined) {
      const { protocol, host, hostname, port } = member.url;
      target = { protocol, host, hostname, port: Number(port || (protocol === 'https:' ? 443 : 80)), pathname: '' };
      this.#targets.set(member, target);
    }
    return target;
  }

  #agentFor(member: Member): http.Agent {
    let agent = this.#agents.get(member);
    if (agent === undefined) {
      // Without a keep-alive agent http-proxy-3 sends `Connection: close` upstream.
      const Agent = member.url.protocol === 'https:' ? https.Agent : http.Agent;
      agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
      this.#agents.set(member, agent);
    }
    return agent;
  }

  #onProxyReq(proxyReq: http.ClientRequest, res: ServerResponse, socket: Socket): void {
    const ex = (res as TaggedResponse)[kExchange];
    if (ex === undefined || ex.settled) {
      proxyReq.destroy();
      return;
    }
    ex.proxyReq = proxyReq;
    proxyReq.on('information', (info: http.InformationEvent) => relayInformational(ex, info));
    if (socket.connecting) socket.once('connect', () => (ex.connected = true));
    else ex.connected = true;
  }

  #onProxyRes(proxyRes: IncomingMessage, res: ServerResponse): void {
    const ex = (res as TaggedResponse)[kExchange];
    if (ex === undefined || ex.settled) {
      proxyRes.destroy();
      return;
    }
    ex.headReceived = true;
    ex.connected = true;
    ex.proxyRes = proxyRes;
    ex.status = proxyRes.statusCode ?? 0;
    ex.lastActivity = Date.now();
    ex.deadline = ex.lastActivity + ex.idleMs;
    const invalid = invalidStatusLine(ex.status, proxyRes.statusMessage);
    if (invalid !== undefined) {
      proxyRes.destroy();
      ex.settle('bad-response', new InvalidResponseError(invalid));
      return;
    }
    const head = forwardedResponseHead(proxyRes.rawHeaders);
    ex.setCookie = head.setCookie;
    if (ex.responseHeaders !== undefined) head.fields.push(...ex.responseHeaders);
    try {
      res.writeHead(ex.status, proxyRes.statusMessage, head.fields);
    } catch (err) {
      // Whatever Node refuses to write (a field it finds invalid) is the member's bad response;
      // the fields it may have set before throwing are not the 502's.
      proxyRes.destroy();
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      ex.settle('bad-response', new InvalidResponseError((err as Error).message));
      return;
    }
    ex.responseStarted = true;
    (proxyRes as TaggedMemberResponse)[kExchange] = ex;
    proxyRes.on('data', onMemberData);
    proxyRes.on('end', onMemberEnd);
    proxyRes.on('close', onMemberClose);
    proxyRes.on('error', ignoreError);
  }
}
