/**
 * The fallback load generator when wrk is not installed: autocannon with keep-alive connections in
 * its own child process, driven over IPC. `{ cmd: 'run', id, url, connections, durationSec,
 * maxRequests, headerSets }` answers `{ id, result }`; `{ cmd: 'exit' }` ends the process.
 * `headerSets` with several entries sends them in turn (autocannon's `requests` cycle).
 *
 * Latency is taken from autocannon's per-response event into a 10 µs histogram, because
 * autocannon's own histogram keeps whole milliseconds, too coarse for a loopback p99.
 */
import autocannon from 'autocannon';

const BUCKET_US = 10;
const MAX_US = 5_000_000;

/** A fixed-resolution latency histogram: `BUCKET_US` buckets up to `MAX_US`, plus an overflow count. */
class LatencyHistogram {
  counts = new Uint32Array(MAX_US / BUCKET_US);
  overflow = 0;
  total = 0;

  record(ms) {
    const bucket = Math.floor((ms * 1000) / BUCKET_US);
    if (bucket >= this.counts.length) this.overflow++;
    else this.counts[bucket]++;
    this.total++;
  }

  /** The `p`th percentile in ms (upper edge of its bucket); Infinity when it lies in the overflow. */
  percentile(p) {
    if (this.total === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return ((i + 1) * BUCKET_US) / 1000;
    }
    return Infinity;
  }
}

function run({ url, connections, durationSec, maxRequests, headerSets = [] }) {
  return new Promise((resolve, reject) => {
    const histogram = new LatencyHistogram();
    const options = { url, connections, pipelining: 1, duration: durationSec, maxOverallRequests: maxRequests, timeout: 10 };
    if (headerSets.length === 1) options.headers = headerSets[0];
    if (headerSets.length > 1) options.requests = headerSets.map((headers) => ({ headers }));
    const instance = autocannon(options, (err, result) => {
      if (err) return reject(err);
      resolve({
        requests: result.requests.total,
        durationSec: result.duration,
        requestsPerSec: result.requests.total / result.duration,
        p50Ms: histogram.percentile(50),
        p99Ms: histogram.percentile(99),
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
      });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) histogram.record(responseTimeMs);
    });
  });
}

process.on('message', async (message) => {
  if (message?.cmd === 'exit') return process.disconnect();
  if (message?.cmd !== 'run') return;
  try {
    process.send({ id: message.id, result: await run(message) });
  } catch (err) {
    process.send({ id: message.id, error: String(err?.stack ?? err) });
  }
});
// Never outlive the bench: when the channel to it closes, so does this process.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
