/**
 * One benchmark back end, run as its own process: `node backend.mjs`. A plain `node:http` server on
 * 127.0.0.1:0 that answers `GET /<n>` with an n-byte body (0 to 16 MiB, built once per size) and
 * `/health` with 200, and counts the requests it served and the connections it accepted, so a run
 * can show how load was spread and whether the front end reused its upstream connections.
 * Reports `{ port }` over IPC, then answers `{ cmd: 'stats', reset }` with `{ hits, connections }`.
 */
import http from 'node:http';

const MAX_BODY = 16 * 1024 * 1024;
const bodies = new Map();
let hits = 0;
let connections = 0;

function bodyOf(size) {
  let body = bodies.get(size);
  if (body === undefined) {
    body = Buffer.alloc(size, 'x');
    if (size > 0) body[size - 1] = 0x0a;
    bodies.set(size, body);
  }
  return body;
}

const server = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
    return;
  }
  const size = Number(req.url.slice(1));
  if (!Number.isInteger(size) || size < 0 || size > MAX_BODY || req.url.length < 2) {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
    res.end('not found\n');
    return;
  }
  hits++;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': size });
  res.end(bodyOf(size));
});
// Longer than any pause between runs, so an idle keep-alive socket is never closed under a front
// end that is about to reuse it (that race would show up as a spurious error).
server.keepAliveTimeout = 120_000;
server.on('connection', () => connections++);
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

process.on('message', (message) => {
  if (message?.cmd === 'stats') {
    process.send({ id: message.id, result: { hits, connections } });
    if (message.reset) hits = connections = 0;
  } else if (message?.cmd === 'close') {
    server.closeAllConnections();
    server.close();
    process.disconnect();
  }
});
// Never outlive the bench: when the channel to it closes, so does this process.
process.on('disconnect', () => process.exit(0));
