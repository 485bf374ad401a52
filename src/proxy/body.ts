/**
 * A request body that can be sent again. The client's body streams to the member as it arrives
 * (no store-and-forward delay), while the first `maxBytes` are kept, so an attempt that fails can
 * be replayed to another member: the kept chunks first, then the rest as it arrives.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';

/** True when the request carries a body (RFC 9112 6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export class ReplayableBody {
  /** The client's stream; undefined for a body given whole (re-encoded from a parser's result). */
  readonly #req: IncomingMessage | undefined;
  readonly #maxBytes: number;
  readonly #kept: Buffer[] = [];
  #keptBytes = 0;
  #totalBytes = 0;
  #overflowed = false;
  #ended = false;
  #sink: PassThrough | undefined;
  /** Epoch ms of the client's last body chunk (0 before the first): the upload's idle clock. */
  lastDataAt = 0;
  /** Epoch ms when the whole body had arrived from the client; 0 until then. */
  endedAt = 0;
  /** Epoch ms since when the member has not taken what was sent (its side is full); 0 when it has. */
  blockedSince = 0;

  /** `source`: the client's request, read as it arrives; or a body already whole. */
  constructor(source: IncomingMessage | Buffer, maxBytes: number) {
    this.#maxBytes = maxBytes;
    if (Buffer.isBuffer(source)) {
      this.#req = undefined;
      this.#kept.push(source);
      this.#keptBytes = this.#totalBytes = source.length;
      this.#ended = true;
      this.lastDataAt = this.endedAt = Date.now();
      return;
    }
    const req = source;
    this.#req = req;
    req.on('data', (chunk: Buffer) => this.#onData(chunk));
    req.on('end', () => {
      this.#ended = true;
      this.endedAt = Date.now();
      this.#sink?.end();
    });
  }

  /** Whether every byte read so far is kept, so a new attempt can start from the first byte. */
  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** Body bytes read from the client so far. */
  get bytesRead(): number {
    return this.#totalBytes;
  }

  /** The client has sent the whole body. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * A fresh stream of the whole body for one attempt. The previous attempt's stream, if any, is
   * detached. Call only while {@link replayable}.
   */
  stream(): PassThrough {
    this.#sink?.removeAllListeners('drain');
    const sink = new PassThrough();
    this.#sink = sink;
    for (const chunk of this.#kept) sink.write(chunk);
    this.blockedSince = 0;
    if (this.#ended) sink.end();
    else {
      sink.on('drain', () => {
        this.blockedSince = 0;
        this.#req?.resume();
      });
      this.#req?.resume();
    }
    return sink;
  }

  /** Stops reading the client's body (the exchange is over). */
  detach(): void {
    this.#sink?.removeAllListeners('drain');
    this.#sink = undefined;
  }

  #onData(chunk: Buffer): void {
    this.#totalBytes += chunk.length;
    this.lastDataAt = Date.now();
    if (!this.#overflowed) {
      if (this.#keptBytes + chunk.length <= this.#maxBytes) {
        this.#kept.push(chunk);
        this.#keptBytes += chunk.length;
      } else {
        this.#overflowed = true;
        this.#kept.length = 0; // the memory is of no use once a replay is impossible
        this.#keptBytes = 0;
      }
    }
    const sink = this.#sink;
    if (sink === undefined) {
      this.#req?.pause();
      return;
    }
    if (!sink.write(chunk)) {
      this.blockedSince = this.lastDataAt;
      this.#req?.pause();
    }
  }
}

/**
 * Whether something in front (a body parser) read the request body before the balancer: then the
 * stream has nothing left to send, while `Content-Length` still announces the body.
 */
export function bodyAlreadyRead(req: IncomingMessage): boolean {
  return req.readableDidRead || req.readableEnded;
}

/**
 * The body a parser in front left on `req.body`, encoded again for the member: a Buffer
 * (`express.raw`) as it is, a string (`express.text`) in its charset, an object as JSON or as a
 * form, by the request's Content-Type. Undefined when it cannot be re-sent faithfully.
 */
export function reencodedBody(req: IncomingMessage): Buffer | undefined {
  const body = (req as IncomingMessage & { body?: unknown }).body;
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, /charset=("?)(iso-8859-1|latin1)\1/.test(type) ? 'latin1' : 'utf8');
  if (body === null || typeof body !== 'object') return undefined;
  if (/^application\/([\w.-]+\+)?json\b/.test(type)) return Buffer.from(JSON.stringify(body));
  if (type.startsWith('application/x-www-form-urlencoded')) return Buffer.from(formEncoded(body as Record<string, unknown>));
  return undefined;
}

/**
 * A parsed form as `application/x-www-form-urlencoded` again: repeated keys for arrays of values,
 * brackets for nested objects (`a[b]=c`), as express.urlencoded (qs) and querystring read them back.
 */
function formEncoded(body: Record<string, unknown>): string {
  const pairs: string[] = [];
  const add = (key: string, value: unknown): void => {
    if (value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => add(item !== null && typeof item === 'object' ? `${key}[${i}]` : key, item));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) add(`${key}[${k}]`, v);
    } else {
      pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(value === null ? '' : String(value))}`);
    }
  };
  for (const [key, value] of Object.entries(body)) add(key, value);
  return pairs.join('&');
}
