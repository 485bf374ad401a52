/**
 * A loopback back end whose answer can be switched (status, body, or no answer at all) or scripted
 * request by request, and that records every connection and request it gets: what health probes
 * need to be tested against real sockets.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { startBackend, type Backend } from './servers.js';

/** How the back end answers: a status (body "ok"), a status and body, or `'hang'` (never answers). */
export type Answer = number | { status: number; body?: string } | 'hang';

/** One request as the back end saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** Index of the connection it came on (0-based, in accept order). */
  connection: number;
}

export interface SwitchableBackend {
  backend: Backend;
  url: string;
  port: number;
  /** Every request, in order. */
  requests: SeenRequest[];
  /** Every accepted connection, in order (closed ones included). */
  connections: Socket[];
  /** The answer from now on (after any scripted ones). */
  set(answer: Answer): void;
  /** Answers for the next requests, one each, in order; then the `set` answer again. */
  script(...answers: Answer[]): void;
  /** Sockets still open. */
  openConnections(): number;
  close(): Promise<void>;
}

/** Starts a switchable back end on 127.0.0.1:0; it answers `initial` (default 200) until told otherwise. */
export async function startSwitchable(name: string, initial: Answer = 200): Promise<SwitchableBackend> {
  let current = initial;
  const scripted: Answer[] = [];
  const requests: SeenRequest[] = [];
  const connections: Socket[] = [];
  const backend = await startBackend(name, (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, connection: connections.indexOf(req.socket) });
    const answer = scripted.shift() ?? current;
    req.resume();
    if (answer === 'hang') return;
    const { status, body } = typeof answer === 'number' ? { status: answer, body: 'ok' } : { body: 'ok', ...answer };
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  });
  // Listening already, but nothing connects before the caller has the returned object.
  backend.server.on('connection', (socket: Socket) => connections.push(socket));
  return {
    backend,
    url: backend.url,
    port: backend.port,
    requests,
    connections,
    set: (answer) => {
      current = answer;
    },
    script: (...answers) => {
      scripted.push(...answers);
    },
    openConnections: () => backend.sockets.size,
    close: () => backend.close(),
  };
}
