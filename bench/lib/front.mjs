/**
 * A front end under test, run in its own process so each has its own heap and CPU profile:
 * `node front.mjs <balancer|bare> <memberUrl>...`. It listens on 127.0.0.1:0, reports
 * `{ port }` over IPC and answers, each with `{ id, result }`:
 * - `{ cmd: 'cpu' }`: its `process.cpuUsage()`, so the bench can report CPU time per request,
 *   which other load on the machine disturbs less than requests/s;
 * - `{ cmd: 'profile-start' }` and `{ cmd: 'profile-stop', file }`: a V8 CPU profile of exactly
 *   one measured run, written to `file`;
 * - `{ cmd: 'close' }`: closes and exits.
 *
 * - `balancer`: `createBalancer` from the built package (../../dist/index.js), strategy byrequests,
 *   mounted with `http.createServer`.
 * - `bare`: http-proxy-3's ProxyServer alone, targets alternating, at its cheapest: targets parsed
 *   once (a string target costs a `new URL` per request), and a keep-alive `http.Agent` per target
 *   (without one it sends `Connection: close` upstream) set up as the balancer's engine sets up its
 *   own, so the comparison measures code, not agent settings.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';

const [kind, ...memberUrls] = process.argv.slice(2);
if (memberUrls.length === 0) throw new Error('usage: front.mjs <balancer|bare> <memberUrl>...');

let handler;
let closeHandler = async () => {};
if (kind === 'balancer') {
  const { createBalancer } = await import('../../dist/index.js');
  const balancer = createBalancer({ members: memberUrls.map((url) => ({ url })), strategy: 'byrequests' });
  handler = balancer;
  closeHandler = () => balancer.close();
} else if (kind === 'bare') {
  const { ProxyServer } = await import('http-proxy-3');
  const proxy = new ProxyServer();
  const targets = memberUrls.map((url) => ({ target: new URL(url), agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }) }));
  let next = 0;
  handler = (req, res) => {
    const options = targets[next];
    next = (next + 1) % targets.length;
    proxy.web(req, res, options, () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  };
  closeHandler = async () => {
    for (const t of targets) t.agent.destroy();
  };
} else {
  throw new Error(`unknown front end kind ${JSON.stringify(kind)}`);
}

const server = http.createServer(handler);
server.keepAliveTimeout = 120_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
let session;
const commands = {
  cpu: async () => process.cpuUsage(),
  'profile-start': async () => {
    session ??= new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 }); // µs: fine enough for a 5 s run
    await session.post('Profiler.start');
    return true;
  },
  'profile-stop': async ({ file }) => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
    return file;
  },
  close: async () => {
    server.closeAllConnections();
    server.close();
    await closeHandler();
    process.disconnect();
  },
};
process.on('message', async (message) => {
  const command = commands[message?.cmd];
  if (command === undefined) return;
  try {
    const result = await command(message);
    if (process.connected) process.send({ id: message.id, result });
  } catch (err) {
    if (process.connected) process.send({ id: message.id, error: String(err?.stack ?? err) });
  }
});
// Never outlive the bench: when the channel to it closes, so does this process.
process.on('disconnect', () => process.exit(0));
process.send({ port: server.address().port });
