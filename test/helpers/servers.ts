/**
 * Loopback servers for tests: real `node:http` back ends on 127.0.0.1:0, a front end serving a
 * balancer, and a small request helper over `node:http`. Everything listens on loopback only.
 */
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Backend {
  name: string;
  url: string;
  port: number;
  server: http.Server;
  /** Requests this back end received, in order. */
  received: IncomingMessage[];
  /** Open sockets, so a test can kill the back end with its connections. */
  sockets: Set<Socket>;
  /** Stops accepting and destroys every open connection. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

/** A back end that answers `<name>` (or runs `handler`), recording each request. */
export async function startBackend(name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const received: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const listener: RequestListener = (req, res) => {
    received.push(req);
    if (handler) return handler(req, res);
    req.resume();
    req.on('end', () => {
      res.setHeader('x-member', name);
      res.end(name);
    });
  };
  const server = http.createServer(listener);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  const kill = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { name, url: `http://127.0.0.1:${port}`, port, server, received, sockets, kill, close: kill };
}

/** Serves `listener` on loopback; returns its base URL. */
export async function startFront(listener: RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(listener);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** A port on loopback with nothing listening (bound, read, released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** How one exchange ended for the client: a whole response, a cut one, or none at all. */
export interface Exchange extends Reply {
  /** True when the whole response arrived; false when the connection ended before that (or before any head: status 0). */
  complete: boolean;
  /** The client-side error of an exchange that did not complete, if Node reported one. */
  error: Error | undefined;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Called when the response head arrives, before its body (to time a member's fault after it). */
  onResponse?: () => void;
  /** Called with each chunk of the response body as it arrives. */
  onData?: (chunk: Buffer) => void;
}

/**
 * One request with a fresh connection (no agent), so tests do not share sockets. Never rejects:
 * a response cut short or a connection that ended without one is an outcome like any other.
 */
export function exchange(url: string, options: RequestOptions = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    let responded = false;
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      responded = true;
      options.onResponse?.();
      const chunks: Buffer[] = [];
      let error: Error | undefined;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        options.onData?.(c);
      });
      res.on('error', (err) => (error = err)); // a cut response: reported by 'close' with complete false
      res.on('close', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), complete: res.complete, error }),
      );
    });
    req.on('error', (error) => {
      if (!responded) resolve({ status: 0, headers: {}, body: '', complete: false, error });
    });
    req.end(options.body);
  });
}

/** One request with a fresh connection (no agent); rejects unless the whole response arrives. */
export async function request(url: string, options: RequestOptions = {}): Promise<Reply> {
  const { complete, error, ...reply } = await exchange(url, options);
  if (!complete) throw error ?? new Error(`response cut short after ${reply.body.length} bytes`);
  return reply;
}

function listen(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}
