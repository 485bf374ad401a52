/**
 * The benchmark's back ends: plain `node:http` servers on 127.0.0.1:0 that answer every request
 * with the same small body, and count what they served and the connections they accepted, so a
 * run can show how load was spread and whether the proxy in front reused its connections.
 */
import http from 'node:http';

/** The fixed response body: small, so the figures measure the proxy path rather than bytes. */
export const BODY = Buffer.from('ok: proxy-balancer bench back end, fixed 64-byte body ........\n');

/**
 * Starts `count` back ends. Each has `url`, `hits` and `connections` (requests served and
 * connections accepted; the caller resets them between runs) and `close()`.
 */
export async function startBackends(count) {
  const backends = [];
  for (let i = 0; i < count; i++) backends.push(await startBackend());
  return backends;
}

async function startBackend() {
  const backend = { url: '', hits: 0, connections: 0, close: undefined };
  const server = http.createServer((req, res) => {
    backend.hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  // Longer than any pause between runs, so an idle keep-alive socket is never closed under a proxy
  // that is about to reuse it (that race would show up as a spurious error).
  server.keepAliveTimeout = 120_000;
  const sockets = new Set();
  server.on('connection', (socket) => {
    backend.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  backend.url = `http://127.0.0.1:${server.address().port}`;
  backend.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return backend;
}
