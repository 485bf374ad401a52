/**
 * Raw sockets for the security tests: what an attacker (or a broken member) sends, byte for byte,
 * where node:http would refuse to write it. Loopback only.
 */
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';

/** Sends `bytes` on a fresh connection and resolves with everything received until the peer closes. */
export async function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {}); // a reset ends the exchange like a close
  await once(socket, 'connect');
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

/** The status code of the first response in a raw exchange, or 0. */
export function firstStatus(raw: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return match === null ? 0 : Number(match[1]);
}

/** What an echo member saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** A keep-alive member that records every request it parsed and answers with it as JSON. */
export interface EchoMember {
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

/** `path`: appended to the member URL (its base path); `maxHeadersCount`: the member server's own limit. */
export async function startEchoMember(path = '', options: { maxHeadersCount?: number } = {}): Promise<EchoMember> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('latin1'),
      };
      seen.push(entry);
      const text = JSON.stringify(entry);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
  });
  if (options.maxHeadersCount !== undefined) server.maxHeadersCount = options.maxHeadersCount;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * A member written on a raw `net` server: each connection gets `reply` (after the request head
 * arrived), so it can answer what node:http would never send (bad status lines, 1xx, huge heads).
 */
export async function startRawMember(
  reply: (socket: net.Socket, head: string) => void,
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ url: string; connections: number; open: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { url: '', connections: 0, open: sockets, close: async (): Promise<void> => {} };
  // allowHalfOpen: a member that keeps its side open after the client's FIN, as a server may.
  const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      reply(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return state;
}
