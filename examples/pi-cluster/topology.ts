/**
 * The study's topology: two back ends behind one front end. On the Raspberry Pis the back ends are
 * 192.168.10.2 and 192.168.10.3 and the front end 192.168.10.1; on one machine everything runs on
 * loopback with free ports. The Pi addresses are configuration only: nothing here connects to them
 * unless `--pi` is given on the real cluster.
 */
import type { BalancerOptions } from '../../src/index.js';

/** Balancer options for the two back ends, as the study's Apache front end had them. */
export function clusterOptions(server1Url: string, server2Url: string): BalancerOptions {
  return {
    members: [
      { url: server1Url, route: 'pi2', weight: 1 },
      { url: server2Url, route: 'pi3', weight: 1 },
    ],
    strategy: 'byrequests',
    retryMs: 10_000,
    // The back ends' /health page, probed as Apache's mod_proxy_hcheck would (hcmethod=GET hcuri=/health).
    healthCheck: { method: 'GET', path: '/health', intervalMs: 5000, passes: 2, fails: 3 },
    // A client holding ROUTEID=.pi2 or .pi3 stays on that server; without the cookie, requests alternate.
    sticky: { cookie: 'ROUTEID' },
  };
}

/** The real cluster's addresses, used only with `--pi`. */
export const PI_ADDRESSES = {
  frontEnd: '192.168.10.1',
  server1: 'http://192.168.10.2',
  server2: 'http://192.168.10.3',
} as const;
