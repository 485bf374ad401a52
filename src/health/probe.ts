/**
 * One health probe of one member: a TCP connect, or an HTTP(S) request on its own short-lived
 * connection, judged against the configured status codes and body. Stateless: scheduling and
 * thresholds are the checker's job. A probe never rejects; every outcome is a {@link ProbeResult}.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TlsOptions } from '../config.js';
import { hostAndPort } from '../options/member-url.js';
import { statusMatches, type HealthCheckConfig } from './options.js';

/**
 * The package version, sent in the probes' User-Agent. Kept by hand, in this one place, because
 * reading package.json at run time is not safe in both bundles (the CommonJS build has no
 * `import.meta.url`); a test checks that it equals package.json's version.
 */
export const PACKAGE_VERSION = '0.1.0';

/** The User-Agent of every HTTP probe (a `user-agent` in `headers` replaces it). */
export const PROBE_USER_AGENT = `proxy-balancer-health/${PACKAGE_VERSION}`;

/** At most this much of a response body is read; `expectBody` is matched against it. */
export const MAX_PROBE_BODY_BYTES = 64 * 1024;

/**
 * Why a probe failed: a Node.js socket or TLS error code (`ECONNREFUSED`, `ECONNRESET`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`, ...), or one of:
 * - `ETIMEDOUT`: the probe took longer than `timeoutMs`.
 * - `UNEXPECTED_STATUS`: the status code is not in `expectStatus`.
 * - `UNEXPECTED_BODY`: the body does not contain or match `expectBody`.
 * - `ABORTED`: the probe was cancelled (the checker closed, or the member was disabled or removed).
 */
export type ProbeErrorCode = 'ETIMEDOUT' | 'UNEXPECTED_STATUS' | 'UNEXPECTED_BODY' | 'ABORTED' | (string & {});

/** How one probe ended. Plain JSON. */
export interface ProbeResult {
  /** Whether the probe passed. */
  readonly ok: boolean;
  /** The HTTP status code, or null (TCP probes, or no response head). */
  readonly status: number | null;
  /** Why it failed, or null when it passed. */
  readonly error: ProbeErrorCode | null;
  /** Milliseconds from the start of the probe to its verdict. */
  readonly latencyMs: number;
  /** Epoch ms of the verdict. */
  readonly at: number;
}

/** Where a probe goes: the member's own host and port, and the request target. */
export interface ProbeTarget {
  /** True for `https:` members: the probe speaks TLS, with Node's default verification. */
  readonly secure: boolean;
  /** Host name or IP address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** Request target: the member URL's path with the configured path appended. */
  readonly path: string;
  /** TLS settings for `https:` members (CA, client certificate, SNI, verification), as proxying uses. */
  readonly tls?: TlsOptions | undefined;
}

/**
 * The target of a member's probes. `path` is appended to the member URL's path, as Apache appends
 * `hcuri` to the worker URL: `http://h/app/` with `/health` gives `/app/health`.
 */
export function probeTargetOf(memberUrl: URL, path: string, tls?: TlsOptions): ProbeTarget {
  const { host, port } = hostAndPort(memberUrl);
  return {
    secure: memberUrl.protocol === 'https:',
    tls,
    host,
    port,
    path: memberUrl.pathname.replace(/\/+$/, '') + path,
  };
}

/** Human-readable form of a probe, for logs and reasons: `GET http://127.0.0.1:3001/health`, `TCP 127.0.0.1:3001`. */
export function describeProbe(target: ProbeTarget, method: HealthCheckConfig['method']): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  if (method === 'TCP') return `TCP ${host}:${target.port}`;
  return `${method} ${target.secure ? 'https' : 'http'}://${host}:${target.port}${target.path}`;
}

/**
 * Runs one probe. Resolves with its result; never rejects. `signal` aborts it (result `ABORTED`).
 * Whatever the outcome, the probe's socket is destroyed by the time the promise settles.
 */
export function runProbe(target: ProbeTarget, config: HealthCheckConfig, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    let release = (): void => {};
    const settle = (ok: boolean, status: number | null, error: ProbeErrorCode | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      release();
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      resolve({ ok, status, error, latencyMs, at: Date.now() });
    };
    const onAbort = (): void => settle(false, null, 'ABORTED');
    const timer = setTimeout(() => settle(false, null, 'ETIMEDOUT'), config.timeoutMs);
    timer.unref();
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      release = config.method === 'TCP' ? connectOnly(target, settle) : httpRequest(target, config, settle);
    } catch (err) {
      // Synchronous throws (an invalid header value, say) are failures of this probe, not of the checker.
      settle(false, null, errorCode(err));
    }
    if (settled) release();
  });
}

type Settle = (ok: boolean, status: number | null, error: ProbeErrorCode | null) => void;

/** Apache's `hcmethod=TCP`: passes once the connection is open. Returns the socket's release. */
function connectOnly(target: ProbeTarget, settle: Settle): () => void {
  const socket = net.connect({ host: target.host, port: target.port });
  socket.on('error', (err) => settle(false, null, errorCode(err)));
  socket.once('connect', () => settle(true, null, null));
  return () => socket.destroy();
}

/** One HTTP(S) request with its own connection; the verdict comes at the end of the body (or 64 KiB of it). */
function httpRequest(target: ProbeTarget, config: HealthCheckConfig, settle: Settle): () => void {
  const transport = target.secure ? https : http;
  const req = transport.request({
    ...(target.secure ? (target.tls as https.RequestOptions | undefined) : undefined),
    host: target.host,
    port: target.port,
    method: config.method,
    path: target.path,
    // A fresh socket per probe (agent: false): never a keep-alive pool, never the proxy's agents.
    agent: false,
    headers: { 'user-agent': PROBE_USER_AGENT, ...config.headers, connection: 'close' },
  });
  req.on('error', (err) => settle(false, null, errorCode(err)));
  req.on('response', (res) => {
    const status = res.statusCode ?? 0;
    res.on('error', (err) => settle(false, status, errorCode(err)));
    res.on('close', () => {
      if (!res.complete) settle(false, status, 'ECONNRESET');
    });
    if (!statusMatches(status, config.expectStatus)) return settle(false, status, 'UNEXPECTED_STATUS');
    const expectBody = config.expectBody;
    const chunks: Buffer[] = [];
    let bytes = 0;
    const judge = (): void => {
      if (expectBody === undefined) return settle(true, status, null);
      const body = Buffer.concat(chunks, bytes).subarray(0, MAX_PROBE_BODY_BYTES).toString('utf8');
      const matched = typeof expectBody === 'string' ? body.includes(expectBody) : expectBody.test(body);
      settle(matched, status, matched ? null : 'UNEXPECTED_BODY');
    };
    res.on('data', (chunk: Buffer) => {
      if (expectBody !== undefined) chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= MAX_PROBE_BODY_BYTES) judge();
    });
    res.on('end', judge);
  });
  req.end();
  // Destroying the request destroys its own socket (agent: false), whatever state it is in.
  return () => req.destroy();
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'ERROR';
}
