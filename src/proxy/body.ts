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
  readonly #req: IncomingMessage;
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

  constructor(req: IncomingMessage, maxBytes: number) {
    this.#req = req;
    this.#maxBytes = maxBytes;
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
        this.#req.resume();
      });
      this.#req.resume();
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
      this.#req.pause();
      return;
    }
    if (!sink.write(chunk)) {
      this.blockedSince = this.lastDataAt;
      this.#req.pause();
    }
  }
}
