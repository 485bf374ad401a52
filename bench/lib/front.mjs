/**
 * A Node.js front end under test, run in its own process so each has its own heap, CPU time and
 * CPU profile: `node front.mjs <kind> <json>` where json is `{ members: [url...], options? }`.
 * It listens on 127.0.0.1:0, reports `{ port }` over IPC (or `{ error, code, path }` when it could
 * not start) and answers, each with `{ id, result }`:
 * - `{ cmd: 'profile-start' }` and `{ cmd: 'profile-stop', file }`: a V8 CPU profile of exactly
 *   one measured run, written to `file`;
 * - `{ cmd: 'close' }`: closes and exits.
 *
 * Kinds:
 * - `balancer`: `createBalancer({ members, ...options })` from the built package (../../dist/index.js),
 *   mounted with `http.createServer`.
 * - `http-proxy-3`: http-proxy-3's ProxyServer alone, members alternating, at its cheapest: targets
 *   parsed once (a string target costs a `new URL` per request) and a keep-alive `http.Agent` per
 *   member (without one it sends `Connection: close` upstream).
 * - `undici`: one `undici.Pool` per member, members alternating, each request sent with
 *   `pool.dispatch()` and the response streamed back by a small handler with backpressure: the
 *   least a proxy on undici has to do, as a floor for an undici engine.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';

const [kind, json] = process.argv.slice(2);
const { members, options = {} } = JSON.parse(json ?? '{}');
if (!Array.isArray(members) || members.length === 0) throw new Error('usage: front.mjs <balancer|http-proxy-3|undici> {"members":[url...]}');

const fronts = {
  async balancer() {
    const { createBalancer } = await import('../../dist/index.js');
    const balancer = createBalancer({ members: members.map((url, i) => ({ url, route: `b${i + 1}` })), ...options });
    return { handler: balancer, close: () => balancer.close() };
  },

  async 'http-proxy-3'() {
    const { ProxyServer } = await import('http-proxy-3');
    const proxy = new ProxyServer();
    const targets = members.map((url) => ({ target: new URL(url), agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }) }));
    let next = 0;
    const handler = (req, res) => {
      const target = targets[next];
      next = (next + 1) % targets.length;
      proxy.web(req, res, target, () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
    };
    return { handler, close: async () => targets.forEach((t) => t.agent.destroy()) };
  },

  async undici() {
    const { Pool } = await import('undici');
    const pools = members.map((url) => new Pool(url, { keepAliveTimeout: 60_000 }));
    let next = 0;
    const handler = (req, res) => {
      const pool = pools[next];
      next = (next + 1) % pools.length;
      const withBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      pool.dispatch({ path: req.url, method: req.method, headers: upstreamHeaders(req.headers), body: withBody ? req : null }, new Relay(res));
    };
    return { handler, close: () => Promise.all(pools.map((p) => p.destroy())) };
  },
};

// Connection-level fields are this hop's own (RFC 9110 7.6.1); undici refuses most of them anyway.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'expect']);

function upstreamHeaders(headers) {
  const out = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

/**
 * undici's dispatch handler for one request: the member's response streamed to `res`, with
 * backpressure. It uses the raw-header callbacks (onConnect, onHeaders, onData, onComplete,
 * onError), the cheapest way through undici 7: the newer controller API (onResponseStart ...)
 * wraps every request in an adapter and parses each head into an object, about 10% more CPU per
 * small request here. The balancer's undici engine uses the same callbacks.
 */
class Relay {
  abort = undefined;
  resume = undefined;

  constructor(res) {
    this.res = res;
    res.once('close', () => {
      if (!res.writableFinished) this.abort?.(new Error('client went away'));
    });
  }

  onConnect(abort) {
    this.abort = abort;
  }

  onHeaders(statusCode, rawHeaders, resume, statusText) {
    if (statusCode < 200) return true; // 1xx informational
    const fields = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1');
      if (!HOP_BY_HOP.has(name.toLowerCase())) fields.push(name, rawHeaders[i + 1].toString('latin1'));
    }
    this.resume = resume;
    this.res.writeHead(statusCode, statusText, fields);
    return true;
  }

  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume);
    return false;
  }

  onComplete() {
    this.res.end();
  }

  onError() {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.writeHead(502, { 'content-length': 0 });
      this.res.end();
    }
  }
}

const make = fronts[kind];
if (make === undefined) throw new Error(`unknown front end kind ${JSON.stringify(kind)}`);
let front;
try {
  front = await make();
} catch (err) {
  // Tell the bench why (a BalancerConfigError names the option) instead of dying silently.
  process.send({ error: String(err?.message ?? err), name: err?.name, code: err?.code, path: err?.path }, () => process.exit(1));
}
if (front !== undefined) {
  const server = http.createServer(front.handler);
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  let session;
  const commands = {
    'profile-start': async () => {
      session ??= new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 }); // µs: fine enough for a few seconds
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
      await front.close();
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
  process.send({ port: server.address().port });
}
// Never outlive the bench: when the channel to it closes, so does this process.
process.on('disconnect', () => process.exit(0));
