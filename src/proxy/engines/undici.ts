/**
 * The undici engine (the default): one undici `Pool` per member, keep-alive, `dispatch()` with a
 * streaming handler. The response head is written as it arrives and the body relayed chunk by chunk
 * with backpressure both ways; nothing is buffered whole. undici's own header and body timers are
 * off: the shared sweep keeps every deadline (one timer for all requests), as for every engine.
 *
 * The handler is the exchange itself, on undici's raw-header callbacks (`onConnect`, `onHeaders`,
 * `onData`, `onComplete`, `onError`): the newer controller API wraps each request in an adapter and
 * parses every response head into an object this engine would not read.
 */
import { Pool } from 'undici';
import type { Member } from '../../pool/member.js';
import { ProxyEngine, type EngineOptions } from '../engine.js';
import { Exchange } from '../exchange.js';
import { upstreamPath, type UpstreamRequest } from '../target.js';

/** What undici passes to `onError`: its errors carry a code, and socket errors the socket's counters. */
type UndiciError = Error & { code?: string; socket?: { bytesRead?: number } };

/** One attempt through undici; the object is its dispatch handler. */
class UndiciExchange extends Exchange {
  #abort: ((err?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #reused = false;
  /** Some byte of this attempt's response arrived (undici's parser began a message). */
  #responseBegun = false;
  /** Resumes the member's body once the client drained (bound once per exchange, on first need). */
  #onDrain: (() => void) | undefined = undefined;

  protected abortUpstream(): void {
    const abort = this.#abort;
    this.#abort = undefined;
    abort?.(); // before onConnect there is nothing to abort yet: onConnect sees `settled`
  }

  protected reusedConnection(): boolean {
    return this.#reused;
  }

  onRequestSent(): void {
    this.requestSent();
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.settled) {
      abort();
      return;
    }
    this.#abort = abort;
    this.onConnected();
  }

  onResponseStarted(): void {
    this.#responseBegun = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.settled) return false;
    if (statusCode >= 102 && statusCode < 200) {
      this.informational(statusCode, linkOf(rawHeaders));
      return true;
    }
    this.#resume = resume;
    return this.respond(statusCode, statusText, rawHeaders);
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return false;
    if (this.relay(chunk)) return true;
    this.res.once('drain', (this.#onDrain ??= () => this.#resume?.()));
    return false;
  }

  onComplete(trailers: (string | Buffer)[] | null): void {
    this.#abort = undefined;
    this.complete(trailers);
  }

  onError(err: UndiciError): void {
    this.#abort = undefined;
    // A reset before any byte of this response on a connection that had read responses before: the
    // keep-alive race. (A half-sent head on a fresh connection began a response: not the race.)
    if (!this.#responseBegun && (err.socket?.bytesRead ?? 0) > 0) this.#reused = true;
    this.fail(err);
  }
}

/** undici's raw `Link` values (for 103 Early Hints). */
function linkOf(raw: Buffer[]): string[] | undefined {
  let links: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toString('latin1').toLowerCase() === 'link') (links ??= []).push(raw[i + 1]!.toString('latin1'));
  }
  return links;
}

/** The engine over undici; see the module comment. */
export class UndiciEngine extends ProxyEngine<UndiciExchange> {
  protected readonly exchangeClass = UndiciExchange;
  readonly #pools = new Map<Member, Pool>();

  constructor(options: EngineOptions) {
    super(options);
  }

  protected send(ex: UndiciExchange, upstream: UpstreamRequest): void {
    const { member, body } = ex;
    // undici frames a stream body itself: with its Content-Length when the client sent one, else chunked.
    this.#poolFor(member).dispatch(
      {
        path: upstreamPath(member, upstream.target),
        method: upstream.method,
        headers: upstream.headers as Record<string, string | string[] | undefined>,
        body: body === undefined ? null : body.stream(),
      },
      ex,
    );
  }

  protected releaseConnections(member: Member): void {
    void this.#pools.get(member)?.destroy();
    this.#pools.delete(member);
  }

  protected releaseAll(): void {
    for (const pool of this.#pools.values()) void pool.destroy();
    this.#pools.clear();
  }

  #poolFor(member: Member): Pool {
    let pool = this.#pools.get(member);
    if (pool === undefined) {
      const tls = this.tlsOf(member);
      pool = new Pool(member.url.origin, {
        ...(tls === undefined ? {} : { connect: tls as Pool.Options['connect'] }),
        connectTimeout: this.options.connectTimeoutMs,
        // The sweep keeps the head and body deadlines; undici's own timers would be a second set.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      // A pool error with no request to report it to (a socket failing while idle) is not the process's end.
      pool.on('connectionError', () => {});
      this.#pools.set(member, pool);
    }
    return pool;
  }
}
