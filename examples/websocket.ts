/**
 * WebSockets through the balancer, runnable: `node --import tsx examples/websocket.ts`.
 * Two `ws` echo servers on loopback, a front end that balances their handshakes with a sticky
 * ROUTEID cookie, and a client that opens a few sockets, sends a message on each and closes.
 *
 * With Express or Connect the wiring is the same: the middleware handles HTTP requests and the
 * server's `upgrade` event handles handshakes (Express never sees them):
 *
 *   const app = express();
 *   app.use('/app', balancer);
 *   const server = app.listen(8080);
 *   server.on('upgrade', balancer.upgrade);
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createBalancer } from '../src/index.js';

async function echoServer(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.end(`${name}\n`));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${name} echoes ${data.toString()}`)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const members = [await echoServer('Server 1'), await echoServer('Server 2')];
const balancer = createBalancer({
  members: [
    { url: members[0]!.url, route: 'pi2' },
    { url: members[1]!.url, route: 'pi3' },
  ],
  sticky: { cookie: 'ROUTEID', setCookie: true },
});
const front = http.createServer(balancer);
front.on('upgrade', balancer.upgrade);
await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
const wsUrl = `ws://127.0.0.1:${(front.address() as AddressInfo).port}/chat`;

for (const headers of [{}, {}, { cookie: 'ROUTEID=.pi3' }, { cookie: 'ROUTEID=.pi3' }]) {
  const ws = new WebSocket(wsUrl, { headers });
  let response: http.IncomingMessage | undefined;
  ws.once('upgrade', (res) => (response = res));
  await once(ws, 'open');
  ws.send('hello');
  const [reply] = (await once(ws, 'message')) as [Buffer];
  const cookie = response?.headers['set-cookie']?.[0]?.split(';')[0] ?? '(none)';
  console.log(`${JSON.stringify(headers).padEnd(26)} -> ${reply.toString().padEnd(26)} Set-Cookie: ${cookie}`);
  ws.close();
  await once(ws, 'close');
}

// Closing is asynchronous on the member's side too; give the last tunnel a moment to wind down.
for (let i = 0; i < 100 && balancer.snapshot().members.some((m) => m.tunnels > 0); i++) await new Promise((r) => setTimeout(r, 10));
console.log(
  'tunnels open after closing:',
  balancer
    .snapshot()
    .members.map((m) => `${m.route}=${m.tunnels}`)
    .join(' '),
);
await balancer.close();
await new Promise<void>((resolve) => front.close(() => resolve()));
await Promise.all(members.map((m) => m.close()));
