/**
 * One soak member, run as its own process so the soak can kill it outright (SIGKILL) and start it
 * again on the same port: `node member.mjs [port]` (0 or absent: any free port). A `node:http`
 * server on 127.0.0.1 that answers every GET (health probes too) with {@link GET_BODY}, and a POST
 * with `posted <body bytes>` once it has read the body. Reports `{ port, getBody }` over IPC and
 * ends when the channel to the soak closes.
 */
import http from 'node:http';

/** What every GET gets: fixed, so the soak checks each reply byte for byte. */
const GET_BODY = 'soak member: ok\n';

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': GET_BODY.length });
    res.end(GET_BODY);
    return;
  }
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const body = `posted ${bytes}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
});
// Longer than any pause in the soak: idle keep-alive sockets are closed by kills, not by timeouts.
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => process.send({ port: server.address().port, getBody: GET_BODY }));
process.on('disconnect', () => process.exit(0));
