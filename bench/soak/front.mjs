/**
 * The soak's front end, run as its own process (with `--expose-gc`) so that its heap and RSS are
 * the balancer's alone: `node --expose-gc front.mjs '<balancer options as JSON>'`. It serves
 * `createBalancer` from the built package (../../dist/index.js) on 127.0.0.1:0, reports `{ port }`
 * over IPC and answers, each with `{ id, result }`:
 * - `{ cmd: 'memory' }`: `heapUsed` and `rss` in bytes, after a forced full garbage collection;
 * - `{ cmd: 'pool', op, route }`: `balancer.pool[op](route)` for `drain` and `enable`;
 * - `{ cmd: 'snapshot' }`: `balancer.snapshot()`;
 * - `{ cmd: 'close' }`: closes the server and the balancer, then exits.
 */
import http from 'node:http';

const { createBalancer } = await import('../../dist/index.js');
const balancer = createBalancer(JSON.parse(process.argv[2]));

const server = http.createServer(balancer);
server.keepAliveTimeout = 120_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});

const POOL_OPS = new Set(['drain', 'enable']);
const commands = {
  memory: async () => {
    // Two passes: the first may leave objects that only a second one frees (weak refs, finalizers).
    global.gc();
    global.gc();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  },
  pool: async ({ op, route }) => {
    if (!POOL_OPS.has(op)) throw new Error(`unknown pool operation ${op}`);
    balancer.pool[op](route);
    return true;
  },
  snapshot: async () => balancer.snapshot(),
  close: async () => {
    server.closeAllConnections();
    server.close();
    await balancer.close();
    setImmediate(() => process.disconnect());
    return true;
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
// Never outlive the soak: when the channel to it closes, so does this process.
process.on('disconnect', () => process.exit(0));
process.send({ port: server.address().port });
