/**
 * One back-end web server of the study's cluster: a page that names the server ("Server 1",
 * "Server 2") and a `/health` endpoint, like the Apache httpd pages on the Raspberry Pis.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BackendServer {
  name: string;
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Starts a back end on `host:port` (port 0 picks a free one). */
export function startBackend(name: string, host: string, port: number): Promise<BackendServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    const page =
      `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title></head>` +
      `<body style="font-family:sans-serif;text-align:center;margin-top:20vh"><h1>${name}</h1>` +
      `<p>served at ${new Date().toISOString()}</p></body></html>\n`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-served-by': name.replace(/\s+/g, '-').toLowerCase() });
    res.end(page);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        name,
        url: `http://${hostPart}:${address.port}`,
        server,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
