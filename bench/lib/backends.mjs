/**
 * The benchmark's back ends: `count` child processes running backend.mjs, each on its own
 * 127.0.0.1 port, so their CPU is not the bench's and no front end shares a process with them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './child.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Starts `count` back ends. Each has `pid`, `port`, `url`, `stats({ reset })` (requests served and
 * connections accepted since the last reset) and `close()`.
 */
export async function startBackends(count, track) {
  const backends = [];
  for (let i = 0; i < count; i++) {
    const child = await startChild(path.join(here, 'backend.mjs'), [], { track });
    const { port } = child.first;
    backends.push({
      pid: child.pid,
      port,
      url: `http://127.0.0.1:${port}`,
      stats: ({ reset = false } = {}) => child.request({ cmd: 'stats', reset }, 5_000),
      close: () => child.stop({ cmd: 'close' }),
      kill: () => child.kill(),
    });
  }
  return backends;
}
