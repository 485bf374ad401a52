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
import { forwardedResponseHead } from './headers.js';
import { forwardUpgrade, type Tunnel, type UpgradeOutcome } from './upgrade.js';

/**
 * How an attempt failed:
 * - `connect`: no connection, so no byte reached the member (refused, unreachable, DNS, connect timeout).
 * - `no-response`: connected, the request may have reached the member, no response byte came back.
 * - `timeout`: no response head within `timeoutMs`.
 * - `truncated`: the response head went to the client, then the member failed mid-body.
 * - `client-abort`: the client went away; not the member's fault.
 */
export type FailureKind = 'connect' | 'no-response' | 'timeout' | 'truncated' | 'client-abort';

/** How one attempt on one member ended. */
export interface ForwardOutcome {
  /** Undefined when the response went to the client whole. */
  readonly failure: FailureKind | undefined;
  /** The member's status code, or 0 when no response head came. */
  readonly status: number;
  /** True once the response head was written to the client: nothing may be retried after that. */
  readonly responseStarted: boolean;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly durationMs: number;
  readonly error: (Error & { code?: string }) | undefined;
  /** The attempt went out on a reused keep-alive socket (a reset then may be a keep-alive race). */
  readonly reusedSocket: boolean;
  /** The member's Set-Cookie fields, for the sticky session table. */
  readonly setCookie: readonly string[] | undefined;
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
  /** Bytes received at the last idle check. */
  idleMark = 0;
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
    } else if (this.bytesReceived !== this.idleMark || this.res.writableNeedDrain) {
      this.idleMark = this.bytesReceived;
      this.deadline = now + idleMs;
    } else {
      this.proxyRes?.destroy();
      this.settle('truncated', Object.assign(new Error(`response body idle for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
    }
  }

  settle(failure: FailureKind | undefined, error: (Error & { code?: string }) | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.sweep.remove(this);
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
  readonly #sweep: DeadlineSweep;
  readonly #options: EngineOptions;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#sweep = new DeadlineSweep(options.resolutionMs);
    // The engine writes the response itself: hop-by-hop filtering, the sticky cookie, byte counts.
    this.#proxy = new ProxyServer({ selfHandleResponse: true }); // xfwd off and prependPath on are the defaults
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
  forward(req: IncomingMessage, res: ServerResponse, member: Member, body?: ReplayableBody, responseHeaders?: readonly string[]): Promise<ForwardOutcome> {
    return new Promise((resolve) => {
      const o = this.#options;
      const ex = new Exchange(req, res, body, responseHeaders, this.#sweep, o.connectTimeoutMs, member.timeoutMs ?? o.timeoutMs, o.idleTimeoutMs, resolve);
      (res as TaggedResponse)[kExchange] = ex;
      res.on('close', onClientClose);
      this.#sweep.add(ex);
      const options: ServerOptions = { target: member.url, agent: this.#agentFor(member) };
      // req.headers is the balancer's own forwarded copy: setting Host on it spares http-proxy-3 a second copy.
      if (!o.preserveHost) req.headers.host = member.url.host;
      if (body !== undefined) options.buffer = body.stream();
      this.#proxy.web(req, res, options, ex.onProxyError);
    });
  }

  /**
   * Forwards an Upgrade handshake to `member`. `req.headers` must already be the forwarded set
   * (hop-by-hop fields removed, Upgrade kept). An open tunnel is tracked until it closes.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, member: Member, responseHeaders?: readonly string[]): Promise<UpgradeOutcome> {
    const o = this.#options;
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    if (!o.preserveHost) headers.host = member.url.host;
    const outcome = await forwardUpgrade(req, socket, head, member, headers, responseHeaders, { connectMs: o.connectTimeoutMs, headMs: member.timeoutMs ?? o.timeoutMs });
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

  /** Ends every tunnel, destroys every agent socket and stops the sweep. */
  close(): void {
    for (const tunnels of this.#tunnels.values()) for (const tunnel of tunnels) tunnel.end();
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
    this.#sweep.stop();
    this.#proxy.removeAllListeners();
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
    ex.deadline = Date.now() + ex.idleMs;
    const head = forwardedResponseHead(proxyRes.rawHeaders);
    ex.setCookie = head.setCookie;
    if (ex.responseHeaders !== undefined) head.fields.push(...ex.responseHeaders);
    res.writeHead(ex.status, proxyRes.statusMessage, head.fields);
    ex.responseStarted = true;
    (proxyRes as TaggedMemberResponse)[kExchange] = ex;
    proxyRes.on('data', onMemberData);
    proxyRes.on('end', onMemberEnd);
    proxyRes.on('close', onMemberClose);
    proxyRes.on('error', ignoreError);
  }
}
