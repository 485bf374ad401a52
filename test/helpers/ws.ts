/**
 * WebSocket back ends and clients for tests, on loopback: a `ws` echo server that names itself in
 * its replies and records the path of every handshake it got, and small client helpers.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

export interface WsBackend {
  name: string;
  url: string;
  server: http.Server;
  wss: WebSocketServer;
  /** Open TCP connections to this back end. */
  connections: Set<Socket>;
  handshakes: number;
  /** The request target of every handshake, in order. */
  paths: string[];
  /** Ends every client and connection and stops listening. */
  close(): Promise<void>;
}

/** A `ws` echo server that prefixes replies with `<name>:`; `reject` answers handshakes with 403. */
export async function wsBackend(name: string, options: { reject?: boolean } = {}): Promise<WsBackend> {
  const server = http.createServer((_req, res) => res.end(name));
  const wss = new WebSocketServer({ noServer: true });
  const connections = new Set<Socket>();
  const backend: WsBackend = {
    name,
    url: '',
    server,
    wss,
    connections,
    handshakes: 0,
    paths: [],
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const s of connections) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (s) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    backend.handshakes++;
    backend.paths.push(req.url ?? '');
    if (options.reject) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nx-member: ' + name + '\r\n\r\nforbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => ws.send(`${name}:${data.toString()}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  backend.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return backend;
}

/** Opens a WebSocket and waits for the handshake. */
export async function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  await once(ws, 'open');
  return ws;
}

/** Sends `text` and resolves with the next message. */
export async function echo(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = (await once(ws, 'message')) as [Buffer];
  return data.toString();
}

/** Closes a client and waits until it is closed. */
export async function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = once(ws, 'close');
  ws.close();
  await closed;
}
