/**
 * The Pi cluster example: `npm start` runs two back ends and the balancing front end on loopback
 * (front end on PORT, default 8080) until Ctrl-C. `--pi` runs only the front end, bound to the Pi's
 * address, in front of the real back ends 192.168.10.2 and .3 (for the real cluster, never in tests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBalancer } from '../../src/index.js';
import { startBackend, type BackendServer } from './backend.js';
import { PI_ADDRESSES, clusterOptions } from './topology.js';

const onPi = process.argv.includes('--pi');
const port = Number(process.env.PORT ?? 8080);
const host = onPi ? (process.env.HOST ?? '0.0.0.0') : '127.0.0.1';

const backends: BackendServer[] = onPi ? [] : [await startBackend('Server 1', '127.0.0.1', 0), await startBackend('Server 2', '127.0.0.1', 0)];
const [server1, server2] = onPi ? [PI_ADDRESSES.server1, PI_ADDRESSES.server2] : backends.map((b) => b.url);
const balancer = createBalancer(clusterOptions(server1!, server2!));
balancer.on('memberError', (e) => console.log(`member ${e.route} in error: ${e.reason}`));
balancer.on('memberRecovered', (e) => console.log(`member ${e.route} recovered`));

const front = http.createServer(balancer);
front.on('upgrade', balancer.upgrade);
await new Promise<void>((resolve, reject) => {
  front.once('error', reject);
  front.listen(port, host, () => resolve());
});

const listening = (front.address() as AddressInfo).port; // PORT=0 picks a free port
for (const b of backends) console.log(`${b.name} listening on ${b.url}`);
console.log(
  `front end: http://${host === '0.0.0.0' ? PI_ADDRESSES.frontEnd : host}:${listening}/  (reload to see Server 1 and Server 2 alternate; Ctrl-C to stop)`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  await new Promise<void>((resolve) => {
    front.close(() => resolve());
    front.closeIdleConnections();
  });
  await balancer.close();
  await Promise.all(backends.map((b) => b.close()));
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
