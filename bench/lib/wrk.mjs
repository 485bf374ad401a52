/**
 * wrk as the load generator: `wrk -t1 -c<n> -d<s>s` with keep-alive connections (wrk's only mode),
 * one thread, and a Lua `done` hook that prints the run's figures as one JSON line, so p50 and p99
 * come from wrk's own µs latency histogram rather than from its human-readable output.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const MARK = 'WRKJSON ';

/** The Lua script: the done hook, and when `headerSets` has several entries, one request per set in turn. */
export function wrkScript(headerSets = []) {
  const lines = [];
  if (headerSets.length > 1) {
    lines.push('local sets = {');
    for (const set of headerSets) {
      const fields = Object.entries(set).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`);
      lines.push(`  { ${fields.join(', ')} },`);
    }
    lines.push('}');
    lines.push('local requests = {}');
    lines.push('local n = 0');
    lines.push('init = function(args)');
    lines.push('  for i, headers in ipairs(sets) do requests[i] = wrk.format(nil, nil, headers) end');
    lines.push('end');
    lines.push('request = function()');
    lines.push('  n = n % #requests + 1');
    lines.push('  return requests[n]');
    lines.push('end');
  }
  lines.push('done = function(summary, latency, requests)');
  lines.push('  local e = summary.errors');
  lines.push(
    `  io.write(string.format('${MARK}{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',`,
  );
  lines.push('    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,');
  lines.push('    latency:percentile(50), latency:percentile(99), latency.max))');
  lines.push('end');
  return `${lines.join('\n')}\n`;
}

function luaString(text) {
  const escaped = String(text)
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n');
  return `"${escaped}"`;
}

/**
 * A wrk load generator. `run({ url, connections, durationSec, headerSets })` resolves with
 * `{ requests, durationSec, requestsPerSec, p50Ms, p99Ms, errors, non2xx }`.
 */
export function wrkLoadGenerator({ binary, dir, track }) {
  let runs = 0;
  return {
    name: 'wrk',
    run({ url, connections, durationSec, headerSets = [], extraSec = 15 }) {
      const script = path.join(dir, `wrk-${++runs}.lua`);
      writeFileSync(script, wrkScript(headerSets));
      const args = ['-t1', `-c${connections}`, `-d${durationSec}s`, '--timeout', '10s', '-s', script];
      if (headerSets.length === 1) for (const [k, v] of Object.entries(headerSets[0])) args.push('-H', `${k}: ${v}`);
      args.push(url);
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        track?.(child);
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        // wrk stops itself after durationSec; this bounds a wrk that hangs.
        const timer = setTimeout(() => child.kill('SIGKILL'), (durationSec + extraSec) * 1000);
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          const line = out.split('\n').find((l) => l.startsWith(MARK));
          if (line === undefined) return reject(new Error(`wrk ${args.join(' ')} ended (${signal ?? code}) without figures:\n${out}`));
          const r = JSON.parse(line.slice(MARK.length));
          const durationSec = r.durationUs / 1e6;
          resolve({
            requests: r.requests,
            durationSec,
            requestsPerSec: r.requests / durationSec,
            p50Ms: r.p50Us / 1000,
            p99Ms: r.p99Us / 1000,
            errors: r.connect + r.read + r.write + r.timeout,
            non2xx: r.status,
          });
        });
      });
    },
    async close() {},
  };
}
